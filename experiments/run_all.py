"""The main job: runs every experiment with its default configuration and writes a report.

Each experiment runs as ``python experiments/NAME.py --out OUT/NAME`` in its own process (its
output goes to ``OUT/NAME/log.txt``), one after another, with a progress line each. Then
``OUT/REPORT.md`` lists each experiment's headline figures next to the book's
(``REFERENCE.md``) with links to its PNGs. The exit status is 1 when any experiment failed;
the report still covers the others.

Command: ``python experiments/run_all.py [--out results] [--only NAME ...] [--quick]``
(``--quick`` passes ``--quick`` to every experiment: a seconds-long smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from jaxdl.results import write_text

HERE = Path(__file__).resolve().parent


def _fmt(values, digits: int = 4) -> str:
    return "[" + ", ".join(f"{v:.{digits}g}" for v in np.ravel(values)) + "]"


class Entry(NamedTuple):
    """One experiment: its script name, the book's figures, and ours from metrics.json."""

    name: str
    book: str
    headline: Callable[[dict], str]


def _classifiers(m: dict) -> str:
    return "; ".join(
        f"{v}: test acc {m[v]['test_acc']:.3f}, train loss {m[v]['train_loss']:.3f}"
        for v in ("scratch", "concise")
    )


EXPERIMENTS = [
    Entry(
        "ndarray",
        "tensors: creation, broadcasting, indexing, in-place updates",
        lambda m: ", ".join(f"{k}: {v}" for k, v in m.items() if not isinstance(v, dict | list))[
            :300
        ],
    ),
    Entry(
        "preprocessing",
        "X = [[3,1,0],[2,0,1],[4,0,1],[3,0,1]], y = [127500, 106000, 178100, 140000]",
        lambda m: f"X = {m['X']}, y = {m['y']}",
    ),
    Entry(
        "linear_algebra",
        "L2 5, L1 7, Frobenius 6",
        lambda m: f"L2 {m['l2_norm']:g}, L1 {m['l1_norm']:g}, Frobenius {m['frobenius_norm']:g}",
    ),
    Entry(
        "calculus",
        "2.30000, 2.03000, 2.00300, 2.00030, 2.00003",
        lambda m: ", ".join(f"{v:.5f}" for v in m["limits"]),
    ),
    Entry(
        "autograd",
        "y = 28, grad = [0, 4, 8, 12]",
        lambda m: f"y = {m['y']:g}, grad = {m['grad']}",
    ),
    Entry(
        "linear_regression",
        "error in w ≈ [3e-4, 5e-4], in b ≈ 3e-4; epoch losses 0.033, 1.2e-4, 4.9e-5",
        lambda m: (
            "; ".join(
                f"{v}: w error {_fmt(m[v]['w_error'], 2)}, b error {m[v]['b_error']:.2g}"
                for v in ("scratch", "concise", "closed_form")
            )
            + f"; scratch epoch losses {_fmt(m['scratch']['train_loss_per_epoch'], 2)}"
        ),
    ),
    Entry(
        "loss_functions",
        "L2, L1 and Huber losses, likelihoods and gradients (figure)",
        lambda m: (
            f"Huber(2) = {m['loss']['huber'][-1]:g}; naive softmax finite: "
            f"{[c['naive_softmax_finite'] for c in m['overflow']]}; softmax and cross-entropy "
            f"finite: {[c['softmax_finite'] and c['cross_entropy_finite'] for c in m['overflow']]}"
        ),
    ),
    Entry(
        "softmax_regression",
        "test acc ≈ 0.828 (scratch) / 0.829 (concise), train loss ≈ 0.447",
        _classifiers,
    ),
    Entry(
        "activations",
        "ReLU, sigmoid, tanh and their derivatives (figures); ReLU'(0) = 0",
        lambda m: (
            f"ReLU'(0) = {m['relu']['grad_at_0']:g}, sigmoid'(0) = "
            f"{m['sigmoid']['grad_at_0']:g}, tanh'(0) = {m['tanh']['grad_at_0']:g}; max |f' - "
            f"jax.nn f'| {max(m[a]['max_abs_diff_grad'] for a in ('relu', 'sigmoid', 'tanh')):.1e}"
        ),
    ),
    Entry(
        "mlp",
        "test acc ≈ 0.837 / 0.828 (JAX edition: 0.853 / 0.861)",
        _classifiers,
    ),
    Entry(
        "polynomial_regression",
        "degree 3: w ≈ [4.95, 1.37, -3.29, 5.06], train/test 0.023/0.048; linear: w ≈ [3.67, "
        "2.82], 2.47/11.3; all 20: w[:4] ≈ [4.98, 1.23, -3.34, 5.35], train < test",
        lambda m: "; ".join(
            f"{v}: w {_fmt(m[v]['w'][:4], 3)}, train/test {m[v]['train_loss']:.3g}/"
            f"{m[v]['test_loss']:.3g}"
            for v in ("degree3", "linear", "all20")
        ),
    ),
    Entry(
        "kfold",
        "k = 5: the validation loss averaged over folds chooses the model",
        lambda m: (
            f"chosen degree {m['chosen_degree']} (validation loss "
            f"{min(m['mean_val_loss']):.3g}), its test loss {m['chosen_test_loss']:.3g}"
        ),
    ),
    Entry(
        "weight_decay",
        "‖w‖₂: λ=0 → 13.5 (test loss ≈ 73), λ=3 → 0.35 (≈ 0.09); concise 14.2 / 0.44",
        lambda m: "; ".join(
            f"{v}: ‖w‖₂ λ=0 → {m[v]['0']['w_norm']:.3g} (test {m[v]['0']['test_loss']:.3g}), "
            f"λ=3 → {m[v]['3']['w_norm']:.3g} (test {m[v]['3']['test_loss']:.3g})"
            for v in ("scratch", "concise")
        ),
    ),
]


def run(entry: Entry, out: Path, quick: bool) -> tuple[bool, float]:
    """Runs one experiment script; its output goes to ``out/NAME/log.txt``."""
    folder = out / entry.name
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(HERE / f"{entry.name}.py"), "--out", str(folder)]
    cmd += ["--quick"] * quick
    start = time.perf_counter()
    with open(folder / "log.txt", "w") as log:
        env = {**os.environ, "MPLBACKEND": "Agg"}
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
    return proc.returncode == 0, time.perf_counter() - start


def report_row(entry: Entry, folder: Path, ok: bool, seconds: float, root: Path) -> str:
    """One Markdown table row: name, our figures, the book's, figures, time."""
    if ok:
        try:
            ours = entry.headline(json.loads((folder / "metrics.json").read_text()))
        except (OSError, KeyError, TypeError, ValueError, IndexError) as error:
            ok, ours = False, f"metrics.json unreadable: {error!r}"
    else:
        ours = f"**failed**: see [log]({(folder / 'log.txt').relative_to(root)})"
    pngs = sorted(folder.glob("*.png")) if folder.exists() else []
    links = " ".join(f"[{p.stem}]({p.relative_to(root)})" for p in pngs)
    ours = ours.replace("|", "\\|")
    return f"| {entry.name} | {ours} | {entry.book} | {links} | {seconds:.1f} s |"


def main(argv=None) -> int:
    names = [e.name for e in EXPERIMENTS]
    p = argparse.ArgumentParser(prog="run_all.py", description=__doc__)
    p.add_argument("--out", type=Path, default=Path("results"), help="results folder")
    p.add_argument("--only", nargs="+", choices=names, help="run only these experiments")
    p.add_argument("--quick", action="store_true", help="pass --quick to every experiment")
    args = p.parse_args(argv)
    entries = [e for e in EXPERIMENTS if not args.only or e.name in args.only]
    rows, failed = [], []
    total_start = time.perf_counter()
    for i, entry in enumerate(entries, 1):
        print(f"[{i}/{len(entries)}] {entry.name} ...", end=" ", flush=True)
        ok, seconds = run(entry, args.out, args.quick)
        row = report_row(entry, args.out / entry.name, ok, seconds, args.out)
        ok = ok and "metrics.json unreadable" not in row
        print(f"{'ok' if ok else 'FAILED'} ({seconds:.1f} s)", flush=True)
        if not ok:
            failed.append(entry.name)
            tail = (args.out / entry.name / "log.txt").read_text().splitlines()[-15:]
            print("\n".join("    " + line for line in tail), file=sys.stderr)
        rows.append(row)
    header = [
        "# jaxdl results",
        "",
        f"{len(entries) - len(failed)} of {len(entries)} experiments ran"
        + (" (`--quick`: smoke runs, not the book's configuration)" if args.quick else "")
        + f", in {time.perf_counter() - total_start:.0f} s.",
        "",
        "| experiment | jaxdl | book | figures | time |",
        "|---|---|---|---|---|",
    ]
    path = write_text(args.out / "REPORT.md", "\n".join(header + rows) + "\n")
    print(f"wrote {path}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

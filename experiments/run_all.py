"""The main job: runs every experiment with its default configuration and writes a report.

Each experiment runs as ``python experiments/NAME.py --out OUT/NAME`` in its own process (its
output goes to ``OUT/NAME/log.txt``), one after another, with a progress line each. Then
``OUT/REPORT.md`` lists each experiment's headline figures next to the book's (from
``reference.py``), whether they lie within the book's bands, and links to its PNGs. The exit
status is 1 when any experiment failed; the report still covers the others.

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

from reference import BOOK, within

HERE = Path(__file__).resolve().parent


def _fmt(values, digits: int = 4) -> str:
    return "[" + ", ".join(f"{v:.{digits}g}" for v in np.ravel(values)) + "]"


class Entry(NamedTuple):
    """One experiment: its script name, our headline figures from metrics.json, and the
    values to hold to the book's bands (``{band: [values]}``, see ``reference.py``)."""

    name: str
    headline: Callable[[dict], str]
    measured: Callable[[dict], dict[str, list[float]]] = lambda m: {}


def _classifiers(m: dict) -> str:
    return "; ".join(
        f"{v}: test acc {m[v]['test_acc']:.3f}, train loss {m[v]['train_loss']:.3f}"
        for v in ("scratch", "concise")
    )


def _classifier_values(m: dict) -> dict[str, list[float]]:
    return {k: [m[v][k] for v in ("scratch", "concise")] for k in ("test_acc", "train_loss")}


EXPERIMENTS = [
    Entry(
        "ndarray",
        lambda m: ", ".join(f"{k}: {v}" for k, v in m.items() if not isinstance(v, dict | list))[
            :300
        ],
    ),
    Entry("preprocessing", lambda m: f"X = {m['X']}, y = {m['y']}"),
    Entry(
        "linear_algebra",
        lambda m: f"L2 {m['l2_norm']:g}, L1 {m['l1_norm']:g}, Frobenius {m['frobenius_norm']:g}",
    ),
    Entry("calculus", lambda m: ", ".join(f"{v:.5f}" for v in m["limits"])),
    Entry("autograd", lambda m: f"y = {m['y']:g}, grad = {m['grad']}"),
    Entry(
        "linear_regression",
        lambda m: (
            "; ".join(
                f"{v}: w error {_fmt(m[v]['w_error'], 2)}, b error {m[v]['b_error']:.2g}"
                for v in ("scratch", "concise", "closed_form")
            )
            + f"; scratch epoch losses {_fmt(m['scratch']['train_loss_per_epoch'], 2)}"
        ),
        lambda m: {
            "abs_error": [
                abs(e)
                for v in ("scratch", "concise", "closed_form")
                for e in [*m[v]["w_error"], m[v]["b_error"]]
            ],
            "loss_epoch1": [m["scratch"]["train_loss_per_epoch"][0]],
            "loss_epoch3": [m["scratch"]["train_loss_per_epoch"][2]],
        },
    ),
    Entry(
        "loss_functions",
        lambda m: (
            f"Huber(2) = {m['loss']['huber'][-1]:g}; naive softmax finite: "
            f"{[c['naive_softmax_finite'] for c in m['overflow']]}; softmax and cross-entropy "
            f"finite: {[c['softmax_finite'] and c['cross_entropy_finite'] for c in m['overflow']]}"
        ),
    ),
    Entry("softmax_regression", _classifiers, _classifier_values),
    Entry(
        "activations",
        lambda m: (
            f"ReLU'(0) = {m['relu']['grad_at_0']:g}, sigmoid'(0) = "
            f"{m['sigmoid']['grad_at_0']:g}, tanh'(0) = {m['tanh']['grad_at_0']:g}; max |f' - "
            f"jax.nn f'| {max(m[a]['max_abs_diff_grad'] for a in ('relu', 'sigmoid', 'tanh')):.1e}"
        ),
    ),
    Entry("mlp", _classifiers, _classifier_values),
    Entry(
        "polynomial_regression",
        lambda m: "; ".join(
            f"{v}: w {_fmt(m[v]['w'][:4], 3)}, train/test {m[v]['train_loss']:.3g}/"
            f"{m[v]['test_loss']:.3g}"
            for v in ("degree3", "linear", "all20")
        ),
        lambda m: {
            "abs_weight_error": [
                abs(w - t)
                for v in ("degree3", "all20")
                for w, t in zip(m[v]["w"][:4], (5.0, 1.2, -3.4, 5.6), strict=True)
            ],
            "degree3_train_loss": [m["degree3"]["train_loss"]],
            "degree3_test_loss": [m["degree3"]["test_loss"]],
            "linear_loss": [m["linear"]["train_loss"], m["linear"]["test_loss"]],
        },
    ),
    Entry(
        "kfold",
        lambda m: (
            f"chosen degree {m['chosen_degree']} (validation loss "
            f"{min(m['mean_val_loss']):.3g}), its test loss {m['chosen_test_loss']:.3g}"
        ),
    ),
    Entry(
        "weight_decay",
        lambda m: "; ".join(
            f"{v}: ‖w‖₂ λ=0 → {m[v]['0']['w_norm']:.3g} (test {m[v]['0']['test_loss']:.3g}), "
            f"λ=3 → {m[v]['3']['w_norm']:.3g} (test {m[v]['3']['test_loss']:.3g})"
            for v in ("scratch", "concise")
        ),
        lambda m: {
            "w_norm_no_decay": [m[v]["0"]["w_norm"] for v in ("scratch", "concise")],
            "w_norm_decay_3": [m[v]["3"]["w_norm"] for v in ("scratch", "concise")],
            "test_loss_decay_3": [m[v]["3"]["test_loss"] for v in ("scratch", "concise")],
            "test_loss_no_decay": [m[v]["0"]["test_loss"] for v in ("scratch", "concise")],
            "train_loss_no_decay": [m[v]["0"]["train_loss"] for v in ("scratch", "concise")],
        },
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


def band_check(entry: Entry, metrics: dict, quick: bool) -> str:
    """ "yes", or the bands our values miss, or "—" when the book gives none (or ``quick``:
    small runs are not the book's configuration)."""
    if quick or not BOOK[entry.name].bands:
        return "—"
    missed = [
        f"{band} {value:.3g} not in {BOOK[entry.name].bands[band]}"
        for band, values in entry.measured(metrics).items()
        for value in values
        if not within(entry.name, band, value)
    ]
    return "yes" if not missed else "**no**: " + "; ".join(missed)


def report_row(
    entry: Entry, folder: Path, ok: bool, seconds: float, root: Path, quick: bool = False
) -> str:
    """One Markdown table row: name, our figures, the book's, in its bands, figures, time."""
    band = "—"
    if ok:
        try:
            metrics = json.loads((folder / "metrics.json").read_text())
            ours = entry.headline(metrics)
            band = band_check(entry, metrics, quick)
        except (OSError, KeyError, TypeError, ValueError, IndexError) as error:
            ok, ours = False, f"metrics.json unreadable: {error!r}"
    else:
        ours = f"**failed**: see [log]({(folder / 'log.txt').relative_to(root)})"
    pngs = sorted(folder.glob("*.png")) if folder.exists() else []
    links = " ".join(f"[{p.stem}]({p.relative_to(root)})" for p in pngs)
    ours, band = ours.replace("|", "\\|"), band.replace("|", "\\|")
    book = BOOK[entry.name].result
    return f"| {entry.name} | {ours} | {book} | {band} | {links} | {seconds:.1f} s |"


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
        row = report_row(entry, args.out / entry.name, ok, seconds, args.out, args.quick)
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
        "| experiment | jaxdl | book | in the book's band | figures | time |",
        "|---|---|---|---|---|---|",
    ]
    path = write_text(args.out / "REPORT.md", "\n".join(header + rows) + "\n")
    print(f"wrote {path}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

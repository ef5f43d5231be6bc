"""The main job: runs every experiment with its default configuration and writes a report.

The experiments run one after another in one worker process (``main(["--out", OUT/NAME])`` of
each script, so JAX and the libraries are imported once), each with its output (everything
written to stdout and stderr) in ``OUT/NAME/log.txt`` and a progress line here. An experiment
that fails (an exception, or ``SystemExit``) fails alone; one that kills the worker is marked
failed and a fresh worker runs the rest. With JAX's persistent compilation cache (on by
default, see ``--compilation-cache``), a second run compiles nothing.

Then ``OUT/REPORT.md`` lists each experiment's headline figures next to the book's (from
``reference.py``), whether they lie within the book's bands, and links to its PNGs, and
``OUT/run_all.json`` records each experiment's wall, compile and train seconds (train: the
experiment's own time less its compilation: training, evaluation, figures) and the total. The
exit status is 1 when any experiment failed; the report still covers the others.

Command: ``python experiments/run_all.py [--out results] [--only NAME ...] [--quick]
[--compilation-cache DIR|off]`` (``--quick`` passes ``--quick`` to every experiment: a
seconds-long smoke run).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from jaxdl.compilation import ENV_VAR, cache_dir, default_cache_dir
from jaxdl.results import write_json, write_text

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


@contextlib.contextmanager
def _output_to(log):
    """Sends everything written to stdout and stderr (by Python or not) to the file ``log``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


def worker(names: list[str], out: Path, quick: bool, report) -> None:
    """Runs the experiments ``names`` in this process, one after another; after each, writes a
    JSON line ``{"name", "ok", "seconds"}`` to ``report``."""
    for name in names:
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        with open(folder / "log.txt", "w") as log, _output_to(log):
            try:
                importlib.import_module(name).main(["--out", str(folder), *["--quick"] * quick])
                ok = True
            except (Exception, SystemExit):  # the experiment fails; the others go on
                traceback.print_exc()
                ok = False
        seconds = time.perf_counter() - start
        report.write(json.dumps({"name": name, "ok": ok, "seconds": seconds}) + "\n")
        report.flush()


def run(names: list[str], out: Path, quick: bool) -> Iterator[dict]:
    """Runs the experiments in worker processes (:func:`worker`) and yields each one's report
    as it ends. When a worker dies, the experiment it was running is reported failed and a new
    worker takes the rest."""
    pending = list(names)
    while pending:
        read_fd, write_fd = os.pipe()
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(write_fd)]
        cmd += ["--scripts", str(HERE), "--out", str(out), "--only", *pending]
        cmd += ["--quick"] * quick
        env = {**os.environ, "MPLBACKEND": "Agg"}
        began = time.perf_counter()
        proc = subprocess.Popen(cmd, pass_fds=(write_fd,), env=env)
        os.close(write_fd)
        with os.fdopen(read_fd) as reports:
            for line in reports:
                report = json.loads(line)
                pending.remove(report["name"])
                began = time.perf_counter()
                yield report
        proc.wait()
        if pending:
            name = pending.pop(0)
            with open(out / name / "log.txt", "a") as log:
                log.write(f"\nthe worker process died (exit status {proc.returncode})\n")
            yield {"name": name, "ok": False, "seconds": time.perf_counter() - began}


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


def timing(folder: Path, seconds: float) -> dict:
    """An experiment's seconds for run_all.json: wall (in the worker), and compile and train
    from its metrics.json (train: its own time less compilation), with its compilations."""
    try:
        t = json.loads((folder / "metrics.json").read_text())["timing"]
    except (OSError, KeyError, ValueError):
        return {"wall_s": seconds}
    return {
        "wall_s": seconds,
        "compile_s": t["compile_seconds"],
        "train_s": t["seconds"] - t["compile_seconds"],
        "compilations": t["compilations"],
        "cache_hits": t["cache_hits"],
    }


def main(argv=None) -> int:
    names = [e.name for e in EXPERIMENTS]
    p = argparse.ArgumentParser(prog="run_all.py", description=__doc__)
    p.add_argument("--out", type=Path, default=Path("results"), help="results folder")
    p.add_argument("--only", nargs="+", choices=names, help="run only these experiments")
    p.add_argument("--quick", action="store_true", help="pass --quick to every experiment")
    p.add_argument(
        "--compilation-cache",
        metavar="DIR|off",
        default=None,
        help="JAX's persistent compilation cache for every experiment (default "
        f"$JAXDL_COMPILATION_CACHE, else {default_cache_dir()}); 'off' compiles afresh",
    )
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--scripts", type=Path, default=HERE, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    entries = [e for e in EXPERIMENTS if not args.only or e.name in args.only]
    if args.worker is not None:
        sys.path.insert(0, str(args.scripts))
        with os.fdopen(args.worker, "w") as report:
            worker([e.name for e in entries], args.out, args.quick, report)
        return 0
    cache = cache_dir(args.compilation_cache)
    os.environ[ENV_VAR] = str(cache) if cache else "off"
    print(f"compilation cache: {cache or 'off'}")
    by_name = {e.name: e for e in entries}
    rows, failed, times = [], [], {}
    total_start = time.perf_counter()
    reports = run([e.name for e in entries], args.out, args.quick)
    for i, report in enumerate(reports, 1):
        entry, folder = by_name[report["name"]], args.out / report["name"]
        row = report_row(entry, folder, report["ok"], report["seconds"], args.out, args.quick)
        ok = report["ok"] and "metrics.json unreadable" not in row
        times[entry.name] = t = {"ok": ok, **timing(folder, report["seconds"])}
        parts = [f"{t['wall_s']:.1f} s"]
        if "compile_s" in t:
            parts.append(f"compile {t['compile_s']:.1f} s, train {t['train_s']:.1f} s")
        status = "ok" if ok else "FAILED"
        print(f"[{i}/{len(entries)}] {entry.name} ... {status} ({'; '.join(parts)})", flush=True)
        if not ok:
            failed.append(entry.name)
            tail = (folder / "log.txt").read_text().splitlines()[-15:]
            print("\n".join("    " + line for line in tail), file=sys.stderr)
        rows.append(row)
    total = time.perf_counter() - total_start
    write_json(
        args.out / "run_all.json",
        {
            "total_s": total,
            "compilation_cache": str(cache) if cache else None,
            "experiments": times,
        },
    )
    header = [
        "# jaxdl results",
        "",
        f"{len(entries) - len(failed)} of {len(entries)} experiments ran"
        + (" (`--quick`: smoke runs, not the book's configuration)" if args.quick else "")
        + f", in {total:.0f} s.",
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

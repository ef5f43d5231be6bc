"""Checks a machine: prints JAX's backend and devices, then runs each Fashion-MNIST experiment
for one epoch (in this process) and times it: the chapter 3–4 classifiers, LeNet, BN-LeNet,
and each of the book's modern networks in the book's configuration (``modern_cnns.py --book
--models NAME``: 60 000 images at 224 or 96 pixels, a GPU's work). For a GPU or TPU machine,
after installing the matching extra.

Command: ``python experiments/harness/device_check.py [--devices N|all] [--quick]``
(``--devices`` is passed on: data-parallel over N local devices; ``--quick`` passes ``--quick``
and runs each code path once: dropout, BN-LeNet and one modern network, AlexNet, CPU-sized).
Exit status 1 when an experiment fails.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
import traceback
from pathlib import Path

import jax

from jaxdl.models.modern import NETWORKS

# run as a script: the harness imported from experiments/, as the sections import it
if __name__ == "__main__":
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from harness.config import device_count
from harness.section import run_script

# (experiment, its flags besides --epochs 1), each timed on its own
EXPERIMENTS = (
    *((name, []) for name in ("softmax_regression", "mlp", "dropout", "lenet", "batch_norm")),
    *(("modern_cnns", ["--book", "--models", name]) for name in NETWORKS),
)
# --quick: each code path once, in seconds: a classifier drawing a key per step (dropout; the
# softmax and MLP classifiers take the same path without it), a model with state and a mask
# (BN-LeNet, convolutions too), and of the modern networks one, CPU-sized (AlexNet: the
# resize inside the scan, dropout in a flax module; the quickest of them to compile)
QUICK = (("dropout", []), ("batch_norm", []), ("modern_cnns", ["--models", "alexnet"]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="device_check.py", description=__doc__)
    p.add_argument("--devices", type=device_count, default=1)
    p.add_argument("--quick", action="store_true", help="pass --quick to the experiments")
    args = p.parse_args(argv)
    if args.devices != "all" and args.devices > len(jax.devices()):
        p.error(
            f"argument --devices: expected at most the {len(jax.devices())} devices JAX sees "
            f"(or 'all'), got {args.devices}"
        )
    print(f"jax {jax.__version__}, backend {jax.default_backend()}")
    for device in jax.devices():
        print(f"  {device.id}: {device.device_kind} ({device.platform})")
    failed = []
    for name, flags in QUICK if args.quick else EXPERIMENTS:
        label = " ".join([name, *flags])
        with tempfile.TemporaryDirectory() as out:
            argv = ["--epochs", "1", "--out", out, "--devices", str(args.devices), *flags]
            start = time.perf_counter()
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    metrics = run_script(name, argv + ["--quick"] * args.quick)
            except Exception:  # one experiment's failure is reported; the next still runs
                failed.append(label)
                print(f"{label}: FAILED after {time.perf_counter() - start:.1f} s")
                traceback.print_exc()
                continue
            seconds = time.perf_counter() - start
        accs = ", ".join(
            f"{v} test acc {m['test_acc']:.3f}, {m['seconds_per_epoch']:.1f} s/epoch"
            for v, m in metrics.items()
            if isinstance(m, dict) and "test_acc" in m
        )
        print(f"{label}: 1 epoch in {seconds:.1f} s (data and compilation included); {accs}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

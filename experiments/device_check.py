"""Checks a machine: prints JAX's backend and devices, then runs each Fashion-MNIST experiment
for one epoch (in this process) and times it. For a GPU or TPU machine, after installing the
matching extra.

Command: ``python experiments/device_check.py [--devices N|all] [--quick]``
(``--devices`` is passed on: data-parallel over N local devices; ``--quick`` passes ``--quick``).
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

import jax

import common

EXPERIMENTS = ("softmax_regression", "mlp", "dropout")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="device_check.py", description=__doc__)
    p.add_argument("--devices", type=common.device_count, default=1)
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
    for name in EXPERIMENTS:
        with tempfile.TemporaryDirectory() as out:
            argv = ["--epochs", "1", "--out", out, "--devices", str(args.devices)]
            start = time.perf_counter()
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    metrics = common.run_script(name, argv + ["--quick"] * args.quick)
            except Exception:  # one experiment's failure is reported; the next still runs
                failed.append(name)
                print(f"{name}: FAILED after {time.perf_counter() - start:.1f} s")
                traceback.print_exc()
                continue
            seconds = time.perf_counter() - start
        accs = ", ".join(
            f"{v} test acc {metrics[v]['test_acc']:.3f}" for v in ("scratch", "concise")
        )
        print(f"{name}: 1 epoch in {seconds:.1f} s (data and compilation included); {accs}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Checks a machine: prints JAX's backend and devices, then runs each Fashion-MNIST experiment
for one epoch and times it. For a GPU or TPU machine, after installing the matching extra.

Command: ``python experiments/device_check.py [--devices N|all] [--quick]``
(``--devices`` is passed on: data-parallel over N local devices; ``--quick`` passes ``--quick``).
Exit status 1 when an experiment fails.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax

import common

HERE = Path(__file__).resolve().parent
EXPERIMENTS = ("softmax_regression", "mlp")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="device_check.py", description=__doc__)
    p.add_argument("--devices", type=common.device_count, default=1)
    p.add_argument("--quick", action="store_true", help="pass --quick to the experiments")
    args = p.parse_args(argv)
    print(f"jax {jax.__version__}, backend {jax.default_backend()}")
    for device in jax.devices():
        print(f"  {device.id}: {device.device_kind} ({device.platform})")
    failed = []
    for name in EXPERIMENTS:
        with tempfile.TemporaryDirectory() as out:
            cmd = [sys.executable, str(HERE / f"{name}.py"), "--epochs", "1", "--out", out]
            cmd += ["--devices", str(args.devices)] + ["--quick"] * args.quick
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            seconds = time.perf_counter() - start
            if proc.returncode:
                failed.append(name)
                print(f"{name}: FAILED after {seconds:.1f} s\n{proc.stderr[-2000:]}")
                continue
            metrics = json.loads((Path(out) / "metrics.json").read_text())
        accs = ", ".join(
            f"{v} test acc {metrics[v]['test_acc']:.3f}" for v in ("scratch", "concise")
        )
        print(f"{name}: 1 epoch in {seconds:.1f} s (process start, data, compile included); {accs}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

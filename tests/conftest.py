"""Shared test configuration: strict numerics for every test."""

import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import jax
import pytest


@pytest.fixture(autouse=True)
def _strict_rank_promotion():
    """Implicit rank promotion hides shape bugs; every test runs with it raising."""
    with jax.numpy_rank_promotion("raise"):
        yield


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def run_experiment(tmp_path):
    """Runs ``python experiments/NAME.py --quick --out TMP ARGS...`` as a user would
    (``quick=False`` runs the default configuration).

    Returns ``(metrics, stdout, out_dir)``; fails the test with the script's stderr when the
    script exits non-zero.
    """

    def run(name: str, *args: str, quick: bool = True, timeout: float = 300):
        out = tmp_path / name
        cmd = [sys.executable, str(ROOT / "experiments" / f"{name}.py")]
        cmd += ["--quick"] * quick + ["--out", str(out), *args]
        env = {**os.environ, "MPLBACKEND": "Agg"}
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        assert proc.returncode == 0, f"{name}.py failed:\n{proc.stdout}\n{proc.stderr}"
        metrics = json.loads((out / "metrics.json").read_text())
        return metrics, proc.stdout, out

    return run

"""Shared test configuration: strict numerics for every test, the import path, and the data
and runners several test files share."""

import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import jax
import jax.numpy as jnp
import pytest

from jaxdl.data.synthetic import synthetic_regression

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

# The one place that sets the import path (tests run with --import-mode=importlib, which adds
# nothing): tests/ for the plain helper modules (``references``), and experiments/, first, as
# ``python experiments/NAME.py`` has it, so that a test imports an experiment script and what it
# imports (``common``, ``reference``) as the script would.
for _folder in (TESTS, ROOT / "experiments"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))


@pytest.fixture(autouse=True)
def _strict_rank_promotion():
    """Implicit rank promotion hides shape bugs; every test runs with it raising."""
    with jax.numpy_rank_promotion("raise"):
        yield


@pytest.fixture(scope="module")
def regression_data():
    """103 examples of ``y = x [2, -3.4] + 4.2 + noise``, two features."""
    return synthetic_regression(jax.random.key(42), jnp.array([2.0, -3.4]), 4.2, 103)


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

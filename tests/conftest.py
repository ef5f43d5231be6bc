"""Shared test configuration: strict numerics for every test, the import path, and the data
and runners several test files share."""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import jax
import jax.numpy as jnp
import pytest

from jaxdl.compilation import use_cache
from jaxdl.data.synthetic import synthetic_regression
from jaxdl.data.time_machine import DIR_ENV_VAR as TIME_MACHINE_DIR

# The test sessions, the experiments they run and the processes they start share one persistent
# compilation cache of their own, and leave the user's alone: tests compile the same small
# programs many times over, and the slow tier's notebooks those of the default tier's sections
# (`pytest && pytest -m slow` compiles them once). It lives in pytest's own cache folder, kept
# between sessions (a few MB: entries are keyed by program, JAX version and flags), and
# ``$JAXDL_TEST_SESSION_CACHE`` names another. pytest-xdist's workers start after the main
# process has read this file, so they find the folder in the environment and share it too.
SESSION_CACHE = os.environ.get("JAXDL_TEST_SESSION_CACHE")
if SESSION_CACHE is None:
    SESSION_CACHE = str(Path(__file__).resolve().parents[1] / ".pytest_cache" / "jaxdl-compilation")
    os.environ["JAXDL_TEST_SESSION_CACHE"] = SESSION_CACHE
use_cache(SESSION_CACHE)
os.environ["JAXDL_COMPILATION_CACHE"] = SESSION_CACHE
os.environ["JAX_COMPILATION_CACHE_DIR"] = SESSION_CACHE
os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
# The book's own data files, beside the repository where they are (CI), never in it.
SHARED_DATA = ROOT.parent / "shared" / "data"

# The one place that sets the import path (tests run with --import-mode=importlib, which adds
# nothing): tests/ for the plain helper modules (``references``), and experiments/, first, as
# ``python experiments/NAME.py`` has it, so that a test imports an experiment script and what it
# imports (the ``harness`` package) as the script would.
for _folder in (TESTS, ROOT / "experiments"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))


def pytest_configure(config):
    """The default tier (``-m "not slow"``) compiles at XLA:CPU's lowest optimisation level:
    its tests check values, not speed, and compiling is most of their time (a quarter less
    here). The slow tier, whose tests train for minutes, keeps XLA's default. Set before any
    test computes, so before JAX starts its backend, and inherited by the workers and every
    process a test starts."""
    if (config.option.markexpr or "").strip() == "not slow":
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_backend_optimization_level=0".strip()


# The longest tests, started first: started last, one would keep a worker busy after the others
# have run out of tests. In the default tier, a section's one run on tiny data (test_sections.py);
# in the slow tier, the runs of minutes (book configurations, several processes or devices).
LONGEST = (
    "test_sections.py",
    "books_bands[dropout",
    "device_check",
    "run_two_processes",
    "books_bands",
    "warm_compilation_cache",
    "benchmark_quick",
    "resized_minibatches",
    "second_run_compiles_nothing",
    "parameters_of_one",
)


def pytest_collection_modifyitems(items):
    """Orders the tests longest first (``LONGEST``), the rest as collected."""

    def rank(item):
        return next((i for i, part in enumerate(LONGEST) if part in item.nodeid), len(LONGEST))

    items.sort(key=rank)


@pytest.fixture(autouse=True)
def _strict_rank_promotion():
    """Implicit rank promotion hides shape bugs; every test runs with it raising."""
    with jax.numpy_rank_promotion("raise"):
        yield


@pytest.fixture
def shared_data():
    """``find(name)``: the path of the book's file or folder ``name`` in ``../shared/data``;
    skips the test, naming the path, where it is absent (a user's machine). CI has it."""

    def find(name: str) -> Path:
        path = SHARED_DATA / name
        if not path.exists():
            pytest.skip(f"{path} is absent: the book's data files are checked where they are")
        return path

    return find


@pytest.fixture(scope="session")
def time_machine_dir(tmp_path_factory) -> Path:
    """The folder of ``timemachine.txt`` that the tests read The Time Machine from: the book's
    (``../shared/data``) where it is (CI), else a small generated text (``tests/texts.py``),
    whose figures are not the book's."""
    if (SHARED_DATA / "timemachine.txt").is_file():
        return SHARED_DATA
    from texts import write_generated_time_machine  # tests/ is on the path (above)

    return write_generated_time_machine(tmp_path_factory.mktemp("time-machine"))


@pytest.fixture(autouse=True)
def _time_machine_folder(time_machine_dir, monkeypatch):
    """A test that reads The Time Machine without naming a folder (a section run without
    ``--data-dir``, in-process or in a notebook's kernel) reads ``time_machine_dir``, named by
    ``$JAXDL_TIME_MACHINE_DIR``: no test downloads the text or reads the user's cache."""
    monkeypatch.setenv(TIME_MACHINE_DIR, str(time_machine_dir))


@pytest.fixture(scope="module")
def regression_data():
    """103 examples of ``y = x [2, -3.4] + 4.2 + noise``, two features."""
    return synthetic_regression(jax.random.key(42), jnp.array([2.0, -3.4]), 4.2, 103)


@pytest.fixture
def run_experiment(tmp_path, capsys):
    """Runs an experiment as ``python experiments/NAME.py --quick --out TMP ARGS...`` does, in
    this process (``harness.section.run_script``; ``quick=False`` runs the default configuration).
    tests/test_experiments.py runs one script as a command, the path every script shares.

    Returns ``(metrics, stdout, out_dir)`` with the metrics as written to metrics.json.
    """

    from harness.section import run_script  # experiments/ is on the path (above)

    def run(name: str, *args: str, quick: bool = True):
        out = tmp_path / name
        capsys.readouterr()  # only this run's output
        run_script(name, ["--quick"] * quick + ["--out", str(out), *args])
        metrics = json.loads((out / "metrics.json").read_text())
        return metrics, capsys.readouterr().out, out

    return run

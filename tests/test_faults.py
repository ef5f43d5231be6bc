"""Bad flags and unwritable folders, tried as a user would: each is refused before any training,
with a message that names the flag."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from jaxdl.optim import sgd

from common import run_script

ROOT = Path(__file__).resolve().parents[1]


def _refused(capsys, argv) -> str:
    """Runs ``mlp.py ARGV`` in-process, expects argparse's refusal (exit 2), returns stderr."""
    with pytest.raises(SystemExit) as exit_:
        run_script("mlp", argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err


def test_checkpoint_dir_that_is_a_file_names_the_flag(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    err = _refused(capsys, ["--quick", "--checkpoint-dir", str(tmp_path / "f")])
    assert f"argument --checkpoint-dir: expected a folder, got the file {tmp_path / 'f'}" in err


@pytest.mark.parametrize("seed", [str(2**64), str(2**32), "-1"])
def test_seed_outside_the_distinct_keys_names_the_flag(tmp_path, capsys, seed):
    err = _refused(capsys, ["--quick", "--seed", seed, "--out", str(tmp_path)])
    assert "argument --seed: expected an integer in [0, 4294967295]" in err and seed in err


@pytest.mark.parametrize("rate", ["1e-300", "1e39", "0", "nan"])
def test_learning_rate_that_float32_cannot_hold_names_the_flag(tmp_path, capsys, rate):
    err = _refused(capsys, ["--quick", "--lr", rate, "--out", str(tmp_path)])
    assert "argument --lr: expected a number > 0 that is finite and not 0 in float32" in err


@pytest.mark.parametrize(("rate", "in_float32"), [(1e-300, "0.0"), (1e39, "inf")])
def test_sgd_refuses_a_rate_that_is_0_or_inf_in_float32(rate, in_float32):
    with pytest.raises(
        ValueError, match=rf"learning_rate: .* got {re.escape(repr(rate))} \({in_float32} in"
    ):
        sgd(rate)


@pytest.fixture
def shared_tmp():
    """A temporary folder that any user can look into (pytest's tmp_path is private)."""
    folder = tempfile.mkdtemp(prefix="jaxdl-")
    os.chmod(folder, 0o755)
    yield Path(folder)
    shutil.rmtree(folder)


def test_out_that_cannot_be_written_is_refused_before_training(shared_tmp):
    """A read-only --out folder; as root every folder is writable, so the script then runs as
    the unprivileged user ``nobody`` (setpriv), as most users run it."""
    tmp_path = shared_tmp
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    cmd = [sys.executable, str(ROOT / "experiments" / "linear_regression.py")]
    cmd += ["--out", str(locked / "out")]
    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path / "mpl"), "MPLBACKEND": "Agg"}
    if os.geteuid() == 0:
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        env["MPLCONFIGDIR"] = "/tmp"
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"--out: cannot write to {locked} (permission denied)" in proc.stderr
    assert "epoch" not in proc.stdout  # refused before any training
    assert not (locked / "out").exists()

"""Bad flags and unwritable folders, tried as a user would: each is refused before any training,
with a message that names the flag."""

import errno
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from jaxdl.optim import sgd

from harness.section import run_script

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


AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture(scope="module")
def unprivileged():
    """The command prefix that runs a command as the unprivileged user ``nobody`` (as root every
    folder is writable); empty when not root. Skips, saying why, where ``nobody`` cannot run
    this interpreter and import jaxdl (a virtual environment under an unreadable home)."""
    if os.geteuid() != 0:
        return []
    probe = subprocess.run(
        [*AS_NOBODY, sys.executable, "-c", "import jaxdl.engine.drivers"],
        capture_output=True,
        text=True,
        cwd="/",
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(
            f"the user nobody cannot run {sys.executable} with jaxdl (an interpreter or a "
            f"checkout it cannot read): {probe.stderr.strip().splitlines()[-1:]}"
        )
    return AS_NOBODY


@pytest.mark.parametrize(
    ("script", "flag", "message"),
    [
        (
            "linear_regression",
            "--out",
            "--out: expected a folder this process can write, got {locked}",
        ),
        (
            "mlp",
            "--checkpoint-dir",
            "argument --checkpoint-dir: expected a folder this process can write, got {locked}",
        ),
    ],
)
@pytest.mark.slow
def test_a_folder_that_cannot_be_written_is_refused_before_training(
    shared_tmp, unprivileged, script, flag, message
):
    """A read-only folder, as most users meet one: refused with status 2, naming the flag."""
    tmp_path = shared_tmp
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    cmd = [*unprivileged, sys.executable, str(ROOT / "experiments" / f"{script}.py"), "--quick"]
    cmd += [flag, str(locked / "out")]
    if flag != "--out":
        cmd += ["--out", str(tmp_path / "results")]
    env = {**os.environ, "MPLCONFIGDIR": "/tmp", "MPLBACKEND": "Agg"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message.format(locked=locked) in proc.stderr
    assert "epoch" not in proc.stdout  # refused before any training
    assert not (locked / "out").exists()


TRAINING = [
    "linear_regression",
    "softmax_regression",
    "mlp",
    "dropout",
    "initialization",
    "polynomial_regression",
    "kfold",
    "weight_decay",
]


@pytest.mark.parametrize(
    ("name", "flag"),
    [*((name, "--epochs") for name in TRAINING), ("polynomial_regression", "--overfit-epochs")],
)
def test_zero_epochs_are_a_flag_error(tmp_path, capsys, name, flag):
    with pytest.raises(SystemExit) as exit_:
        run_script(name, ["--quick", flag, "0", "--out", str(tmp_path / name)])
    assert exit_.value.code == 2  # argparse's status for a bad argument
    assert f"argument {flag}: expected an integer >= 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / name).exists()


@pytest.fixture
def link_loop(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    return tmp_path / "a"


@pytest.mark.parametrize(
    ("name", "argv", "message"),
    [
        ("calculus", ["--out", ""], "argument --out: expected a folder, got an empty path"),
        ("mlp", ["--checkpoint-dir", "LOOP"], "argument --checkpoint-dir: cannot look into "),
        (
            "mlp",
            ["--coordinator", "localhost:99999", "--num-processes", "2", "--process-id", "0"],
            "argument --coordinator: expected 'host:port' with a port in [1, 65535], or 'auto', "
            "got 'localhost:99999'",
        ),
        ("kfold", ["--folds", "1"], "argument --folds: expected an integer >= 2, got 1"),
        (
            "dropout",
            ["--dropout", "1.5", "0.5"],
            "argument --dropout: expected a probability in [0, 1], got 1.5",
        ),
    ],
    ids=["empty-out", "looping-checkpoint-dir", "port", "folds", "dropout"],
)
def test_bad_flags_are_refused_naming_the_flag(tmp_path, capsys, link_loop, name, argv, message):
    argv = [str(link_loop) if a == "LOOP" else a for a in argv]
    with pytest.raises(SystemExit) as exit_:
        run_script(
            name, ["--quick", *argv] + ([] if "--out" in argv else ["--out", str(tmp_path / "o")])
        )
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_device_check_refuses_more_devices_than_jax_sees(capsys):
    from harness import device_check

    with pytest.raises(SystemExit) as exit_:
        device_check.main(["--devices", "3"])
    assert exit_.value.code == 2
    assert "argument --devices: expected at most the 1 devices JAX sees" in capsys.readouterr().err


def test_an_unbalanced_quote_in_the_notebook_flags_is_named(monkeypatch):
    from jaxdl.errors import InputError

    from harness import section

    monkeypatch.setattr(section, "in_notebook", lambda: True)
    monkeypatch.setenv("JAXDL_NOTEBOOK_ARGS", "--out 'my results")
    with pytest.raises(
        InputError, match=r"^\$JAXDL_NOTEBOOK_ARGS: cannot split \"--out 'my results\""
    ):
        section.start("calculus", {})


def test_the_command_line_shortens_refusals_only(capsys, monkeypatch):
    """jaxdl's refusals end with one line and status 1; a plain ValueError, a bug in the code
    rather than a refusal of the input, keeps its traceback."""
    from jaxdl.errors import InputError, InputTypeError

    from harness import section

    monkeypatch.setattr(sys, "argv", ["mlp.py"])
    for refusal in (
        InputError("epochs: expected ..."),
        InputTypeError("key: ..."),
        FloatingPointError("x"),
    ):
        with pytest.raises(SystemExit) as exit_:
            section._short_errors(type(refusal), refusal, None)
        assert exit_.value.code == 1
        assert capsys.readouterr().err == f"mlp.py: error: {refusal}\n"
    full = OSError(errno.ENOSPC, "No space left on device", "/data/out/metrics.json")
    with pytest.raises(SystemExit) as exit_:
        section._short_errors(OSError, full, None)
    assert exit_.value.code == 1
    assert capsys.readouterr().err == (
        "mlp.py: error: No space left on device: /data/out/metrics.json; free space there or "
        "write on another disk (--out, --checkpoint-dir; TMPDIR for temporary files)\n"
    )
    denied = PermissionError(errno.EACCES, "Permission denied", "/data/out")  # no room to make
    with pytest.raises(SystemExit):
        section._short_errors(PermissionError, denied, None)
    assert capsys.readouterr().err == "mlp.py: error: Permission denied: /data/out\n"
    with pytest.raises(SystemExit) as exit_:  # Ctrl-C, during a save or not
        section._short_errors(KeyboardInterrupt, KeyboardInterrupt(), None)
    assert exit_.value.code == 130
    assert capsys.readouterr().err.startswith("mlp.py: interrupted; nothing half-written is kept")
    seen = []
    monkeypatch.setattr(sys, "__excepthook__", lambda *info: seen.append(info))
    bug = ValueError("operands could not be broadcast together")
    section._short_errors(ValueError, bug, None)  # no SystemExit
    assert seen == [(ValueError, bug, None)]


def test_a_compilation_cache_that_is_a_file_is_refused(tmp_path, capsys):
    file = tmp_path / "cache"
    file.write_text("not a folder")
    with pytest.raises(SystemExit) as exit_:
        run_script("calculus", ["--compilation-cache", str(file), "--out", str(tmp_path / "o")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --compilation-cache: expected a folder, got the file {file}" in err

"""Checkpoints: a run killed during epoch 3 resumes to the uninterrupted run's exact result;
a checkpoint of another run is refused, naming each differing setting with both values; a save
cut short, damaged arrays and two runs on one folder are handled as the module promises."""

import errno
import hashlib
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.engine import fit
from jaxdl.engine.checkpoint import Checkpointer, state_digest
from jaxdl.losses import cross_entropy
from jaxdl.metrics import correct
from jaxdl.model import Model
from jaxdl.models.mlp import scratch_mlp
from jaxdl.optim import sgd

TRAIN = textwrap.dedent(
    """
    import json, sys
    import jax, numpy as np
    from jaxdl.engine import fit
    from jaxdl.losses import cross_entropy
    from jaxdl.models.mlp import scratch_mlp
    from jaxdl.optim import sgd

    checkpoint_dir, out = sys.argv[1], sys.argv[2]
    kx, ky = jax.random.split(jax.random.key(0))
    x = jax.random.uniform(kx, (8000, 784))
    y = jax.random.randint(ky, (8000,), 0, 10)
    result = fit(scratch_mlp((256,)), cross_entropy, sgd(0.1), (x, y), epochs=5, batch_size=50,
                 key=jax.random.key(1), eval_data={"test": (x[:2000], y[:2000])}, quiet=True,
                 checkpoint_dir=checkpoint_dir)
    leaves = [np.asarray(a) for a in jax.tree.leaves(result.state.params)]
    np.savez(out + ".npz", *leaves)
    with open(out + ".json", "w") as f:
        json.dump({k: v.tolist() for k, v in result.history.items()}, f)
    """
)


def _run(checkpoint_dir, out):
    return subprocess.Popen(
        [sys.executable, "-c", TRAIN, str(checkpoint_dir), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc):
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr


def _load(out):
    with np.load(f"{out}.npz") as f:
        params = [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]
    history = json.loads(open(f"{out}.json").read())
    history.pop("seconds")  # wall times differ between any two runs
    return params, history


@pytest.mark.slow
def test_killed_during_epoch_3_resumes_bit_identical(tmp_path):
    _finish(_run(tmp_path / "straight", tmp_path / "straight_out"))

    killed = _run(tmp_path / "killed", tmp_path / "killed_out")
    deadline = time.monotonic() + 240
    while not (tmp_path / "killed" / "2").exists():  # epochs 1 and 2 saved: epoch 3 runs
        assert killed.poll() is None, killed.communicate()[1]
        assert time.monotonic() < deadline, "no checkpoint after two epochs"
        time.sleep(0.005)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL
    assert not (tmp_path / "killed" / "3").exists(), "epoch 3 finished before the kill"

    _finish(_run(tmp_path / "killed", tmp_path / "killed_out"))  # the same command again
    straight, resumed = _load(tmp_path / "straight_out"), _load(tmp_path / "killed_out")
    assert len(straight[0]) == len(resumed[0]) == 4
    for a, b in zip(straight[0], resumed[0], strict=True):
        np.testing.assert_array_equal(a, b)
    assert resumed[1] == straight[1]
    assert sorted(resumed[1]) == ["test_loss", "train_loss"]
    assert len(resumed[1]["train_loss"]) == len(resumed[1]["test_loss"]) == 5
    # The last three kept, and the lock file of the folder (released: the run ended).
    assert sorted(os.listdir(tmp_path / "killed")) == [".lock", "3", "4", "5"]


@pytest.fixture(scope="module")
def small():
    kx, ky = jax.random.split(jax.random.key(0))
    return jax.random.uniform(kx, (200, 784)), jax.random.randint(ky, (200,), 0, 10)


def _fit(
    data,
    folder,
    *,
    hidden=16,
    seed=1,
    epochs=2,
    lr=0.1,
    batch_size=50,
    model=None,
    quiet=True,
    desc=None,
):
    x, y = data
    return fit(
        scratch_mlp((hidden,)) if model is None else model,
        cross_entropy,
        sgd(lr),
        data,
        epochs=epochs,
        batch_size=batch_size,
        key=jax.random.key(seed),
        eval_data={"test": (x[:60], y[:60])},
        metrics={"acc": correct},
        quiet=quiet,
        desc=desc,
        checkpoint_dir=folder,
    )


def _refusal_lines(error: pytest.ExceptionInfo) -> list[str]:
    """The lines of a refusal that name a differing field."""
    message = str(error.value)
    assert re.match(r"checkpoint \S+ was written by another run", message), message
    return [line for line in message.splitlines() if line.startswith("  ")]


@pytest.mark.slow
def test_more_epochs_resume_bit_identical(small, tmp_path):
    first = _fit(small, tmp_path / "resumed", epochs=2)
    second = _fit(small, tmp_path / "resumed", epochs=3)  # resumes after epoch 2
    straight = _fit(small, tmp_path / "straight", epochs=3)
    jax.tree.map(np.testing.assert_array_equal, second.state.params, straight.state.params)
    assert int(second.state.step) == int(straight.state.step) == 3 * 200 // 50
    names = ["train_loss", "train_acc", "test_loss", "test_acc"]
    assert sorted(second.history) == sorted([*names, "seconds"])
    for name in names:
        np.testing.assert_array_equal(second.history[name], straight.history[name])
        np.testing.assert_array_equal(second.history[name][:2], first.history[name])
    assert len(second.history["seconds"]) == 3
    np.testing.assert_array_equal(second.history["seconds"][:2], first.history["seconds"])
    assert second.run.epochs == 3 and first.run.epochs == 2


def test_resume_says_after_which_epoch(small, tmp_path, capsys):
    _fit(small, tmp_path / "a", epochs=2, quiet=False)
    assert "resumed" not in capsys.readouterr().out  # a fresh start says nothing of resuming
    _fit(small, tmp_path / "a", epochs=3, quiet=False)
    assert "training: resumed after epoch 2 of 3" in capsys.readouterr().out
    _fit(small, tmp_path / "b", epochs=1, quiet=False, desc="small mlp")
    capsys.readouterr()
    _fit(small, tmp_path / "b", epochs=4, quiet=False, desc="small mlp")
    assert "small mlp: resumed after epoch 1 of 4" in capsys.readouterr().out


def test_quiet_resume_prints_nothing(small, tmp_path, capsys):
    _fit(small, tmp_path, epochs=1)
    _fit(small, tmp_path, epochs=2)
    assert "resumed" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("first", "second", "line"),
    [
        # key(1) and key(2) are the threefry keys [0, 1] and [0, 2].
        ({"seed": 1}, {"seed": 2}, "key: [0, 1] in the checkpoint, [0, 2] in this run"),
        (
            {"hidden": 16},
            {"hidden": 32},
            "model.num_hiddens: [16] in the checkpoint, [32] in this run",
        ),
        (
            {"lr": 0.1},
            {"lr": 0.05},
            "optimizer.learning_rate: 0.1 in the checkpoint, 0.05 in this run",
        ),
        (
            {"batch_size": 50},
            {"batch_size": 40},
            "batch_size: 50 in the checkpoint, 40 in this run",
        ),
    ],
)
def test_checkpoint_of_another_setting_is_refused_naming_it(small, tmp_path, first, second, line):
    _fit(small, tmp_path, **first)
    with pytest.raises(ValueError, match="written by another run") as error:
        _fit(small, tmp_path, **second)
    assert _refusal_lines(error) == [f"  {line}"]


def test_checkpoint_of_other_data_is_refused(small, tmp_path):
    x, y = small
    other = (x.at[0, 0].set(2.0), y)  # one pixel changed
    _fit(small, tmp_path)
    with pytest.raises(ValueError, match="written by another run") as error:
        _fit(other, tmp_path)

    def digest(*arrays):
        return hashlib.sha256(b"".join(np.asarray(a).tobytes() for a in arrays)).hexdigest()

    # The training data differ; the test set (the first 60 rows) too, as it holds that pixel.
    assert _refusal_lines(error) == [
        f"  data.sha256: {digest(x, y)!r} in the checkpoint, {digest(*other)!r} in this run",
        f"  eval_data.test.sha256: {digest(x[:60], y[:60])!r} in the checkpoint, "
        f"{digest(other[0][:60], y[:60])!r} in this run",
    ]


def test_every_difference_is_named_but_not_the_epochs(small, tmp_path):
    _fit(small, tmp_path, epochs=2)
    with pytest.raises(ValueError, match="written by another run") as error:
        _fit(small, tmp_path, epochs=5, lr=0.2, batch_size=25, seed=3)
    assert _refusal_lines(error) == [
        "  optimizer.learning_rate: 0.1 in the checkpoint, 0.2 in this run",
        "  batch_size: 50 in the checkpoint, 25 in this run",
        "  key: [0, 1] in the checkpoint, [0, 3] in this run",
    ]


def test_checkpoint_of_a_model_of_other_shapes_is_refused(small, tmp_path):
    _fit(small, tmp_path, hidden=16)
    wider = scratch_mlp((32,))
    disguised = Model(wider.init, wider.apply, scratch_mlp((16,)).config)  # a config that hides it
    with pytest.raises(ValueError, match="written for another model or optimizer"):
        _fit(small, tmp_path, model=disguised)


def test_checkpoint_with_unreadable_files_is_set_aside(small, tmp_path, capsys):
    _fit(small, tmp_path, epochs=2)
    for path in (tmp_path / "2").rglob("*"):
        if path.is_file():
            path.write_bytes(b"\x00garbage")
    _fit(small, tmp_path, epochs=3, quiet=False)
    out = capsys.readouterr().out
    assert f"skipped checkpoint {tmp_path / '2'}: cannot read its metadata" in out
    assert "resumed after epoch 1 of 3" in out


def test_folder_without_a_checkpoint_is_refused(small, tmp_path):
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="holds files but no complete checkpoint"):
        _fit(small, tmp_path)


def test_fewer_epochs_than_done_is_refused(small, tmp_path):
    _fit(small, tmp_path, epochs=2)
    with pytest.raises(ValueError, match="at least the 2 epochs already done"):
        _fit(small, tmp_path, epochs=1)


def test_checkpoint_dir_that_is_a_file(small, tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="expected a folder, got the file"):
        _fit(small, tmp_path / "f")


def test_params_survive_a_save_and_restore(small, tmp_path):
    result = _fit(small, tmp_path, epochs=1)
    resumed = _fit(small, tmp_path, epochs=1)  # nothing left to train: restored as saved
    jax.tree.map(np.testing.assert_array_equal, resumed.state.params, result.state.params)
    assert isinstance(resumed.state.params["layers"][0]["W"], jax.Array)
    assert float(jnp.sum(resumed.state.step)) == 200 // 50
    for name, values in result.history.items():
        np.testing.assert_array_equal(resumed.history[name], values)


# Faults: a save cut short, damaged arrays, two runs on one folder --------------------------


def _flip_a_byte_of_the_arrays(step_dir):
    """Flips one bit in the middle of the largest file of a checkpoint's state (its arrays)."""
    data_file = max(
        (p for p in (step_dir / "state").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size
    )
    data = bytearray(data_file.read_bytes())
    data[len(data) // 2] ^= 0x01
    data_file.write_bytes(bytes(data))


def test_unfinished_first_save_is_removed_and_training_starts(small, tmp_path, capsys):
    # What a run killed during its first save leaves: orbax's temporary folder, nothing else.
    leftover = tmp_path / "run" / "1.orbax-checkpoint-tmp-1732868400"
    (leftover / "state").mkdir(parents=True)
    (leftover / "state" / "partial").write_bytes(b"\x00" * 100)
    result = _fit(small, tmp_path / "run", epochs=2, quiet=False)
    out = capsys.readouterr().out
    assert f"training: removed {leftover}: the unfinished save of a run that stopped" in out
    assert "resumed" not in out and not leftover.exists()
    straight = _fit(small, tmp_path / "straight", epochs=2)
    jax.tree.map(np.testing.assert_array_equal, result.state.params, straight.state.params)


def test_unfinished_save_after_complete_ones_is_removed_and_training_resumes(
    small, tmp_path, capsys
):
    _fit(small, tmp_path, epochs=1)
    leftover = tmp_path / "2.orbax-checkpoint-tmp-1732868400"
    leftover.mkdir()
    _fit(small, tmp_path, epochs=2, quiet=False)
    out = capsys.readouterr().out
    assert f"removed {leftover}" in out and "resumed after epoch 1 of 2" in out
    assert sorted(os.listdir(tmp_path)) == [".lock", "1", "2"]


def test_damaged_newest_checkpoint_falls_back_to_the_newest_intact_one(small, tmp_path, capsys):
    _fit(small, tmp_path / "run", epochs=2)
    _flip_a_byte_of_the_arrays(tmp_path / "run" / "2")
    resumed = _fit(small, tmp_path / "run", epochs=3, quiet=False)
    out = capsys.readouterr().out
    assert re.search(
        rf"skipped checkpoint {re.escape(str(tmp_path / 'run' / '2'))}: (its arrays do not match "
        r"the digest written with them|cannot read its arrays); set aside as damaged-2",
        out,
    ), out
    assert "resumed after epoch 1 of 3" in out
    assert (tmp_path / "run" / "damaged-2").is_dir()
    straight = _fit(small, tmp_path / "straight", epochs=3)
    jax.tree.map(np.testing.assert_array_equal, resumed.state.params, straight.state.params)
    np.testing.assert_array_equal(resumed.history["train_loss"], straight.history["train_loss"])


def test_no_intact_checkpoint_is_an_error_naming_the_folder(small, tmp_path):
    _fit(small, tmp_path, epochs=1)
    _flip_a_byte_of_the_arrays(tmp_path / "1")
    with pytest.raises(ValueError, match=rf"no intact checkpoint in {re.escape(str(tmp_path))} "):
        _fit(small, tmp_path, epochs=2)


def test_a_second_run_on_a_folder_in_use_is_refused_at_once(small, tmp_path):
    first = Checkpointer(tmp_path)
    try:
        holder = rf"process {os.getpid()} on {re.escape(socket.gethostname())}"
        with pytest.raises(ValueError, match=rf"{tmp_path} is in use by another run \({holder}\)"):
            Checkpointer(tmp_path)
        with pytest.raises(ValueError, match="is in use by another run"):
            _fit(small, tmp_path, epochs=1)
    finally:
        first.close()
    Checkpointer(tmp_path).close()  # released with the first


@pytest.mark.slow
def test_the_lock_of_a_killed_run_does_not_block_the_next(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom jaxdl.engine.checkpoint import Checkpointer\n"
            "Checkpointer(sys.argv[1])\nprint('locked', flush=True)\ntime.sleep(600)\n",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == b"locked"
        with pytest.raises(ValueError, match=rf"in use by another run \(process {holder.pid} "):
            Checkpointer(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    Checkpointer(tmp_path).close()  # the killed run's lock went with it


def test_the_state_digest_reads_bfloat16_arrays():
    a = {"w": jnp.arange(4, dtype=jnp.bfloat16)}
    b = {"w": jnp.arange(4, dtype=jnp.bfloat16).at[3].set(7)}
    assert state_digest(a) == state_digest(jax.tree.map(lambda v: v + 0, a))
    assert state_digest(a) != state_digest(b)


# The metadata under the digest: edited, incomplete -------------------------------------------


def _edit_meta(step_dir, edit):
    path = step_dir / "meta" / "metadata"
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (
            lambda m: m.update(epochs_done=2),
            "its metadata does not match the digest written with it",
        ),
        (
            lambda m: m["history"]["test_acc"].__setitem__(-1, 0.99),
            "its metadata does not match the digest written with it",
        ),
        (lambda m: m.pop("signature"), "its metadata lacks signature"),
        (lambda m: m.pop("meta_digest"), "its metadata lacks meta_digest"),
    ],
    ids=["epochs_done", "history", "no-signature", "no-digest"],
)
def test_edited_or_incomplete_metadata_is_damage_and_the_run_falls_back(
    small, tmp_path, capsys, edit, why
):
    _fit(small, tmp_path / "run", epochs=3)
    _edit_meta(tmp_path / "run" / "3", edit)
    capsys.readouterr()
    resumed = _fit(small, tmp_path / "run", epochs=3, quiet=False)
    out = capsys.readouterr().out
    assert f"skipped checkpoint {tmp_path / 'run' / '3'}: {why}; set aside as damaged-3" in out
    assert "resumed after epoch 2 of 3" in out
    straight = _fit(small, tmp_path / "straight", epochs=3)
    jax.tree.map(np.testing.assert_array_equal, resumed.state, straight.state)
    for name in ("train_loss", "test_loss", "test_acc"):
        np.testing.assert_array_equal(resumed.history[name], straight.history[name])


@pytest.mark.parametrize("error", [PermissionError(13, "Permission denied"), MemoryError()])
def test_an_error_that_is_not_damage_is_raised_and_sets_nothing_aside(small, tmp_path, error):
    result = _fit(small, tmp_path, epochs=1)
    checkpointer = Checkpointer(tmp_path)
    try:

        def fail(*args, **kwargs):
            raise error

        checkpointer._manager.restore = fail
        with pytest.raises(type(error)):
            checkpointer.restore(result.state, result.run)
    finally:
        checkpointer.close()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["1"]


def test_a_checkpoint_folder_that_cannot_be_made_is_refused_naming_it(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(ValueError, match=r"^checkpoint_dir: cannot make or write .*a/run \("):
        Checkpointer(tmp_path / "a" / "run")


def test_a_full_disk_during_a_save_is_one_oserror_naming_the_folder(
    small, tmp_path, caplog, monkeypatch
):
    """orbax reports a full disk as a ValueError holding tensorstore's os_error_code 28, and
    each of its threads reports it too (an absl log record with a traceback, an unraisable
    error of a callback on a closed event loop). The command line shows an OSError ENOSPC as
    one line: the threads' reports are dropped and the partial save removed. Other errors pass
    unchanged, with the threads' reports let through."""

    class LateCallback:
        def __del__(self):
            raise RuntimeError("Event loop is closed")

    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    result = _fit(small, tmp_path / "a", epochs=1)
    checkpointer = Checkpointer(tmp_path / "b")
    try:
        for raised, expected in (
            (
                ValueError("RESOURCE_EXHAUSTED: ... No space left on device [os_error_code='28']"),
                OSError,
            ),
            (ValueError("something else"), ValueError),
        ):

            def fail(*args, raised=raised, **kwargs):
                (tmp_path / "b" / "1.orbax-checkpoint-tmp").mkdir()
                logging.getLogger("absl").error("_SignalingThread.run() raised: %s", raised)
                LateCallback()  # dropped at once: its __del__ raises, an unraisable error
                raise raised

            checkpointer._manager.save = fail
            caplog.clear()
            unraisable.clear()
            with pytest.raises(expected) as error:
                checkpointer.save(1, result.state, result.run, {})
            if expected is OSError:
                assert error.value.errno == errno.ENOSPC
                assert error.value.filename == str(tmp_path / "b")
                assert caplog.records == [] and unraisable == []
                assert not (tmp_path / "b" / "1.orbax-checkpoint-tmp").exists()
            else:
                assert [r.getMessage() for r in caplog.records] == [
                    "_SignalingThread.run() raised: something else"
                ]
                assert [str(u.exc_value) for u in unraisable] == ["Event loop is closed"]
    finally:
        checkpointer.close()


def test_ctrl_c_during_a_save_silences_that_saves_threads_only(small, tmp_path, caplog):
    """Ctrl-C in a save leaves orbax's threads running; as the interpreter goes down they log
    tracebacks (seen live: 45 lines after the one-line message). Their records are dropped;
    the main thread's, and a new thread's, still show."""
    result = _fit(small, tmp_path / "a", epochs=1)
    checkpointer = Checkpointer(tmp_path / "b")
    go_on = threading.Event()

    def writer():
        go_on.wait()
        logging.getLogger("absl").error("cannot schedule new futures after interpreter shutdown")

    save_thread = threading.Thread(target=writer)

    def interrupted(*args, **kwargs):
        save_thread.start()
        raise KeyboardInterrupt

    checkpointer._manager.save = interrupted
    try:
        with pytest.raises(KeyboardInterrupt):
            checkpointer.save(1, result.state, result.run, {})
        go_on.set()
        save_thread.join()
        logging.getLogger("absl").error("main")
        later = threading.Thread(target=logging.getLogger("absl").error, args=("later",))
        later.start()
        later.join()
    finally:
        checkpointer.close()
    assert [r.getMessage() for r in caplog.records] == ["main", "later"]

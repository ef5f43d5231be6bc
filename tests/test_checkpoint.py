"""Checkpoints: a run killed during epoch 3 resumes to the uninterrupted run's exact result."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.losses import cross_entropy
from jaxdl.models.mlp import mlp
from jaxdl.optim import sgd
from jaxdl.train import fit

TRAIN = textwrap.dedent(
    """
    import json, sys
    import jax, numpy as np
    from jaxdl.losses import cross_entropy
    from jaxdl.models.mlp import mlp
    from jaxdl.optim import sgd
    from jaxdl.train import fit

    checkpoint_dir, out = sys.argv[1], sys.argv[2]
    kx, ky = jax.random.split(jax.random.key(0))
    x = jax.random.uniform(kx, (20000, 784))
    y = jax.random.randint(ky, (20000,), 0, 10)
    result = fit(mlp((256,)), cross_entropy, sgd(0.1), (x, y), epochs=5, batch_size=50,
                 key=jax.random.key(1), eval_data=(x[:2000], y[:2000]), quiet=True,
                 checkpoint_dir=checkpoint_dir)
    leaves = [np.asarray(a) for a in jax.tree.leaves(result.state.params)]
    np.savez(out + ".npz", *leaves)
    with open(out + ".json", "w") as f:
        json.dump(result.history.to_dict(), f)
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
    assert len(resumed[1]["train_loss"]) == 5
    assert sorted(os.listdir(tmp_path / "killed")) == ["3", "4", "5"]  # the last three kept


@pytest.fixture(scope="module")
def small():
    kx, ky = jax.random.split(jax.random.key(0))
    return jax.random.uniform(kx, (200, 784)), jax.random.randint(ky, (200,), 0, 10)


def _fit(data, folder, *, hidden=16, seed=1, epochs=2):
    return fit(
        mlp((hidden,)),
        cross_entropy,
        sgd(0.1),
        data,
        epochs=epochs,
        batch_size=50,
        key=jax.random.key(seed),
        quiet=True,
        checkpoint_dir=folder,
    )


def test_resume_in_process_continues_the_history(small, tmp_path):
    first = _fit(small, tmp_path, epochs=2)
    second = _fit(small, tmp_path, epochs=3)
    assert second.history["train_loss"][:2] == first.history["train_loss"]
    assert len(second.history["train_loss"]) == 3
    straight = _fit(small, tmp_path / "other", epochs=3)
    jax.tree.map(np.testing.assert_array_equal, second.state.params, straight.state.params)


def test_checkpoint_of_another_model_is_refused(small, tmp_path):
    _fit(small, tmp_path, hidden=16)
    with pytest.raises(ValueError, match="written for another model or optimizer"):
        _fit(small, tmp_path, hidden=32)


def test_checkpoint_of_another_key_is_refused(small, tmp_path):
    _fit(small, tmp_path, seed=1)
    with pytest.raises(ValueError, match="another key"):
        _fit(small, tmp_path, seed=2)


def test_damaged_checkpoint_is_refused(small, tmp_path):
    _fit(small, tmp_path)
    for path in (tmp_path / "2").rglob("*"):
        if path.is_file():
            path.write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match=r"checkpoint .*2 is damaged"):
        _fit(small, tmp_path, epochs=3)


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
    assert float(jnp.sum(resumed.state.step)) == 4

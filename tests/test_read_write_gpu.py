"""The builders' guide's file I/O (5.5) and GPUs (5.6): the two experiments run as a user
would, orbax's round trips checked leaf by leaf with NumPy, and the sharded path on two host
devices."""

import errno
import gc
import importlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest

from jaxdl.model import TrainState, init_state, stateless

from harness import section

ROOT = Path(__file__).resolve().parents[1]
# The book's MLP 20-256-10: two weight matrices and two bias vectors, counted by hand.
MLP_PARAMS = 20 * 256 + 256 + 256 * 10 + 10


def assert_same_leaves(restored, original):
    """Same structure, and every leaf with the original's dtype, shape and bytes (NumPy)."""
    assert jax.tree.structure(restored) == jax.tree.structure(original)
    for path, (r, o) in zip(
        [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(original)],
        zip(jax.tree.leaves(restored), jax.tree.leaves(original), strict=True),
        strict=True,
    ):
        r, o = np.asarray(r), np.asarray(o)
        assert r.dtype == o.dtype and r.shape == o.shape, (path, r.dtype, o.dtype)
        assert r.tobytes() == o.tobytes(), path


def save(path, tree):
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(path, tree)


def restore(path, target=None):
    with ocp.StandardCheckpointer() as checkpointer:
        return checkpointer.restore(path, target)


# ----------------------------------------------------------------------------- read_write (5.5)


def test_read_write_experiment(run_experiment):
    before = set(Path(tempfile.gettempdir()).glob("jaxdl-read-write-*"))
    m, stdout, out = run_experiment("read_write")
    assert m["x_loaded"] == [0, 1, 2, 3] and m["x_dtype"] == "int32"  # the book's arange(4)
    assert m["list_round_trip_equal"] is True and m["dict_round_trip_equal"] is True
    assert m["dict_keys"] == ["x", "y"]
    assert m["num_params"] == MLP_PARAMS == 7946
    assert m["param_shapes"] == {
        "['layers'][0]['W']": [20, 256],
        "['layers'][0]['b']": [256],
        "['layers'][1]['W']": [256, 10],
        "['layers'][1]['b']": [10],
    }
    assert m["params_bit_identical"] is True
    assert m["clone_output_equal"] is True and m["clone_output_shape"] == [2, 10]
    t = m["train_state"]
    assert t["steps_before_save"] == 3 and t["restored_step"] == 3
    # params (4 leaves), Adam's count, mu and nu (1 + 4 + 4), the step: 14 arrays; the values
    # of params, mu and nu, and the two int32 counters.
    assert t["num_leaves"] == 4 + 1 + 4 + 4 + 1 and t["num_values"] == 3 * MLP_PARAMS + 2
    assert len(t["losses"]) == 3 and t["losses"][0] == pytest.approx(np.log(10), abs=0.01)
    assert t["losses"][2] < t["losses"][0]  # Adam steps on a fixed batch lower its loss
    assert t["untargeted_restore_type"] == "dict"
    assert m["train_state_bit_identical"] is True and m["resumed_step_equal"] is True
    assert m["npz_bfloat16_dtype"] == "|V2" and m["orbax_bfloat16_dtype"] == "bfloat16"
    assert "Y_clone == Y" in stdout
    # Nothing but metrics.json in --out, and the temporary folder is gone.
    assert [p.name for p in out.iterdir()] == ["metrics.json"]
    assert set(Path(tempfile.gettempdir()).glob("jaxdl-read-write-*")) == before


# What tensorstore raises, in orbax's threads, for a write to a full disk (seen on a tmpfs).
FULL_DISK = (
    'RESOURCE_EXHAUSTED: Error writing "layers.1.W/0.0" in OCDBT database: Failed to write '
    "9831 bytes to file 4: No space left on device [os_error_code='28']"
)


class _FullDiskTensorStore:
    """tensorstore as orbax's writers see it on a full disk: every store's writes fail."""

    def __init__(self, ts):
        self._ts = ts

    def __getattr__(self, name):
        return getattr(self._ts, name)

    async def open(self, *args, **kwargs):
        return _FullDiskStore(await self._ts.open(*args, **kwargs))


class _FullDiskStore:
    def __init__(self, store):
        self._store = store

    def __getattr__(self, name):
        return getattr(self._store, name)

    def __getitem__(self, index):
        return _FullDiskStore(self._store[index])

    async def write(self, *args, **kwargs):
        raise ValueError(FULL_DISK)


def _mount_tmpfs(folder: Path, size: str) -> bool:
    """Mounts a tmpfs of ``size`` on ``folder`` where this process may (root); True if so."""
    mount = shutil.which("mount")
    command = [mount, "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)]
    return mount is not None and subprocess.run(command, capture_output=True).returncode == 0


@pytest.fixture(params=["tmpfs", "orbax"])
def full_temporary_folder(request, tmp_path, monkeypatch):
    """The temporary folder (TMPDIR) on a full disk, two ways. ``tmpfs``: a 64 KiB tmpfs,
    where the arrays fit and orbax's first save does not: the operating system's ENOSPC,
    through tensorstore and orbax's threads, as on a real disk (root may mount one: CI does;
    elsewhere skipped, never in CI). ``orbax``: a plain folder where tensorstore's writes, as
    orbax's threads call them, raise tensorstore's full-disk error: the same path from the
    writers up, on any machine."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    if request.param == "tmpfs":
        if not _mount_tmpfs(folder, "64k"):
            assert not os.environ.get("CI"), "CI runs as root: it mounts the tmpfs"
            pytest.skip("mounting a tmpfs needs root")
        request.addfinalizer(lambda: subprocess.run(["umount", "-l", str(folder)], check=True))
    else:
        serialization = importlib.import_module("orbax.checkpoint._src.serialization.serialization")
        monkeypatch.setattr(serialization, "ts", _FullDiskTensorStore(serialization.ts))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_a_full_disk_ends_read_write_in_one_line(
    full_temporary_folder, tmp_path, capsys, caplog, monkeypatch
):
    """A full disk while writing (ENOSPC), which orbax reports from each of its threads: the
    section with a full temporary folder printed 321 lines, 4 tracebacks. Now its writes end
    with one OSError naming the folder, which the command line shows as one line saying what,
    where and the fix, with status 1; orbax's threads report nothing, no half-written save is
    left and ``--out`` is as it was."""
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    out = tmp_path / "out"
    with pytest.raises(OSError) as error:
        section.run_script("read_write", ["--out", str(out)])
    folder = Path(error.value.filename)
    assert error.value.errno == errno.ENOSPC
    assert folder.parent == full_temporary_folder and folder.name.startswith("jaxdl-read-write-")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert unraisable == [] and "Traceback" not in capsys.readouterr().err
    assert not list(full_temporary_folder.rglob("*.orbax-checkpoint-tmp*"))
    assert not out.exists()
    monkeypatch.setattr(sys, "argv", ["read_write.py"])
    with pytest.raises(SystemExit) as exit_:
        section._short_errors(OSError, error.value, None)
    assert exit_.value.code == 1
    assert capsys.readouterr().err == (
        f"read_write.py: error: No space left on device: {folder}; free space there or write "
        "on another disk (--out, --checkpoint-dir; TMPDIR for temporary files)\n"
    )


def test_read_write_is_deterministic_for_a_seed(run_experiment):
    a, _, _ = run_experiment("read_write", "--seed", "3")
    b, _, _ = run_experiment("read_write", "--seed", "3")
    c, _, _ = run_experiment("read_write", "--seed", "4")
    assert a["train_state"]["losses"] == b["train_state"]["losses"]
    assert a["train_state"]["losses"] != c["train_state"]["losses"]


def test_orbax_restores_every_leaf_bit_for_bit(tmp_path):
    w = jax.random.normal(jax.random.key(0), (3, 5))
    tree = {
        "w": w.at[0, 0].set(-0.0).at[0, 1].set(jnp.nan),  # -0.0 and NaN: == would miss them
        "half": (w[1] * 100).astype(jnp.bfloat16),
        "counts": jnp.array([-(2**31), 0, 7, 2**31 - 1], jnp.int32),
        "layers": [{"b": jnp.arange(4.0)}, {"b": jnp.ones((), jnp.int32)}],
    }
    save(tmp_path / "tree", tree)
    restored = restore(tmp_path / "tree", jax.eval_shape(lambda: tree))
    assert_same_leaves(restored, tree)
    assert np.asarray(restored["half"]).dtype == jnp.bfloat16
    np.testing.assert_array_equal(
        np.asarray(restored["half"]).view(np.uint16), np.asarray(tree["half"]).view(np.uint16)
    )
    assert np.signbit(np.asarray(restored["w"])[0, 0]) and np.isnan(restored["w"][0, 1])


def test_orbax_restores_a_train_state_with_its_optimizer_state(tmp_path):
    model = stateless(
        lambda key, x: {"w": jax.random.normal(key, (x.shape[1],)), "b": jnp.zeros(())},
        lambda p, x: x @ p["w"] + p["b"],
    )
    optimizer = optax.adam(0.1)
    x = jnp.arange(6.0).reshape(3, 2)
    state = init_state(model, optimizer, jax.random.key(1), x)
    for _ in range(2):
        grads = jax.grad(lambda p: jnp.sum(model.apply(p, {}, x, train=True)[0] ** 2))(state.params)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        state = TrainState(
            optax.apply_updates(state.params, updates), {}, opt_state, state.step + 1
        )
    save(tmp_path / "state", state)
    restored = restore(tmp_path / "state", jax.eval_shape(lambda: state))
    assert isinstance(restored, TrainState)
    assert isinstance(restored.opt_state[0], optax.ScaleByAdamState)
    assert_same_leaves(restored, state)
    assert np.asarray(restored.step).dtype == np.int32 and int(restored.step) == 2
    assert int(restored.opt_state[0].count) == 2
    # Without a target the containers come back as plain dicts and lists.
    untargeted = restore(tmp_path / "state")
    assert isinstance(untargeted, dict) and set(untargeted) == set(TrainState._fields)


@pytest.fixture
def unraisable(monkeypatch):
    """Collects what orbax's cancelled reads report after a refused restore (their coroutines
    raise when collected), instead of letting them reach pytest's hook."""
    reports = []
    monkeypatch.setattr(sys, "unraisablehook", reports.append)
    yield reports
    gc.collect()


def test_restore_into_a_target_of_another_shape_raises(tmp_path, unraisable):
    tree = {"w": jnp.ones((2, 3)), "i": jnp.arange(3, dtype=jnp.int32)}
    save(tmp_path / "tree", tree)
    target = {
        "w": jax.ShapeDtypeStruct((3, 3), jnp.float32),
        "i": jax.eval_shape(lambda: tree["i"]),
    }
    with pytest.raises(ValueError, match=r"shape: \(3, 3\) is not compatible.*\(2, 3\)"):
        restore(tmp_path / "tree", target)
    gc.collect()


def test_restore_into_a_target_of_another_structure_raises(tmp_path):
    tree = {"w": jnp.ones((2, 3)), "i": jnp.arange(3, dtype=jnp.int32)}
    save(tmp_path / "tree", tree)
    with pytest.raises(ValueError, match="structure"):
        restore(tmp_path / "tree", {"w": jax.ShapeDtypeStruct((2, 3), jnp.float32)})


def test_restore_casts_to_the_dtype_of_the_target(tmp_path):
    """What read_write.py says: a target's dtype is not refused but cast to, so the target
    should come from the model."""
    tree = {"w": jnp.full((2,), 1 / 3, jnp.float32)}
    save(tmp_path / "tree", tree)
    restored = restore(tmp_path / "tree", {"w": jax.ShapeDtypeStruct((2,), jnp.bfloat16)})
    assert restored["w"].dtype == jnp.bfloat16
    # 1/3 rounded to bfloat16's 8 significant bits: close to the saved value, not equal to it.
    value = float(restored["w"][0])
    assert value != float(tree["w"][0]) and value == pytest.approx(1 / 3, rel=2**-8)


# ----------------------------------------------------------------------------- use_gpu (5.6)


def check_sharded(m, count):
    """The batch over ``count`` devices: equal shards of the rows, full copies of W."""
    s = m["sharded"]
    assert s["devices"] == count and s["batch"] % count == 0 and s["batch"] >= 8
    rows = s["batch"] // count
    assert m["shard_shapes"] == [[rows, 20]] * count
    assert s["output_shard_shapes"] == [[rows, 10]] * count
    assert s["param_shard_shapes"] == [[20, 10]] * count
    assert s["input_spec"] == s["output_spec"] == "P('data',)"
    assert m["sharded_equals_unsharded"] is True


def test_use_gpu_experiment(run_experiment):
    m, stdout, out = run_experiment("use_gpu")
    devices = jax.devices()
    assert m["platform"] == jax.default_backend()
    assert m["device_count"] == len(devices) and m["devices"] == [str(d) for d in devices]
    assert m["device_kinds"] == sorted({d.device_kind for d in devices})
    assert m["cpu_devices"] == [str(d) for d in jax.devices("cpu")]
    gpus = [str(d) for d in devices if d.platform == "gpu"]
    assert m["try_gpu"] == (gpus[0] if gpus else "cpu:0") and m["try_gpu_10"] == "cpu:0"
    assert m["try_all_gpus"] == (gpus or ["cpu:0"])
    assert m["array"] == {
        "devices": [str(devices[0])],
        "sharding": "SingleDeviceSharding",
        "committed": False,
        "committed_after_device_put": True,
    }
    assert m["copy"]["new_buffer"] is True and m["device_put_equal"] is True
    assert m["different_devices_raise"] is (None if len(devices) == 1 else True)
    model = m["model"]
    assert model["output_shape"] == [2, 1]
    assert model["params_devices"] == model["output_devices"] == [m["try_gpu"]]
    assert model["max_abs_diff_vs_cpu"] <= 1e-2  # 0 on a CPU; reduced precision on a GPU
    check_sharded(m, len(devices))  # num_devices all
    assert set(m["matmul_1000_ms"]) == {m["platform"], "cpu"}  # printed, never checked
    assert [p.name for p in out.iterdir()] == ["metrics.json"]
    assert "sharded x @ W == one-device x @ W: True" in stdout


def test_use_gpu_devices_flag(run_experiment):
    m, _, _ = run_experiment("use_gpu", "--num-devices", "1")
    check_sharded(m, 1)
    assert m["shard_shapes"] == [[8, 20]]
    with pytest.raises(ValueError, match="devices"):
        run_experiment("use_gpu", "--num-devices", str(jax.device_count() + 1))


@pytest.mark.slow
def test_use_gpu_on_two_host_devices(tmp_path):
    """The sharded path for real: two CPU devices, as XLA_FLAGS gives them."""
    flags = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
    env = {**os.environ, "XLA_FLAGS": flags.strip(), "JAX_PLATFORMS": "cpu"}
    cmd = [sys.executable, str(ROOT / "experiments" / "use_gpu.py"), "--quick"]
    proc = subprocess.run(
        [*cmd, "--out", str(tmp_path)], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["platform"] == "cpu" and m["device_count"] == 2
    assert m["devices"] == ["cpu:0", "cpu:1"] and m["device_kinds"] == ["cpu"]
    check_sharded(m, 2)
    assert m["shard_shapes"] == [[4, 20], [4, 20]]
    assert m["sharded"]["input_shard_devices"] == ["cpu:0", "cpu:1"]
    # Arrays committed to two devices cannot be added; moved first, the sum is on the second.
    assert m["different_devices_raise"] is True
    assert m["copy"] == {"from": "cpu:0", "to": "cpu:1", "new_buffer": True}
    assert m["sum_device"] == ["cpu:1"] and m["device_put_equal"] is True
    assert "ValueError: Received incompatible devices" in proc.stdout

"""Data parallelism: 8 forced host devices train the MLP to the same parameters as one."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

from jaxdl.data.batching import batch_schedule
from jaxdl.parallel import batch_slots, data_mesh, setup_devices

EIGHT_DEVICES = textwrap.dedent(
    """
    import json
    import jax, jax.numpy as jnp, numpy as np
    from jaxdl.losses import cross_entropy
    from jaxdl.metrics import correct
    from jaxdl.models.mlp import scratch_mlp
    from jaxdl.optim import sgd
    from jaxdl.engine import fit
    from jaxdl.parallel import data_mesh, shard_batch

    assert len(jax.devices()) == 8, jax.devices()
    kx, ky = jax.random.split(jax.random.key(0))
    x = jax.random.uniform(kx, (1000, 784))
    y = jax.random.randint(ky, (1000,), 0, 10)
    runs = {}
    for devices in (1, 8):
        mesh = data_mesh(devices)
        # batch 100 does not divide by 8: each batch gets 4 padding slots on 8 devices.
        result = fit(scratch_mlp((64,)), cross_entropy, sgd(0.1), (x, y), epochs=2, batch_size=100,
                     key=jax.random.key(1), eval_data={"test": (x[:300], y[:300])},
                     metrics={"acc": correct}, quiet=True, mesh=mesh)
        runs[devices] = result
    one, eight = runs[1].state.params, runs[8].state.params
    mesh = data_mesh(8)
    batch = jax.jit(lambda a: shard_batch(a, mesh))(jnp.zeros((104, 784)))
    print(json.dumps({
        "max_param_diff": max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                              for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(eight))),
        "loss_1": runs[1].history["train_loss"].tolist(),
        "loss_8": runs[8].history["train_loss"].tolist(),
        "test_acc_1": runs[1].history["test_acc"].tolist(),
        "test_acc_8": runs[8].history["test_acc"].tolist(),
        "history_types": sorted({type(v).__name__ for r in runs.values()
                                 for v in r.history.values()}),
        "params_replicated": all(p.sharding.is_fully_replicated for p in jax.tree.leaves(eight)),
        "param_devices": len(jax.tree.leaves(eight)[0].sharding.device_set),
        "shard_shapes": [list(s.data.shape) for s in batch.addressable_shards],
    }))
    """
)


@pytest.mark.slow
def test_eight_devices_match_one_device():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run(
        [sys.executable, "-c", EIGHT_DEVICES], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["max_param_diff"] < 1e-5, r["max_param_diff"]
    np.testing.assert_allclose(r["loss_8"], r["loss_1"], rtol=1e-5)
    np.testing.assert_allclose(r["test_acc_8"], r["test_acc_1"], atol=1e-6)
    assert len(r["loss_1"]) == 2 and len(r["test_acc_1"]) == 2
    assert r["history_types"] == ["ndarray"]
    assert r["params_replicated"] and r["param_devices"] == 8
    assert r["shard_shapes"] == [[13, 784]] * 8


WARM_CACHE = textwrap.dedent(
    """
    import json, sys
    import jax
    from jaxdl.compilation import compile_stats, use_cache
    from jaxdl.engine import fit
    from jaxdl.losses import cross_entropy
    from jaxdl.models.softmax import softmax_regression
    from jaxdl.optim import sgd
    from jaxdl.parallel import data_mesh

    use_cache(sys.argv[1])
    before = compile_stats()
    kx, ky = jax.random.split(jax.random.key(0))
    x = jax.random.uniform(kx, (2000, 784))
    y = jax.random.randint(ky, (2000,), 0, 10)
    result = fit(softmax_regression(), cross_entropy, sgd(0.1), (x, y), epochs=3,
                 batch_size=256, key=jax.random.key(1), eval_data={"test": (x[:500], y[:500])},
                 quiet=True, mesh=data_mesh(2))
    stats = compile_stats() - before
    print(json.dumps({"loss": result.history["train_loss"].tolist(), "hits": stats.cache_hits}))
    """
)


@pytest.mark.slow
def test_two_devices_train_from_a_warm_compilation_cache(tmp_path):
    """The epoch compiled once and read from the persistent cache by later processes, on two
    devices: each later run ends, with the first run's losses. (A cached epoch that closed over
    an array, its evaluation schedule, used to deadlock in its all-reduce in most such runs.)"""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    env["JAX_PLATFORMS"] = "cpu"
    runs = []
    for _ in range(5):  # the first fills the cache, four read it
        proc = subprocess.run(
            [sys.executable, "-c", WARM_CACHE, str(tmp_path / "cache")],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert all(r["hits"] > 0 for r in runs[1:])  # the later runs read the cache
    assert all(r["loss"] == runs[0]["loss"] for r in runs[1:])


def test_batch_slots_round_up_to_the_device_count():
    assert batch_slots(100, None) == 100
    assert batch_slots(100, data_mesh(1)) == 100


def test_padding_slots_keep_the_real_examples():
    key = jax.random.key(0)
    plain = batch_schedule(key, 23, 5)
    padded = batch_schedule(key, 23, 5, slots=8)
    np.testing.assert_array_equal(np.asarray(padded.indices)[:, :5], plain.indices)
    np.testing.assert_array_equal(np.asarray(padded.mask)[:, :5], plain.mask)
    assert not np.asarray(padded.mask)[:, 5:].any()


def test_slots_below_batch_size_are_refused():
    with pytest.raises(ValueError, match=r"^slots: expected an integer >= 5, got 4$"):
        batch_schedule(None, 10, 5, slots=4)


@pytest.mark.parametrize(
    ("devices", "error", "message"),
    [
        (0, ValueError, r"expected an integer in \[1, {n}\], got 0"),
        (-1, ValueError, r"expected an integer in \[1, {n}\], got -1"),
        ("{n+1}", ValueError, r"expected an integer in \[1, {n}\], got {n+1}"),
        (1.0, TypeError, r"expected an integer in \[1, {n}\], got float 1.0"),
        (True, TypeError, r"expected an integer in \[1, {n}\], got bool True"),
        ("some", ValueError, "^devices: expected a count or 'all', got 'some'$"),
    ],
)
def test_bad_device_counts(devices, error, message):
    n = len(jax.devices())
    if devices == "{n+1}":
        devices = n + 1
    message = message.replace("{n+1}", str(n + 1)).replace("{n}", str(n))
    if not message.startswith("^"):
        message = r"^devices \(a count of the devices JAX sees\): " + message + "$"
    with pytest.raises(error, match=message):
        data_mesh(devices)


def test_numpy_device_count():
    mesh = data_mesh(np.int64(1))
    assert mesh.size == 1 and mesh.axis_names == ("data",)
    assert list(mesh.devices.flat) == jax.devices()[:1]


def test_setup_devices_one_device_is_no_mesh():
    assert setup_devices(1) is None
    assert setup_devices() is None


def test_setup_devices_more_devices_than_there_are():
    n = len(jax.devices())
    if n == 1:
        with pytest.raises(ValueError, match=r"expected an integer in \[1, 1\], got 2$"):
            setup_devices(2)
    with pytest.raises(ValueError, match=rf"expected an integer in \[1, {n}\], got {n + 1}$"):
        setup_devices(n + 1)


def test_setup_devices_all():
    mesh = setup_devices("all")
    assert mesh.size == len(jax.devices()) and mesh.axis_names == ("data",)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"coordinator": "localhost:1234"},
            "coordinator, num_processes and process_id: expected all three or none",
        ),
        ({"num_processes": 2, "process_id": 0}, "expected all three or none"),
        (
            {"coordinator": "localhost", "num_processes": 2, "process_id": 0},
            r"coordinator: expected 'host:port' with a port in \[1, 65535\], got 'localhost'",
        ),
        (
            {"coordinator": "localhost:1234", "num_processes": 2, "process_id": 2},
            r"process_id: expected an integer in \[0, 1\], got 2",
        ),
        (
            {"coordinator": "localhost:1234", "num_processes": 0, "process_id": 0},
            "num_processes: expected an integer >= 1, got 0",
        ),
    ],
)
def test_setup_devices_refuses_bad_process_settings_before_joining(kwargs, message):
    with pytest.raises(ValueError, match=message):
        setup_devices(1, **kwargs)
    assert jax.process_count() == 1


def test_all_devices():
    assert data_mesh("all").size == len(jax.devices())


@pytest.mark.slow
def test_device_check_runs_the_experiments_data_parallel():
    script = Path(__file__).resolve().parents[1] / "experiments" / "harness" / "device_check.py"
    # Small runs that check what the script prints: compiled at XLA:CPU's lowest level, as
    # the default tier compiles (compiling is most of their time).
    flags = "--xla_force_host_platform_device_count=2 --xla_backend_optimization_level=0"
    env = {**os.environ, "XLA_FLAGS": flags}
    cmd = [sys.executable, str(script), "--quick", "--devices", "all"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "backend cpu" in proc.stdout and "  1: cpu (cpu)" in proc.stdout
    for name in ("dropout", "batch_norm", "modern_cnns --models alexnet"):
        assert f"{name}: 1 epoch in" in proc.stdout

"""Multi-process training on localhost: two processes (gloo) end where one process ends."""

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import jaxdl.parallel as parallel
from jaxdl.parallel import initialize_distributed, setup_devices

ROOT = Path(__file__).resolve().parents[1]

WORKER = textwrap.dedent(
    """
    import json, sys
    process_id, num_processes, port, out = (int(sys.argv[1]), int(sys.argv[2]), sys.argv[3],
                                            sys.argv[4])
    from jaxdl.parallel import data_mesh, initialize_distributed
    if num_processes > 1:
        initialize_distributed(f"127.0.0.1:{port}", num_processes, process_id)
    import jax, numpy as np
    from jaxdl.losses import cross_entropy
    from jaxdl.metrics import correct
    from jaxdl.models.mlp import scratch_mlp
    from jaxdl.optim import sgd
    from jaxdl.engine import fit

    kx, ky = jax.random.split(jax.random.key(0))
    x = np.asarray(jax.random.uniform(kx, (1000, 784)))
    y = np.asarray(jax.random.randint(ky, (1000,), 0, 10))
    # batch 99 does not divide by 2 processes: padded and masked, never dropped.
    result = fit(scratch_mlp((64,)), cross_entropy, sgd(0.1), (x, y), epochs=2, batch_size=99,
                 key=jax.random.key(1), eval_data={"test": (x[:300], y[:300])},
                 metrics={"acc": correct},
                 quiet=True, mesh=data_mesh("all"))
    leaves = [np.asarray(a.addressable_data(0)) for a in jax.tree.leaves(result.state.params)]
    np.savez(out + ".npz", *leaves)
    history = {k: v.tolist() for k, v in result.history.items() if k != "seconds"}
    with open(out + ".json", "w") as f:
        json.dump({"history": history, "devices": len(jax.devices()),
                   "processes": jax.process_count(), "run": result.run.to_dict()}, f)
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(args, env=None):
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env or os.environ
    )


def wait(procs):
    outputs = [p.communicate(timeout=240) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, out + err
    return [out for out, _ in outputs]


def load(out):
    with np.load(f"{out}.npz") as f:
        params = [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]
    return params, json.loads(Path(f"{out}.json").read_text())


@pytest.mark.slow
def test_two_processes_end_with_the_parameters_of_one(tmp_path):
    port = str(free_port())
    workers = [
        launch([sys.executable, "-c", WORKER, str(i), "2", port, str(tmp_path / f"p{i}")])
        for i in range(2)
    ]
    single = launch([sys.executable, "-c", WORKER, "0", "1", "0", str(tmp_path / "single")])
    wait([*workers, single])
    (p0, r0), (p1, r1), (ps, rs) = (load(tmp_path / n) for n in ("p0", "p1", "single"))
    assert r0["processes"] == r1["processes"] == 2 and r0["devices"] == 2
    assert rs["processes"] == 1 and rs["devices"] == 1
    for a, b, c in zip(p0, p1, ps, strict=True):
        np.testing.assert_array_equal(a, b)  # one replicated state
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(r0["history"]["train_loss"], rs["history"]["train_loss"], rtol=1e-5)
    np.testing.assert_allclose(r0["history"]["test_acc"], rs["history"]["test_acc"], atol=1e-6)
    # One run, whether on one process or two: the same settings and the same data.
    assert r0["run"] == r1["run"] == rs["run"]
    assert rs["run"]["batch_size"] == 99 and rs["run"]["epochs"] == 2
    assert rs["run"]["data"]["shapes"] == [[1000, 784], [1000]]
    assert rs["run"]["eval_data"]["test"]["shapes"] == [[300, 784], [300]]


@pytest.mark.slow
def test_experiment_flags_run_two_processes(tmp_path):
    """LeNet's script runs JAX (its layer shapes) before it trains: the processes join at
    its start, as jax.distributed requires. ReLU and max pooling learn within the one epoch."""
    port = str(free_port())
    out = tmp_path / "lenet"
    cmd = [sys.executable, str(ROOT / "experiments" / "lenet.py"), "--quick", "--epochs", "1"]
    cmd += ["--activation", "relu", "--pool", "max", "--lr", "0.1"]
    cmd += ["--out", str(out), "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2"]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    stdout = wait([launch([*cmd, "--process-id", str(i)], env) for i in range(2)])
    assert "process 0 of 2: data parallel over 2 devices" in stdout[0]
    assert "process 1: results are written by process 0" in stdout[1]
    assert "Conv2d output shape: (1, 28, 28, 6)" in stdout[1]
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.1 < metrics["scratch"]["test_acc"] <= 1.0
    run = metrics["scratch"]["run"]
    assert run["epochs"] == 1 and run["batch_size"] == 256
    assert run["data"]["shapes"] == [[2000, 28, 28, 1], [2000]]  # --quick: 2000 training images
    assert (out / "curves.png").exists() and (out / "predictions.png").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("127.0.0.1:1234", None, None), "expected all three or none"),
        (("localhost", 2, 0), r"coordinator: expected 'host:port' with a port in \[1, 65535\]"),
        (("localhost:99999", 2, 0), r"port in \[1, 65535\], got 'localhost:99999'"),
        (("localhost:0", 2, 0), r"port in \[1, 65535\], got 'localhost:0'"),
        (("localhost:1", 0, 0), "num_processes: expected an integer >= 1, got 0"),
        (("localhost:1", 2, 2), r"process_id: expected an integer in \[0, 1\], got 2"),
    ],
)
def test_initialize_distributed_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        initialize_distributed(*args)


LONELY = textwrap.dedent(
    """
    import sys
    from jaxdl.parallel import initialize_distributed
    address, num_processes, process_id, timeout = (sys.argv[1], int(sys.argv[2]),
                                                   int(sys.argv[3]), float(sys.argv[4]))
    try:
        initialize_distributed(address, num_processes, process_id, timeout=timeout)
    except TimeoutError as err:
        print(f"TimeoutError: {err}")
        sys.exit(3)
    print("joined")
    """
)


def run_lonely(address, num_processes, process_id, timeout):
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", LONELY, address, str(num_processes), str(process_id), str(timeout)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc, time.monotonic() - start


@pytest.mark.slow
def test_a_process_whose_coordinator_never_comes_stops_with_a_clear_error():
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    proc, seconds = run_lonely(address, 2, 1, 3)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 3, out  # our TimeoutError, not JAX's abort (-6)
    assert seconds < 60, f"took {seconds:.1f} s"
    message = proc.stdout.strip()
    assert message.startswith(
        f"TimeoutError: coordinator: expected process 0 to accept connections at {address!r} "
        f"within timeout=3 s, got no answer (ConnectionRefusedError"
    ), message
    for text in ["process 1 of 2", "process 0 has started", "reachable from this machine"]:
        assert text in message, message


@pytest.mark.slow
def test_process_0_alone_says_why_before_jax_ends_it():
    # Process 0 hosts the coordinator, so nothing can be probed beforehand; JAX aborts the
    # process when the others do not join in time, and the watchdog says why first.
    address = f"127.0.0.1:{free_port()}"
    proc, seconds = run_lonely(address, 2, 0, 1)
    assert proc.returncode != 0 and "joined" not in proc.stdout, proc.stdout + proc.stderr
    assert seconds < 60, f"took {seconds:.1f} s"
    assert (
        f"initialize_distributed: process 0 of 2 (coordinator {address!r}) is still waiting "
        "after timeout=1 s for the 2 processes to join" in proc.stderr
    ), proc.stderr


class FakeInitialize:
    def __init__(self):
        self.calls = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)


@pytest.fixture
def fake_jax_distributed(monkeypatch):
    fake = FakeInitialize()
    monkeypatch.setattr(parallel.jax.distributed, "initialize", fake)
    monkeypatch.setattr(parallel.jax.config, "update", lambda *args: None)
    return fake


@pytest.mark.parametrize(("timeout", "passed"), [(None, 300), (7, 7), (2.5, 3), (0.1, 1)])
def test_the_timeout_reaches_jax(fake_jax_distributed, timeout, passed):
    kwargs = {} if timeout is None else {"timeout": timeout}
    initialize_distributed("127.0.0.1:1", 2, 0, **kwargs)  # process 0: no probe
    initialize_distributed(**kwargs)  # detection from the environment
    assert fake_jax_distributed.calls == [
        {
            "coordinator_address": "127.0.0.1:1",
            "num_processes": 2,
            "process_id": 0,
            "initialization_timeout": passed,
        },
        {
            "coordinator_address": None,
            "num_processes": None,
            "process_id": None,
            "initialization_timeout": passed,
        },
    ]


def test_a_listening_coordinator_passes_the_probe(fake_jax_distributed):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        initialize_distributed(f"127.0.0.1:{port}", 3, 2, timeout=5)
    assert fake_jax_distributed.calls == [
        {
            "coordinator_address": f"127.0.0.1:{port}",
            "num_processes": 3,
            "process_id": 2,
            "initialization_timeout": 5,
        }
    ]


def test_a_script_joins_its_processes_at_start_once(fake_jax_distributed, monkeypatch, tmp_path):
    """A section's start joins before its first use of JAX (LeNet computes its layer shapes
    before training); the training's ``setup_devices`` does not join again."""
    from harness import classifiers

    joined = fake_jax_distributed.calls
    monkeypatch.setattr(parallel.jax.distributed, "is_initialized", lambda: bool(joined))
    flags = ["--coordinator", "127.0.0.1:1", "--num-processes", "2", "--process-id", "0"]
    argv = ["lenet.py", *flags, "--out", str(tmp_path), "--distributed-timeout", "7"]
    monkeypatch.setattr("sys.argv", argv)
    classifiers.start("lenet", {"epochs": 10})
    call = {
        "coordinator_address": "127.0.0.1:1",
        "num_processes": 2,
        "process_id": 0,
        "initialization_timeout": 7,
    }
    assert joined == [call]
    assert setup_devices(1, coordinator="127.0.0.1:1", num_processes=2, process_id=0) is None
    assert joined == [call]
    monkeypatch.setattr("sys.argv", ["lenet.py", "--out", str(tmp_path)])
    classifiers.start("lenet", {"epochs": 10})  # one process: nothing to join
    assert joined == [call]


def test_setup_devices_passes_the_timeout(monkeypatch):
    calls = []
    monkeypatch.setattr(
        parallel, "initialize_distributed", lambda *args, **kwargs: calls.append((args, kwargs))
    )
    assert setup_devices(1, coordinator="auto", timeout=9) is None
    assert setup_devices(1, coordinator="h:1", num_processes=2, process_id=1, timeout=4) is None
    setup_devices(1, coordinator="auto")
    assert calls == [
        ((), {"timeout": 9}),
        (("h:1", 2, 1), {"timeout": 4}),
        ((), {"timeout": 300}),
    ]


@pytest.mark.parametrize(
    ("timeout", "error", "message"),
    [
        (0, ValueError, "timeout: expected a finite number > 0, got 0.0"),
        (-5, ValueError, "timeout: expected a finite number > 0, got -5.0"),
        (float("nan"), ValueError, "timeout: expected a finite number > 0, got nan"),
        (float("inf"), ValueError, "timeout: expected a finite number > 0, got inf"),
        ("60", TypeError, "timeout: expected a real number, got str '60'"),
        (True, TypeError, "timeout: expected a real number, got bool True"),
    ],
)
def test_bad_timeout(fake_jax_distributed, timeout, error, message):
    with pytest.raises(error, match=message):
        initialize_distributed("127.0.0.1:1", 2, 0, timeout=timeout)
    with pytest.raises(error, match=message):
        initialize_distributed(timeout=timeout)
    with pytest.raises(error, match=message):
        setup_devices(1, coordinator="auto", timeout=timeout)
    assert fake_jax_distributed.calls == []

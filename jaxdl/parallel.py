"""Data parallelism over the local devices with ``jax.sharding``.

A 1-D mesh over the devices, axis ``"data"``. The training data and the training state
(parameters, optimizer state) are replicated on every device; each minibatch is sharded along
its batch axis, so every device computes the loss and gradients of its slice, and XLA inserts
the all-reduce that sums the gradients. A batch that does not divide by the number of devices
gets padding slots (masked), never dropped examples, so training matches one device.

To try it on a CPU, ask XLA for several host devices before JAX starts:
``XLA_FLAGS=--xla_force_host_platform_device_count=8``.

Across machines, :func:`initialize_distributed` joins the processes (``jax.distributed``); then
``jax.devices()`` lists every process's devices, ``data_mesh("all")`` spans them, and each process
computes the slices of every batch that fall on its own devices, from its own copy of the data.
Joining waits at most ``timeout`` seconds (default 300) for the others; see
:func:`initialize_distributed` for what happens then.
"""

from __future__ import annotations

import math
import socket
import sys
import threading
import time

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxdl._checks import check_int, check_number
from jaxdl.errors import InputError, InputTypeError

AXIS = "data"
DEFAULT_TIMEOUT = 300.0  # seconds a process waits for the others to join
_PROBE_INTERVAL = 0.25  # seconds between two connection attempts to the coordinator


def _check_timeout(timeout) -> float:
    check_number(timeout, "timeout", low=0, strict=True)
    if np.ndim(timeout):
        raise InputTypeError(
            f"timeout: expected a number of seconds, got shape {np.shape(timeout)}"
        )
    return float(timeout)


def _wait_for_coordinator(
    coordinator: str, num_processes: int, process_id: int, timeout: float
) -> None:
    """Tries to open a TCP connection to ``coordinator`` until it answers or ``timeout``
    seconds have passed; raises TimeoutError then."""
    host, _, port = coordinator.rpartition(":")
    if host.startswith("[") and host.endswith("]"):  # [::1]:1234
        host = host[1:-1]
    deadline = time.monotonic() + timeout
    while True:
        try:
            wait = min(max(deadline - time.monotonic(), 0.05), 2.0)
            with socket.create_connection((host, int(port)), timeout=wait):
                return
        except OSError as err:  # refused, unreachable, unknown host, timed out
            last = f"{type(err).__name__}: {err}"
        left = deadline - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(_PROBE_INTERVAL, left))
    raise TimeoutError(
        f"coordinator: expected process 0 to accept connections at {coordinator!r} within "
        f"timeout={timeout:g} s, got no answer ({last}); this is process {process_id} of "
        f"{num_processes}. Check that process 0 has started, with the same coordinator and "
        f"num_processes, and that {host}:{port} is reachable from this machine (host name, port, "
        "firewall)."
    )


def _say_why_jax_ends_the_process(coordinator, num_processes, process_id, timeout) -> None:
    """Run by the watchdog when ``jax.distributed.initialize`` has not returned after
    ``timeout``: JAX is about to abort the process with a terse fatal error, so say why first.
    Written to stderr directly: the process ends before any logging handler could act."""
    if coordinator is None:
        who, n = "this process (cluster detected from the environment)", "all"
    else:
        who = f"process {process_id} of {num_processes} (coordinator {coordinator!r})"
        n = f"the {num_processes}"
    sys.stderr.write(
        f"initialize_distributed: {who} is still waiting after timeout={timeout:g} s for {n} "
        "processes to join; JAX will now end this process (DEADLINE_EXCEEDED, RegisterTask). "
        "Check that every process has started with the same coordinator and num_processes and "
        "its own process_id, that process 0 is running, and that its address is reachable from "
        "every machine.\n"
    )
    sys.stderr.flush()


def initialize_distributed(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> None:
    """Joins this process to a multi-process JAX run (``jax.distributed.initialize``).

    Call it before anything else uses JAX. With no arguments JAX detects the cluster from its
    environment (Cloud TPU pods, SLURM, ...). On CPU the processes talk through gloo.

    Waiting is bounded by ``timeout``. A process other than 0 first tries to connect to the
    coordinator (process 0 hosts it) until it answers, for at most ``timeout`` seconds, and
    raises ``TimeoutError`` if it never does. Then JAX waits at most ``timeout`` seconds (as
    its ``initialization_timeout``, rounded up to whole seconds) for every process to join.
    When that wait expires JAX does not raise: it aborts the process (a C++ fatal error,
    ``DEADLINE_EXCEEDED``, exit by SIGABRT), which Python cannot catch; a watchdog writes a
    line to stderr just before, saying what to check.

    Args:
      coordinator: ``host:port`` of process 0, which every process can reach.
      num_processes: number of processes P >= 1.
      process_id: this process's index in ``[0, P)``.
      timeout: seconds to wait for the coordinator, then for the processes to join; a
        finite number > 0.

    Raises:
      ValueError: when only some of the three are given, they are out of range, or
        ``timeout`` is not > 0 and finite.
      TypeError: when ``timeout`` is not a number.
      TimeoutError: when this process (``process_id`` > 0) cannot connect to the coordinator
        within ``timeout``; the message names the address, the process, the number of
        processes and the timeout.
    """
    given = [v is not None for v in (coordinator, num_processes, process_id)]
    if any(given) and not all(given):
        raise InputError(
            "coordinator, num_processes and process_id: expected all three or none (detection "
            f"from the environment), got coordinator={coordinator!r}, "
            f"num_processes={num_processes!r}, process_id={process_id!r}"
        )
    timeout = _check_timeout(timeout)
    if all(given):
        host, _, port = str(coordinator).rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise InputError(
                f"coordinator: expected 'host:port' with a port in [1, 65535], got {coordinator!r}"
            )
        check_int(num_processes, "num_processes", low=1)
        check_int(process_id, "process_id", low=0, high=num_processes - 1)
        if process_id != 0:
            # JAX aborts the process when the coordinator never answers; find out first.
            _wait_for_coordinator(str(coordinator), num_processes, process_id, timeout)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    watchdog = threading.Timer(
        timeout, _say_why_jax_ends_the_process, (coordinator, num_processes, process_id, timeout)
    )
    watchdog.daemon = True
    watchdog.start()
    try:
        jax.distributed.initialize(
            coordinator_address=coordinator,
            num_processes=num_processes,
            process_id=process_id,
            initialization_timeout=math.ceil(timeout),
        )
    finally:
        watchdog.cancel()


def data_mesh(devices: int | str | None = None) -> Mesh:
    """A 1-D mesh (axis ``"data"``) over the first ``devices`` devices of ``jax.devices()``
    (every process's devices, in a multi-process run).

    Args:
      devices: a count >= 1, ``"all"``, or None (one device).

    Returns:
      The Mesh.

    Raises:
      ValueError: for a count outside ``[1, len(jax.devices())]`` or another string.

    >>> mesh = data_mesh(1)
    >>> mesh.axis_names, mesh.size
    (('data',), 1)
    """
    available = jax.devices()
    if devices is None:
        count = 1
    elif devices == "all":
        count = len(available)
    elif isinstance(devices, str):
        raise InputError(f"devices: expected a count or 'all', got {devices!r}")
    else:
        count = check_int(
            devices, "devices (a count of the devices JAX sees)", low=1, high=len(available)
        )
    return Mesh(np.array(available[:count]), (AXIS,))


def join_processes(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> None:
    """Joins the processes of a multi-process run (:func:`initialize_distributed`) when asked
    and not joined yet; arguments as :func:`setup_devices`'. A script calls it before its
    first use of JAX: ``jax.distributed.initialize`` must come before anything else."""
    timeout = _check_timeout(timeout)
    if jax.distributed.is_initialized():
        return
    if coordinator == "auto":
        initialize_distributed(timeout=timeout)
    elif coordinator is not None or num_processes is not None or process_id is not None:
        initialize_distributed(coordinator, num_processes, process_id, timeout=timeout)


def setup_devices(
    devices: int | str = 1,
    *,
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Mesh | None:
    """Joins the processes of a multi-process run when asked (:func:`join_processes`), and
    returns the training mesh.

    Args:
      devices: a count >= 1 or ``"all"``; once several processes have joined, 1 means all
        devices of all processes.
      coordinator: ``host:port`` of process 0, or ``"auto"`` to let JAX detect the cluster
        (Cloud TPU pods, SLURM); None with the other two None for a single process.
      num_processes: number of processes, with ``coordinator``.
      process_id: this process's index, with ``coordinator``.
      timeout: seconds to wait for the coordinator, then for the processes to join (see
        :func:`initialize_distributed`); a finite number > 0, checked even for one process.

    Returns:
      A :func:`data_mesh` over the devices, or None to train on one device.

    Raises:
      TimeoutError: when a process other than 0 cannot reach the coordinator in time.
      ValueError, TypeError: on bad arguments (see :func:`initialize_distributed`).

    >>> setup_devices(1) is None
    True
    """
    join_processes(coordinator, num_processes, process_id, timeout=timeout)
    if jax.process_count() > 1 and devices == 1:
        devices = "all"
    return None if devices == 1 else data_mesh(devices)


def batch_slots(batch_size: int, mesh: Mesh | None) -> int:
    """``batch_size`` rounded up to a multiple of the number of devices in ``mesh``.

    >>> batch_slots(100, None), batch_slots(100, data_mesh(1))
    (100, 100)
    """
    if mesh is None:
        return batch_size
    return -(-batch_size // mesh.size) * mesh.size


def replicated(mesh: Mesh) -> NamedSharding:
    """The sharding that keeps a full copy on every device of ``mesh``."""
    return NamedSharding(mesh, PartitionSpec())


def replicate(tree, mesh: Mesh | None):
    """Puts every array of ``tree`` on all devices of ``mesh`` (unchanged when mesh is None)."""
    return tree if mesh is None else jax.device_put(tree, replicated(mesh))


def shard_batch(x: jax.Array, mesh: Mesh | None) -> jax.Array:
    """Inside ``jit``: splits ``x [slots, ...]`` along its first axis over the devices."""
    if mesh is None:
        return x
    return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, PartitionSpec(AXIS)))

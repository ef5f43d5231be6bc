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
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxdl._checks import check_int

AXIS = "data"


def initialize_distributed(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> None:
    """Joins this process to a multi-process JAX run (``jax.distributed.initialize``).

    Call it before anything else uses JAX. With no arguments JAX detects the cluster from its
    environment (Cloud TPU pods, SLURM, ...). On CPU the processes talk through gloo.

    Args:
      coordinator: ``host:port`` of process 0, which every process can reach.
      num_processes: number of processes P >= 1.
      process_id: this process's index in ``[0, P)``.

    Raises:
      ValueError: when only some of the three are given, or they are out of range.
    """
    given = [v is not None for v in (coordinator, num_processes, process_id)]
    if any(given) and not all(given):
        raise ValueError(
            "coordinator, num_processes and process_id: expected all three or none (detection "
            f"from the environment), got coordinator={coordinator!r}, "
            f"num_processes={num_processes!r}, process_id={process_id!r}"
        )
    if all(given):
        host, _, port = str(coordinator).rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"coordinator: expected 'host:port', got {coordinator!r}")
        check_int(num_processes, "num_processes", low=1)
        check_int(process_id, "process_id", low=0, high=num_processes - 1)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=coordinator, num_processes=num_processes, process_id=process_id
    )


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
        raise ValueError(f"devices: expected a count or 'all', got {devices!r}")
    else:
        count = check_int(
            devices, "devices (a count of the devices JAX sees)", low=1, high=len(available)
        )
    return Mesh(np.array(available[:count]), (AXIS,))


def setup_devices(
    devices: int | str = 1,
    *,
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> Mesh | None:
    """Joins the processes of a multi-process run when asked, and returns the training mesh.

    Args:
      devices: a count >= 1 or ``"all"``; once several processes have joined, 1 means all
        devices of all processes.
      coordinator: ``host:port`` of process 0, or ``"auto"`` to let JAX detect the cluster
        (Cloud TPU pods, SLURM); None with the other two None for a single process.
      num_processes: number of processes, with ``coordinator``.
      process_id: this process's index, with ``coordinator``.

    Returns:
      A :func:`data_mesh` over the devices, or None to train on one device.

    >>> setup_devices(1) is None
    True
    """
    if coordinator == "auto":
        initialize_distributed()
    elif coordinator is not None or num_processes is not None or process_id is not None:
        initialize_distributed(coordinator, num_processes, process_id)
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

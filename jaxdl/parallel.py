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
        if not (isinstance(num_processes, int) and num_processes >= 1):
            raise ValueError(f"num_processes: expected an integer >= 1, got {num_processes!r}")
        if not (isinstance(process_id, int) and 0 <= process_id < num_processes):
            raise ValueError(
                f"process_id: expected an integer in [0, {num_processes}), got {process_id!r}"
            )
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
    elif isinstance(devices, int | np.integer) and not isinstance(devices, bool):
        count = int(devices)
    else:
        raise ValueError(f"devices: expected a count or 'all', got {devices!r}")
    if not 1 <= count <= len(available):
        raise ValueError(
            f"devices: expected a count in [1, {len(available)}] (the devices JAX sees: "
            f"{available[0].platform}), got {count}"
        )
    return Mesh(np.array(available[:count]), (AXIS,))


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

# %% [markdown]
# # GPUs (the book's 5.6)
#
# The book lists the machine's devices (`torch.device('cpu')`, `torch.cuda.device_count()`),
# writes `try_gpu(i)` and `try_all_gpus()` to fall back on the CPU, creates tensors on a GPU,
# shows that an operation needs its operands on one device (`X + Y` with X on `cuda:0`, Y on
# `cuda:1` fails; `Z = X.cuda(1)` copies X first), and moves a network to a GPU
# (`net.to(device)`). In JAX the devices are `jax.devices()`; an array lives where its
# *sharding* says (`x.devices()`, `x.sharding`); `jax.device_put` moves arrays, and pytrees
# of arrays (a model's parameters) at once; and a jitted computation runs where its operands
# are. On several devices, one array can also be split across them: that is what the project's
# `--devices N` flag does with a batch.
#
# This runs on a CPU, with one device, and means most on a machine with GPUs. To see several
# devices on a CPU, ask XLA for host devices before JAX starts:
# `XLA_FLAGS=--xla_force_host_platform_device_count=2 python experiments/use_gpu.py`. What
# changes on a GPU machine: `jax.default_backend()` is `gpu`, `jax.devices()` lists the GPUs
# (the CPU stays reachable as `jax.devices('cpu')`), new arrays go to GPU 0, and the 1000×1000
# matrix product at the end typically runs one or two orders of magnitude faster there.
#
# What to look at: the devices found; `device_put` copying values exactly; the error JAX
# raises for operands on two devices (only with two or more); the model's output on the
# device of its parameters; and the batch sharded over the devices, with every shard's shape,
# giving exactly the product computed on one device.

# %%
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from jaxdl import parallel
from jaxdl.model import from_flax

import harness
from harness import Setting
from harness.config import device_count

BATCH = 8  # examples of the sharded batch (rounded up to a multiple of the devices)
FEATURES, OUTPUTS = 20, 10
SIZE, REPEATS = 1000, 5  # the timed matrix product: SIZE × SIZE, best of REPEATS


def cpu_devices() -> list:
    """``jax.devices("cpu")``, or [] when JAX runs without its CPU backend
    (``JAX_PLATFORMS=cuda``)."""
    try:
        return jax.devices("cpu")
    except RuntimeError:
        return []


def try_gpu(i: int = 0):
    """GPU ``i`` if there is one, else the CPU: the book's ``try_gpu``."""
    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    return gpus[i] if i < len(gpus) else (cpu_devices() or jax.devices())[0]


def try_all_gpus() -> list:
    """Every GPU, or ``[CPU]`` when there is none: the book's ``try_all_gpus``."""
    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    return gpus or [try_gpu()]


def same_bytes(a, b) -> bool:
    """True when the pytrees ``a`` and ``b`` hold the same dtypes, shapes and bytes (on the
    host, wherever they live)."""
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return jax.tree.structure(a) == jax.tree.structure(b) and all(
        np.asarray(x).dtype == np.asarray(y).dtype
        and np.asarray(x).tobytes() == np.asarray(y).tobytes()
        for x, y in pairs
    )


def names(devices) -> list[str]:
    """Device names (``cpu:0``, ``cuda:1``), in the order given (a set: sorted by id)."""
    if isinstance(devices, set | frozenset):
        devices = sorted(devices, key=lambda d: d.id)
    return [str(d) for d in devices]


# %% [markdown]
# ## Configuration
#
# `num_devices` is the number of devices to shard the batch over in the last part, or `"all"`
# (every device this machine has). The seed draws the arrays. On the command line each setting
# is a flag (`python experiments/use_gpu.py --help`).

# %%
BOOK = dict(num_devices="all")
config, out = harness.start(
    "use_gpu",
    BOOK,
    settings={"num_devices": Setting(device_count, "shard the batch over N devices, or all")},
)
key_y, key_x, key_w, key_model, key_time = jax.random.split(jax.random.key(config.seed), 5)
metrics = {}

# %% [markdown]
# ## Computing devices
#
# `jax.devices()` lists the devices of the default backend (`jax.default_backend()`: `cpu`,
# `gpu` or `tpu`), each with its kind (`cpu`, or the GPU's model name). The CPU is always
# there as `jax.devices("cpu")`. The book's `try_gpu(i)` gives GPU i when it exists and the
# CPU otherwise, `try_all_gpus()` every GPU or the CPU.

# %%
print("== Computing devices")
devices = jax.devices()
print("jax.devices():", devices)
print("jax.device_count():", jax.device_count())
print("jax.default_backend():", jax.default_backend())
print("jax.devices('cpu'):", cpu_devices())
print("device kinds:", sorted({d.device_kind for d in devices}))
print("try_gpu(), try_gpu(10), try_all_gpus():", (try_gpu(), try_gpu(10), try_all_gpus()))
metrics.update(
    platform=jax.default_backend(),
    device_count=jax.device_count(),
    devices=names(devices),
    device_kinds=sorted({d.device_kind for d in devices}),
    cpu_devices=names(cpu_devices()),
    try_gpu=str(try_gpu()),
    try_gpu_10=str(try_gpu(10)),
    try_all_gpus=names(try_all_gpus()),
)

# %% [markdown]
# ## Arrays and devices
#
# A new array lives on the default device, `jax.devices()[0]` (GPU 0 on a GPU machine, where
# the book has to ask for `device=try_gpu()`). `x.devices()` says where, and `x.sharding` how:
# a `SingleDeviceSharding` for an array on one device. A new array is *uncommitted*: JAX may
# move it next to the other operands of a computation. `jax.device_put(x, device)` puts it on
# a device and commits it there.

# %%
print("\n== Arrays and devices")
x = jnp.array([1, 2, 3])
print(f"x.devices() = {x.devices()}, x.sharding = {x.sharding}, committed: {x.committed}")
X = jax.device_put(jnp.ones((2, 3)), try_gpu())
print(f"X = jax.device_put(jnp.ones((2, 3)), try_gpu()): {X.devices()}, committed {X.committed}")
metrics["array"] = {
    "devices": names(x.devices()),
    "sharding": type(x.sharding).__name__,
    "committed": x.committed,
    "committed_after_device_put": X.committed,
}

# %% [markdown]
# ## Computation happens where the operands are
#
# A jitted computation runs on the device of its operands and leaves its result there. With
# two arrays committed to two devices (the book's X on `cuda:0`, Y on `cuda:1`), JAX does not
# guess which device to use and does not copy behind the user's back: it raises a ValueError.
# The book's answer is JAX's too: copy one first (`Z = X.cuda(1)` there,
# `jax.device_put(X, devices[1])` here), then compute `Y + Z` on the second device. Copies
# between GPUs, or between a GPU and the host, are slow next to the arithmetic: a program
# should move data rarely and on purpose.
#
# With one device there is no second one to try this on. `jax.device_put` to the device an
# array is already on makes a new array object over the same buffer; `may_alias=False` makes it
# copy, as the book's `Z.cuda(1)` would between devices.

# %%
print("\n== Computation happens where the operands are")
first = devices[0]
X = jax.device_put(jnp.ones((2, 3)), first)
if len(devices) >= 2:
    second = devices[1]
    Y = jax.device_put(jax.random.uniform(key_y, (2, 3)), second)
    try:
        X + Y
        raised = False
    except ValueError as error:
        raised = True
        print(f"X on {first} + Y on {second}: ValueError: {str(error).splitlines()[0]}")
    Z = jax.device_put(X, second)
else:
    second, raised = first, None
    Y = jax.device_put(jax.random.uniform(key_y, (2, 3)), first)
    print(f"one device ({first}): X and Y are on it; nothing to move between devices")
    Z = jax.device_put(X, first, may_alias=False)
new_buffer = Z.unsafe_buffer_pointer() != X.unsafe_buffer_pointer() or second != first
print(f"Z = jax.device_put(X, {second}): on {Z.devices()}, a new buffer: {new_buffer}")
total = Y + Z
print(f"Y + Z =\n{total}\non {total.devices()}")
moved_equal = same_bytes(X, Z)
metrics["copy"] = {"from": str(first), "to": str(second), "new_buffer": new_buffer}
metrics["different_devices_raise"] = raised
metrics["sum_device"] = names(total.devices())

# %% [markdown]
# ## Neural networks and devices
#
# The book moves its network `nn.Sequential(nn.Linear(3, 1))` to the GPU with `net.to(device)`.
# Here the model is pure functions and its parameters are a pytree, so `jax.device_put(params,
# device)` moves every array at once, and the model applied to inputs on that device computes
# there: its output lives on the device of its parameters (the book's
# `net[0].weight.data.device`). The same computation on the CPU gives the same output up to
# rounding; on a GPU a float32 matrix product may use reduced-precision arithmetic (TF32 on
# recent NVIDIA GPUs), so the two may differ in the last digits.

# %%
print("\n== Neural networks and devices")
model = from_flax(nn.Dense(1))
params, _ = model.init(key_model, jnp.ones((2, 3)))
device = try_gpu()
params_on = jax.device_put(params, device)
net_out, _ = model.apply(params_on, {}, jax.device_put(jnp.ones((2, 3)), device), train=False)
print(f"net(X) =\n{net_out}\non {net_out.devices()}")
print("parameters on:", jax.tree.map(lambda a: str(next(iter(a.devices()))), params_on))
cpu = (cpu_devices() or devices)[0]
cpu_out, _ = model.apply(
    jax.device_put(params, cpu), {}, jax.device_put(jnp.ones((2, 3)), cpu), train=False
)
diff = float(np.max(np.abs(np.asarray(net_out) - np.asarray(cpu_out))))
print(f"max |output on {device} - output on {cpu}| = {diff:.2e}")
metrics["model"] = {
    "params_devices": sorted({str(d) for a in jax.tree.leaves(params_on) for d in a.devices()}),
    "output_devices": names(net_out.devices()),
    "output_shape": list(net_out.shape),
    "max_abs_diff_vs_cpu": diff,
}
metrics["device_put_equal"] = moved_equal and same_bytes(params, params_on)

# %% [markdown]
# ## What `--devices N` does
#
# The training scripts' `--devices N` (`jaxdl.parallel`) trains data-parallel: a 1-D `Mesh`
# over N devices with one axis, `"data"`; each minibatch is sharded along its batch axis
# (`NamedSharding(mesh, PartitionSpec("data"))`: device i holds rows i·B/N to (i+1)·B/N), the
# parameters are replicated (`PartitionSpec()`: a full copy on every device), and the jitted
# step computes each device's slice where it lies; for gradients XLA adds the all-reduce that
# sums them across devices. A batch that does not divide by N is padded to `batch_slots` (the
# padding is masked in training). Here the jitted product `x @ W` of a batch of 8 shows it:
# the output comes back sharded like the batch, and it equals the product on one device
# exactly (the entries are small integers, so every sum is exact whatever the order).

# %%
print("\n== What --devices N does")
mesh = parallel.data_mesh(config.num_devices)
batch = parallel.batch_slots(BATCH, mesh)
xb = jax.random.randint(key_x, (batch, FEATURES), -4, 5).astype(jnp.float32)
W = jax.random.randint(key_w, (FEATURES, OUTPUTS), -4, 5).astype(jnp.float32)
x_sharded = jax.device_put(xb, NamedSharding(mesh, PartitionSpec(parallel.AXIS)))
W_replicated = parallel.replicate(W, mesh)
matmul = jax.jit(jnp.matmul)
y_sharded = matmul(x_sharded, W_replicated)
y_one = matmul(jax.device_put(xb, first), jax.device_put(W, first))
sharded_equal = bool(np.array_equal(np.asarray(y_sharded), np.asarray(y_one)))
print(f"mesh: {mesh.size} device(s) on axis {mesh.axis_names}; batch {batch}")
for shard in x_sharded.addressable_shards:
    rows = range(batch)[shard.index[0]]
    print(f"  x rows {rows.start}..{rows.stop - 1} on {shard.device}: shard {shard.data.shape}")
output_shards = [s.data.shape for s in y_sharded.addressable_shards]
print(f"x @ W: {y_sharded.sharding.spec}, shards {output_shards}")
print(f"sharded x @ W == one-device x @ W: {sharded_equal}")
shard_shapes = [list(s.data.shape) for s in x_sharded.addressable_shards]
metrics["sharded"] = {
    "devices": mesh.size,
    "batch": batch,
    "input_spec": str(x_sharded.sharding.spec),
    "output_spec": str(y_sharded.sharding.spec),
    "input_shard_devices": [str(s.device) for s in x_sharded.addressable_shards],
    "output_shard_shapes": [list(shape) for shape in output_shards],
    "param_shard_shapes": [list(s.data.shape) for s in W_replicated.addressable_shards],
}
metrics.update(shard_shapes=shard_shapes, sharded_equals_unsharded=sharded_equal)

# %% [markdown]
# ## Timing a matrix product
#
# The reason for GPUs: a 1000×1000 float32 matrix product (2·10⁹ floating-point operations)
# on each kind of device present, best of 5 after one call to compile. `block_until_ready`
# matters: JAX dispatches work asynchronously, so without it the clock would stop before the
# device has finished. The figures depend on the machine; nothing checks them.

# %%
print("\n== Timing a 1000×1000 matrix product")
timings = {}
platforms = dict.fromkeys([jax.default_backend(), *(["cpu"] if cpu_devices() else [])])
for platform in platforms:
    timed = jax.devices(platform)[0]
    a = jax.device_put(jax.random.normal(key_time, (SIZE, SIZE)), timed)
    square = jax.jit(lambda a: a @ a)
    square(a).block_until_ready()
    best = float("inf")
    for _ in range(REPEATS):
        began = time.perf_counter()
        square(a).block_until_ready()
        best = min(best, time.perf_counter() - began)
    timings[platform] = best * 1e3
    rate = 2 * SIZE**3 / best / 1e9
    print(f"{timed} ({timed.device_kind}): {best * 1e3:.3f} ms, {rate:.0f} GFLOP/s")
metrics["matmul_1000_ms"] = timings

# %% [markdown]
# ## Against the book
#
# The run writes `results/use_gpu/` (or `--out`): `metrics.json`, `"platform"`:
# `jax.default_backend()`; `"device_count"`: `jax.device_count()`; `"devices"`: their names;
# `"device_kinds"`: their kinds (sorted, once each); `"cpu_devices"`: `jax.devices("cpu")`;
# `"try_gpu"`, `"try_gpu_10"`: devices; `"try_all_gpus"`: [devices]; `"array"`: `{"devices",
# "sharding", "committed", "committed_after_device_put"}` of a new array; `"copy"`: `{"from",
# "to", "new_buffer": bool}` of `jax.device_put`; `"different_devices_raise"`: bool, or None on
# one device; `"sum_device"`: where the sum after the move lives; `"device_put_equal"`: bool
# (every array moved holds the same bytes); `"model"`: `{"params_devices", "output_devices",
# "output_shape", "max_abs_diff_vs_cpu"}`; `"sharded"`: `{"devices", "batch", "input_spec",
# "output_spec", "input_shard_devices", "output_shard_shapes", "param_shard_shapes"}`;
# `"shard_shapes"`: the shape of each shard of the batch; `"sharded_equals_unsharded"`: bool;
# `"matmul_1000_ms"`: `{platform: milliseconds}` (timing, machine-dependent).

# %%
harness.compare_with_book("use_gpu", metrics, out)
metrics = harness.finish(out, metrics, {})

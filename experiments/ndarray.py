# %% [markdown]
# # Data manipulation (the book's 2.1)
#
# The book introduces the tensor, an n-dimensional array of numbers, and the operations the
# rest of the book relies on: creating tensors, reading their shape, elementwise arithmetic,
# concatenation, broadcasting, indexing and slicing, and then how to update a tensor in place
# to save memory. Here the tensor is a `jax.Array` from `jax.numpy`, whose API follows NumPy
# and PyTorch closely. Two differences matter: random numbers come from an explicit key
# (`jax.random.key`), and JAX arrays are immutable, so the book's in-place writes become
# functional updates (`X.at[1, 2].set(9)`) and memory is saved by buffer donation instead.
#
# What to look at: the printed values match the book's cell outputs; in "Saving memory",
# which operations bind a new array and which donated buffer is reused.

# %%
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

import harness

# %% [markdown]
# ## Configuration
#
# Nothing to set: the section runs the book's examples. On the command line, `python
# experiments/ndarray.py --help` lists the flags every section has (`--seed`, `--out`,
# `--quick`).

# %%
BOOK = dict()
config, out = harness.start("ndarray", BOOK)
key = jax.random.key(config.seed)
metrics = {}

# %% [markdown]
# ## Getting started
#
# `jnp.arange(12)` makes a vector of the integers 0 to 11; `reshape` changes the shape without
# changing the values, and `-1` lets one dimension be inferred.

# %%
print("== Getting started")
x = jnp.arange(12)
harness.print_value("x = jnp.arange(12)", x)
harness.print_value("x.shape", x.shape)
harness.print_value("x.size", x.size)
X = x.reshape(3, 4)
harness.print_value("X = x.reshape(3, 4)", X)
harness.print_value("x.reshape(-1, 4).shape", x.reshape(-1, 4).shape)
harness.print_value("X.reshape(-1).shape", X.reshape(-1).shape)
metrics.update(
    arange=x,
    shape=list(x.shape),
    size=x.size,
    reshape_shape=list(X.shape),
    reshape_inferred_shape=list(x.reshape(-1, 4).shape),
    flatten_shape=list(X.reshape(-1).shape),
)

# %% [markdown]
# `jnp.zeros` and `jnp.ones` fill a shape with constants, and `jnp.array` takes nested Python
# lists. Random numbers need a key: the same key gives the same numbers, and
# `jax.random.split` derives new keys for new numbers (the book's `torch.randn` draws from a
# hidden global state instead).

# %%
zeros, ones = jnp.zeros((2, 3, 4)), jnp.ones((2, 3, 4))
harness.print_value("jnp.zeros((2, 3, 4))", zeros)
harness.print_value("jnp.ones((2, 3, 4))", ones)
normal = jax.random.normal(key, (3, 4))
harness.print_value(f"jax.random.normal(jax.random.key({config.seed}), (3, 4))", normal)
same = jax.random.normal(key, (3, 4))
_, subkey = jax.random.split(key)
other = jax.random.normal(subkey, (3, 4))
print(
    "same key, same numbers:",
    bool(jnp.array_equal(normal, same)),
    "| split key, new numbers:",
    not bool(jnp.array_equal(normal, other)),
)
from_list = jnp.array([[2, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])
harness.print_value("jnp.array([[2, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])", from_list)
metrics.update(
    zeros_shape=list(zeros.shape),
    ones_shape=list(ones.shape),
    normal={
        "shape": list(normal.shape),
        "same_key_same_values": bool(jnp.array_equal(normal, same)),
        "split_key_new_values": not bool(jnp.array_equal(normal, other)),
    },
    from_list=from_list,
)

# %% [markdown]
# ## Operations
#
# The arithmetic operators work elementwise on arrays of the same shape, as do unary functions
# such as `jnp.exp`. Arrays are joined along an axis with `jnp.concatenate` (axis 0 stacks
# rows, axis 1 columns), compared elementwise with `==`, and summed with `.sum()`.

# %%
print("\n== Operations")
a, b = jnp.array([1.0, 2, 4, 8]), jnp.array([2, 2, 2, 2])
ops = {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b, "pow": a**b}
harness.print_value("x + y, x - y, x * y, x / y, x ** y", tuple(ops.values()))
harness.print_value("jnp.exp(x)", jnp.exp(a))
metrics["elementwise"] = {"x": a, "y": b, **ops, "exp": jnp.exp(a)}
X = jnp.arange(12, dtype=jnp.float32).reshape(3, 4)
Y = jnp.array([[2.0, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])
cat0, cat1 = jnp.concatenate((X, Y), axis=0), jnp.concatenate((X, Y), axis=1)
harness.print_value("jnp.concatenate((X, Y), axis=0)", cat0)
harness.print_value("jnp.concatenate((X, Y), axis=1)", cat1)
harness.print_value("X == Y", X == Y)
harness.print_value("X.sum()", X.sum())
metrics.update(concat_axis0=cat0, concat_axis1=cat1, equal=X == Y, sum=X.sum())

# %% [markdown]
# ## Broadcasting
#
# Arrays of different shapes combine when each axis either matches or has length 1: the
# length-1 axes are repeated. A [3, 1] column plus a [1, 2] row gives a [3, 2] matrix.

# %%
print("\n== Broadcasting")
c, d = jnp.arange(3).reshape(3, 1), jnp.arange(2).reshape(1, 2)
harness.print_value("a, b", (c, d))
harness.print_value("a + b", c + d)
metrics["broadcast"] = c + d

# %% [markdown]
# ## Indexing and slicing
#
# Reading works as in the book: `X[-1]` is the last row, `X[1:3]` rows 1 and 2. Writing does
# not: a JAX array cannot be changed, so the book's `X[1, 2] = 9` is `X.at[1, 2].set(9)`, which
# returns a new array and leaves `X` as it was.

# %%
print("\n== Indexing and slicing")
harness.print_value("X[-1], X[1:3]", (X[-1], X[1:3]))
X1 = X.at[1, 2].set(9)
harness.print_value("X.at[1, 2].set(9)  # X[1, 2] = 9 returns a new array", X1)
X2 = X1.at[0:2, :].set(12)
harness.print_value("X.at[0:2, :].set(12)  # X[0:2, :] = 12", X2)
unchanged = bool(jnp.array_equal(X, jnp.arange(12.0).reshape(3, 4)))
print("X itself is unchanged (arrays are immutable):", unchanged)
metrics.update(
    last_row=X[-1], rows_1_2=X[1:3], set_element=X1, set_rows=X2, original_unchanged=unchanged
)

# %% [markdown]
# ## Saving memory
#
# The book checks with `id()` that `Y = Y + X` allocates a new tensor, and then avoids the
# allocation with `Z[:] = X + Y` or `X += Y`. With immutable arrays both `Y = Y + X` and
# `W += Y` bind a new array. The saving comes from buffer donation instead: a function jitted
# with `donate_argnums=0` may write its result into the buffer of its first argument, which is
# deleted afterwards; using it again raises an error.


# %%
@partial(jax.jit, donate_argnums=0)
def add_into(z, x, y):
    """The book's ``Z[:] = X + Y``: the result may be written into ``z``'s donated buffer."""
    return z.at[:].set(x + y)


print("\n== Saving memory")
before = id(Y)
Y = Y + X
new_array = id(Y) != before
print("Y = Y + X binds a new array, id(Y) == before:", not new_array)
W = X
before = id(W)
W += Y
augmented_new = id(W) != before
print("W += Y also binds a new array (no in-place add), id(W) == before:", not augmented_new)
Z = jnp.zeros_like(Y)
expected = X + Y
pointer = Z.unsafe_buffer_pointer()
Z_new = add_into(Z, X, Y)
deleted = Z.is_deleted()
reused = Z_new.unsafe_buffer_pointer() == pointer
correct = bool(jnp.array_equal(Z_new, expected))
print("Z = add_into(Z, X, Y), jitted with donate_argnums=0, computes Z.at[:].set(X + Y)")
print("donated Z.is_deleted():", deleted)
print("the result lives in Z's old buffer:", reused)
try:
    np.asarray(Z)
except RuntimeError as e:
    print("using Z afterwards:", type(e).__name__, e)
metrics.update(
    add_makes_new_array=new_array,
    augmented_assign_makes_new_array=augmented_new,
    donation={"input_deleted": deleted, "buffer_reused": reused, "result_correct": correct},
)

# %% [markdown]
# ## Conversion to other Python objects
#
# `np.asarray` turns a JAX array into a NumPy array (a copy on the host) and `jnp.asarray`
# back; a size-1 array becomes a Python number with `.item()`, `float()` or `int()`.

# %%
print("\n== Conversion to other Python objects")
A = np.asarray(X)
B = jnp.asarray(A)
harness.print_value("type(A), type(B)", (type(A), type(B)))
s = jnp.array(3.5)
harness.print_value("a, a.item(), float(a), int(a)", (s, s.item(), float(s), int(s)))
metrics.update(
    numpy={
        "to_numpy_type": type(A).__name__,
        "from_numpy_type": type(B).__name__,
        "round_trip_equal": bool(np.array_equal(A, np.asarray(B))),
    },
    scalar={"item": s.item(), "float": float(s), "int": int(s)},
)

# %% [markdown]
# ## Devices
#
# Every array lives on a device (the CPU, or a GPU); `jax.devices()` lists them and
# `jax.device_put` moves an array to one.

# %%
print("\n== Devices")
devices = jax.devices()
harness.print_value("jax.devices()", devices)
harness.print_value("X.devices()", X.devices())
placed = jax.device_put(X, devices[-1])
harness.print_value(f"jax.device_put(X, {devices[-1]}).devices()", placed.devices())
metrics["devices"] = {
    "available": [str(dev) for dev in devices],
    "platform": devices[0].platform,
    "array_devices": sorted(str(dev) for dev in X.devices()),
    "device_put_devices": sorted(str(dev) for dev in placed.devices()),
}

# %% [markdown]
# ## Against the book
#
# The book shows no single number here; the headline lists our scalar results.
#
# The run writes `results/ndarray/` (or `--out`): `metrics.json`, `"arange"`: `arange(12)`;
# `"shape"`: its shape `[12]`; `"size"`: 12; `"reshape_shape"`: shape of `x.reshape(3, 4)`;
# `"reshape_inferred_shape"`: shape of `x.reshape(-1, 4)`; `"flatten_shape"`: shape of
# `X.reshape(-1)`; `"zeros_shape"`, `"ones_shape"`: `[2, 3, 4]`; `"normal"`: `{"shape": [3, 4],
# "same_key_same_values": bool, "split_key_new_values": bool}`; `"from_list"`: the array made from
# the book's nested list; `"elementwise"`: `{"x", "y", "add", "sub", "mul", "div", "pow", "exp"}`
# for x = [1, 2, 4, 8], y = [2, 2, 2, 2]; `"concat_axis0"` [6, 4] and `"concat_axis1"` [3, 8]: X =
# arange(12.).reshape(3, 4) and the book's Y joined; `"equal"`: `X == Y` (booleans); `"sum"`:
# `X.sum()` (66); `"broadcast"`: `arange(3).reshape(3, 1) + arange(2).reshape(1, 2)`;
# `"last_row"`: `X[-1]`; `"rows_1_2"`: `X[1:3]`; `"set_element"`: `X.at[1, 2].set(9)`;
# `"set_rows"`: then `.at[0:2, :].set(12)`; `"original_unchanged"`: X is still arange(12) after
# both (bool); `"add_makes_new_array"`: `Y = Y + X` binds a new object (bool);
# `"augmented_assign_makes_new_array"`: so does `W += Y` (bool); `"donation"`: `{"input_deleted":
# bool, "buffer_reused": bool, "result_correct": bool}` for `jax.jit(lambda z, x, y: z.at[:].set(x
# + y), donate_argnums=0)` (buffer reuse is up to the backend; CPU and GPU do it); `"numpy"`:
# `{"to_numpy_type", "from_numpy_type", "round_trip_equal"}`; `"scalar"`: `{"item", "float",
# "int"}` of `jnp.array(3.5)`; `"devices"`: `{"available": [str], "platform": str,
# "array_devices": [str], "device_put_devices": [str]}`.

# %%
harness.compare_with_book("ndarray", metrics, out)
metrics = harness.finish(out, metrics, {})

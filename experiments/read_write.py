# %% [markdown]
# # File I/O (the book's 5.5)
#
# The book saves what training produces so that it outlives the process: a tensor
# (`torch.save(x, 'x-file')`), a list and a dict of tensors, then a model's parameters
# (`net.state_dict()`), which it loads into a fresh clone of the network and checks that the
# clone computes the same output, `Y_clone == Y`. In JAX the parameters are not held by a
# network object: they are a pytree (nested dicts and lists of arrays) that the model's pure
# `apply` function takes as an argument. Single arrays go to NumPy's `.npy` and `.npz` files
# (`jnp.save`, `jnp.load`); pytrees of arrays go to orbax-checkpoint, the JAX ecosystem's
# checkpoint library, which the project's `--checkpoint-dir` uses too. The clone is the same
# `apply` with the restored parameters.
#
# What to look at: the loaded x = [0, 1, 2, 3] and the list and dict round trips, as in the
# book; the 7946 parameters of the 20-256-10 MLP restored bit for bit (same dtype, same bytes)
# and the clone's output equal to the original's, the book's `Y_clone == Y`; then, beyond the
# book, a whole training state (parameters, Adam's moments, the step) saved after three steps
# and restored, and training on from it giving exactly the step that training on from the
# original gives. All files go to a temporary folder; `--out` gets metrics.json only. The
# writes run under `full_disk_reported(tmp)`: a full disk ends the run with one line naming the
# folder, not a traceback from each of orbax's threads, and no half-written save is left.

# %%
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp

from jaxdl.engine.checkpoint import full_disk_reported
from jaxdl.losses import cross_entropy
from jaxdl.model import TrainState, init_state
from jaxdl.models.mlp import scratch_mlp
from jaxdl.params import num_params

import harness

STEPS = 3  # training steps before the training state is saved


def bit_identical(a, b) -> bool:
    """True when pytrees ``a`` and ``b`` have one structure and every pair of leaves the same
    dtype, shape and bytes (stricter than ``==``: NaN payloads and -0.0 count)."""
    if jax.tree.structure(a) != jax.tree.structure(b):
        return False
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return all(
        np.asarray(x).dtype == np.asarray(y).dtype
        and np.shape(x) == np.shape(y)
        and np.asarray(x).tobytes() == np.asarray(y).tobytes()
        for x, y in pairs
    )


# %% [markdown]
# ## Configuration
#
# Nothing to set: the section runs the book's examples. On the command line, `python
# experiments/read_write.py --help` lists the flags every section has (`--seed`, `--out`,
# `--quick`).

# %%
BOOK = dict()
config, out = harness.start("read_write", BOOK)
key_init, key_x, key_y = jax.random.split(jax.random.key(config.seed), 3)
folder = tempfile.TemporaryDirectory(prefix="jaxdl-read-write-")
tmp = Path(folder.name)
metrics = {}

# %% [markdown]
# ## Loading and saving arrays
#
# `jnp.save` is NumPy's `np.save`: it writes one array to a `.npy` file, and `jnp.load` reads
# it back as a `jax.Array`. For several arrays, `np.savez` writes one `.npz` file: positional
# arrays as `arr_0`, `arr_1`, ... (the book's list), keyword arrays under their names (the
# book's dict). Unlike `torch.load`, which unpickles, `np.load` refuses pickled objects by
# default: a file of arrays cannot run code when it is read.

# %%
print("== Loading and saving arrays")
x = jnp.arange(4)
with full_disk_reported(tmp):
    jnp.save(tmp / "x-file.npy", x)
x2 = jnp.load(tmp / "x-file.npy")
harness.print_value("x2", x2)

y = jnp.zeros(4)
with full_disk_reported(tmp):
    np.savez(tmp / "x-files.npz", x, y)
with np.load(tmp / "x-files.npz") as files:
    x2, y2 = (jnp.asarray(files[f"arr_{i}"]) for i in range(2))
harness.print_value("(x2, y2)", (x2, y2))

mydict = {"x": x, "y": y}
with full_disk_reported(tmp):
    np.savez(tmp / "mydict.npz", **mydict)
with np.load(tmp / "mydict.npz") as files:
    mydict2 = {name: jnp.asarray(files[name]) for name in files.files}
harness.print_value("mydict2", mydict2)
metrics.update(
    x_loaded=jnp.load(tmp / "x-file.npy"),
    x_dtype=str(jnp.load(tmp / "x-file.npy").dtype),
    list_round_trip_equal=bit_identical([x, y], [x2, y2]),
    dict_round_trip_equal=bit_identical(mydict, mydict2),
    dict_keys=sorted(mydict2),
)

# %% [markdown]
# NumPy does not know bfloat16, a dtype JAX models are often stored in. `jnp.load` of a `.npy`
# file restores it, but an `.npz` file gives raw 2-byte records (`|V2`) back: one reason to
# store pytrees with orbax, which records every array's dtype.

# %%
half = jnp.arange(4, dtype=jnp.bfloat16)
with full_disk_reported(tmp):
    np.savez(tmp / "half.npz", half=half)
with np.load(tmp / "half.npz") as files:
    npz_dtype = str(files["half"].dtype)
print(f"bfloat16 through .npz comes back as {npz_dtype}")
metrics["npz_bfloat16_dtype"] = npz_dtype

# %% [markdown]
# ## Loading and saving model parameters
#
# The book's MLP has a hidden layer of 256 units and 10 outputs, applied to X of shape [2, 20].
# Its parameters are a pytree `{"layers": [{"W", "b"}, {"W", "b"}]}`. orbax's
# `StandardCheckpointer` writes a pytree of arrays to a folder (asynchronously: `save` returns
# while the files are written; leaving the `with` block waits for them) and restores it.
#
# The book builds a fresh `clone = MLP()` to load into. Here the clone's part is played by a
# *target*: the shapes and dtypes of a fresh model's parameters, from `jax.eval_shape` of its
# `init`, which computes no values. orbax restores into the target's structure and refuses a
# target whose shapes differ from the saved ones; a different dtype in the target it does not
# refuse but casts to, so the target should come from the model itself.

# %%
print("\n== Loading and saving model parameters")
model = scratch_mlp((256,), 10)
X = jax.random.uniform(key_x, (2, 20))
params, _ = model.init(key_init, X)
Y, _ = model.apply(params, {}, X, train=False)

with full_disk_reported(tmp), ocp.StandardCheckpointer() as checkpointer:
    checkpointer.save(tmp / "mlp.params", params)

target = jax.eval_shape(lambda key: model.init(key, X)[0], key_init)
with ocp.StandardCheckpointer() as checkpointer:
    clone_params = checkpointer.restore(tmp / "mlp.params", target)
Y_clone, _ = model.apply(clone_params, {}, X, train=False)
harness.print_value("Y_clone == Y", Y_clone == Y)

shapes = {
    jax.tree_util.keystr(path): list(leaf.shape)
    for path, leaf in jax.tree_util.tree_leaves_with_path(clone_params)
}
print(f"{num_params(clone_params)} parameters restored: {shapes}")
metrics.update(
    num_params=num_params(clone_params),
    param_shapes=shapes,
    params_bit_identical=bit_identical(params, clone_params),
    clone_output_equal=bool(jnp.all(Y_clone == Y)),
    clone_output_shape=list(Y_clone.shape),
)

# %% [markdown]
# orbax records each array's dtype: the bfloat16 array that `.npz` could not keep comes back
# as bfloat16.

# %%
with full_disk_reported(tmp), ocp.StandardCheckpointer() as checkpointer:
    checkpointer.save(tmp / "half", {"half": half})
with ocp.StandardCheckpointer() as checkpointer:
    half2 = checkpointer.restore(tmp / "half", jax.eval_shape(lambda: {"half": half}))["half"]
print(f"bfloat16 through orbax comes back as {half2.dtype}: {half2}")
metrics["orbax_bfloat16_dtype"] = str(half2.dtype)

# %% [markdown]
# ## Saving a whole training state
#
# Beyond the book: to resume training, the parameters are not enough. The optimizer has a
# state of its own (Adam's first and second moments and its step count), and the project's
# `TrainState` holds it with the parameters, the model state (empty for the MLP) and the
# number of updates applied. After three Adam steps the state is saved and restored into the
# original's shapes as target; then one more step is taken from the original and one from the
# restored state. A state that came back with one bit changed, a moment reset to zero or the
# step count lost would give another step.
#
# The target matters for more than shapes: restored without one, orbax gives back the saved
# structure as plain containers (the `TrainState` and optax's `ScaleByAdamState` become
# dicts, tuples become lists), which the jitted step would not accept as the same input.

# %%
print("\n== Saving a whole training state")
optimizer = optax.adam(1e-3)
labels = jax.random.randint(key_y, (X.shape[0],), 0, 10)


@jax.jit
def train_step(state: TrainState, x, y):
    """One Adam step on the mean cross-entropy of ``x [batch, 20]``, ``y [batch]``."""

    def loss_fn(params):
        logits, _ = model.apply(params, state.model_state, x, train=True)
        return jnp.mean(cross_entropy(logits, y))

    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    return TrainState(params, state.model_state, opt_state, state.step + 1), loss


state = init_state(model, optimizer, key_init, X)
losses = []
for _ in range(STEPS):
    state, loss = train_step(state, X, labels)
    losses.append(float(loss))
print(f"losses of {STEPS} Adam steps: {losses}")

with full_disk_reported(tmp), ocp.StandardCheckpointer() as checkpointer:
    checkpointer.save(tmp / "train_state", state)
with ocp.StandardCheckpointer() as checkpointer:
    restored = checkpointer.restore(tmp / "train_state", jax.eval_shape(lambda: state))
    untargeted = checkpointer.restore(tmp / "train_state")
print(f"restored into the target: {type(restored).__name__}, step {int(restored.step)}")
print(f"restored without a target: {type(untargeted).__name__} of {sorted(untargeted)}")

next_state, next_loss = train_step(state, X, labels)
resumed_state, resumed_loss = train_step(restored, X, labels)
state_equal = bit_identical(state, restored)
step_equal = bit_identical((next_state, next_loss), (resumed_state, resumed_loss))
print(f"restored state bit-identical: {state_equal}; next step equal: {step_equal}")
metrics["train_state"] = {
    "steps_before_save": STEPS,
    "restored_step": int(restored.step),
    "num_leaves": len(jax.tree.leaves(restored)),
    "num_values": num_params(restored),
    "losses": losses,
    "untargeted_restore_type": type(untargeted).__name__,
}
metrics.update(train_state_bit_identical=state_equal, resumed_step_equal=step_equal)
folder.cleanup()

# %% [markdown]
# ## Against the book
#
# The run writes `results/read_write/` (or `--out`): `metrics.json`, `"x_loaded"`: x after
# `jnp.save`/`jnp.load` ([0, 1, 2, 3]); `"x_dtype"`: its dtype; `"list_round_trip_equal"`,
# `"dict_round_trip_equal"`: bool; `"dict_keys"`: ["x", "y"]; `"npz_bfloat16_dtype"`: the dtype a
# bfloat16 array comes back with from `.npz`; `"orbax_bfloat16_dtype"`: the dtype it comes back
# with from orbax ("bfloat16"); `"num_params"`: parameters saved (7946); `"param_shapes"`: `{path:
# shape}`; `"params_bit_identical"`: bool; `"clone_output_equal"`: bool (the book's `Y_clone ==
# Y`, all entries); `"clone_output_shape"`: [2, 10]; `"train_state"`: `{"steps_before_save": 3,
# "restored_step", "num_leaves", "num_values", "losses": the 3 losses, "untargeted_restore_type":
# the type restored without a target}`; `"train_state_bit_identical"`: bool;
# `"resumed_step_equal"`: bool (the step after the restored state equals the step after the
# original, bit for bit, loss too).

# %%
harness.compare_with_book("read_write", metrics, out)
metrics = harness.finish(out, metrics, {})

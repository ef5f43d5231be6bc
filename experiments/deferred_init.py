# %% [markdown]
# # Deferred initialization (the book's 5.3)
#
# The book declares layers by their output width only (`nn.LazyLinear(256)`) and lets the
# framework wait for the first batch to learn the input width: before it, the first weight is
# an `<UninitializedParameter>`; after `net(torch.rand(2, 20))` it is [256, 20]. In flax every
# layer is declared this way (`nn.Dense(256)` takes no input width), and nothing waits for a
# first batch: a module holds no parameters at all, and `init(key, x)` builds them from an
# example input, reading the shapes from it. `jax.eval_shape` goes one step further and gives
# the shapes without computing a single number.
#
# What to look at: the module before `init` (no parameters to read, and the error that says
# so); the first kernel [20, 256] for inputs of 20 features and [30, 256] for 30 (the book's
# [256, 20] transposed); the clear error when parameters made for 20 features meet an input of
# 30; the same for a model written as pure functions (`jaxdl.model.stateless`).

# %%
import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.errors import ScopeParamShapeError

from jaxdl.model import stateless
from jaxdl.params import num_params, param_table

import harness

# %% [markdown]
# ## Configuration
#
# Nothing to set: the section runs the book's examples. On the command line, `python
# experiments/deferred_init.py --help` lists the flags every section has (`--seed`, `--out`,
# `--quick`).

# %%
BOOK = dict()
config, out = harness.start("deferred_init", BOOK)
key_x20, key_x30, key_flax, key_pure = jax.random.split(jax.random.key(config.seed), 4)
X20 = jax.random.uniform(key_x20, (2, 20))
X30 = jax.random.uniform(key_x30, (2, 30))
metrics = {}

# %% [markdown]
# ## A network without input widths
#
# `nn.Dense(256)` says how many outputs it has, not how many inputs: the book's
# `nn.LazyLinear(256)`. The module holds no parameters; asking for them before `init` is an
# error, not an uninitialized placeholder.

# %%
net = nn.Sequential([nn.Dense(256), nn.relu, nn.Dense(10)])
first = net.layers[0]
print(f"net.layers[0]: Dense(features={first.features}), no input width")
try:
    _ = net.variables
    before_error = ""
except ValueError as error:
    before_error = str(error)
print(f"net.variables before init: ValueError: {before_error}")
metrics.update(declared={"features": first.features}, before_init_error=before_error)

# %% [markdown]
# ## Initializing from an example input
#
# `jax.eval_shape` traces `init` with abstract values: the shapes, nothing computed or
# stored. `init` itself draws the numbers. With 20 input features the first kernel is
# [20, 256]; with 30 it is [30, 256]; the second layer is [256, 10] in both, its input width
# read from the first layer's output.

# %%
abstract = jax.eval_shape(net.init, key_flax, X20)["params"]
print("jax.eval_shape(net.init, key, X20):", *param_table(abstract))
results = {}
params20 = net.init(key_flax, X20)["params"]
params30 = net.init(key_flax, X30)["params"]
for width, x, params in ((20, X20, params20), (30, X30, params30)):
    y = net.apply({"params": params}, x)
    print(f"init on X [2, {width}]: {num_params(params)} parameters, output {y.shape}")
    for path, shape in param_table(params):
        print(f"  {path}: {shape}")
    results[f"table_{width}"] = param_table(params)
    results[f"num_params_{width}"] = num_params(params)
    results[f"output_shape_{width}"] = list(y.shape)
metrics.update(
    abstract_table_20=param_table(abstract),
    abstract_equals_init=param_table(abstract) == param_table(params20),
)

# %% [markdown]
# ## A mismatched input
#
# Parameters are made for one input width. Applied to another, flax says which parameter
# does not fit and both shapes.

# %%
try:
    net.apply({"params": params20}, X30)
    wrong = {"type": "", "message": ""}
except ScopeParamShapeError as error:
    wrong = {"type": type(error).__name__, "message": str(error)}
print(f"params for 20 features on X [2, 30]: {wrong['type']}: {wrong['message']}")
metrics["flax"] = {**results, "wrong_width_error": wrong}

# %% [markdown]
# ## The same with pure functions
#
# A model written as two functions defers in the same way: its `init` takes the example
# input and reads the width from it (`jaxdl.models.mlp.mlp` does this too).
# `jaxdl.model.stateless` makes the pair a Model with the engine's signature. For the wrong
# width the matrix product refuses the shapes.


# %%
def mlp_init(key, x):
    """W [in, 256], [256, 10] ~ N(0, 0.01²), zero biases; ``in`` read from x [batch, in]."""
    key_hidden, key_out = jax.random.split(key)
    return {
        "hidden": {
            "W": 0.01 * jax.random.normal(key_hidden, (x.shape[-1], 256)),
            "b": jnp.zeros(256),
        },
        "out": {"W": 0.01 * jax.random.normal(key_out, (256, 10)), "b": jnp.zeros(10)},
    }


def mlp_apply(params, x):
    h = jax.nn.relu(x @ params["hidden"]["W"] + params["hidden"]["b"][None, :])
    return h @ params["out"]["W"] + params["out"]["b"][None, :]


model = stateless(mlp_init, mlp_apply, {"name": "mlp_20_256_10"})
pure = {}
pure_params = {}
for width, x in ((20, X20), (30, X30)):
    params, state = model.init(key_pure, x)
    y, _ = model.apply(params, state, x, train=False)
    print(f"model.init on X [2, {width}]: {num_params(params)} parameters, output {y.shape}")
    for path, shape in param_table(params):
        print(f"  {path}: {shape}")
    pure_params[width] = params
    pure[f"table_{width}"] = param_table(params)
    pure[f"num_params_{width}"] = num_params(params)
    pure[f"output_shape_{width}"] = list(y.shape)
try:
    model.apply(pure_params[20], {}, X30, train=False)
    pure_wrong = {"type": "", "message": ""}
except TypeError as error:
    pure_wrong = {"type": type(error).__name__, "message": str(error)}
print(f"params for 20 features on X [2, 30]: {pure_wrong['type']}: {pure_wrong['message']}")
metrics["pure"] = {**pure, "wrong_width_error": pure_wrong}

# %% [markdown]
# ## Against the book
#
# The run writes `results/deferred_init/` (or `--out`): `metrics.json`, `"declared"`: the first
# layer's declared fields (`{"features": 256}`); `"before_init_error"`: the message of reading
# `net.variables` before `init`; `"abstract_table_20"`: `param_table` of `jax.eval_shape(net.init,
# key, X20)`; `"abstract_equals_init"`: bool; `"flax"` and `"pure"`: `{"table_20", "table_30":
# [[key path, shape], ...], "num_params_20": 7946, "num_params_30": 10506, "output_shape_20",
# "output_shape_30": [2, 10], "wrong_width_error": {"type", "message"}}`.

# %%
harness.compare_with_book("deferred_init", metrics, out)
metrics = harness.finish(out, metrics, {})

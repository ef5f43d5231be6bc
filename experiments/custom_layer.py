# %% [markdown]
# # Custom layers (the book's 5.4)
#
# The book writes two layers of its own: `CenteredLayer`, without parameters, which subtracts
# the mean of its input, and `MyLinear(in_units, units)`, a fully connected layer with a ReLU
# whose weight and bias are drawn N(0, 1) (`torch.randn`). In JAX a layer is a pure function
# of its parameters and its input, so a custom layer is just a function; as a flax module it
# is a class whose `__call__` declares its parameters with `self.param(name, initializer,
# shape)`. Either way it composes with the built-in layers and `jax.grad` differentiates
# through it.
#
# What to look at: `CenteredLayer` on [1, 2, 3, 4, 5] gives [-2, -1, 0, 1, 2] as in the book,
# and after a Dense(128) layer the mean of its output is 0 up to float32 rounding; `MyLinear`'s
# parameter shapes [5, 3] and [3], its output checked against the pure function, and a
# two-layer network of `MyLinear`s with a gradient for every parameter (the book's `forward`
# reads `.data`, which would cut the gradient off).

# %%
import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.params import num_params, param_table

import harness

# %% [markdown]
# ## Configuration
#
# Nothing to set: the section runs the book's examples. On the command line, `python
# experiments/custom_layer.py --help` lists the flags every section has (`--seed`, `--out`,
# `--quick`).

# %%
BOOK = dict()
config, out = harness.start("custom_layer", BOOK)
keys = jax.random.split(jax.random.key(config.seed), 8)
key_x8, key_layer, key_dense, key_x5, key_linear, key_x64, key_net, key_pure = keys
metrics = {}

# %% [markdown]
# ## A layer without parameters
#
# `CenteredLayer` subtracts the mean of its whole input. As a function it is one line; as a
# flax module it has a `__call__` and no parameters (its `init` returns an empty tree).


# %%
def centered(x):
    """The book's ``CenteredLayer``: x − mean(x), the mean over every element."""
    return x - x.mean()


class CenteredLayer(nn.Module):
    """The book's ``CenteredLayer`` as a module without parameters."""

    def __call__(self, x):
        return x - x.mean()


x5 = jnp.array([1.0, 2.0, 3.0, 4.0, 5.0])
layer = CenteredLayer()
layer_output = layer.apply({}, x5)
harness.print_value("CenteredLayer().apply({}, [1, 2, 3, 4, 5])", layer_output)
harness.print_value("centered([1, 2, 3, 4, 5])", centered(x5))
print("CenteredLayer().init(key, x):", layer.init(key_layer, x5))
metrics["centered"] = {"input": x5, "output": layer_output, "pure_output": centered(x5)}

# %% [markdown]
# It composes with the built-in layers. After a Dense(128) layer, the mean of the output is 0
# but for float32 rounding (the book prints 2.7940e-09).

# %%
X8 = jax.random.uniform(key_x8, (4, 8))
net = nn.Sequential([nn.Dense(128), CenteredLayer()])
net_params = net.init(key_dense, X8)["params"]
Y = net.apply({"params": net_params}, X8)
harness.print_value("Y.mean()", Y.mean())
metrics["centered_net"] = {
    "output_shape": list(Y.shape),
    "mean": Y.mean(),
    "mean_abs": jnp.abs(Y.mean()),
    "num_params": num_params(net_params),
}

# %% [markdown]
# ## A layer with parameters
#
# `MyLinear(in_units, units)` computes relu(X W + b) with W and b drawn N(0, 1). As pure
# functions, `my_linear_init` returns the parameters and `my_linear_apply` uses them. As a
# module, `self.param(name, initializer, shape)` declares each parameter: `init` calls the
# initializer (here `nn.initializers.normal(1.0)`, the book's `torch.randn`) and `apply`
# reads the value passed in.


# %%
def my_linear_init(key, in_units: int, units: int) -> dict:
    """W [in_units, units] and b [units], N(0, 1) each."""
    key_w, key_b = jax.random.split(key)
    return {
        "weight": jax.random.normal(key_w, (in_units, units)),
        "bias": jax.random.normal(key_b, (units,)),
    }


def my_linear_apply(params, x):
    """relu(x [batch, in_units] @ W + b) -> [batch, units]."""
    return jax.nn.relu(x @ params["weight"] + params["bias"][None, :])


class MyLinear(nn.Module):
    """The book's ``MyLinear``: relu(X W + b), W [in_units, units] and b [units] ~ N(0, 1)."""

    in_units: int
    units: int

    @nn.compact
    def __call__(self, x):
        normal = nn.initializers.normal(stddev=1.0)
        weight = self.param("weight", normal, (self.in_units, self.units))
        bias = self.param("bias", normal, (self.units,))
        return jax.nn.relu(x @ weight + bias[None, :])


X5 = jax.random.uniform(key_x5, (2, 5))
linear = MyLinear(5, 3)
linear_params = linear.init(key_linear, X5)["params"]
harness.print_value("MyLinear(5, 3): params['weight']", linear_params["weight"])
print("its parameters:", *param_table(linear_params))
linear_output = linear.apply({"params": linear_params}, X5)
harness.print_value("MyLinear(5, 3) on X [2, 5]", linear_output)
linear_same = bool(jnp.allclose(my_linear_apply(linear_params, X5), linear_output))
print("my_linear_apply with the same parameters gives the same:", linear_same)
linear_grad = jax.grad(lambda p: linear.apply({"params": p}, X5).sum())(linear_params)
harness.print_value("jax.grad of the sum of its outputs", linear_grad)
metrics["my_linear"] = {
    "weight_shape": list(linear_params["weight"].shape),
    "bias_shape": list(linear_params["bias"].shape),
    "num_params": num_params(linear_params),
    "weight": linear_params["weight"],
    "bias": linear_params["bias"],
    "x": X5,
    "output": linear_output,
    "pure_equals_flax": linear_same,
    "grad": linear_grad,
}

# %% [markdown]
# ## Custom layers in a network
#
# The book's `nn.Sequential(MyLinear(64, 8), MyLinear(8, 1))` on X [2, 64], as modules and as
# the pure functions composed by hand. The book's `forward` computes with `self.weight.data`,
# which detaches the weights: its output has no `grad_fn` (as it prints) and training would
# leave them unchanged. A JAX layer has nothing to detach: `jax.grad` reaches every
# parameter.

# %%
X64 = jax.random.uniform(key_x64, (2, 64))
net2 = nn.Sequential([MyLinear(64, 8), MyLinear(8, 1)])
net2_params = net2.init(key_net, X64)["params"]
net2_output = net2.apply({"params": net2_params}, X64)
harness.print_value("Sequential([MyLinear(64, 8), MyLinear(8, 1)]) on X [2, 64]", net2_output)
for path, shape in param_table(net2_params):
    print(f"  {path}: {shape}")


def pure_net_apply(params, x):
    for layer_params in params:
        x = my_linear_apply(layer_params, x)
    return x


key_a, key_b = jax.random.split(key_pure)
pure_params = [my_linear_init(key_a, 64, 8), my_linear_init(key_b, 8, 1)]
pure_output = pure_net_apply(pure_params, X64)
print(f"the pure functions with their own parameters: output {pure_output.shape}")
same = pure_net_apply([net2_params["layers_0"], net2_params["layers_1"]], X64)
net2_same = bool(jnp.allclose(same, net2_output, rtol=1e-6))
print("the pure functions with the module's parameters give the same:", net2_same)
net2_grad = jax.grad(lambda p: net2.apply({"params": p}, X64).sum())(net2_params)
finite = all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(net2_grad))
print("jax.grad reaches every parameter:", *param_table(net2_grad))
metrics["my_linear_net"] = {
    "output_shape": list(net2_output.shape),
    "num_params": num_params(net2_params),
    "table": param_table(net2_params),
    "params": net2_params,
    "x": X64,
    "output": net2_output,
    "pure_output_shape": list(pure_output.shape),
    "pure_equals_flax": net2_same,
    "grad_finite": finite,
    "grad_table": param_table(net2_grad),
}

# %% [markdown]
# ## Against the book
#
# The run writes `results/custom_layer/` (or `--out`): `metrics.json`, `"centered"`: `{"input":
# [1, 2, 3, 4, 5], "output", "pure_output"}`; `"centered_net"`: `{"output_shape": [4, 128],
# "mean", "mean_abs", "num_params": 1152}`; `"my_linear"`: `{"weight_shape": [5, 3], "bias_shape":
# [3], "num_params": 18, "weight", "bias", "x" [2, 5], "output" [2, 3], "pure_equals_flax": bool,
# "grad": {"weight", "bias"} (of the sum of the outputs)}`; `"my_linear_net"`: `{"output_shape":
# [2, 1], "num_params": 529, "table", "params", "x" [2, 64], "output", "pure_output_shape",
# "pure_equals_flax": bool, "grad_finite": bool, "grad_table"}`.

# %%
harness.compare_with_book("custom_layer", metrics, out)
metrics = harness.finish(out, metrics, {})

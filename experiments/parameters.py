# %% [markdown]
# # Parameter management (the book's 5.2)
#
# The book reads a PyTorch model's parameters through its layers (`net[2].state_dict()`,
# `net.named_parameters()`), initializes them by walking the layers (`net.apply(init_fn)`),
# writes into them (`weight.data[0, 0] = 42`) and ties two layers to one parameter. In JAX the
# parameters are not inside the model: `init` returns them as a pytree (nested dicts of
# arrays) and every step takes them explicitly. Reading a parameter is indexing a dict;
# initialization is chosen where a layer is declared (`nn.Dense(8, kernel_init=...)`), an
# initializer being a function `(key, shape, dtype) -> array`; setting a parameter builds a new
# tree; tying is using one layer twice, which leaves one entry in the tree.
#
# What to look at: flax's kernels are [in, out], the transpose of PyTorch's [out, in] weights
# (the book's `net[0].weight[0]` is `kernel[:, 0]` here); the parameter tables of the small
# MLP and of the nested `rgnet`; the initializers' values; and the tied layer: one entry
# (121 parameters, not 193) whose gradient is the sum of its two uses' gradients.

# %%
import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import traverse_util

from jaxdl.params import num_params, param_table

import harness

# %% [markdown]
# ## Configuration
#
# Nothing to set: the section runs the book's examples. On the command line, `python
# experiments/parameters.py --help` lists the flags every section has (`--seed`, `--out`,
# `--quick`).

# %%
BOOK = dict()
config, out = harness.start("parameters", BOOK)
keys = jax.random.split(jax.random.key(config.seed), 8)
key_x, key_net, key_rg, key_normal, key_constant, key_mixed, key_my, key_tied = keys
X = jax.random.uniform(key_x, (2, 4))
metrics = {}

# %% [markdown]
# ## Parameter access
#
# `init` returns the parameters; the model holds none. The book's `net[2].state_dict()` is
# the entry `layers_2` of the tree (ReLU, `layers_1`, has no parameters). Its kernel is
# [8, 1]: flax computes `x @ kernel`, PyTorch `x @ weight.T` with weight [1, 8].

# %%
net = nn.Sequential([nn.Dense(8), nn.relu, nn.Dense(1)])
params = net.init(key_net, X)["params"]
output = net.apply({"params": params}, X)
harness.print_value("net.apply({'params': params}, X)", output)
harness.print_value("params['layers_2']  (the book's net[2].state_dict())", params["layers_2"])
bias = params["layers_2"]["bias"]
print(f"type(params['layers_2']['bias']): {type(bias).__name__}, a plain array")
metrics.update(
    output_shape=list(output.shape),
    layers_2={
        "kernel_shape": list(params["layers_2"]["kernel"].shape),
        "bias_shape": list(bias.shape),
        "bias": bias,
    },
)

# %% [markdown]
# A parameter has no `.grad`: `jax.grad` of a function of the parameters returns the
# gradients as a tree of the same structure, and nothing is accumulated anywhere.

# %%
grads = jax.grad(lambda p: net.apply({"params": p}, X).sum())(params)
same = param_table(grads) == param_table(params)
print("jax.grad(...)(params) has the parameters' paths and shapes:", same)
metrics["grad_table_equals_table"] = same

# %% [markdown]
# ### All parameters at once
#
# The book's `named_parameters()` walks the layers; here `param_table` walks the tree and
# gives each array's key path and shape (dict keys come sorted, so `bias` before `kernel`).
# The book's `net.state_dict()['2.bias']` is the flattened tree's `layers_2/bias`.

# %%
print("param_table(params['layers_0']):", param_table(params["layers_0"]))
print("param_table(params):", *param_table(params))
flat = traverse_util.flatten_dict(params, sep="/")
harness.print_value("flatten_dict(params, sep='/')['layers_2/bias']", flat["layers_2/bias"])
metrics.update(
    layers_0_table=param_table(params["layers_0"]),
    table=param_table(params),
    num_params=num_params(params),
    bias_by_path_equal=bool(jnp.array_equal(flat["layers_2/bias"], bias)),
)
print(f"num_params(params) = {num_params(params)}")

# %% [markdown]
# ### Parameters of nested blocks
#
# The book's block factories: `block1` is Dense(8), ReLU, Dense(4), ReLU; `block2` chains
# four of them; `rgnet` is `block2` then Dense(1). The tree nests as the blocks do, and the
# book's `rgnet[0][1][0].bias` is the bias of the first layer of the second block (zeros:
# flax's `nn.Dense` starts its biases at 0, where PyTorch's `nn.Linear` draws them).


# %%
def block1():
    return nn.Sequential([nn.Dense(8), nn.relu, nn.Dense(4), nn.relu])


def block2():
    return nn.Sequential([block1() for _ in range(4)])


rgnet = nn.Sequential([block2(), nn.Dense(1)])
rg_params = rgnet.init(key_rg, X)["params"]
rg_output = rgnet.apply({"params": rg_params}, X)
print(f"rgnet(X): {rg_output.shape}; {num_params(rg_params)} parameters")
for path, shape in param_table(rg_params):
    print(f"  {path}: {shape}")
nested_bias = rg_params["layers_0"]["layers_1"]["layers_0"]["bias"]
harness.print_value("rg_params['layers_0']['layers_1']['layers_0']['bias']", nested_bias)
metrics["rgnet"] = {
    "output_shape": list(rg_output.shape),
    "num_params": num_params(rg_params),
    "table": param_table(rg_params),
    "nested_bias_shape": list(nested_bias.shape),
}

# %% [markdown]
# ## Parameter initialization
#
# The book re-initializes a built model with `net.apply(init_fn)`. In flax the initializer is
# part of the layer's declaration, a function `(key, shape, dtype) -> array` that `init`
# calls with the shape it has inferred. Below: normal with σ = 0.01 and zero biases; constant
# 1; Xavier uniform for one layer and constant 42 for the other (`nn.initializers`). The
# book prints `net[0].weight[0]`, the weights into the first output unit: `kernel[:, 0]`.


# %%
def two_layers(first_init, second_init, bias_init=nn.initializers.zeros) -> nn.Sequential:
    """The book's net with the kernel initializers ``first_init`` and ``second_init``."""
    return nn.Sequential(
        [
            nn.Dense(8, kernel_init=first_init, bias_init=bias_init),
            nn.relu,
            nn.Dense(1, kernel_init=second_init, bias_init=bias_init),
        ]
    )


normal = nn.initializers.normal(stddev=0.01)
p_normal = two_layers(normal, normal).init(key_normal, X)["params"]
kernels = jnp.concatenate([p_normal[k]["kernel"].ravel() for k in ("layers_0", "layers_2")])
biases = jnp.concatenate([p_normal[k]["bias"] for k in ("layers_0", "layers_2")])
harness.print_value(
    "normal(0.01): kernel[:, 0], bias[0]", (p_normal["layers_0"]["kernel"][:, 0], biases[0])
)
print(f"std of the 40 weights: {float(jnp.std(kernels)):.4f}")

one = nn.initializers.constant(1.0)
p_constant = two_layers(one, one).init(key_constant, X)["params"]
harness.print_value(
    "constant(1): kernel[:, 0], bias[0]",
    (p_constant["layers_0"]["kernel"][:, 0], p_constant["layers_0"]["bias"][0]),
)

xavier = nn.initializers.xavier_uniform()
p_mixed = two_layers(xavier, nn.initializers.constant(42.0)).init(key_mixed, X)["params"]
bound = (6 / (4 + 8)) ** 0.5
harness.print_value(
    "xavier_uniform, first layer: kernel[:, 0]", p_mixed["layers_0"]["kernel"][:, 0]
)
print(f"  every |w| <= √(6 / (4 + 8)) = {bound:.4f}")
harness.print_value("constant(42), second layer: kernel.T", p_mixed["layers_2"]["kernel"].T)
metrics["init"] = {
    "normal": {
        "kernel_std": jnp.std(kernels),
        "biases_zero": bool(jnp.all(biases == 0)),
        "weight0": p_normal["layers_0"]["kernel"][:, 0],
    },
    "constant": {
        "weight0": p_constant["layers_0"]["kernel"][:, 0],
        "bias0": p_constant["layers_0"]["bias"][0],
    },
    "xavier_42": {
        "weight0": p_mixed["layers_0"]["kernel"][:, 0],
        "xavier_bound": bound,
        "xavier_max_abs": jnp.max(jnp.abs(p_mixed["layers_0"]["kernel"])),
        "layers_2_kernel": p_mixed["layers_2"]["kernel"].ravel(),
    },
}

# %% [markdown]
# ### Custom initialization
#
# The book's `my_init` draws w uniform in (−10, 10) and zeroes the weights with |w| < 5:
# w is U(5, 10) or U(−10, −5) with probability ¼ each, 0 with probability ½. As an
# initializer it is a function of the key and the shape; flax calls it once per layer, with
# that layer's shape (printed, as the book prints "Init weight ...").


# %%
def my_init(key, shape, dtype=jnp.float32):
    """The book's ``my_init``: uniform(−10, 10), then 0 where |w| < 5."""
    print("Init kernel", shape)
    w = jax.random.uniform(key, shape, dtype, minval=-10.0, maxval=10.0)
    return w * (jnp.abs(w) >= 5)


p_my = two_layers(my_init, my_init).init(key_my, X)["params"]
harness.print_value(
    "kernel[:, :2].T  (the book's net[0].weight[:2])", p_my["layers_0"]["kernel"][:, :2].T
)
ws = jnp.concatenate([p_my[k]["kernel"].ravel() for k in ("layers_0", "layers_2")])
zero_or_big = bool(jnp.all((ws == 0) | ((jnp.abs(ws) >= 5) & (jnp.abs(ws) <= 10))))
print(f"every weight 0 or 5 <= |w| <= 10: {zero_or_big}; zeros: {float(jnp.mean(ws == 0)):.2f}")
metrics["my_init"] = {
    "kernel_shapes": [list(p_my[k]["kernel"].shape) for k in ("layers_0", "layers_2")],
    "weight_rows": p_my["layers_0"]["kernel"][:, :2].T,
    "zero_or_at_least_5": zero_or_big,
    "fraction_zero": jnp.mean(ws == 0),
}

# %% [markdown]
# ### Setting parameters directly
#
# The book writes into the weight in place (`weight.data[:] += 1`, `weight.data[0, 0] = 42`).
# JAX arrays are immutable: the new values go into a new tree, and the old one is unchanged.
# PyTorch's weight[0, 0] (output 0, input 0) is flax's kernel[0, 0] (input 0, output 0).

# %%
kernel = p_my["layers_0"]["kernel"]
new_kernel = (kernel + 1).at[0, 0].set(42.0)
p_set = {**p_my, "layers_0": {**p_my["layers_0"], "kernel": new_kernel}}
harness.print_value("after + 1 and [0, 0] = 42: kernel[:, 0]", p_set["layers_0"]["kernel"][:, 0])
unchanged = bool(jnp.array_equal(p_my["layers_0"]["kernel"], kernel))
print("the original tree is unchanged:", unchanged)
metrics["set"] = {
    "weight0_before": kernel[:, 0],
    "weight0_after": p_set["layers_0"]["kernel"][:, 0],
    "original_unchanged": unchanged,
}

# %% [markdown]
# ## Tied parameters
#
# The book puts one `shared = nn.Linear(8, 8)` twice into a Sequential. Flax does the same
# with one `nn.Dense(8)` module: its parameters appear once, as `layers_2` (the entry
# `layers_4` does not exist), and both uses read them, so they are one array by construction
# (the book checks it by writing into one and reading the other). The gradient with respect
# to a parameter used twice is the sum of the gradients of its two uses: the same network with
# two separate copies of the values gives two gradients whose sum is the tied one.

# %%
shared = nn.Dense(8)
tied = nn.Sequential([nn.Dense(8), nn.relu, shared, nn.relu, shared, nn.relu, nn.Dense(1)])
tied_params = tied.init(key_tied, X)["params"]
print(f"tied: {num_params(tied_params)} parameters")
for path, shape in param_table(tied_params):
    print(f"  {path}: {shape}")
print("'layers_4' in tied_params:", "layers_4" in tied_params)

untied = nn.Sequential(
    [nn.Dense(8), nn.relu, nn.Dense(8), nn.relu, nn.Dense(8), nn.relu, nn.Dense(1)]
)
untied_params = {**tied_params, "layers_4": tied_params["layers_2"]}  # two copies


def output_sum(model):
    return lambda p: model.apply({"params": p}, X).sum()


tied_grad = jax.grad(output_sum(tied))(tied_params)
untied_grad = jax.grad(output_sum(untied))(untied_params)
summed = jax.tree.map(jnp.add, untied_grad["layers_2"], untied_grad["layers_4"])
expected = {**{k: untied_grad[k] for k in ("layers_0", "layers_6")}, "layers_2": summed}
diff = max(
    float(jnp.max(jnp.abs(a - b)))
    for a, b in zip(jax.tree.leaves(tied_grad), jax.tree.leaves(expected), strict=True)
)
equal = bool(diff <= 1e-6)
print(f"untied copy: {num_params(untied_params)} parameters")
print(f"tied gradient = sum of the two copies' gradients: {equal} (max difference {diff:.1e})")
print(
    "the two uses' contributions to ∂/∂kernel: ‖first‖ = "
    f"{float(jnp.linalg.norm(untied_grad['layers_2']['kernel'])):.4f}, ‖second‖ = "
    f"{float(jnp.linalg.norm(untied_grad['layers_4']['kernel'])):.4f}"
)
metrics["tied"] = {
    "num_params": num_params(tied_params),
    "untied_num_params": num_params(untied_params),
    "table": param_table(tied_params),
    "x": X,
    "params": tied_params,
    "grad": tied_grad,
    "grad_first_use": untied_grad["layers_2"]["kernel"],
    "grad_second_use": untied_grad["layers_4"]["kernel"],
    "grad_equals_sum_of_copies": equal,
    "max_abs_diff": diff,
}

# %% [markdown]
# ## Against the book
#
# The run writes `results/parameters/` (or `--out`): `metrics.json`, `"output_shape"`: [2, 1];
# `"layers_2"`: `{"kernel_shape": [8, 1], "bias_shape": [1], "bias"}`; `"table"`: `[[key path,
# shape], ...]` of the net; `"layers_0_table"`; `"num_params"`: 49; `"grad_table_equals_table"`:
# bool; `"bias_by_path_equal"`: bool; `"rgnet"`: `{"output_shape", "num_params", "table",
# "nested_bias_shape"}`; `"init"`: `{"normal": {"kernel_std", "biases_zero", "weight0"},
# "constant": {"weight0", "bias0"}, "xavier_42": {"weight0", "xavier_bound", "xavier_max_abs",
# "layers_2_kernel"}}` (`weight0`: the book's `net[0].weight[0]`, `kernel[:, 0]`); `"my_init"`:
# `{"kernel_shapes", "weight_rows": the book's `net[0].weight[:2]`, "zero_or_at_least_5": bool,
# "fraction_zero"}`; `"set"`: `{"weight0_before", "weight0_after", "original_unchanged": bool}`;
# `"tied"`: `{"num_params": 121, "untied_num_params": 193, "table", "x", "params", "grad":
# jax.grad of the sum of the outputs, "grad_first_use", "grad_second_use": the two copies'
# gradients of the shared kernel, "grad_equals_sum_of_copies": bool, "max_abs_diff"}`.

# %%
harness.compare_with_book("parameters", metrics, out)
metrics = harness.finish(out, metrics, {})

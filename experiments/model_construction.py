# %% [markdown]
# # Layers and blocks (the book's 5.1)
#
# The book builds its MLP 20-256-10 as an `nn.Sequential`, then as a class of its own (`MLP`),
# writes `MySequential` to show what `Sequential` does, runs Python code in a forward pass
# (`FixedHiddenMLP`: a constant random weight, one layer used twice, a while loop) and nests
# blocks inside blocks (`NestMLP`, the "chimera"). In PyTorch a block is an object that holds
# its parameters. In JAX a model is two pure functions, `init(key, x) -> params` and
# `apply(params, x) -> output`, and the parameters are a pytree (nested dicts and lists of
# arrays) passed in explicitly; flax's `linen` modules are a way of writing those two
# functions as a class, with `module.init` and `module.apply`.
#
# What to look at: the same MLP written four ways (composed functions, `nn.Sequential`, a
# module class, a hand-written sequential block), each with output [2, 10] and 20·256 + 256 +
# 256·10 + 10 = 7946 parameters, and the same output for the same parameters;
# `FixedHiddenMLP` under `jax.jit` with `jax.lax.while_loop`, its constant weight kept out of
# the parameters, and why its loop counts halvings instead of halving (reverse-mode
# differentiation does not go through a `while_loop`); the parameter counts of the nested
# blocks.

# %%
from collections.abc import Callable
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.params import num_params, param_table

import harness

# %% [markdown]
# ## Configuration
#
# Nothing to set: the section runs the book's examples. On the command line, `python
# experiments/model_construction.py --help` lists the flags every section has (`--seed`, `--out`,
# `--quick`).

# %%
BOOK = dict()
config, out = harness.start("model_construction", BOOK)
keys = jax.random.split(jax.random.key(config.seed), 7)
key_x, key_pure, key_seq, key_class, key_mine, key_fixed, key_chimera = keys
X = jax.random.uniform(key_x, (2, 20))
metrics = {"x_shape": list(X.shape), "mlp": {}}


def record(name: str, output, params) -> dict:
    """Prints and returns a model's output shape, parameter count and parameter table."""
    table = param_table(params)
    print(f"{name}: output {output.shape}, {num_params(params)} parameters")
    for path, shape in table:
        print(f"  {path}: {shape}")
    return {"output_shape": list(output.shape), "num_params": num_params(params), "table": table}


# %% [markdown]
# ## (a) The MLP as composed pure functions
#
# A fully connected layer is `x @ W + b` with W [in, out] (PyTorch stores the transpose,
# [out, in], and computes `x @ W.T + b`). `mlp_init` draws the parameters as PyTorch's
# `nn.Linear` does by default, uniform in ±1/√n_in; `mlp_apply` is the forward pass. Nothing
# is stored anywhere but in the returned pytree.


# %%
def linear_init(key, in_features: int, out_features: int) -> dict:
    """PyTorch's default ``nn.Linear`` initialization: W [in, out] and b [out] uniform in
    ±1/√in."""
    key_w, key_b = jax.random.split(key)
    bound = 1 / jnp.sqrt(in_features)
    return {
        "W": jax.random.uniform(key_w, (in_features, out_features), minval=-bound, maxval=bound),
        "b": jax.random.uniform(key_b, (out_features,), minval=-bound, maxval=bound),
    }


def linear_apply(params, x):
    """``x [batch, in] @ W + b`` -> [batch, out]."""
    return x @ params["W"] + params["b"][None, :]


def mlp_init(key, x) -> dict:
    """The book's MLP 20-256-10: the input width is read from the example input ``x``."""
    key_hidden, key_out = jax.random.split(key)
    return {
        "hidden": linear_init(key_hidden, x.shape[-1], 256),
        "out": linear_init(key_out, 256, 10),
    }


def mlp_apply(params, x):
    """relu(x W₁ + b₁) W₂ + b₂: [batch, 20] -> [batch, 10]."""
    return linear_apply(params["out"], jax.nn.relu(linear_apply(params["hidden"], x)))


print("== (a) composed pure functions")
pure_params = mlp_init(key_pure, X)
metrics["mlp"]["pure"] = record("mlp_apply", mlp_apply(pure_params, X), pure_params)

# %% [markdown]
# ## (b) `nn.Sequential` and (c) a module class
#
# `nn.Sequential` chains layers as the book's does; `nn.Dense(256)` says only its output
# width, and `init` reads the input width from X. The book's `MLP` class becomes a flax module
# whose `setup` names its layers (the book's `__init__`) and whose `__call__` is the book's
# `forward`. A module holds no parameters: `init` returns them and `apply` takes them.


# %%
class MLP(nn.Module):
    """The book's ``MLP`` block: a hidden layer of 256 ReLU units, an output layer of 10."""

    def setup(self):
        self.hidden = nn.Dense(256)
        self.out = nn.Dense(10)

    def __call__(self, x):
        return self.out(nn.relu(self.hidden(x)))


print("\n== (b) nn.Sequential")
sequential = nn.Sequential([nn.Dense(256), nn.relu, nn.Dense(10)])
seq_params = sequential.init(key_seq, X)["params"]
seq_output = sequential.apply({"params": seq_params}, X)
metrics["mlp"]["sequential"] = record("nn.Sequential", seq_output, seq_params)
harness.print_value("its output", seq_output)

print("\n== (c) the MLP class")
mlp_module = MLP()
class_params = mlp_module.init(key_class, X)["params"]
class_output = mlp_module.apply({"params": class_params}, X)
metrics["mlp"]["mlp_class"] = record("MLP()", class_output, class_params)

# %% [markdown]
# ## (d) A sequential block by hand
#
# The book's `MySequential` keeps its blocks in order and applies them one after the other.
# Here a layer is a pair of pure functions, and the block is a pair too: its `init` runs the
# example input through the layers, so that each reads the width of its input (the deferred
# initialization of 5.3), and its parameters are a list with one entry per layer (ReLU's is
# empty), the paths `0/W`, `2/W` of PyTorch's `0.weight`, `2.weight`.


# %%
class Layer(NamedTuple):
    """A layer or block as two pure functions: ``init(key, x) -> params`` (``x`` an example
    input) and ``apply(params, x) -> output``."""

    init: Callable
    apply: Callable


def linear(units: int) -> Layer:
    """A fully connected layer of ``units`` outputs; its input width comes from ``init``'s x."""
    return Layer(lambda key, x: linear_init(key, x.shape[-1], units), linear_apply)


relu = Layer(lambda key, x: {}, lambda params, x: jax.nn.relu(x))


def my_sequential(*layers: Layer) -> Layer:
    """The book's ``MySequential``: the layers applied in order; params a list, one per layer."""

    def init(key, x):
        params = []
        for layer, layer_key in zip(layers, jax.random.split(key, len(layers)), strict=True):
            params.append(layer.init(layer_key, x))
            x = layer.apply(params[-1], x)
        return params

    def apply(params, x):
        for layer, layer_params in zip(layers, params, strict=True):
            x = layer.apply(layer_params, x)
        return x

    return Layer(init, apply)


print("\n== (d) MySequential")
my_net = my_sequential(linear(256), relu, linear(10))
my_params = my_net.init(key_mine, X)
metrics["mlp"]["my_sequential"] = record("my_sequential", my_net.apply(my_params, X), my_params)

# %% [markdown]
# The four are one function. Put the parameters of (b) into the layout of each of the
# others (flax's `kernel` is the `W` of the pure functions) and each computes the same output.

# %%
dense0, dense2 = seq_params["layers_0"], seq_params["layers_2"]
as_pure = {
    "hidden": {"W": dense0["kernel"], "b": dense0["bias"]},
    "out": {"W": dense2["kernel"], "b": dense2["bias"]},
}
outputs = {
    "pure": mlp_apply(as_pure, X),
    "mlp_class": mlp_module.apply({"params": {"hidden": dense0, "out": dense2}}, X),
    "my_sequential": my_net.apply([as_pure["hidden"], {}, as_pure["out"]], X),
}
diff = max(float(jnp.max(jnp.abs(o - seq_output))) for o in outputs.values())
print(f"same parameters, max |output - Sequential's| over the other three: {diff:.1e}")
metrics["same_function_max_abs_diff"] = diff

# %% [markdown]
# ## (e) Code in the forward pass: `FixedHiddenMLP`
#
# The book's block multiplies by a random weight that is not a parameter, uses one linear
# layer twice (its parameters serve both calls), and halves X while ‖X‖₁ > 1. In flax the
# constant weight lives in a collection of its own, `constants`, drawn at `init`: gradients
# and optimizers see `params` only, so it is never trained (no `requires_grad=False` needed).
# Under `jax.jit` a Python `while` on a traced value cannot run; `jax.lax.while_loop` can.
# But reverse-mode `jax.grad` does not go through a `while_loop` (its number of steps is not
# known when the backward pass is built), so the module counts the halvings h with the loop,
# on a `stop_gradient`-ed norm, and divides by 2^h: the same number (halving is exact in
# floating point), with a gradient.


# %%
def halvings(x):
    """How often the book's loop halves ``x``: the smallest h >= 0 with ‖x / 2^h‖₁ <= 1."""
    l1 = jax.lax.stop_gradient(jnp.abs(x).sum())
    return jax.lax.while_loop(lambda h: l1 / 2.0**h > 1, lambda h: h + 1, 0)


class FixedHiddenMLP(nn.Module):
    """The book's ``FixedHiddenMLP``: x [batch, 20] -> a scalar."""

    @nn.compact
    def __call__(self, x):
        rand_weight = self.variable(
            "constants",
            "rand_weight",
            lambda: jax.random.uniform(self.make_rng("params"), (20, 20)),
        ).value
        linear = nn.Dense(20, name="linear")
        x = linear(x)
        x = nn.relu(x @ rand_weight + 1)
        x = linear(x)  # the same layer again: one set of parameters for both calls
        self.sow("intermediates", "before_loop", x)
        h = halvings(x)
        self.sow("intermediates", "halvings", h)
        return jnp.sum(x / 2.0**h)


def book_loop(x):
    """The book's loop, literally: halve while ‖x‖₁ > 1, then sum."""
    return jax.lax.while_loop(lambda x: jnp.abs(x).sum() > 1, lambda x: x / 2, x).sum()


def python_loop(x):
    """The book's loop as a Python ``while`` on concrete values (no jit)."""
    while jnp.abs(x).sum() > 1:
        x = x / 2
    return x.sum()


print("\n== (e) FixedHiddenMLP")
fixed = FixedHiddenMLP()
fixed_vars = fixed.init(key_fixed, X)
forward = jax.jit(lambda v, x: fixed.apply(v, x, mutable=["intermediates"]))
fixed_out, inter = forward(fixed_vars, X)
fixed_eager = fixed.apply(fixed_vars, X)
before = inter["intermediates"]["before_loop"][0]
h = int(inter["intermediates"]["halvings"][0])
harness.print_value("jax.jit(FixedHiddenMLP().apply)(variables, X)", fixed_out)
print(f"before the loop: sum {float(before.sum()):.4f}, ‖X‖₁ {float(jnp.abs(before).sum()):.4f}")
print(f"halvings: {h}")
loop_jit = jax.jit(book_loop)(before)
loop_python = python_loop(before)
values = jnp.stack([fixed_out, fixed_eager, loop_jit, loop_python])
agree = bool(jnp.allclose(values, loop_python, rtol=1e-5, atol=1e-7))
print(f"the module (jit and eager), the book's loop under jit and as a Python loop agree: {agree}")
print(f"  (max difference {float(jnp.max(jnp.abs(values - loop_python))):.1e}: XLA may sum in")
print("  another order under jit; halving itself is exact)")
try:
    jax.grad(book_loop)(before)
    grad_error = ""
except ValueError as error:
    grad_error = str(error).splitlines()[0]
print(f"jax.grad(book_loop): ValueError: {grad_error}")
grads = jax.grad(lambda p: forward({**fixed_vars, "params": p}, X)[0])(fixed_vars["params"])
grad_finite = all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
print("jax.grad of the module with respect to its params is finite:", grad_finite)
print(f"params: {num_params(fixed_vars['params'])}, constants (not trained): ", end="")
print(num_params(fixed_vars["constants"]))
metrics["fixed_hidden"] = {
    "output": fixed_out,
    "output_eager": fixed_eager,
    "before_loop_sum": before.sum(),
    "before_loop_l1": jnp.abs(before).sum(),
    "halvings": h,
    "book_loop_jit": loop_jit,
    "python_loop": loop_python,
    "loops_agree": agree,
    "grad_through_while_loop_error": grad_error,
    "grad_finite": grad_finite,
    "grad_table": param_table(grads),
    "num_params": num_params(fixed_vars["params"]),
    "num_constants": num_params(fixed_vars["constants"]),
}

# %% [markdown]
# ## (f) Blocks inside blocks
#
# The book's `NestMLP` holds a `Sequential` and a layer; the chimera chains a `NestMLP`, a
# layer and a `FixedHiddenMLP`. Their parameters nest as the modules do; the key paths show
# the structure, and the counts are the sums of the layers' in·out + out.


# %%
class NestMLP(nn.Module):
    """The book's ``NestMLP``: Dense(64), ReLU, Dense(32), ReLU, then Dense(16)."""

    def setup(self):
        self.net = nn.Sequential([nn.Dense(64), nn.relu, nn.Dense(32), nn.relu])
        self.linear = nn.Dense(16)

    def __call__(self, x):
        return self.linear(self.net(x))


print("\n== (f) NestMLP and the chimera")
key_nest, key_chim = jax.random.split(key_chimera)
nest = NestMLP()
nest_params = nest.init(key_nest, X)["params"]
metrics["nest_mlp"] = record("NestMLP()", nest.apply({"params": nest_params}, X), nest_params)
chimera = nn.Sequential([NestMLP(), nn.Dense(20), FixedHiddenMLP()])
chimera_vars = chimera.init(key_chim, X)
chimera_out = jax.jit(chimera.apply)(chimera_vars, X)
metrics["chimera"] = record("chimera", chimera_out, chimera_vars["params"])
harness.print_value("chimera(X)", chimera_out)
metrics["chimera"].update(output=chimera_out, num_constants=num_params(chimera_vars["constants"]))

# %% [markdown]
# ## Against the book
#
# The run writes `results/model_construction/` (or `--out`): `metrics.json`, `"x_shape"`: [2, 20];
# `"mlp"`: `{"pure"|"sequential"|"mlp_class"|"my_sequential": {"output_shape": [2, 10],
# "num_params": 7946, "table": [[key path, shape], ...] (jaxdl.params.param_table)}}`;
# `"same_function_max_abs_diff"`: max |output − Sequential's output| over the other three, given
# the same parameters; `"fixed_hidden"`: `{"output": the module's output under jax.jit,
# "output_eager": without jit, "before_loop_sum", "before_loop_l1": sum and ‖·‖₁ of X before the
# loop, "halvings": h, "book_loop_jit": the book's loop as jax.lax.while_loop under jit,
# "python_loop": as a Python while loop, "loops_agree": bool (the four within rtol 1e-5: jit may
# sum in another order), "grad_through_while_loop_error": the first line of jax.grad's error on
# the book's loop, "grad_finite": bool (jax.grad of the module), "grad_table", "num_params": 420,
# "num_constants": 400}`; `"nest_mlp"`: `{"output_shape": [2, 16], "num_params", "table"}`;
# `"chimera"`: `{"output", "output_shape": [], "num_params", "num_constants", "table"}`.

# %%
harness.compare_with_book("model_construction", metrics, out)
metrics = harness.finish(out, metrics, {})

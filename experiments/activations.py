# %% [markdown]
# # Activation functions (the book's 4.1)
#
# A hidden layer needs a nonlinearity, or the network collapses to one affine map. The book
# plots the three classic ones, ReLU, sigmoid and tanh, over x in [−8, 8) and their derivatives,
# obtained by autograd (`y.backward(torch.ones_like(x))`). Here each activation is a
# from-scratch function of the library, its derivative `jax.vmap(jax.grad(f))` over the same
# 160 points, and each is checked against `jax.nn`'s version.
#
# What to look at: ReLU's derivative is a step, 0 for x ≤ 0 (the book's convention at 0) and 1
# for x > 0; the sigmoid's and tanh's derivatives are bells that peak at x = 0, at 0.25 and 1,
# and vanish for large |x|, where these units stop passing gradients back.

# %%
import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.activations import relu, sigmoid, tanh
from jaxdl.plotting import plot

import harness

START, STOP, STEP = -8.0, 8.0, 0.1
ACTIVATIONS = {
    "relu": (relu, jax.nn.relu),
    "sigmoid": (sigmoid, jax.nn.sigmoid),
    "tanh": (tanh, jax.nn.tanh),
}

# %% [markdown]
# ## Configuration
#
# Nothing to set: the section runs the book's examples. On the command line, `python
# experiments/activations.py --help` lists the flags every section has (`--seed`, `--out`,
# `--quick`).

# %%
BOOK = dict()
config, out = harness.start("activations", BOOK)

# %% [markdown]
# ## Values and derivatives
#
# The book's grid, `arange(-8.0, 8.0, 0.1)`. For each activation `f`, `check` computes `f(x)`
# and `f'(x)` (`jax.grad` of the scalar function, mapped over x with `jax.vmap`), the same for
# `jax.nn`'s `f`, and the figures recorded in metrics.json; `analyse` adds the two plots, the
# function and its derivative.


# %%
def derivative(f):
    """The elementwise derivative of a scalar function ``f``: ``jax.vmap(jax.grad(f))``."""
    return jax.vmap(jax.grad(f))


def check(name: str, x: jax.Array) -> dict:
    """Values and derivatives of one activation over ``x [n]``, compared with jax.nn's."""
    ours, reference = ACTIVATIONS[name]
    y, dy = ours(x), derivative(ours)(x)
    y_ref, dy_ref = reference(x), derivative(reference)(x)
    zero = jnp.zeros(())
    i = int(jnp.argmax(dy))
    return {
        "max_abs_diff_value": float(jnp.max(jnp.abs(y - y_ref))),
        "max_abs_diff_grad": float(jnp.max(jnp.abs(dy - dy_ref))),
        "value_at_0": float(ours(zero)),
        "grad_at_0": float(jax.grad(ours)(zero)),
        "grad_max": float(dy[i]),
        "grad_argmax_x": float(x[i]),
        "grad_at_-8": float(dy[0]),
        "grad_at_7.9": float(dy[-1]),
    }, (y, dy)


def analyse(name: str) -> None:
    """Checks one activation (``metrics[name]``) and plots it and its derivative."""
    metrics[name], (y, dy) = check(name, x)
    figures[f"{name}.png"] = plot(x, y, "x", f"{name}(x)", figsize=(5, 2.5))
    figures[f"{name}_grad.png"] = plot(x, dy, "x", f"grad of {name}", figsize=(5, 2.5))
    harness.show(figures[f"{name}.png"])
    harness.show(figures[f"{name}_grad.png"])


x = jnp.arange(START, STOP, STEP)
figures = {}
metrics = {"x": {"start": START, "stop": STOP, "step": STEP, "num_points": int(x.shape[0])}}

# %% [markdown]
# ## ReLU
#
# `max(x, 0)`, written `where(x > 0, x, 0)`: the gradient flows only through the positive side,
# so at the kink x = 0 the derivative is 0, as in the book (PyTorch's convention, and
# `jax.nn.relu`'s).

# %%
harness.show_source(relu)
analyse("relu")

# %% [markdown]
# ## Sigmoid
#
# `1 / (1 + exp(−x))`, squashing any input into (0, 1). The book's formula overflows `exp(−x)`
# for x < −88 in float32 (the value still rounds to 0, the gradient becomes NaN); the
# library's computes `exp(−|x|)`, which stays in (0, 1]. Its derivative `s(x)(1 − s(x))` is at
# most 0.25, at x = 0.

# %%
harness.show_source(sigmoid)
analyse("sigmoid")

# %% [markdown]
# ## Tanh
#
# `(1 − exp(−2x)) / (1 + exp(−2x))`, squashing into (−1, 1) and odd, so computed on |x| and
# given x's sign. Its derivative `1 − tanh(x)²` peaks at 1, at x = 0: four times the sigmoid's.

# %%
harness.show_source(tanh)
analyse("tanh")

# %% [markdown]
# ## Checked against `jax.nn`
#
# The largest differences from `jax.nn`'s values and derivatives over the grid, and each
# derivative at 0 and at its largest.

# %%
print(f"x = arange({START}, {STOP}, {STEP}): {metrics['x']['num_points']} points")
header = "max|f - jax.nn.f|  max|f' - jax.nn.f'|  f(0)    f'(0)   max f' (at x)"
print(f"{'':8s}{header}")
for name in ACTIVATIONS:
    m = metrics[name]
    print(
        f"{name:8s}{m['max_abs_diff_value']:<19.3g}{m['max_abs_diff_grad']:<21.3g}"
        f"{m['value_at_0']:<8.4g}{m['grad_at_0']:<8.4g}{m['grad_max']:.4g} "
        f"(x = {m['grad_argmax_x']:.3g})"
    )
print(
    "ReLU'(0) = 0 (book's convention): "
    f"{np.isclose(metrics['relu']['grad_at_0'], 0.0)}; sigmoid'(0) = 0.25: "
    f"{np.isclose(metrics['sigmoid']['grad_at_0'], 0.25)}; tanh'(0) = 1: "
    f"{np.isclose(metrics['tanh']['grad_at_0'], 1.0)}"
)

# %% [markdown]
# ## Against the book
#
# The run writes `results/activations/` (or `--out`): `metrics.json`, `"x"`: `{"start": -8.0,
# "stop": 8.0, "step": 0.1, "num_points": 160}`; `"relu"|"sigmoid"|"tanh"`:
# `{"max_abs_diff_value"`: max |f(x) - jax.nn.f(x)| over x, `"max_abs_diff_grad"`: max |f'(x) -
# jax.nn.f'(x)| over x (both via vmap(grad)), `"value_at_0"`, `"grad_at_0"`: f(0) and f'(0),
# `"grad_max"`: the largest f'(x) over x, `"grad_argmax_x"`: the x where it is reached (first
# one), `"grad_at_-8"`: f'(-8), `"grad_at_7.9"`: f'(7.9) (the ends of the grid)}`. Figures:
# `relu.png`, `relu_grad.png`, `sigmoid.png`, `sigmoid_grad.png`, `tanh.png`, `tanh_grad.png`
# (each as the book: the function, or its gradient, against x).

# %%
harness.compare_with_book("activations", metrics, out)
metrics = harness.finish(out, metrics, figures)

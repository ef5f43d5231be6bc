# %% [markdown]
# # Calculus (the book's 2.4)
#
# The book defines the derivative as the limit of the difference quotient
# (f(x + h) − f(x)) / h and watches it approach f'(1) = 2 for f(x) = 3x² − 4x as h shrinks;
# it then plots f with its tangent line at x = 1 (with the plotting utility `plot` used
# throughout the book), and extends derivatives to functions of several variables: partial
# derivatives, the gradient and the rules for the gradients of xᵀAx and ‖x‖². Here the
# derivatives also come from `jax.grad`, which the later sections train with, and every
# gradient is checked against a numerical one and against its closed form.
#
# What to look at: the table of difference quotients (the book's digits in float64, and how
# float32 loses them as h shrinks), the tangent-line figure, and the relative differences
# between `jax.grad` and the other two gradients (below 1e-7: float32 rounding).

# %%
import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.calculus import numerical_grad, numerical_lim
from jaxdl.plotting import plot

import harness

X0 = 1.0
NUM_STEPS = 5

# %% [markdown]
# ## Configuration
#
# Nothing to set: the section runs the book's examples. On the command line, `python
# experiments/calculus.py --help` lists the flags every section has (`--seed`, `--out`,
# `--quick`).

# %%
BOOK = dict()
config, out = harness.start("calculus", BOOK)

# %% [markdown]
# ## Derivatives and differentiation
#
# The book's `numerical_lim(f, x, h)` is the difference quotient. With Python floats (float64)
# the five quotients are the book's: 2 + 3h, the exact value for this quadratic, up to
# rounding. In float32 rounding takes over as h shrinks: at h = 1e-5 the quotient is off by
# about 3e-3, because f(1 + h) − f(1) cancels most of the digits of f.

# %%
harness.show_source(numerical_lim)


# %%
def f(x):
    """The book's f(x) = 3x² − 4x; works on Python floats and arrays alike."""
    return 3 * x**2 - 4 * x


steps, limits, limits32 = [], [], []
h = 0.1
for _ in range(NUM_STEPS):
    limit = numerical_lim(f, X0, h)
    print(f"h={h:.5f}, numerical limit={limit:.5f}")
    steps.append(h)
    limits.append(limit)
    limits32.append(float(numerical_lim(f, jnp.float32(X0), jnp.float32(h))))
    h *= 0.1
print("the same in float32:", ", ".join(f"{v:.5f}" for v in limits32))

# %% [markdown]
# ## The tangent line
#
# `jax.grad(f)` is the derivative f' as a function; at x = 1 it gives 2 exactly. The tangent
# line at x = 1 goes through (1, f(1)) = (1, −1) with slope 2: y = 2x − 3. The figure plots f
# and the tangent over x in [0, 3), as the book's, with `plot`, the book's `d2l.plot`.

# %%
harness.show_source(plot)

# %%
slope = float(jax.grad(f)(X0))
intercept = float(f(X0)) - slope * X0
sign = "-" if intercept < 0 else "+"
print(
    f"jax.grad(f)({X0:g}) = {slope:g}; tangent line at x = {X0:g}: "
    f"y = {slope:g}x {sign} {abs(intercept):g}"
)
x = np.arange(0, 3, 0.1)
fig = plot(
    x,
    [f(x), slope * x + intercept],
    "x",
    "f(x)",
    legend=["f(x)", f"Tangent line (x={X0:g})"],
)
harness.show(fig)

# %% [markdown]
# ## Partial derivatives and gradients
#
# The gradient ∇ₓf collects the partial derivatives of f with respect to each entry of x.
# `numerical_grad` approximates each by a central difference, (f(x + heᵢ) − f(x − heᵢ)) / 2h,
# here in float64. `compare` checks `jax.grad` against it and against the closed form of the
# book's rules, for three functions: the book's exercise 3x₁² + 5e^{x₂} (gradient
# [6x₁, 5e^{x₂}]), xᵀAx (gradient (A + Aᵀ)x) and ‖x‖² (gradient 2x), the last two at a
# random x for a random A [4, 4].

# %%
harness.show_source(numerical_grad)


# %%
def exercise(x):
    """The book's exercise: f(x) = 3x₁² + 5 exp(x₂), for x [2]."""
    return 3 * x[0] ** 2 + 5 * jnp.exp(x[1])


def compare(fn, x, closed_form) -> dict:
    """``jax.grad(fn)(x)`` (float32) against the numerical gradient (float64) and a closed form."""
    autodiff = np.asarray(jax.grad(fn)(jnp.asarray(x, jnp.float32)), np.float64)
    with jax.enable_x64(True):
        numerical = np.asarray(numerical_grad(fn, jnp.asarray(x, jnp.float64), h=1e-4))
    closed = np.asarray(closed_form, np.float64)
    scale = np.max(np.abs(closed))
    return {
        "x": np.asarray(x, np.float64),
        "autodiff": autodiff,
        "numerical": numerical,
        "closed_form": closed,
        "max_rel_diff_numerical": float(np.max(np.abs(autodiff - numerical)) / scale),
        "max_rel_diff_closed_form": float(np.max(np.abs(autodiff - closed)) / scale),
    }


key_a, key_x = jax.random.split(jax.random.key(config.seed))
A = np.asarray(jax.random.normal(key_a, (4, 4)), np.float64)
v = np.asarray(jax.random.normal(key_x, (4,)), np.float64)
x_ex = np.array([1.0, 2.0])
gradients = {
    "exercise": compare(exercise, x_ex, [6 * x_ex[0], 5 * np.exp(x_ex[1])]),
    "quadratic_form": compare(lambda x: x @ jnp.asarray(A, x.dtype) @ x, v, (A + A.T) @ v),
    "squared_norm": compare(lambda x: jnp.sum(x * x), v, 2 * v),
}
print("gradient    jax.grad vs numerical (rel.)  jax.grad vs closed form (rel.)")
for name, g in gradients.items():
    print(f"{name:15s} {g['max_rel_diff_numerical']:<29.2e} {g['max_rel_diff_closed_form']:.2e}")
g = gradients["exercise"]
print(f"∇(3x₁² + 5e^x₂) at x = [1, 2]: jax.grad {g['autodiff']}, closed form {g['closed_form']}")

metrics = {
    "x": X0,
    "h": steps,
    "limits": limits,
    "limits_float32": limits32,
    "derivative": slope,
    "tangent": {"slope": slope, "intercept": intercept},
    "gradients": gradients,
}

# %% [markdown]
# ## Against the book
#
# The run writes `results/calculus/` (or `--out`): `metrics.json`, `"x"`: 1.0, the point; `"h"`:
# the five steps; `"limits"`: the five difference quotients in float64 (book: 2.30000, 2.03000,
# 2.00300, 2.00030, 2.00003); `"limits_float32"`: the same computed in float32; `"derivative"`:
# `jax.grad(f)(1.0)` (2.0); `"tangent"`: `{"slope": 2.0, "intercept": -3.0}` from f(1) and
# `jax.grad`; `"gradients"`: for each of `"exercise"` (3x₁² + 5e^{x₂} at x = [1, 2]),
# `"quadratic_form"` (xᵀAx, A [4, 4] and x [4] drawn from `--seed`) and `"squared_norm"` (‖x‖² at
# the same x): `{"x", "autodiff", "numerical", "closed_form", "max_rel_diff_numerical",
# "max_rel_diff_closed_form"}` (relative to max |closed form|). Figure: `calculus.png`: f(x) and
# its tangent line at x = 1 over x in [0, 3).

# %%
harness.compare_with_book("calculus", metrics, out)
metrics = harness.finish(out, metrics, {"calculus.png": fig})

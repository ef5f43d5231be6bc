# %% [markdown]
# # Automatic differentiation (the book's 2.5)
#
# The book lets the framework compute gradients: it marks x as requiring a gradient, builds
# y = 2xᵀx, calls `y.backward()` and reads `x.grad`, which is 4x. It then shows what
# `backward` does for a non-scalar y (sum it first), how `detach` cuts a value out of the
# graph, and that gradients flow through Python control flow. In JAX there is no graph
# attached to arrays: `jax.grad(f)` transforms a function f into the function that computes
# its gradient, so each of the book's steps becomes a function and a transformation of it
# (`jax.grad`, `jax.vjp`, `jax.lax.stop_gradient`).
#
# What to look at: y = 28 and its gradient [0, 4, 8, 12] as in the book; the detached
# gradient equal to u = x²; and f'(a) = f(a)/a for the control-flow function. The last cell
# goes beyond the book: one gradient per example with `jax.vmap`.

# %%
import jax
import jax.numpy as jnp
import numpy as np

import harness

BATCH, FEATURES = 8, 3


# %% [markdown]
# ## Configuration
#
# Nothing to set: the section runs the book's examples. On the command line, `python
# experiments/autograd.py --help` lists the flags every section has (`--seed`, `--out`,
# `--quick`).

# %%
BOOK = dict()
config, out = harness.start("autograd", BOOK)
key_a, key_w, key_x, key_y = jax.random.split(jax.random.key(config.seed), 4)
metrics = {}

# %% [markdown]
# ## A simple function
#
# For x = [0, 1, 2, 3], y = 2xᵀx = 28. The book's `x.requires_grad_(True)`, `y.backward()`,
# `x.grad` is one call here: `jax.grad` of the function x ↦ 2xᵀx, evaluated at x. The
# gradient is 4x. Gradients do not accumulate as in PyTorch (no `x.grad.zero_()` needed): the
# gradient of sum(x) is computed afresh, all ones.

# %%
print("== A simple function")
x = jnp.arange(4.0)
harness.print_value("x", x)
y = 2 * jnp.dot(x, x)
harness.print_value("y = 2 * jnp.dot(x, x)", y)
grad = jax.grad(lambda x: 2 * jnp.dot(x, x))(x)
harness.print_value("jax.grad(lambda x: 2 * jnp.dot(x, x))(x)", grad)
harness.print_value("grad == 4 * x", grad == 4 * x)
grad_sum = jax.grad(jnp.sum)(x)
harness.print_value("jax.grad(jnp.sum)(x)", grad_sum)
metrics.update(
    x=x,
    y=y,
    grad=grad,
    grad_equals_4x=bool(jnp.array_equal(grad, 4 * x)),
    grad_of_sum=grad_sum,
)

# %% [markdown]
# ## Backward for non-scalar variables
#
# `jax.grad` needs a function with a scalar output. For y = x * x the book sums y first
# (`y.sum().backward()`), which gives 2x. The same vector-Jacobian product comes from
# `jax.vjp`, which returns y and a function that multiplies a cotangent vector by the
# Jacobian: with a vector of ones it is the gradient of the sum, the book's
# `y.backward(gradient=torch.ones(len(y)))`.

# %%
print("\n== Backward for non-scalar variables")
grad_sq = jax.grad(lambda x: jnp.sum(x * x))(x)
harness.print_value("jax.grad(lambda x: jnp.sum(x * x))(x)", grad_sq)
y, vjp = jax.vjp(lambda x: x * x, x)
(vjp_ones,) = vjp(jnp.ones_like(y))
harness.print_value("jax.vjp(lambda x: x * x, x)[1](jnp.ones(4))", vjp_ones)
metrics.update(
    grad_of_sum_of_squares=grad_sq,
    vjp_ones=vjp_ones,
    vjp_equals_2x=bool(jnp.array_equal(vjp_ones, 2 * x)),
)

# %% [markdown]
# ## Detaching computation
#
# The book's `u = y.detach()` treats u as a constant: for z = u * x the gradient of sum(z) is
# u, not the 3x² of sum(x * x * x). In JAX, `jax.lax.stop_gradient` does the same inside the
# function being differentiated.

# %%
print("\n== Detaching computation")


def z_sum(x):
    u = jax.lax.stop_gradient(x * x)
    return jnp.sum(u * x)


u = x * x
grad_z = jax.grad(z_sum)(x)
harness.print_value("u = stop_gradient(x * x); jax.grad(sum(u * x)) == u", grad_z == u)
grad_full = jax.grad(lambda x: jnp.sum(x * x * x))(x)
harness.print_value("without stop_gradient: jax.grad(sum(x * x * x)) = 3x²", grad_full)
metrics["detach"] = {
    "u": u,
    "grad": grad_z,
    "grad_equals_u": bool(jnp.array_equal(grad_z, u)),
    "grad_without_stop": grad_full,
}

# %% [markdown]
# ## Gradients and Python control flow
#
# The book's f(a) doubles b = 2a until its norm reaches 1000, then returns b, or 100b when b
# is negative. How many doublings depends on a, but for a given a the result is a constant
# times a, so f'(a) = f(a) / a. `jax.grad` traces the function at the given value, so the
# Python `while` and `if` on values work as in PyTorch (under `jax.jit` they would not).


# %%
def control_flow(a):
    """The book's ``f(a)``, Python ``while`` and ``if`` on values; returns ``(c, doublings)``."""
    b = a * 2
    doublings = 0
    while jnp.linalg.norm(b) < 1000:
        b = b * 2
        doublings += 1
    c = b if b.sum() > 0 else 100 * b
    return c, doublings


print("\n== Gradients and Python control flow")
a = jax.random.normal(key_a, ())
f_a, doublings = control_flow(a)
d = jax.grad(lambda a: control_flow(a)[0])(a)
harness.print_value("a", a)
harness.print_value("jax.grad(f)(a)", d)
harness.print_value("f(a) / a", f_a / a)
close = bool(jnp.allclose(d, f_a / a, rtol=1e-6))
harness.print_value("jax.grad(f)(a) == f(a) / a", close)
metrics["control_flow"] = {
    "a": a,
    "f_a": f_a,
    "grad": d,
    "f_over_a": f_a / a,
    "grad_equals_f_over_a": close,
    "doublings": doublings,
}

# %% [markdown]
# ## Per-example gradients
#
# Beyond the book: PyTorch's `backward` gives the gradient of a loss summed or averaged over a
# batch, not one gradient per example. With transformations, `jax.vmap(jax.grad(loss))`
# maps the gradient of one example's loss over the batch. For the squared loss
# ½(xᵢᵀw − yᵢ)² of a linear model each gradient is (xᵢᵀw − yᵢ)xᵢ, and their mean is the
# gradient of the mean loss.


# %%
def squared_loss(w, x, y):
    """½ (xᵀw − y)² for one example: ``w [d]``, ``x [d]``, ``y []``."""
    return 0.5 * (jnp.dot(x, w) - y) ** 2


print("\n== Per-example gradients (jax.vmap(jax.grad(loss)))")
w = jax.random.normal(key_w, (FEATURES,))
xs = jax.random.normal(key_x, (BATCH, FEATURES))
ys = jax.random.normal(key_y, (BATCH,))
grads = jax.vmap(jax.grad(squared_loss), in_axes=(None, 0, 0))(w, xs, ys)
closed = (xs @ w - ys)[:, None] * xs
batch_grad = jax.grad(lambda w: jnp.mean(jax.vmap(squared_loss, (None, 0, 0))(w, xs, ys)))(w)
diff = float(jnp.max(jnp.abs(grads - closed)))
mean_ok = bool(jnp.allclose(grads.mean(axis=0), batch_grad, rtol=1e-5, atol=1e-6))
print(f"per-example gradients {grads.shape}: max |vmap(grad) - (xᵢᵀw − yᵢ)xᵢ| = {diff:.2e}")
print("their mean equals jax.grad of the mean loss:", mean_ok)
metrics["per_example"] = {
    "batch_size": BATCH,
    "num_features": FEATURES,
    "grads_shape": list(grads.shape),
    "max_abs_diff_closed_form": diff,
    "mean_equals_batch_grad": mean_ok,
}
print("mean of per-example gradients:", np.asarray(grads.mean(axis=0)))

# %% [markdown]
# ## Against the book
#
# The run writes `results/autograd/` (or `--out`): `metrics.json`, `"x"`: [0, 1, 2, 3]; `"y"`: 2
# xᵀx (28); `"grad"`: its gradient ([0, 4, 8, 12]); `"grad_equals_4x"`: bool; `"grad_of_sum"`:
# gradient of sum(x) ([1, 1, 1, 1]); `"grad_of_sum_of_squares"`: gradient of sum(x * x) ([0, 2, 4,
# 6]); `"vjp_ones"`: `jax.vjp` of x * x with a ones cotangent; `"vjp_equals_2x"`: bool;
# `"detach"`: `{"u": x * x, "grad": gradient of sum(stop_gradient(x * x) * x), "grad_equals_u":
# bool, "grad_without_stop": gradient of sum(x * x * x) (3x²)}`; `"control_flow"`: `{"a", "f_a",
# "grad", "f_over_a", "grad_equals_f_over_a": bool, "doublings": times the loop doubled b}`;
# `"per_example"`: `{"batch_size", "num_features", "grads_shape", "max_abs_diff_closed_form",
# "mean_equals_batch_grad": bool}`.

# %%
harness.compare_with_book("autograd", metrics, out)
metrics = harness.finish(out, metrics, {})

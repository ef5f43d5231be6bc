# %% [markdown]
# # Loss functions and a stable softmax (the book's 3.1 and 3.7)
#
# The book links the squared loss to Gaussian noise (3.1): minimising `½(y − ŷ)²` is maximising
# the likelihood `exp(−l)` of a Gaussian, and the absolute loss `|y − ŷ|` belongs in the same
# way to Laplace noise, `p(ε) = ½ exp(−|ε|)` (one of the section's exercises). Here the L2, L1
# and Huber losses are plotted over the residual x = y − y' in [−3, 3], with their likelihoods
# and their gradients, the gradients computed by `jax.vmap(jax.grad(...))` rather than by hand.
#
# What to look at: L2's gradient grows with the residual, so one outlier can dominate an update;
# L1's is ±1 everywhere (0 at the kink); Huber's follows L2 inside |x| ≤ 1 and L1 outside.
# Then the book's "softmax implementation revisited" (3.7): its unshifted softmax overflows to
# NaN in float32 on large logits, where a softmax that first subtracts the largest logit, and a
# cross-entropy computed by log-sum-exp, stay finite.

# %%
import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.activations import log_softmax, naive_softmax, softmax
from jaxdl.losses import cross_entropy, huber_loss, l1_loss, squared_loss
from jaxdl.plotting import new_figure, plot

import harness

POINTS = (-2.0, -0.5, 0.0, 0.5, 2.0)
HUBER_DELTA = 1.0
OVERFLOW_LOGITS = ([1e4, 0.0, -1e4], [100.0, 1000.0])
LOSSES = {
    "l2": squared_loss,
    "l1": l1_loss,
    "huber": lambda y_hat, y: huber_loss(y_hat, y, delta=HUBER_DELTA),
}
LABELS = {"l2": "L2: ½x²", "l1": "L1: |x|", "huber": f"Huber, δ = {HUBER_DELTA:g}"}

# %% [markdown]
# ## Configuration
#
# Nothing to set: the section runs the book's examples. On the command line, `python
# experiments/loss_functions.py --help` lists the flags every section has (`--seed`, `--out`,
# `--quick`).

# %%
BOOK = dict()
config, out = harness.start("loss_functions", BOOK)

# %% [markdown]
# ## The three losses
#
# Each takes predictions and targets `[batch, ...]` and returns one loss per example. The
# squared loss keeps the book's ½; the absolute loss is written `d · sign(d)` so that its
# derivative at 0 is 0, PyTorch's choice; the Huber loss is `½x²` for |x| ≤ δ and
# `δ(|x| − ½δ)` beyond, the two pieces meeting with equal value and slope.

# %%
harness.show_source(squared_loss, l1_loss, huber_loss)

# %% [markdown]
# ## Loss, likelihood and gradient over the residual
#
# `of_residual` turns a loss into a scalar function of x = y − y' (the loss of one example whose
# target is 0), so that `jax.grad` differentiates it and `jax.vmap` maps the derivative over
# the grid of 601 points in [−3, 3]. The likelihood panel is `exp(−l(x))`: unnormalised, the
# Gaussian's bell for L2 and the Laplace distribution's peak for L1.


# %%
def of_residual(loss):
    """The loss of one residual x = y - y' as a scalar function of x: ``f(x) -> l(x)``."""

    def f(x):
        return loss(jnp.reshape(x, (1,)), jnp.zeros((1,), jnp.result_type(x)))[0]

    return f


def curves(x: jax.Array) -> dict:
    """``{name: (loss, likelihood, gradient)}`` over the residuals ``x [n]``."""
    out = {}
    for name, loss in LOSSES.items():
        values = loss(x, jnp.zeros_like(x))
        gradient = jax.vmap(jax.grad(of_residual(loss)))(x)
        out[name] = (values, jnp.exp(-values), gradient)
    return out


x = jnp.linspace(-3.0, 3.0, 601)
data = curves(x)
fig, axes = new_figure((12.0, 3.2), ncols=3)
panels = ("loss", "likelihood exp(-loss)", "gradient")
for i, (ax, ylabel) in enumerate(zip(axes, panels, strict=True)):
    plot(
        x,
        [data[name][i] for name in LOSSES],
        "y - y'",
        ylabel,
        legend=[LABELS[name] for name in LOSSES],
        xlim=(-3, 3),
        axes=ax,
    )
    ax.set_title(ylabel)
harness.show(fig)

# %% [markdown]
# ## At a few residuals
#
# The same three curves at x = −2, −0.5, 0, 0.5, 2: the values recorded in metrics.json. At
# |x| = 2 the Huber loss is `2 − ½ = 1.5` and its gradient ±1, L1's; at |x| = 0.5 both are
# L2's, 0.125 and ±0.5.

# %%
points = jnp.asarray(POINTS)
sampled = curves(points)
metrics = {"points": list(POINTS), "huber_delta": HUBER_DELTA}
for i, key in enumerate(("loss", "likelihood", "gradient")):
    metrics[key] = {name: [float(v) for v in sampled[name][i]] for name in LOSSES}
print(f"residual x:         {'  '.join(f'{v:8.3f}' for v in POINTS)}")
for key in ("loss", "likelihood", "gradient"):
    for name in LOSSES:
        values = "  ".join(f"{v:8.4f}" for v in metrics[key][name])
        print(f"{key:10s} {name:6s}  {values}")

# %% [markdown]
# ## Softmax overflow
#
# The book's first softmax is `exp(X) / exp(X).sum(1)`. In float32 `exp` is inf above about
# 88.7, so on logits such as [100, 1000] it divides inf by inf and gives NaN, and `−log` of it
# is NaN or inf. `softmax` subtracts the row's largest logit first (softmax does not change
# under a shift), so the largest exponent is `exp(0) = 1`; `cross_entropy` goes through
# `log_softmax`, `s − log Σ exp(s)` with the shifted `s`, which never takes the log of an
# underflowed 0. For each logit vector below, the cross-entropy is printed for every possible
# label: `max − x_k` here, since the other terms underflow.

# %%
harness.show_source(naive_softmax, softmax, log_softmax, cross_entropy)


# %%
def overflow_demo(logits) -> dict:
    """Naive vs stable softmax, and cross-entropy, on one float32 logit vector."""
    z = jnp.asarray(logits, jnp.float32)[None, :]
    naive, stable = naive_softmax(z)[0], softmax(z)[0]
    labels = jnp.arange(z.shape[1])
    batch = jnp.broadcast_to(z, (z.shape[1], z.shape[1]))
    ce = cross_entropy(batch, labels)
    naive_ce = -jnp.log(naive)
    print(f"logits {list(logits)} (float32):")
    print(f"  naive_softmax  {np.asarray(naive)}   exp(logits) = {np.asarray(jnp.exp(z[0]))}")
    print(f"  softmax        {np.asarray(stable)}")
    print(f"  cross_entropy for labels {list(range(z.shape[1]))}: {np.asarray(ce)}")
    print(f"  -log(naive_softmax):        {np.asarray(naive_ce)}")
    return {
        "logits": [float(v) for v in logits],
        "naive_softmax_finite": bool(jnp.all(jnp.isfinite(naive))),
        "softmax_finite": bool(jnp.all(jnp.isfinite(stable))),
        "softmax": [float(v) for v in stable],
        "cross_entropy": [float(v) for v in ce],
        "cross_entropy_finite": bool(jnp.all(jnp.isfinite(ce))),
        "naive_cross_entropy_finite": bool(jnp.all(jnp.isfinite(naive_ce))),
    }


metrics["overflow"] = [overflow_demo(logits) for logits in OVERFLOW_LOGITS]

# %% [markdown]
# ## Against the book
#
# The run writes `results/loss_functions/` (or `--out`): `metrics.json`, `"points"`: the residuals
# sampled, [-2, -0.5, 0, 0.5, 2]; `"huber_delta"`: 1.0; `"loss"`, `"likelihood"`, `"gradient"`:
# `{"l2"|"l1"|"huber": [one value per point]}`: l(x), exp(-l(x)) and dl/dx at the points;
# `"overflow"`: a list with one entry per logit vector, each `{"logits": [...],
# "naive_softmax_finite": bool (False: inf or NaN appeared), "softmax_finite": bool, "softmax":
# [...], "cross_entropy": [the loss for each possible label], "cross_entropy_finite": bool,
# "naive_cross_entropy_finite": bool (-log naive_softmax)}`. Figure: `loss_functions.png`: three
# panels side by side: losses, likelihoods, gradients.

# %%
harness.compare_with_book("loss_functions", metrics, out)
metrics = harness.finish(out, metrics, {"loss_functions.png": fig})

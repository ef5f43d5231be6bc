# %% [markdown]
# # Linear regression (the book's 3.1–3.3)
#
# The book draws 1000 examples of `y = X w + b + noise` with w = [2, −3.4], b = 4.2 and noise
# 0.01, then fits w and b by minibatch SGD (batch 10, learning rate 0.03, 3 epochs) twice:
# from scratch (its own `data_iter`, model, squared loss and `sgd`) and concisely
# (`nn.Linear`, `nn.MSELoss`, `torch.optim.SGD`). Here the scratch pieces are small functions
# of the library, the concise model is a `flax.linen.Dense` layer with optax's squared error and
# SGD, and both train through `jaxdl.fit`. A third estimate solves least squares in closed form.
#
# What to look at: the loss on the whole training set after each epoch (the scratch variant's
# ½ squared error falls to about ½ · 0.01² = 5e-5, the noise's own level, by epoch 3), the
# errors of w and b (a few 1e-4, the noise over √1000), and the fitted lines of the three
# variants, which lie on top of each other.

# %%
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdl.data.batching import data_iter
from jaxdl.data.synthetic import synthetic_regression
from jaxdl.engine import fit
from jaxdl.engine.keys import run_keys, shuffle_key
from jaxdl.losses import squared_loss
from jaxdl.models.linear import closed_form, concise_linear_regression, linear_regression
from jaxdl.optim import sgd
from jaxdl.plotting import new_figure, plot

import harness

TRUE_W = (2.0, -3.4)
TRUE_B = 4.2
NUM_EXAMPLES = 1000
NOISE = 0.01

# %% [markdown]
# ## Configuration
#
# The book's settings. Edit them here to try others: a run whose settings differ from the
# book's is reported as such, not held to its figures. On the command line each is a flag
# (`python experiments/linear_regression.py --help`).

# %%
BOOK = dict(epochs=3, lr=0.03, batch_size=10)
config, out = harness.start("linear_regression", BOOK)

# %% [markdown]
# ## The data
#
# `synthetic_regression` is the book's `synthetic_data`: features drawn from N(0, 1), labels
# `X w + b` plus Gaussian noise. One key is split into the data's key and one key per trained
# variant, so every random number of the run follows from `--seed`.

# %%
harness.show_source(synthetic_regression)

# %%
key_data, key_scratch, key_concise = jax.random.split(jax.random.key(config.seed), 3)
X, y = synthetic_regression(key_data, jnp.array(TRUE_W), TRUE_B, NUM_EXAMPLES, NOISE)
print(f"features {X.shape}, labels {y.shape}; the first example: {X[0]}, label {y[0]:.4f}")

# %% [markdown]
# ## Minibatches
#
# The book's `data_iter` shuffles the examples and yields them `batch_size` at a time. The
# training engine does the same inside one compiled epoch (`batch_schedule`: indices into the
# data on the device, not a Python loop), with the same order for the same key. Below,
# `data_iter` with the key that shuffles the scratch run's first epoch (the run's key schedule,
# `jaxdl.engine.keys`: the run's key splits into an initialisation key, a data key and a key for the
# steps, and each epoch folds its number into the data key) gives the first minibatch that run
# trains on.

# %%
harness.show_source(data_iter)

# %%
first_epoch = shuffle_key(run_keys(key_scratch), 0)
X_batch, y_batch = next(data_iter(config.batch_size, X, y, key=first_epoch))
print(f"the scratch run's first minibatch:\nX =\n{X_batch}\ny = {y_batch}")

# %% [markdown]
# ## Model, loss and optimizer
#
# From scratch: the model is `X w + b` with `w ~ N(0, 0.01²)` and `b = 0`, the loss the book's
# `½(ŷ − y)²`, and SGD `params ← params − lr · grad` (the gradient of the minibatch's mean loss;
# the book divides the summed gradient by the batch size, the same thing). Concise:
# `flax.linen.Dense(1)` and optax's squared error, `(ŷ − y)²` without the ½ as PyTorch's
# `nn.MSELoss`, so at the same learning rate its steps are twice as long.

# %%
harness.show_source(linear_regression, squared_loss, sgd)

# %%
variants = {
    "scratch": (linear_regression(), squared_loss, sgd(config.lr), key_scratch),
    "concise": (
        concise_linear_regression(),
        optax.squared_error,
        optax.inject_hyperparams(optax.sgd)(learning_rate=config.lr),
        key_concise,
    ),
}


def summary(w, b, losses) -> dict:
    """The metrics of one variant: estimates, errors (true - estimate) and losses."""
    w = np.asarray(w, np.float64).ravel()
    b = float(np.ravel(b)[0])
    return {
        "w": w.tolist(),
        "b": b,
        "w_error": (np.array(TRUE_W) - w).tolist(),
        "b_error": TRUE_B - b,
        "train_loss_per_epoch": [float(v) for v in losses],
    }


# %% [markdown]
# ## Training
#
# Each variant trains with `jaxdl.fit`, one compiled call per epoch. After each epoch the loss
# is evaluated on the whole training set (the book's `train_l = loss(net(features, w, b),
# labels)`), each variant with its own loss: the concise one's values are twice the scratch
# one's for the same fit.

# %%
metrics, runs = {}, {}
for name, (model, loss, optimizer, key) in variants.items():
    result = fit(
        model,
        loss,
        optimizer,
        (X, y),
        epochs=config.epochs,
        batch_size=config.batch_size,
        key=key,
        eval_data={"train_eval": (X, y)},
        config=config.flags,
        desc=name,
    )
    runs[name] = result.run.to_dict()
    losses = result.history["train_eval_loss"].tolist()
    print(f"{name}:")
    for epoch, value in enumerate(losses, 1):
        print(f"  epoch {epoch}, loss {value:f}")
    params = result.state.params
    if name == "concise":
        dense = params["Dense_0"]
        w, b = dense["kernel"], dense["bias"]
    else:
        w, b = params["w"], params["b"]
    metrics[name] = summary(w, b, losses)

# %% [markdown]
# ## Closed form
#
# Linear regression is one of the few models whose loss can be minimised analytically
# (the book's 3.1): `closed_form` solves least squares on `[X 1]`, the bias as a column of
# ones. Its loss (½ squared error, as the scratch variant's) is the lowest any `w`, `b` reach on
# these data.

# %%
harness.show_source(closed_form)

# %%
w, b = closed_form(X, y)
metrics["closed_form"] = summary(w, b, [jnp.mean(squared_loss(X @ w + b, y))])
print("closed_form:")
print(f"  loss {metrics['closed_form']['train_loss_per_epoch'][0]:f}")
metrics["runs"] = runs

# %% [markdown]
# ## Errors in w and b
#
# As the book: the true parameters minus the estimates.

# %%
VARIANTS = ("scratch", "concise", "closed_form")
for name in VARIANTS:
    m = metrics[name]
    print(f"{name}: error in estimating w {np.round(m['w_error'], 6)}")
    print(f"{name}: error in estimating b {m['b_error']:.6f}")

# %% [markdown]
# ## Figures
#
# The training loss after each epoch, on a log scale, for the two trained variants; then the
# data against the second feature with each variant's fitted line `w₂ x₂ + b` (the first
# feature held at its mean, 0).

# %%
figures = {}
epochs = np.arange(1, config.epochs + 1)
figures["loss.png"] = plot(
    epochs,
    [
        metrics["scratch"]["train_loss_per_epoch"],
        metrics["concise"]["train_loss_per_epoch"],
    ],
    "epoch",
    "training loss",
    legend=["scratch: ½(ŷ-y)²", "concise: (ŷ-y)²"],
    yscale="log",
    figsize=(4.5, 3),
)
harness.show(figures["loss.png"])

# %%
fig, ax = new_figure((4.5, 3))
ax.scatter(np.asarray(X[:, 1]), np.asarray(y), s=1, c="gray", label="data")
grid = np.linspace(float(X[:, 1].min()), float(X[:, 1].max()), 2)
for name, fmt in zip(VARIANTS, ("-", "m--", "g-."), strict=True):
    m = metrics[name]
    ax.plot(grid, m["w"][1] * grid + m["b"], fmt, label=f"{name}")
ax.set_xlabel("feature 2 (feature 1 at its mean, 0)")
ax.set_ylabel("y")
ax.legend()
figures["fit.png"] = fig
harness.show(fig)

# %% [markdown]
# ## Against the book
#
# The run writes `results/linear_regression/` (or `--out`): `metrics.json`,
# `{"scratch"|"concise"|"closed_form": {"w": [2 floats], "b": float, "w_error": true w - estimate,
# "b_error": true b - estimate, "train_loss_per_epoch": the variant's loss on the whole training
# set after each epoch (for closed_form, one value)}, "runs": {"scratch"|"concise": the run's
# identity (`jaxdl.engine.record.Run`)}}`. Figures: `loss.png` (training loss against epoch, log
# scale) and `fit.png` (the data against the second feature, with each variant's fitted line).

# %%
harness.compare_with_book("linear_regression", metrics, out)
metrics = harness.finish(out, metrics, figures)

# %% [markdown]
# # Sequence models (the book's 8.1)
#
# The book's first sequence is made up: 1000 time steps of a sine with noise, `x_t = sin(0.01 t)
# + ε`, ε ~ N(0, 0.2²). An autoregressive model predicts each value from the τ = 4 values before
# it; the book's is a small MLP (4 → 10 → 1, ReLU) trained with Adam on the squared error over
# the first 600 windows. It then predicts in three ways: one step ahead (every prediction from
# observed values), multi-step (after time 604, each prediction fed back as an input of the
# next) and k steps ahead (from each window of observations, the predictions 1, 4, 16 and 64
# steps on). Here the data and the windows are library functions, the network a flax module
# written as the book's `get_net`, training `jaxdl.fit`, and the feedback one `lax.scan`,
# checked against the book's loops.
#
# What to look at: the training loss falls to about 0.05 within five epochs (the book: 0.0768
# … 0.0517), just above the noise's variance 0.04, the floor of any predictor's error; the one-step
# predictions follow the sine; the multi-step predictions leave it within a few dozen steps,
# settling to a constant (for some seeds' networks, running off instead: each error is fed back
# and compounds); and the k-step predictions grow smoother and wronger as k grows.

# %%
import time as clock

import jax
import numpy as np
import optax

from jaxdl.data.synthetic import lag_features, noisy_sine
from jaxdl.engine import fit
from jaxdl.errors import InputError
from jaxdl.model import predict
from jaxdl.models.autoregressive import (
    AutoregressiveMLP,
    autoregressive_mlp,
    feed_back,
    k_step_predictions,
    multistep_predictions,
)
from jaxdl.optim import adam
from jaxdl.plotting import plot

import harness
from harness import Setting
from harness.config import positive_int

T = 1000  # time steps
MAX_STEPS = 64  # the furthest step ahead of the k-step predictions
STEPS = (1, 4, 16, 64)  # the k-step predictions the book draws

# %% [markdown]
# ## Configuration
#
# The book's settings. Edit them here to try others: a run whose settings differ from the
# book's is reported as such, not held to its figures. On the command line each is a flag
# (`python experiments/sequence_models.py --help`); `--quick` trains 2 epochs.

# %%
BOOK = dict(epochs=5, lr=0.01, batch_size=16, tau=4, n_train=600)
QUICK = dict(epochs=2)
config, out = harness.start(
    "sequence_models",
    BOOK,
    quick=QUICK,
    settings={
        "tau": Setting(positive_int, "past values each prediction sees (the window τ)"),
        "n_train": Setting(positive_int, "the first windows, which train; the rest are the test"),
    },
)
tau, n_train = config.tau, config.n_train
if tau > T - MAX_STEPS:
    raise InputError(
        f"--tau: expected at most {T - MAX_STEPS} (T = {T} values, {MAX_STEPS} steps ahead), "
        f"got {tau}"
    )
if not config.batch_size <= n_train < T - tau:
    raise InputError(
        f"--n-train: expected from --batch-size ({config.batch_size}) to {T - tau - 1} (T - τ "
        f"windows, the last ones for the test), got {n_train}"
    )

# %% [markdown]
# ## The data
#
# `noisy_sine` is the book's `x = torch.sin(0.01 * time) + torch.normal(0, 0.2, (T,))` at the
# times 1, …, 1000 (one period of the sine is 2π / 0.01 ≈ 628 steps).

# %%
harness.show_source(noisy_sine)

# %%
key_data, key_train = jax.random.split(jax.random.key(config.seed))
time, x = (np.asarray(a) for a in noisy_sine(key_data, T))  # on the host, for the figures
figures = {"data.png": plot(time, [x], "time", "x", xlim=[1, T], figsize=(6, 3))}
harness.show(figures["data.png"])

# %% [markdown]
# ## Features and labels
#
# Each label `x_t` gets the τ values before it as features: the book fills column `i` of
# `features [T − τ, τ]` with `x[i : T − τ + i]` and takes `labels = x[tau:]`. The first
# `n_train` = 600 windows train (shuffled minibatches of 16, as the book's `load_array`); the
# other 396, the last part of the sine, are the test.

# %%
harness.show_source(lag_features)

# %%
features, labels = (np.asarray(a) for a in lag_features(x, tau))
train_set = (features[:n_train], labels[:n_train])
test_set = (features[n_train:], labels[n_train:])
print(f"features {features.shape}, labels {labels.shape}: {n_train} train, the rest test")
print(f"the first window {np.round(features[0], 4)} -> label {labels[0]:.4f}")

# %% [markdown]
# ## The network, the loss and the optimizer
#
# The book's `get_net()`: `nn.Linear(4, 10)`, ReLU, `nn.Linear(10, 1)`, the weights drawn
# Xavier-uniform by its `init_weights`, the biases PyTorch's default `U(±1/√fan_in)`. The loss
# is `nn.MSELoss(reduction='none')`, `(ŷ − y)²` per window, without the ½ of the book's
# scratch `squared_loss` (here `optax.squared_error`); the loss printed after each epoch is
# the book's `evaluate_loss` on the training windows, `Σ l / numel`: their mean squared error.
# The optimizer is `torch.optim.Adam(lr=0.01)`, PyTorch's defaults (β 0.9 / 0.999, ε 1e-8).
#
# One difference: the book steps on the gradient of the minibatch's summed loss
# (`l.sum().backward()`), the engine on that of its mean. Adam divides each step by the
# gradient's running scale, so the constant factor 16 cancels (up to ε); only the last
# minibatch of each epoch, half full (600 = 37 · 16 + 8), enters the book's moment estimates
# at half the scale of the others.

# %%
harness.show_source(AutoregressiveMLP)

# %%
model = autoregressive_mlp()
optimizer = adam(config.lr)

# %% [markdown]
# ## Training
#
# Five epochs through `jaxdl.fit`, the training windows' loss (the book's print) and the test
# windows' after each.

# %%
result = fit(
    model,
    optax.squared_error,
    optimizer,
    train_set,
    epochs=config.epochs,
    batch_size=config.batch_size,
    key=key_train,
    eval_data={"train_eval": train_set, "test": test_set},
    config=config.flags,
    desc="MLP",
)
losses = result.history["train_eval_loss"].tolist()
test_losses = result.history["test_loss"].tolist()
for epoch, loss in enumerate(losses, 1):
    print(f"epoch {epoch}, loss: {loss:f}")
net = jax.jit(lambda windows: predict(model, result.state, windows))

# %% [markdown]
# ## One step and many steps ahead
#
# One-step predictions see τ observations each. Multi-step predictions keep only `x` up to
# time `n_train + τ` = 604 and predict each later value from the τ values before it, the
# model's own predictions once past 604. The book writes this as a loop that fills
# `multistep_preds` one value at a time; the library's `multistep_predictions` is one
# `lax.scan` (`feed_back`) carrying the window of the last τ values. Below, the book's loop,
# written in NumPy around the trained network, against it.

# %%
harness.show_source(feed_back, multistep_predictions)


# %%
def book_multistep(net, x, n_train, tau):
    """The book's loop: x up to n_train + tau, then each value from the tau before it."""
    T = len(x)
    multistep_preds = np.zeros(T, np.float32)
    multistep_preds[: n_train + tau] = x[: n_train + tau]
    for i in range(n_train + tau, T):
        multistep_preds[i] = net(multistep_preds[i - tau : i].reshape((1, -1)))[0]
    return multistep_preds


def difference(book, ours) -> float:
    """max |book − ours| / (1 + |ours|): float32 rounding of predictions that may run off to
    large values; 0 where both are the same inf, inf where one is NaN or inf alone."""
    book, ours = np.asarray(book, np.float64), np.asarray(ours, np.float64)
    same = (book == ours) | (np.isnan(book) & np.isnan(ours))
    with np.errstate(invalid="ignore"):
        gaps = np.where(same, 0.0, np.abs(book - ours) / (1 + np.abs(ours)))
    return float(np.max(np.nan_to_num(gaps, nan=np.inf), initial=0.0))


onestep_preds = np.asarray(net(features))
multistep_preds = np.asarray(multistep_predictions(net, x, start=n_train + tau, tau=tau))
started = clock.perf_counter()
book_preds = book_multistep(net, x, n_train, tau)
book_seconds = clock.perf_counter() - started
multistep_diff = difference(book_preds, multistep_preds)
harness.print_value(
    "the book's loop, the same as the library's multistep_predictions", multistep_diff < 1e-5
)
print(
    f"max |difference| / (1 + |value|) {multistep_diff:.1e}; the book's loop took "
    f"{book_seconds:.2f} s"
)

# %% [markdown]
# How far off is each? The mean squared error over the test part, the times after the training
# windows, where both predict the same values: one step ahead it stays near the noise's level;
# fed back, it grows with every step.


# %%
def mse(predictions, targets) -> float | None:
    """The mean squared error in float64 (fed-back predictions may run off far enough that
    float32 squares overflow); None where the predictions themselves are no longer finite."""
    error = np.asarray(predictions, np.float64) - np.asarray(targets, np.float64)
    value = float(np.mean(error**2))
    return value if np.isfinite(value) else None


def shown(value: float | None) -> str:
    return "not finite (the predictions ran off)" if value is None else f"{value:.4f}"


def y_limits(*series):
    """The data's range where fed-back predictions run off it (their values would squash the
    data to a line); None (matplotlib's own) otherwise."""
    low, high = float(np.min(x)), float(np.max(x))
    margin = high - low
    values = np.concatenate([np.ravel(np.asarray(s, np.float64)) for s in series])
    if np.all(np.isfinite(values)) and np.all(np.abs(values) < 2 * max(abs(low), abs(high))):
        return None
    print(
        f"  (predictions leave the data's range, up to {np.nanmax(np.abs(values)):.3g}: the "
        "figure shows the data's range)"
    )
    return (low - 0.5 * margin, high + 0.5 * margin)


test = slice(n_train + tau, T)  # the test part's times (0-based): after the training windows
one_step_test = mse(onestep_preds[n_train:], x[test])
multistep_test = mse(multistep_preds[test], x[test])
print(f"mean squared error over the test part (times {n_train + tau + 1}–{T}):")
print(f"  1-step {shown(one_step_test)}, multistep {shown(multistep_test)}")

figures["predictions.png"] = plot(
    [time, time[tau:], time[test]],
    [x, onestep_preds, multistep_preds[test]],
    "time",
    "x",
    legend=["data", "1-step preds", "multistep preds"],
    xlim=[1, T],
    ylim=y_limits(onestep_preds, multistep_preds),
    figsize=(6, 3),
)
harness.show(figures["predictions.png"])

# %% [markdown]
# ## k steps ahead
#
# Multi-step predictions go wrong because every error is fed back and compounds. The book
# measures this from every window of τ observations: its `features [T − τ − 63, τ + 64]` holds
# the observations in its first τ columns and, in column `τ + k − 1`, the k-step-ahead
# predictions, each column computed from the τ columns before it. `k_step_predictions` returns
# those 64 columns, again from one `feed_back` (over all windows at once); the book's loop over
# the columns is below, against it.

# %%
harness.show_source(k_step_predictions)


# %%
def book_k_step(net, x, tau, max_steps):
    """The book's features: tau observed columns, then column i predicted from the tau before."""
    T = len(x)
    features = np.zeros((T - tau - max_steps + 1, tau + max_steps), np.float32)
    for i in range(tau):
        features[:, i] = x[i : i + T - tau - max_steps + 1]
    for i in range(tau, tau + max_steps):
        features[:, i] = np.asarray(net(features[:, i - tau : i])).reshape(-1)
    return features


k_step = np.asarray(k_step_predictions(net, x, tau=tau, max_steps=MAX_STEPS))
book_features = book_k_step(net, x, tau, MAX_STEPS)
k_step_diff = difference(book_features[:, tau:], k_step)
harness.print_value(
    "the book's loop, the same as the library's k_step_predictions", k_step_diff < 1e-5
)
print(f"max |difference| / (1 + |value|) {k_step_diff:.1e}")

rows = T - tau - MAX_STEPS + 1
k_step_mse = {}
for k in STEPS:
    target = x[tau + k - 1 : tau + k - 1 + rows]  # x[j + tau + k - 1] for each row j
    k_step_mse[str(k)] = mse(k_step[:, k - 1], target)
print("mean squared error of the k-step predictions:")
print("  " + ", ".join(f"k = {k}: {shown(v)}" for k, v in k_step_mse.items()))

figures["k_step.png"] = plot(
    [time[tau + k - 1 : T - MAX_STEPS + k] for k in STEPS],
    [k_step[:, k - 1] for k in STEPS],
    "time",
    "x",
    legend=[f"{k}-step preds" for k in STEPS],
    xlim=[5, T],
    ylim=y_limits(*(k_step[:, k - 1] for k in STEPS)),
    figsize=(6, 3),
)
harness.show(figures["k_step.png"])

metrics = {
    "train_loss_per_epoch": losses,
    "final_loss": losses[-1],
    "test_loss_per_epoch": test_losses,
    "one_step_test_mse": one_step_test,
    "multistep_test_mse": multistep_test,
    "k_step_mse": k_step_mse,
    "book_loops": {
        "multistep_max_diff": multistep_diff,
        "k_step_max_diff": k_step_diff,
    },
    "run": result.run.to_dict(),
}

# %% [markdown]
# ## Against the book
#
# The run writes `results/sequence_models/` (or `--out`): `metrics.json`,
# `{"train_loss_per_epoch": the mean squared error over the training windows after each epoch
# (the book's printed loss), "final_loss": its last value, "test_loss_per_epoch": the same over
# the test windows, "one_step_test_mse", "multistep_test_mse": the mean squared error of the
# one-step and the multi-step predictions over the test part (times n_train + τ + 1 to T),
# "k_step_mse": {"1"|"4"|"16"|"64": that of the k-step predictions over all their times} (each
# null where the fed-back predictions ran off to inf or NaN),
# "book_loops": {"multistep_max_diff", "k_step_max_diff": the book's loops against the library's
# scans, max |difference| / (1 + |value|)}, "run": the run's identity
# (`jaxdl.engine.record.Run`)}`. Figures:
# `data.png` (the sequence), `predictions.png` (the data, the one-step and the multi-step
# predictions) and `k_step.png` (the 1-, 4-, 16- and 64-step predictions).

# %%
harness.compare_with_book("sequence_models", metrics, out)
metrics = harness.finish(out, metrics, figures)

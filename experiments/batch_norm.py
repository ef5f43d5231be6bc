# %% [markdown]
# # Batch normalization (the book's 7.5)
#
# Batch normalization standardises each channel of a layer's output with the minibatch's mean
# and variance, then scales and shifts it by a learned `gamma` and `beta`. It keeps moving
# averages of those statistics for evaluation, where there is no minibatch to trust: the
# layer behaves otherwise in training and in evaluation, and it has state besides its
# parameters. The book adds it to LeNet, after every convolution and hidden dense layer, and
# trains at learning rate 1.0 (the sigmoid LeNet alone needed 0.9 and still learned nothing
# in its first epoch).
#
# In JAX the moving averages are the model's state, a pytree next to the parameters: the
# training step returns the new state with the loss, the optimizer and `jax.grad` never see
# it, and evaluation (`train=False`) uses it unchanged. The engine pads an epoch's last
# minibatch; the model is given the batch's mask, so padding never enters the statistics.
#
# What to look at: the curves (no flat first epoch); the first layer's learned `gamma` and
# `beta`, as the book prints them; the test accuracy next to the book's, 0.807 from scratch and
# 0.708 concise after 10 epochs (the book's two runs differ by more than their methods do: the
# test accuracy of a network trained at this rate jumps from epoch to epoch).

# %%
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdl.losses import cross_entropy
from jaxdl.models.normalization import batch_norm as batch_norm_library
from jaxdl.models.normalization import bn_lenet, concise_bn_lenet
from jaxdl.optim import sgd
from jaxdl.params import num_params

import harness
from harness import classifiers

# %% [markdown]
# ## Configuration
#
# The book's settings (`train_ch6` with BN-LeNet). Edit them here to try others: a run whose
# settings differ from the book's is reported as such, not held to its figures. On the command
# line each is a flag (`python experiments/batch_norm.py --help`); `--quick` trains on the first
# 2000 training images and tests on 500.

# %%
BOOK = dict(epochs=10, lr=1.0, batch_size=256)
QUICK = dict(train_size=2000, test_size=500)
config, out = classifiers.start("batch_norm", BOOK, quick=QUICK)

# %% [markdown]
# ## Batch normalization from scratch
#
# The book's `batch_norm`, channels last: the statistics are over every axis but the last
# (batch, height and width after a convolution; the batch after a dense layer), and the
# parameters and moving averages are shaped to broadcast against the input, `(1, channels)` or
# `(1, 1, 1, channels)` (the book's `(1, channels, 1, 1)`). Where PyTorch asks
# `torch.is_grad_enabled()` to tell training from prediction, JAX is told (`train`), and the new
# moving averages are returned, not assigned.


# %%
def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum, train):
    if not train:
        X_hat = (X - moving_mean) / jnp.sqrt(moving_var + eps)
    else:
        axes = tuple(range(X.ndim - 1))  # (0,) after a dense layer, (0, 1, 2) after a convolution
        mean = X.mean(axis=axes, keepdims=True)
        var = ((X - mean) ** 2).mean(axis=axes, keepdims=True)
        X_hat = (X - mean) / jnp.sqrt(var + eps)
        moving_mean = momentum * moving_mean + (1.0 - momentum) * mean
        moving_var = momentum * moving_var + (1.0 - momentum) * var
    return gamma * X_hat + beta, moving_mean, moving_var


# %% [markdown]
# The library's `jaxdl.models.normalization.batch_norm`, which the scratch BN-LeNet below uses,
# computes the same, and also leaves the padding of an epoch's last minibatch out of the
# statistics (the batch's mask). On a batch of feature maps with random scales, shifts and
# moving averages, in training and in prediction:

# %%
key_x, key_p = jax.random.split(jax.random.key(config.seed))
X = 3 * jax.random.normal(key_x, (8, 5, 5, 6)) + 1
gamma, beta, moving_mean, moving_var = jax.random.uniform(key_p, (4, 1, 1, 1, 6), minval=0.5)
params, state = (
    {"gamma": gamma.ravel(), "beta": beta.ravel()},
    {
        "mean": moving_mean.ravel(),
        "var": moving_var.ravel(),
    },
)
differences = []
for train in (True, False):
    Y, mean, var = batch_norm(X, gamma, beta, moving_mean, moving_var, 1e-5, 0.9, train)
    Y_lib, new = batch_norm_library(X, params, state, train=train)
    differences += [jnp.abs(Y - Y_lib).max(), jnp.abs(mean.ravel() - new["mean"]).max()]
    differences += [jnp.abs(var.ravel() - new["var"]).max()]
book_diff = float(max(differences))
print(f"largest difference, the book's batch_norm against the library's: {book_diff:.1e}")

# %% [markdown]
# ## BN-LeNet
#
# The parameters are the layers' weights and each batch norm's `gamma` and `beta`; the state
# is each batch norm's moving mean and variance.

# %%
model = bn_lenet()
params, state = model.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
print(f"{num_params(params)} parameters, {num_params(state)} moving statistics")
variants = {
    "scratch": (model, cross_entropy, sgd(config.lr)),
    "concise": (
        concise_bn_lenet(),
        optax.softmax_cross_entropy_with_integer_labels,
        optax.inject_hyperparams(optax.sgd)(learning_rate=config.lr),
    ),
}

# %% [markdown]
# ## Training
#
# As for LeNet: one jitted call per epoch, a scan over the shuffled minibatches with the data on
# the device; each step returns the new parameters, optimizer state and moving averages.

# %%
data = classifiers.fashion_mnist(config)
trained = classifiers.train(variants, data, config)
metrics, figures = trained.metrics, trained.figures
metrics["num_params"] = num_params(params)
metrics["num_state"] = num_params(state)
metrics["book_batch_norm"] = {"max_abs_diff": book_diff}
harness.show(figures["predictions.png"])  # the curves are the board above, drawn live

# %% [markdown]
# ## The learned scale and shift
#
# The book prints the first batch norm's `gamma` and `beta` after training (one per channel of
# the first convolution): far from their initial 1 and 0, the network has chosen its own scale
# for each channel.

# %%
metrics["first_layer"] = {}
for name, result in trained.results.items():
    final = result.state
    if config.seeds > 1:  # the first seed's
        final = jax.tree.map(lambda a: a[0], final)
    if name == "scratch":
        p1, s1 = final.params["bn1"], final.model_state["bn1"]
    else:
        p1, s1 = final.params["BatchNorm_0"], final.model_state["batch_stats"]["BatchNorm_0"]
        p1, s1 = {"gamma": p1["scale"], "beta": p1["bias"]}, s1
    first = {"gamma": p1["gamma"], "beta": p1["beta"], "moving_mean": s1["mean"]}
    first["moving_var"] = s1["var"]
    metrics["first_layer"][name] = {k: np.asarray(v).tolist() for k, v in first.items()}
    harness.print_value(f"{name}: gamma", first["gamma"])
    harness.print_value(f"{name}: beta", first["beta"])

# %% [markdown]
# ## Against the book
#
# The run writes `results/batch_norm/` (or `--out`): `metrics.json`, as softmax regression's
# (each variant's final accuracies and loss, their history, the seconds per epoch and the run's
# record), with the first batch norm's learned `gamma` and `beta` and moving averages
# (`first_layer`), and the counts of parameters and moving statistics (`num_params`,
# `num_state`); and the figures `curves.png` and `predictions.png`.

# %%
harness.compare_with_book("batch_norm", metrics, out)
metrics = harness.finish(out, metrics, figures)

# %% [markdown]
# # Softmax regression (the book's 3.4–3.7)
#
# Softmax regression is the linear model for classification: one affine map from the 784
# pixels of a Fashion-MNIST image to 10 scores (logits), turned into probabilities by the
# softmax and trained with the cross-entropy loss. The book implements it twice: from scratch
# (`W`, `b`, its own `softmax`, `cross_entropy` and `sgd`) and concisely (`nn.Flatten` +
# `nn.Linear`, `nn.CrossEntropyLoss`, `torch.optim.SGD`). Here the scratch model is a pair of
# pure functions, the concise one a `flax.linen` module, and both train through the same engine.
#
# What to look at: the training curves (the training loss falls and the training accuracy
# rises every epoch, most in the first two; the test accuracy follows with small ups and
# downs), the test images with the labels predicted, and the test accuracy next to the book's,
# about 0.83 after 10 epochs.

# %%
import jax
import jax.numpy as jnp
import optax

from jaxdl import losses, optim
from jaxdl.data.batching import data_iter
from jaxdl.engine import fit
from jaxdl.engine.keys import run_keys, shuffle_key
from jaxdl.models.softmax import concise_softmax_regression, softmax_regression

import harness
from harness import classifiers

# %% [markdown]
# ## Configuration
#
# The book's settings. Edit them here to try others: a run whose settings differ from the
# book's is reported as such, not held to its figures. On the command line each is a flag
# (`python experiments/softmax_regression.py --help`); `--quick` trains on the first 2000
# training images and tests on 500.

# %%
BOOK = dict(epochs=10, lr=0.1, batch_size=256)
QUICK = dict(train_size=2000, test_size=500)
config, out = classifiers.start("softmax_regression", BOOK, quick=QUICK)

# %% [markdown]
# ## The variants the book trains
#
# From scratch with the library's versions of the pieces written out below
# (`jaxdl.models.softmax.softmax_regression`, `jaxdl.losses.cross_entropy`, `jaxdl.optim.sgd`:
# input checks, and the stable loss), and concisely with a `flax.linen.Dense` layer, optax's
# loss and optax's SGD.

# %%
variants = {
    "scratch": (softmax_regression(), losses.cross_entropy, optim.sgd(config.lr)),
    "concise": (
        concise_softmax_regression(),
        optax.softmax_cross_entropy_with_integer_labels,
        optax.inject_hyperparams(optax.sgd)(learning_rate=config.lr),
    ),
}

# %% [markdown]
# ## Training
#
# The data are loaded once, onto the device. Each variant trains with `jaxdl.fit` (the book's
# `train_ch3`): one jitted call per epoch, a scan over the shuffled minibatches, then the test
# set evaluated. The curves show, per epoch, the training loss and accuracy (averaged over the
# epoch's minibatches, as the book) and the test accuracy; the second figure shows test images
# with their true label and each variant's prediction (the book's `predict_ch3`).

# %%
data = classifiers.fashion_mnist(config)
trained = classifiers.train(variants, data, config)
metrics, figures = trained.metrics, trained.figures
harness.show(figures["predictions.png"])  # the curves are the board above, drawn live

# %% [markdown]
# ## The book's code, in JAX
#
# The model from scratch and its training step, as short as the book writes them: `W` [784, 10]
# drawn from N(0, 0.01²) and `b = 0`; `net` flattens each image, computes the logits `X W + b` and
# their softmax `exp(X) / Σ exp(X)`, row by row; the cross-entropy picks the probability of each
# true label, `−log ŷ_y`. Where PyTorch calls `l.backward()` and then its updater, JAX asks for the
# gradient as a function, `jax.value_and_grad(loss)`, and SGD returns new parameters instead of
# changing them in place. Edit these cells and run them again.


# %%
def softmax(X):
    X_exp = jnp.exp(X)
    return X_exp / X_exp.sum(axis=1, keepdims=True)


def net(params, X):
    W, b = params
    return softmax(X.reshape(len(X), -1) @ W + b[None, :])


def cross_entropy(y_hat, y):
    return -jnp.log(y_hat[jnp.arange(len(y_hat)), y])


def loss(params, X, y):
    return cross_entropy(net(params, X), y).mean()


@jax.jit
def train_step(params, X, y, lr):
    batch_loss, grads = jax.value_and_grad(loss)(params, X, y)  # the book's l.backward()
    params = jax.tree.map(lambda p, g: p - lr * g, params, grads)  # its updater: SGD
    return params, batch_loss


# %% [markdown]
# One epoch of the book's loop, `for X, y in train_iter` (`data_iter` shuffles the images and
# yields minibatches, the last one shorter), with the key the library gave the scratch
# variant above: its initial weights and its minibatches are the ones drawn here.

# %%
key = trained.keys["scratch"]  # the key the scratch variant trained from
keys = run_keys(key)  # one key for the weights, one for the shuffles (jaxdl.engine.keys)
params = (0.01 * jax.random.normal(keys.init, (784, 10)), jnp.zeros(10))
total = 0.0
for X, y in data_iter(config.batch_size, *data.train, key=shuffle_key(keys, 0)):
    params, batch_loss = train_step(params, X, y, config.lr)
    total += float(batch_loss) * len(y)
X_test, y_test = data.test
test_acc = float(jnp.mean(jnp.argmax(net(params, X_test), axis=1) == y_test))
print(f"one epoch: train loss {total / len(data.train[1]):.4f}, test acc {test_acc:.4f}")

# %% [markdown]
# The library's engine trains the same epoch as one compiled program (a `lax.scan` over the
# minibatches, the last one padded and masked) from the same key. Its model returns the logits
# and its loss takes them (`jaxdl.losses.cross_entropy`, `−log_softmax(logits)_y` by log-sum-exp):
# the book's `exp` overflows for logits above about 88 and its `log` meets 0 for tiny
# probabilities (see loss_functions.py), the log-sum-exp form does neither. Here, with small
# logits, both give the same weights, up to float32 rounding.

# %%
engine = fit(
    softmax_regression(),
    losses.cross_entropy,
    optim.sgd(config.lr),
    data.train,
    epochs=1,
    batch_size=config.batch_size,
    key=key,
    quiet=True,
)
difference = float(jnp.max(jnp.abs(params[0] - engine.state.params["W"])))
print(f"largest difference of a weight, the book's loop against the engine: {difference:.1e}")

# %% [markdown]
# ## Against the book
#
# The run writes `results/softmax_regression/` (or `--out`): `metrics.json`, with each variant's
# final `test_acc`, `train_acc` and `train_loss`, their `history` per epoch,
# `seconds_per_epoch` and the run's record (`run`: its settings, model, optimizer and data), and
# the figures `curves.png` and `predictions.png`.

# %%
harness.compare_with_book("softmax_regression", metrics, out)
metrics = harness.finish(out, metrics, figures)

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
"""Softmax regression on Fashion-MNIST, from scratch and concise (the book's sections 3.4-3.7).

Configuration (the book's): batch 256, learning rate 0.1, 10 epochs, W ~ N(0, 0.01²), b = 0.

- scratch: ``jaxdl.models.softmax.softmax_regression`` + ``jaxdl.losses.cross_entropy``
  (log-softmax, stable) + ``jaxdl.optim.sgd``.
- concise: ``flax.linen.Dense`` + ``optax.softmax_cross_entropy_with_integer_labels`` +
  ``optax.inject_hyperparams(optax.sgd)`` (optax's SGD with its learning rate held in its
  state, so the rate is part of the run's identity).

Command: ``python experiments/softmax_regression.py [--data-dir DIR --epochs 10 --lr 0.1
--batch-size 256 --seed 0 --out results/softmax_regression --quick]``

metrics.json: ``{"scratch"|"concise": {"test_acc", "train_acc", "train_loss" (final epoch;
train values averaged over the epoch's minibatches, as the book), "history": {"train_loss",
"train_acc", "test_loss", "test_acc"} (one value per epoch), "seconds_per_epoch" (median wall
time of the epochs after the first, evaluation included), "run": the run's identity
(``jaxdl.run.Run``: model, loss, optimizer and their settings, batch size, epochs, key, data
fingerprints)}}``.
Figures: ``curves.png`` (train loss, train acc and test acc against epoch) and
``predictions.png`` (test images with true and predicted labels).
``--quick`` trains on the first 2000 training images and tests on 500.
"""

import optax

from jaxdl.activations import log_softmax, softmax
from jaxdl.losses import cross_entropy
from jaxdl.models.softmax import concise_softmax_regression, softmax_regression
from jaxdl.optim import sgd

import classifiers
import common

# %% [markdown]
# ## Configuration
#
# The book's. In the notebook, pass flags to `common.start` in the cell below, e.g. `common.start(p,
# ["--epochs", "3"])` (`["--help"]` lists them); on the command line, `python
# experiments/softmax_regression.py --help`.

# %%
p = common.parser("softmax_regression", epochs=10, lr=0.1, batch_size=256, classifiers=True)
args, out = common.start(p)

# %% [markdown]
# ## The model from scratch
#
# `softmax_regression` returns a `Model`: `init` draws `W` [784, 10] from N(0, 0.01²) with
# `b = 0`, and `apply` flattens each image and returns the logits `X W + b`. Unlike the book's
# `net`, it does not apply the softmax: the loss does, where it can be computed stably. The
# book's `softmax` is `exp(X) / sum(exp(X))`; `softmax` here subtracts each row's largest logit
# first, and `cross_entropy` is `−log_softmax(logits)[label]`, the log-sum-exp form, instead of
# the book's `−log(y_hat[range(len(y_hat)), y])`: the same values, without overflow for large
# logits or `log(0)` for tiny probabilities (see loss_functions.py). SGD is
# `params ← params − lr · grad`.

# %%
common.show_source(softmax_regression, softmax, log_softmax, cross_entropy, sgd)

# %%
variants = {
    "scratch": (softmax_regression(), cross_entropy, sgd(args.lr)),
    "concise": (
        concise_softmax_regression(),
        optax.softmax_cross_entropy_with_integer_labels,
        optax.inject_hyperparams(optax.sgd)(learning_rate=args.lr),
    ),
}

# %% [markdown]
# ## Training
#
# Each variant trains with `jaxdl.fit` (the book's `train_ch3`): one jitted call per epoch, a
# scan over the shuffled minibatches with the data on the device, then the test set evaluated.
# The curves show, per epoch, the training loss and accuracy (averaged over the epoch's
# minibatches, as the book) and the test accuracy; the second figure shows test images with
# their true label and each variant's prediction (the book's `predict_ch3`).

# %%
config = classifiers.ClassifierConfig.from_flags(args)
metrics, figures = classifiers.train_and_report(variants, config)
common.show(figures["predictions.png"])  # the curves are the board above, drawn live

# %% [markdown]
# ## Against the book

# %%
common.compare_with_book("softmax_regression", metrics, out)
metrics = common.finish(out, metrics, figures)

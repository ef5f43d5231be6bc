"""Softmax regression on Fashion-MNIST, from scratch and concise (the book's sections 3.5-3.7).

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

from __future__ import annotations

import optax

from jaxdl.losses import cross_entropy
from jaxdl.models.softmax import concise_softmax_regression, softmax_regression
from jaxdl.optim import sgd

import common


def main(argv=None) -> dict:
    p = common.parser(
        "softmax_regression", __doc__, epochs=10, lr=0.1, batch_size=256, data_dir=True
    )
    args, out = common.start(p, argv)
    variants = {
        "scratch": (softmax_regression(), cross_entropy, sgd(args.lr)),
        "concise": (
            concise_softmax_regression(),
            optax.softmax_cross_entropy_with_integer_labels,
            optax.inject_hyperparams(optax.sgd)(learning_rate=args.lr),
        ),
    }
    metrics, figures = common.classifiers(variants, common.ClassifierConfig.from_flags(args))
    return common.finish(out, metrics, figures)


if __name__ == "__main__":
    common.run(main)

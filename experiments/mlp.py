"""Multilayer perceptrons on Fashion-MNIST, from scratch and concise (the book's 4.2-4.3).

Configuration (the book's): 784-256-10 with ReLU, batch 256, learning rate 0.1, 10 epochs,
W ~ N(0, 0.01²), b = 0.

- scratch: ``jaxdl.models.mlp.mlp`` + ``jaxdl.losses.cross_entropy`` + ``jaxdl.optim.sgd``.
- concise: ``jaxdl.models.mlp.MLP`` (``flax.linen.Dense`` layers) +
  ``optax.softmax_cross_entropy_with_integer_labels`` +
  ``optax.inject_hyperparams(optax.sgd)`` (optax's SGD with its learning rate held in its
  state, so the rate is part of the run's identity).

Command: ``python experiments/mlp.py [--num-hiddens 256 [128 ...] --activation
relu|sigmoid|tanh --data-dir DIR --epochs 10 --lr 0.1 --batch-size 256 --seed 0
--out results/mlp --quick]``

metrics.json: as softmax_regression.py: ``{"scratch"|"concise": {"test_acc", "train_acc",
"train_loss", "history": {"train_loss", "train_acc", "test_loss", "test_acc"},
"seconds_per_epoch", "run"}}``, plus ``"config": {"num_hiddens", "activation"}``.
Figures: ``curves.png`` and ``predictions.png``.
"""

from __future__ import annotations

import optax

from jaxdl.activations import ACTIVATIONS
from jaxdl.losses import cross_entropy
from jaxdl.models.mlp import concise_mlp, mlp
from jaxdl.optim import sgd

import common


def main(argv=None) -> dict:
    p = common.parser("mlp", __doc__, epochs=10, lr=0.1, batch_size=256, data_dir=True)
    p.add_argument(
        "--num-hiddens",
        type=common.positive_int,
        nargs="+",
        default=[256],
        help="hidden layer widths",
    )
    p.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu")
    args, out = common.start(p, argv)
    hidden = tuple(args.num_hiddens)
    variants = {
        "scratch": (mlp(hidden, activation=args.activation), cross_entropy, sgd(args.lr)),
        "concise": (
            concise_mlp(hidden, activation=args.activation),
            optax.softmax_cross_entropy_with_integer_labels,
            optax.inject_hyperparams(optax.sgd)(learning_rate=args.lr),
        ),
    }
    print(f"MLP 784-{'-'.join(map(str, hidden))}-10, {args.activation}")
    metrics, figures = common.classifiers(variants, common.ClassifierConfig.from_flags(args))
    metrics["config"] = {"num_hiddens": list(hidden), "activation": args.activation}
    return common.finish(out, metrics, figures)


if __name__ == "__main__":
    common.run(main)

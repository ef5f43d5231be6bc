# %% [markdown]
# # Multilayer perceptrons (the book's 4.2–4.3)
#
# Softmax regression draws a straight boundary between classes; a multilayer perceptron puts a
# hidden layer with a nonlinearity (ReLU) between input and output, so it can learn features
# of the image first. The book trains a 784-256-10 network on Fashion-MNIST twice: written from
# scratch (parameters as arrays, a forward function, the cross-entropy, SGD by hand) and
# concisely (framework layers, loss and optimizer). Here the scratch model is a pair of pure
# functions, the concise one a `flax.linen` module, and both train through the same engine.
#
# What to look at: the training curves (the loss falls and both accuracies rise for 10
# epochs), and the test accuracy next to the book's, about 0.84 after 10 epochs, a point above
# softmax regression's.

# %%
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

import optax

from jaxdl.activations import ACTIVATIONS, relu
from jaxdl.losses import cross_entropy
from jaxdl.models.mlp import concise_mlp, mlp
from jaxdl.optim import sgd

import classifiers
import common

# %% [markdown]
# ## Configuration
#
# The book's. In the notebook, pass flags to `common.start` in the cell below, e.g. `common.start(p,
# ["--epochs", "3"])` (`["--help"]` lists them); on the command line, `python experiments/mlp.py
# --help`.

# %%
p = common.parser("mlp", epochs=10, lr=0.1, batch_size=256, classifiers=True)
p.add_argument(
    "--num-hiddens", type=common.positive_int, nargs="+", default=[256], help="hidden widths"
)
p.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu")
args, out = common.start(p)
hidden = tuple(args.num_hiddens)
print(f"MLP 784-{'-'.join(map(str, hidden))}-10, {args.activation}")

# %% [markdown]
# ## The model from scratch
#
# `mlp` returns a `Model`: `init` draws the weights of each layer (N(0, 0.01²), biases 0) and
# `apply` is the forward pass, `H = relu(X W₁ + b₁)`, `O = H W₂ + b₂`. The softmax lives in the
# loss, where log-sum-exp keeps it stable; SGD is `params ← params − lr · grad`.

# %%
common.show_source(mlp, relu, cross_entropy, sgd)

# %%
variants = {
    "scratch": (mlp(hidden, activation=args.activation), cross_entropy, sgd(args.lr)),
    "concise": (
        concise_mlp(hidden, activation=args.activation),
        optax.softmax_cross_entropy_with_integer_labels,
        optax.inject_hyperparams(optax.sgd)(learning_rate=args.lr),
    ),
}

# %% [markdown]
# ## Training
#
# Each variant trains with `jaxdl.fit`: one jitted call per epoch, a scan over the shuffled
# minibatches with the data on the device, then the test set evaluated. The curves show, per
# epoch, the training loss and accuracy (averaged over the epoch's minibatches, as the book)
# and the test accuracy.

# %%
config = classifiers.ClassifierConfig.from_flags(args)
metrics, figures = classifiers.train_and_report(variants, config)
metrics["config"] = {"num_hiddens": list(hidden), "activation": args.activation}
common.show(figures["predictions.png"])  # the curves are the board above, drawn live

# %% [markdown]
# ## Against the book

# %%
common.compare_with_book("mlp", metrics, out)
metrics = common.finish(out, metrics, figures)

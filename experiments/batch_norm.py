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
"""Batch normalization on Fashion-MNIST: BN-LeNet from scratch and concise (the book's 7.5).

Configuration (the book's): LeNet with batch normalization after each convolution and hidden
dense layer (sigmoid, average pooling, no padding in the first convolution), momentum 0.9,
ε 1e-5, batch 256, learning rate 1.0, 10 epochs, Xavier-uniform weights (``train_ch6``).

- scratch: ``jaxdl.models.normalization.bn_lenet`` (the book's ``batch_norm`` as
  ``jaxdl.models.normalization.batch_norm``) + ``jaxdl.losses.cross_entropy`` + ``jaxdl.optim.sgd``.
- concise: ``jaxdl.models.normalization.BNLeNet`` (``flax.linen.BatchNorm``) +
  ``optax.softmax_cross_entropy_with_integer_labels`` + ``optax.inject_hyperparams(optax.sgd)``.

Command: ``python experiments/batch_norm.py [--data-dir DIR --epochs 10 --lr 1.0
--batch-size 256 --seed 0 --seeds 1 --out results/batch_norm --quick]``

metrics.json: as mlp.py: ``{"scratch"|"concise": {"test_acc", "train_acc", "train_loss",
"history": {...}, "seconds_per_epoch", "run"}}`` (with ``--seeds N > 1`` means over the seeds,
with ``"std"`` and ``"per_seed"``), plus ``"first_layer": {"scratch"|"concise": {"gamma",
"beta", "moving_mean", "moving_var"}}`` (the first batch norm's, after training; the first
seed's) and ``"num_params"``, ``"num_state"`` (the moving averages' count).
Figures: ``curves.png`` and ``predictions.png``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdl.losses import cross_entropy
from jaxdl.models.normalization import batch_norm, bn_lenet, concise_bn_lenet
from jaxdl.optim import sgd
from jaxdl.params import num_params

from harness import classifiers, common

# %% [markdown]
# ## Configuration
#
# The book's. In the notebook, pass flags to `common.start` in the cell below, e.g. `common.start(p,
# ["--epochs", "3"])` (`["--help"]` lists them); on the command line, `python
# experiments/batch_norm.py --help`.

# %%
p = common.parser("batch_norm", epochs=10, lr=1.0, batch_size=256, classifiers=True)
args, out = common.start(p)

# %% [markdown]
# ## Batch normalization from scratch
#
# The book's `batch_norm`, channels last: the statistics are over every axis but the last
# (batch, height and width after a convolution; the batch after a dense layer), and over the
# real examples only when the batch carries a mask. In training it returns the new moving
# averages with its output; in evaluation it uses them.

# %%
common.show_source(batch_norm)

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
    "scratch": (model, cross_entropy, sgd(args.lr)),
    "concise": (
        concise_bn_lenet(),
        optax.softmax_cross_entropy_with_integer_labels,
        optax.inject_hyperparams(optax.sgd)(learning_rate=args.lr),
    ),
}

# %% [markdown]
# ## Training
#
# As for LeNet: one jitted call per epoch, a scan over the shuffled minibatches with the data on
# the device; each step returns the new parameters, optimizer state and moving averages.

# %%
config = classifiers.ClassifierConfig.from_flags(args)
data, results = classifiers.train_from_config(variants, config)
metrics, figures = classifiers.report_classifiers(variants, results, data)
metrics["num_params"] = num_params(params)
metrics["num_state"] = num_params(state)
common.show(figures["predictions.png"])  # the curves are the board above, drawn live

# %% [markdown]
# ## The learned scale and shift
#
# The book prints the first batch norm's `gamma` and `beta` after training (one per channel of
# the first convolution): far from their initial 1 and 0, the network has chosen its own scale
# for each channel.

# %%
metrics["first_layer"] = {}
for name, result in results.items():
    trained = result.state
    if config.seeds > 1:  # the first seed's
        trained = jax.tree.map(lambda a: a[0], trained)
    if name == "scratch":
        p1, s1 = trained.params["bn1"], trained.model_state["bn1"]
    else:
        p1, s1 = trained.params["BatchNorm_0"], trained.model_state["batch_stats"]["BatchNorm_0"]
        p1, s1 = {"gamma": p1["scale"], "beta": p1["bias"]}, s1
    first = {"gamma": p1["gamma"], "beta": p1["beta"], "moving_mean": s1["mean"]}
    first["moving_var"] = s1["var"]
    metrics["first_layer"][name] = {k: np.asarray(v).tolist() for k, v in first.items()}
    common.print_value(f"{name}: gamma", first["gamma"])
    common.print_value(f"{name}: beta", first["beta"])

# %% [markdown]
# ## Against the book

# %%
common.compare_with_book("batch_norm", metrics, out)
metrics = common.finish(out, metrics, figures)

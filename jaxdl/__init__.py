"""jaxdl: the first chapters of Dive into Deep Learning as pure, jitted, tested JAX.

>>> import jax.numpy as jnp
>>> import jaxdl
>>> float(jaxdl.l2_norm(jnp.array([3.0, -4.0])))
5.0
"""

from jaxdl import data, models
from jaxdl.activations import (
    ACTIVATIONS,
    get_activation,
    log_softmax,
    naive_softmax,
    relu,
    sigmoid,
    softmax,
    tanh,
)
from jaxdl.calculus import numerical_grad, numerical_lim
from jaxdl.data.synthetic import polynomial_data, polynomial_features
from jaxdl.engine import Result, check_finite, make_epoch, train
from jaxdl.fit import fit
from jaxdl.linalg import frobenius_norm, l1_norm, l2_norm
from jaxdl.losses import cross_entropy, huber_loss, l1_loss, squared_loss
from jaxdl.metrics import accuracy, correct
from jaxdl.model import Model, TrainState, from_flax, init_state
from jaxdl.optim import l2_penalty, sgd, sgd_weight_decay
from jaxdl.plotting import loss_panels, new_figure, plot, save_figure, set_axes
from jaxdl.run import Run
from jaxdl.selection import cross_validate, k_fold_splits, masked_linear

__all__ = [
    "ACTIVATIONS",
    "Model",
    "Result",
    "Run",
    "TrainState",
    "accuracy",
    "check_finite",
    "correct",
    "cross_entropy",
    "cross_validate",
    "data",
    "fit",
    "frobenius_norm",
    "from_flax",
    "get_activation",
    "huber_loss",
    "init_state",
    "k_fold_splits",
    "l1_loss",
    "l1_norm",
    "l2_norm",
    "l2_penalty",
    "log_softmax",
    "loss_panels",
    "make_epoch",
    "masked_linear",
    "models",
    "naive_softmax",
    "new_figure",
    "numerical_grad",
    "numerical_lim",
    "plot",
    "polynomial_data",
    "polynomial_features",
    "relu",
    "save_figure",
    "set_axes",
    "sgd",
    "sgd_weight_decay",
    "sigmoid",
    "softmax",
    "squared_loss",
    "tanh",
    "train",
]

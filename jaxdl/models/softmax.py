"""Softmax regression: from scratch and concise (flax.linen).

Both flatten images ``[batch, 28, 28, 1]`` (or any ``[batch, ...]``) and return logits
``[batch, num_outputs]``; the softmax lives in the loss (``jaxdl.losses.cross_entropy``), where
log-sum-exp keeps it stable. Weights are drawn ``N(0, 0.01²)``, biases are zero, as the book.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl._checks import check_int
from jaxdl.model import Model, from_flax, stateless

INIT_STD = 0.01


def flatten(x: jax.Array) -> jax.Array:
    """``[batch, ...] -> [batch, features]``."""
    return x.reshape(x.shape[0], -1)


def softmax_regression(num_outputs: int = 10, *, init_std: float = INIT_STD) -> Model:
    """The from-scratch model ``logits = flatten(X) W + b`` with params ``{"W", "b"}``.

    Args:
      num_outputs: number of classes.
      init_std: standard deviation of the initial weights.

    Returns:
      A Model without state (:func:`jaxdl.model.stateless`); inputs [batch, ...], output
      logits [batch, num_outputs].

    >>> model = softmax_regression()
    >>> params, state = model.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
    >>> params["W"].shape, model.apply(params, state, jnp.zeros((2, 784)), train=False)[0].shape
    ((784, 10), (2, 10))
    """
    num_outputs = check_int(num_outputs, "num_outputs", low=1)

    def init(key, x):
        num_inputs = flatten(x).shape[1]
        return {
            "W": init_std * jax.random.normal(key, (num_inputs, num_outputs)),
            "b": jnp.zeros(num_outputs),
        }

    def apply(params, x):
        return flatten(x) @ params["W"] + params["b"][None, :]

    config = {"name": "softmax_regression", "num_outputs": num_outputs, "init_std": init_std}
    return stateless(init, apply, config)


class SoftmaxRegression(nn.Module):
    """The concise model: flatten, then ``nn.Dense(num_outputs)``."""

    num_outputs: int = 10
    init_std: float = INIT_STD

    @nn.compact
    def __call__(self, x):
        dense = nn.Dense(
            self.num_outputs,
            kernel_init=nn.initializers.normal(self.init_std),
            bias_init=nn.initializers.zeros,
        )
        return dense(flatten(x))


def concise_softmax_regression(num_outputs: int = 10, *, init_std: float = INIT_STD) -> Model:
    """:class:`SoftmaxRegression` as a Model."""
    return from_flax(SoftmaxRegression(check_int(num_outputs, "num_outputs", low=1), init_std))

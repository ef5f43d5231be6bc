"""Multilayer perceptrons: from scratch and concise (flax.linen).

``num_hiddens`` lists the hidden layer widths (the book's 784-256-10 network is
``num_hiddens=(256,)``); every hidden layer is followed by the activation. Weights are drawn
``N(0, 0.01²)`` and biases are zero, as the book's from-scratch MLP.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl._checks import check_int
from jaxdl.activations import get_activation
from jaxdl.model import Model, from_flax
from jaxdl.models.softmax import flatten

INIT_STD = 0.01


def _check(num_hiddens, num_outputs, activation) -> tuple[tuple[int, ...], int]:
    num_hiddens = tuple(num_hiddens)
    if not num_hiddens:
        raise ValueError("num_hiddens: expected at least one hidden layer width, got none")
    num_hiddens = tuple(check_int(w, "num_hiddens", low=1) for w in num_hiddens)
    num_outputs = check_int(num_outputs, "num_outputs", low=1)
    get_activation(activation)  # raises for an unknown name
    return num_hiddens, num_outputs


def mlp(
    num_hiddens: Sequence[int] = (256,),
    num_outputs: int = 10,
    *,
    activation: str = "relu",
    init_std: float = INIT_STD,
) -> Model:
    """The from-scratch MLP; params ``{"layers": [{"W", "b"}, ...]}``.

    Args:
      num_hiddens: widths of the hidden layers, at least one.
      num_outputs: number of classes.
      activation: ``"relu"``, ``"sigmoid"`` or ``"tanh"``.
      init_std: standard deviation of the initial weights.

    Returns:
      A Model; ``apply(params, x [batch, ...]) -> logits [batch, num_outputs]``.

    >>> model = mlp((256,))
    >>> params = model.init(jax.random.key(0), jnp.zeros((1, 784)))
    >>> [layer["W"].shape for layer in params["layers"]]
    [(784, 256), (256, 10)]
    """
    num_hiddens, num_outputs = _check(num_hiddens, num_outputs, activation)
    act = get_activation(activation)

    def init(key, x):
        widths = (flatten(x).shape[1], *num_hiddens, num_outputs)
        keys = jax.random.split(key, len(widths) - 1)
        return {
            "layers": [
                {"W": init_std * jax.random.normal(k, (a, b)), "b": jnp.zeros(b)}
                for k, a, b in zip(keys, widths[:-1], widths[1:], strict=True)
            ]
        }

    def apply(params, x):
        h = flatten(x)
        *hidden, last = params["layers"]
        for layer in hidden:
            h = act(h @ layer["W"] + layer["b"][None, :])
        return h @ last["W"] + last["b"][None, :]

    config = {
        "name": "mlp",
        "num_hiddens": list(num_hiddens),
        "num_outputs": num_outputs,
        "activation": activation,
        "init_std": init_std,
    }
    return Model(init, apply, config)


class MLP(nn.Module):
    """The concise MLP: ``nn.Dense`` layers with the activation between them."""

    num_hiddens: tuple[int, ...] = (256,)
    num_outputs: int = 10
    activation: str = "relu"
    init_std: float = INIT_STD

    @nn.compact
    def __call__(self, x):
        act = get_activation(self.activation)
        init = dict(
            kernel_init=nn.initializers.normal(self.init_std), bias_init=nn.initializers.zeros
        )
        h = flatten(x)
        for width in self.num_hiddens:
            h = act(nn.Dense(width, **init)(h))
        return nn.Dense(self.num_outputs, **init)(h)


def concise_mlp(*args, **kwargs) -> Model:
    """:class:`MLP` as a Model; takes the arguments of :func:`mlp`, checked the same way.

    >>> concise_mlp((64,), activation="tanh").config["num_hiddens"]
    [64]
    """
    c = mlp(*args, **kwargs).config
    return from_flax(MLP(tuple(c["num_hiddens"]), c["num_outputs"], c["activation"], c["init_std"]))

"""Multilayer perceptrons: from scratch and concise (flax.linen).

``num_hiddens`` lists the hidden layer widths (the book's 784-256-10 network is
``num_hiddens=(256,)``); every hidden layer is followed by the activation. Weights are drawn
``N(0, 0.01²)`` and biases are zero, as the book's from-scratch MLP. ``init_std`` sets another
scale: one for every layer, or one per layer (Xavier's, say: ``jaxdl.initializers.xavier_std``
of each layer's shape), and may be traced, so that ``jax.vmap`` trains one model per scale.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxdl._checks import check_int, check_number, is_traced
from jaxdl.activations import get_activation
from jaxdl.errors import InputError
from jaxdl.model import Model, from_flax, stateless
from jaxdl.models.softmax import flatten

INIT_STD = 0.01


def _check(num_hiddens, num_outputs, activation) -> tuple[tuple[int, ...], int]:
    num_hiddens = tuple(num_hiddens)
    if not num_hiddens:
        raise InputError("num_hiddens: expected at least one hidden layer width, got none")
    num_hiddens = tuple(check_int(w, "num_hiddens", low=1) for w in num_hiddens)
    num_outputs = check_int(num_outputs, "num_outputs", low=1)
    get_activation(activation)  # raises for an unknown name
    return num_hiddens, num_outputs


def _layer_stds(init_std, num_layers: int) -> tuple:
    """``init_std`` as one standard deviation per layer: a scalar (Python, NumPy or a 0-d
    array, traced or not) serves every layer; a sequence or a 1-D array gives one per layer."""
    if isinstance(init_std, list | tuple):
        stds = tuple(init_std)
    elif np.ndim(init_std) == 1:
        stds = tuple(init_std[i] for i in range(len(init_std)))
    elif np.ndim(init_std) == 0:
        return (init_std,) * num_layers
    else:
        raise InputError(
            f"init_std: expected a number or one per layer [{num_layers}], got shape "
            f"{np.shape(init_std)}"
        )
    if len(stds) != num_layers:
        raise InputError(
            f"init_std: expected a number or one per layer ({num_layers} layers), got "
            f"{len(stds)} values"
        )
    for std in stds:
        if np.ndim(std) != 0:
            raise InputError(f"init_std: expected one number per layer, got shape {np.shape(std)}")
    return stds


def _recorded(init_std, stds: tuple):
    """``init_std`` as the config records it: as given for a number, a list for one per layer,
    None when traced (its values are unknown while the model is built under ``jit``/``vmap``)."""
    if any(is_traced(std) for std in stds):
        return None
    if not isinstance(init_std, list | tuple) and np.ndim(init_std) == 0:
        return init_std
    values = [np.asarray(std) for std in stds]
    return [float(str(v)) if v.dtype == np.float32 else v.item() for v in values]


def scratch_mlp(
    num_hiddens: Sequence[int] = (256,),
    num_outputs: int = 10,
    *,
    activation: str = "relu",
    init_std=INIT_STD,
) -> Model:
    """The from-scratch MLP; params ``{"layers": [{"W", "b"}, ...]}``.

    Layer ``l`` draws ``W_l ~ N(0, σ_l²)`` as ``σ_l · jax.random.normal`` with its own key;
    biases are zero.

    Args:
      num_hiddens: widths of the hidden layers, at least one.
      num_outputs: number of classes.
      activation: ``"relu"``, ``"sigmoid"`` or ``"tanh"``.
      init_std: standard deviation of the initial weights, >= 0: one number for every layer,
        or one per layer (a sequence or an array [len(num_hiddens) + 1]). Traced values are
        allowed (``jax.vmap`` over scales); the config then records ``init_std`` as None.

    Returns:
      A Model without state (:func:`jaxdl.model.stateless`); inputs [batch, ...], output
      logits [batch, num_outputs].

    Raises:
      ValueError: on an empty ``num_hiddens``, a width < 1, an unknown activation, or an
        ``init_std`` that is negative, not finite, or not one number per layer.
      TypeError: on a width or an ``init_std`` that is not a number.

    >>> model = scratch_mlp((256,))
    >>> params, _ = model.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
    >>> [layer["W"].shape for layer in params["layers"]]
    [(784, 256), (256, 10)]
    >>> scratch_mlp((256,), init_std=[0.05, 0.1]).config["init_std"]
    [0.05, 0.1]
    """
    num_hiddens, num_outputs = _check(num_hiddens, num_outputs, activation)
    act = get_activation(activation)
    stds = _layer_stds(init_std, len(num_hiddens) + 1)
    for std in stds:
        check_number(std, "init_std", low=0)

    def init(key, x):
        widths = (flatten(x).shape[1], *num_hiddens, num_outputs)
        keys = jax.random.split(key, len(widths) - 1)
        return {
            "layers": [
                {"W": std * jax.random.normal(k, (a, b)), "b": jnp.zeros(b)}
                for std, k, a, b in zip(stds, keys, widths[:-1], widths[1:], strict=True)
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
        "init_std": _recorded(init_std, stds),
    }
    return stateless(init, apply, config)


class MLP(nn.Module):
    """The concise MLP: ``nn.Dense`` layers with the activation between them; ``init_std`` is
    one standard deviation for every layer's kernel, or a tuple of one per layer."""

    num_hiddens: tuple[int, ...] = (256,)
    num_outputs: int = 10
    activation: str = "relu"
    init_std: float | tuple[float, ...] = INIT_STD

    @nn.compact
    def __call__(self, x):
        act = get_activation(self.activation)
        widths = (*self.num_hiddens, self.num_outputs)
        stds = self.init_std if isinstance(self.init_std, tuple) else (self.init_std,) * len(widths)
        h = flatten(x)
        for i, (width, std) in enumerate(zip(widths, stds, strict=True)):
            dense = nn.Dense(
                width, kernel_init=nn.initializers.normal(std), bias_init=nn.initializers.zeros
            )
            h = dense(h) if i == len(widths) - 1 else act(dense(h))
        return h


def concise_mlp(*args, **kwargs) -> Model:
    """:class:`MLP` as a Model; takes the arguments of :func:`scratch_mlp`, checked the same
    way, but ``init_std`` as numbers only (the module's fields are its config; to sweep scales under
    ``jax.vmap``, use :func:`scratch_mlp`).

    >>> concise_mlp((64,), activation="tanh").config["num_hiddens"]
    [64]
    """
    c = scratch_mlp(*args, **kwargs).config
    std = c["init_std"]
    if std is None:
        raise InputError(
            "init_std: expected numbers for concise_mlp, got a traced value; sweep the scale "
            "with mlp, whose init_std may be traced"
        )
    std = tuple(std) if isinstance(std, list) else std
    return from_flax(MLP(tuple(c["num_hiddens"]), c["num_outputs"], c["activation"], std))

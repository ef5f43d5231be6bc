"""Dropout (the book's 4.6): the layer from scratch, and the book's network with it, from scratch
and concise (``flax.linen.Dropout``).

Dropout zeroes each hidden unit with probability ``rate`` during training and scales the
others by ``1 / (1 - rate)``, so a unit's expected value is unchanged; evaluation uses the whole
network. Both models need a key and a train switch (``Model.needs``): they drop units only in
training (``train=True``), with the key the training engine gives each step; evaluation and
:func:`jaxdl.model.predict` (``train=False``) use the deterministic network.

Initialisation follows the book's code: the scratch network's ``nn.Linear`` layers keep
PyTorch's default, ``U(-1/√n_in, 1/√n_in)`` for weights and biases; the concise network's
weights are drawn ``N(0, 0.01²)`` (its ``init_weights``) and its biases keep that default.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl._checks import check_int, check_number, is_traced
from jaxdl.activations import get_activation
from jaxdl.errors import InputError, InputTypeError
from jaxdl.model import Model, from_flax, stateless
from jaxdl.models.softmax import flatten

INIT_STD = 0.01  # the concise network's weights


def dropout_layer(key: jax.Array, x: jax.Array, rate: float) -> jax.Array:
    """The book's ``dropout_layer``: each element of ``x`` is zeroed with probability ``rate``
    (kept where a uniform draw exceeds ``rate``), the kept ones scaled by ``1 / (1 - rate)``.

    ``rate`` is the probability to DROP a unit, as the book's (not a keep probability).

    Args:
      key: a ``jax.random.key``; one draw per element.
      x: any array.
      rate: a number in [0, 1]; 0 returns ``x``, 1 returns zeros (no draw).

    Returns:
      An array of ``x``'s shape and dtype.

    Raises:
      ValueError: when ``rate`` is outside [0, 1]; TypeError: when it is traced (the two ends
        are special cases chosen in Python, as the book's).

    >>> x = jnp.arange(1.0, 9.0)
    >>> key = jax.random.key(0)
    >>> dropout_layer(key, x, 0.0) is x, dropout_layer(key, x, 1.0).tolist()
    (True, [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    >>> y = dropout_layer(jax.random.key(0), x, 0.5)
    >>> bool(jnp.all((y == 0) | (y == 2 * x)))
    True
    """
    if is_traced(rate):
        raise InputTypeError("rate: expected a Python number, got a traced value")
    check_number(rate, "rate", low=0)
    if rate > 1:
        raise InputError(f"rate: expected a probability in [0, 1], got {rate}")
    if rate == 0:
        return x
    if rate == 1:
        return jnp.zeros_like(x)
    keep = jax.random.uniform(key, jnp.shape(x)) > rate
    return jnp.where(keep, x / (1.0 - rate), jnp.zeros_like(x))


def _check(num_hiddens, dropout_rates, num_outputs, activation):
    num_hiddens = tuple(check_int(w, "num_hiddens", low=1) for w in num_hiddens)
    rates = tuple(float(r) for r in dropout_rates)
    if not num_hiddens or len(rates) != len(num_hiddens):
        raise InputError(
            f"num_hiddens and dropout_rates: expected one rate per hidden layer (at least one "
            f"layer), got {len(num_hiddens)} widths and {len(rates)} rates"
        )
    for rate in rates:
        check_number(rate, "dropout_rates", low=0)
        if rate > 1:
            raise InputError(f"dropout_rates: expected probabilities in [0, 1], got {rate}")
    get_activation(activation)  # raises for an unknown name
    return num_hiddens, rates, check_int(num_outputs, "num_outputs", low=1)


def _torch_default_uniform(key, shape, fan_in):
    """PyTorch's default ``nn.Linear`` initialisation: ``U(-1/√fan_in, 1/√fan_in)``."""
    bound = 1.0 / jnp.sqrt(float(fan_in))
    return jax.random.uniform(key, shape, minval=-bound, maxval=bound)


def dropout_mlp(
    num_hiddens: Sequence[int] = (256, 256),
    dropout_rates: Sequence[float] = (0.2, 0.5),
    num_outputs: int = 10,
    *,
    activation: str = "relu",
) -> Model:
    """The book's network with dropout from scratch (784-256-256-10, dropout 0.2 after the
    first hidden layer and 0.5 after the second, ReLU); params ``{"layers": [{"W", "b"}, ...]}``.

    Args:
      num_hiddens: widths of the hidden layers.
      dropout_rates: the probability to drop a unit after each hidden layer.
      num_outputs: number of classes.
      activation: ``"relu"``, ``"sigmoid"`` or ``"tanh"``.

    Returns:
      A Model without state that needs a key and the train switch (``needs={"key",
      "train"}``); inputs [batch, ...], output logits [batch, num_outputs].

    >>> model = dropout_mlp()
    >>> params, state = model.init(jax.random.key(0), jnp.zeros((1, 784)))
    >>> x = jnp.ones((2, 784))
    >>> a, _ = model.apply(params, state, x, train=False)
    >>> b, _ = model.apply(params, state, x, train=True, key=jax.random.key(1))
    >>> bool((a == model.apply(params, state, x, train=False)[0]).all()), bool((a == b).all())
    (True, False)
    """
    num_hiddens, rates, num_outputs = _check(num_hiddens, dropout_rates, num_outputs, activation)
    act = get_activation(activation)

    def init(key, x):
        widths = (flatten(x).shape[1], *num_hiddens, num_outputs)
        keys = jax.random.split(key, 2 * (len(widths) - 1)).reshape(-1, 2)
        return {
            "layers": [
                {
                    "W": _torch_default_uniform(kw, (a, b), a),
                    "b": _torch_default_uniform(kb, (b,), a),
                }
                for (kw, kb), a, b in zip(keys, widths[:-1], widths[1:], strict=True)
            ]
        }

    def apply(params, x, *, key=None, train=False):
        h = flatten(x)
        *hidden, last = params["layers"]
        keys = jax.random.split(key, len(hidden)) if train else [None] * len(hidden)
        for layer, rate, layer_key in zip(hidden, rates, keys, strict=True):
            h = act(h @ layer["W"] + layer["b"][None, :])
            if train:
                h = dropout_layer(layer_key, h, rate)
        return h @ last["W"] + last["b"][None, :]

    config = {
        "name": "dropout_mlp",
        "num_hiddens": list(num_hiddens),
        "dropout_rates": list(rates),
        "num_outputs": num_outputs,
        "activation": activation,
    }
    return stateless(init, apply, config, needs=("key", "train"))


class DropoutMLP(nn.Module):
    """The concise network: ``nn.Dense`` layers, the activation, ``nn.Dropout`` after each
    hidden layer (active when ``train`` is True)."""

    num_hiddens: tuple[int, ...] = (256, 256)
    dropout_rates: tuple[float, ...] = (0.2, 0.5)
    num_outputs: int = 10
    activation: str = "relu"
    init_std: float = INIT_STD

    @nn.compact
    def __call__(self, x, train: bool = False):
        act = get_activation(self.activation)
        h = flatten(x)
        for width, rate in zip(self.num_hiddens, self.dropout_rates, strict=True):
            h = act(self._dense(width, h.shape[-1])(h))
            h = nn.Dropout(rate, deterministic=not train)(h)
        return self._dense(self.num_outputs, h.shape[-1])(h)

    def _dense(self, width: int, fan_in: int) -> nn.Dense:
        def bias_init(key, shape, dtype=jnp.float32):
            return _torch_default_uniform(key, shape, fan_in).astype(dtype)

        return nn.Dense(
            width, kernel_init=nn.initializers.normal(self.init_std), bias_init=bias_init
        )


def concise_dropout_mlp(*args, **kwargs) -> Model:
    """:class:`DropoutMLP` as a Model that needs a key (its ``"dropout"`` stream) and the train
    switch; takes the arguments of :func:`dropout_mlp`.

    >>> concise_dropout_mlp().config["dropout_rates"]
    [0.2, 0.5]
    """
    c = dropout_mlp(*args, **kwargs).config
    module = DropoutMLP(
        tuple(c["num_hiddens"]), tuple(c["dropout_rates"]), c["num_outputs"], c["activation"]
    )
    return from_flax(module, rngs=("dropout",))

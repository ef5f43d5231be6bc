"""LeNet-5 (the book's 6.6): from scratch and concise (flax.linen).

The book's network, in its order::

    Conv2d(1, 6, kernel 5, padding 2), Sigmoid, AvgPool2d(2, stride 2),
    Conv2d(6, 16, kernel 5), Sigmoid, AvgPool2d(2, stride 2), Flatten,
    Linear(400, 120), Sigmoid, Linear(120, 84), Sigmoid, Linear(84, 10)

Images are NHWC, ``[batch, 28, 28, 1]`` (the book's tensors are NCHW, ``[batch, 1, 28, 28]``):
XLA's CPU and GPU convolutions prefer channels last, and flax's layers take them so. Kernels
are HWIO, ``[5, 5, in, out]``. Flatten therefore orders the 400 features height, width,
channel where PyTorch orders them channel, height, width: the first dense layer's rows are
permuted, which changes no result in distribution.

Initialisation, as the book's ``train_ch6``: every convolution and dense weight is Xavier
uniform (``nn.init.xavier_uniform_``); biases keep PyTorch's default for ``nn.Conv2d`` and
``nn.Linear``, ``U(−1/√fan_in, 1/√fan_in)`` with ``fan_in`` = in_channels · kernel area (or
in_features). ``activation="relu"`` and ``pool="max"`` give the modern variant of the book's
exercises.

Both compute convolutions with :func:`jaxdl.ops.convolution.conv_general_dilated` (the
gradient XLA:CPU runs fast inside the epoch's scan).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from jaxdl._checks import check_int
from jaxdl.activations import get_activation
from jaxdl.errors import InputError
from jaxdl.initializers import xavier_uniform
from jaxdl.model import Model, from_flax, stateless
from jaxdl.ops.convolution import NHWC, Conv, conv_general_dilated

POOLS = ("avg", "max")
# (name, kernel size, padding, output channels) of the two convolutions
CONVS = (("conv1", 5, 2, 6), ("conv2", 5, 0, 16))
DENSES = (("dense1", 120), ("dense2", 84))  # the hidden dense layers; then num_outputs


def _check(num_outputs, activation, pool) -> int:
    num_outputs = check_int(num_outputs, "num_outputs", low=1)
    get_activation(activation)  # raises for an unknown name
    if pool not in POOLS:
        raise InputError(f"pool: expected one of {list(POOLS)}, got {pool!r}")
    return num_outputs


def _check_images(x) -> None:
    if x.ndim != 4 or x.shape[1:] != (28, 28, 1):
        raise InputError(
            f"x: expected images [batch, 28, 28, 1] (NHWC), got shape {tuple(x.shape)}"
        )


def torch_bias_init(fan_in: int) -> Callable:
    """PyTorch's default bias initialiser of ``nn.Conv2d`` and ``nn.Linear``:
    ``U(−1/√fan_in, 1/√fan_in)``, as a flax initializer ``(key, shape, dtype)``.

    >>> b = torch_bias_init(25)(jax.random.key(0), (6,))
    >>> bool(jnp.all(jnp.abs(b) <= 0.2))
    True
    """
    bound = 1.0 / math.sqrt(fan_in)

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


def _pool(x: jax.Array, pool: str) -> jax.Array:
    """2×2 pooling with stride 2 of NHWC images ``[batch, h, w, c]`` -> ``[batch, h // 2, w //
    2, c]``: the mean (``"avg"``, ``nn.AvgPool2d(2, 2)``) or the maximum (``"max"``)."""
    window = (1, 2, 2, 1)
    if pool == "max":
        return lax.reduce_window(x, -jnp.inf, lax.max, window, window, "VALID")
    return lax.reduce_window(x, 0.0, lax.add, window, window, "VALID") / 4.0


def lenet_layers(
    params, *, activation: str = "sigmoid", pool: str = "avg"
) -> list[tuple[str, Callable]]:
    """The from-scratch LeNet as the book's ``nn.Sequential``: ``[(layer name, x -> y), ...]``
    with PyTorch's layer names, each a function of the images' NHWC batch.

    Composing them is the forward pass; applying them one at a time gives each layer's
    output shape, as the book prints them.
    """
    act = get_activation(activation)
    act_name = activation.capitalize() if activation != "relu" else "ReLU"
    pool_name = "AvgPool2d" if pool == "avg" else "MaxPool2d"

    def conv(layer, padding):
        return lambda x: (
            conv_general_dilated(
                x, layer["W"], (1, 1), [(padding, padding)] * 2, dimension_numbers=NHWC
            )
            + layer["b"].reshape(1, 1, 1, -1)
        )

    def dense(layer):
        return lambda x: x @ layer["W"] + layer["b"][None, :]

    layers = []
    for name, _, padding, _ in CONVS:
        layers += [
            ("Conv2d", conv(params[name], padding)),
            (act_name, act),
            (pool_name, lambda x: _pool(x, pool)),
        ]
    layers.append(("Flatten", lambda x: x.reshape(x.shape[0], -1)))
    for name, _ in DENSES:
        layers += [("Linear", dense(params[name])), (act_name, act)]
    layers.append(("Linear", dense(params["output"])))
    return layers


def scratch_lenet(
    num_outputs: int = 10, *, activation: str = "sigmoid", pool: str = "avg"
) -> Model:
    """The from-scratch LeNet; params ``{"conv1", "conv2", "dense1", "dense2", "output"}``, each
    ``{"W", "b"}`` (kernels HWIO ``[5, 5, in, out]``, dense weights ``[in, out]``).

    Args:
      num_outputs: number of classes.
      activation: ``"sigmoid"`` (the book's), ``"relu"`` or ``"tanh"``.
      pool: ``"avg"`` (the book's) or ``"max"``.

    Returns:
      A Model without state; inputs NHWC ``[batch, 28, 28, 1]``, output logits
      ``[batch, num_outputs]``.

    Raises:
      ValueError: on a class count < 1, an unknown activation or pool, or images not
        ``[batch, 28, 28, 1]`` at initialisation.

    >>> params, _ = scratch_lenet().init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
    >>> [params[k]["W"].shape for k in ("conv1", "conv2", "dense1", "output")]
    [(5, 5, 1, 6), (5, 5, 6, 16), (400, 120), (84, 10)]
    """
    num_outputs = _check(num_outputs, activation, pool)

    def init(key, x):
        _check_images(x)
        keys = iter(jax.random.split(key, 2 * (len(CONVS) + len(DENSES) + 1)))
        params, channels = {}, x.shape[-1]
        for name, size, _, out in CONVS:
            shape = (size, size, channels, out)
            params[name] = {
                "W": xavier_uniform(next(keys), shape),
                "b": torch_bias_init(size * size * channels)(next(keys), (out,)),
            }
            channels = out
        widths = (16 * 5 * 5, *(w for _, w in DENSES), num_outputs)
        names = (*(n for n, _ in DENSES), "output")
        for name, n_in, n_out in zip(names, widths[:-1], widths[1:], strict=True):
            params[name] = {
                "W": xavier_uniform(next(keys), (n_in, n_out)),
                "b": torch_bias_init(n_in)(next(keys), (n_out,)),
            }
        return params

    def apply(params, x):
        _check_images(x)
        for _, layer in lenet_layers(params, activation=activation, pool=pool):
            x = layer(x)
        return x

    config = {"name": "lenet", "num_outputs": num_outputs, "activation": activation, "pool": pool}
    return stateless(init, apply, config)


class LeNet(nn.Module):
    """The concise LeNet: ``flax.linen`` layers (``Conv`` of
    :mod:`jaxdl.ops.convolution`, ``avg_pool``/``max_pool``, ``Dense``), initialised as
    :func:`scratch_lenet`."""

    num_outputs: int = 10
    activation: str = "sigmoid"
    pool: str = "avg"

    @nn.compact
    def __call__(self, x):
        _check_images(x)
        act = get_activation(self.activation)
        pool = nn.avg_pool if self.pool == "avg" else nn.max_pool
        xavier = nn.initializers.xavier_uniform()
        for _, size, padding, out in CONVS:
            fan_in = size * size * x.shape[-1]
            x = Conv(
                out,
                (size, size),
                padding=padding,
                kernel_init=xavier,
                bias_init=torch_bias_init(fan_in),
            )(x)
            x = pool(act(x), (2, 2), strides=(2, 2))
        x = x.reshape(x.shape[0], -1)
        widths = (*(w for _, w in DENSES), self.num_outputs)
        for i, width in enumerate(widths):
            x = nn.Dense(width, kernel_init=xavier, bias_init=torch_bias_init(x.shape[-1]))(x)
            if i < len(widths) - 1:
                x = act(x)
        return x


def concise_lenet(num_outputs: int = 10, *, activation: str = "sigmoid", pool: str = "avg"):
    """:class:`LeNet` as a Model; arguments and checks as :func:`scratch_lenet`.

    >>> concise_lenet(pool="max").config["pool"]
    'max'
    """
    return from_flax(LeNet(_check(num_outputs, activation, pool), activation, pool))

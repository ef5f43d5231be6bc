"""Batch normalization (the book's 7.5): the layer from scratch, and LeNet with it, from
scratch and concise (flax.linen).

In training, batch normalization standardises each channel (each feature of a dense layer)
with the minibatch's mean and variance, then scales and shifts it by learned ``gamma`` and
``beta``; it also keeps moving averages of the means and variances, which evaluation uses in
place of the batch's. As the book's ``batch_norm``::

    train:    X̂ = (X − mean_B) / √(var_B + ε),   moving ← m · moving + (1 − m) · batch
    evaluate: X̂ = (X − moving_mean) / √(moving_var + ε)
    Y = gamma · X̂ + beta

with ``var_B`` the biased variance (divided by the count), momentum ``m = 0.9`` and ``ε =
1e-5``. That is ``flax.linen.BatchNorm(momentum=0.9, epsilon=1e-5, use_fast_variance=False)``
to float32 rounding, running statistics included (tests check; flax's default fast variance,
``E[x²] − E[x]²``, rounds differently). PyTorch's ``nn.BatchNorm2d`` (the book's concise variant)
normalises the same way but keeps the unbiased variance (divided by count − 1) in its running
variance: over a LeNet batch's 256 · 8 · 8 values per channel, a factor 1.00006; over the 256
values of a dense layer's feature, 1.004.

The mean and variance are over every axis but the last (channels last: ``[batch, h, w, c]``
or ``[batch, features]``), and over the real examples only where the batch carries a mask
(the engine pads an epoch's last minibatch: padding must not shift the statistics).

BN-LeNet is the book's::

    Conv2d(1, 6, kernel 5), BatchNorm, Sigmoid, AvgPool2d(2, stride 2),
    Conv2d(6, 16, kernel 5), BatchNorm, Sigmoid, AvgPool2d(2, stride 2), Flatten,
    Linear(256, 120), BatchNorm, Sigmoid, Linear(120, 84), BatchNorm, Sigmoid, Linear(84, 10)

(no padding in the first convolution, unlike LeNet's: 28 → 24 → 12 → 8 → 4), initialised as
:mod:`jaxdl.models.lenet` (Xavier-uniform weights, PyTorch's default biases, ``gamma`` 1 and
``beta`` 0).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl._checks import check_int, check_number
from jaxdl.errors import InputError
from jaxdl.initializers import xavier_uniform
from jaxdl.model import Model, batch_mask, batch_statistics_check, from_flax
from jaxdl.models.lenet import _check_images, _pool, torch_bias_init
from jaxdl.ops.convolution import NHWC, Conv, conv_general_dilated

EPS = 1e-5
MOMENTUM = 0.9
# (name, kernel size, output channels) of the two convolutions; dense widths after them
CONVS = (("conv1", 5, 6), ("conv2", 5, 16))
DENSES = (("dense1", 120), ("dense2", 84))
FLAT = 16 * 4 * 4  # conv2's output, flattened


def batch_norm_init(num_features: int) -> tuple[dict, dict]:
    """The parameters and state of a batch-norm layer over ``num_features`` channels:
    ``({"gamma": ones, "beta": zeros}, {"mean": zeros, "var": ones})``, as the book's
    ``BatchNorm``."""
    num_features = check_int(num_features, "num_features", low=1)
    return (
        {"gamma": jnp.ones(num_features), "beta": jnp.zeros(num_features)},
        {"mean": jnp.zeros(num_features), "var": jnp.ones(num_features)},
    )


def batch_norm(
    x,
    params: dict,
    state: dict,
    *,
    train: bool,
    mask=None,
    eps: float = EPS,
    momentum: float = MOMENTUM,
) -> tuple[jax.Array, dict]:
    """The book's ``batch_norm``, channels last, with the batch's mask.

    Args:
      x: ``[batch, features]`` (after a dense layer) or ``[batch, h, w, channels]`` (after a
        convolution).
      params: ``{"gamma", "beta"}``, each ``[channels]``.
      state: ``{"mean", "var"}``, the moving averages, each ``[channels]``.
      train: normalise with the batch's statistics and update the moving averages (True), or
        with the moving averages (False).
      mask: bool ``[batch]``, True for the examples the statistics count; None counts all.
      eps: ε added to the variance.
      momentum: ``m`` of the moving averages.

    Returns:
      ``(y, state)``: ``y`` of ``x``'s shape and the new moving averages (``state`` itself when
      ``train`` is False).

    Raises:
      InputError: on a rank other than 2 or 4, a channel count other than the parameters', or
        one value per channel in training (a batch of one example after a dense layer).

    >>> params, state = batch_norm_init(2)
    >>> y, new = batch_norm(jnp.array([[1.0, 2.0], [3.0, 6.0]]), params, state, train=True)
    >>> y.round(4), new["mean"]
    (Array([[-1., -1.],
           [ 1.,  1.]], dtype=float32), Array([0.2, 0.4], dtype=float32))
    """
    x = jnp.asarray(x)
    if x.ndim not in (2, 4):
        raise InputError(
            f"batch_norm: x: expected [batch, features] or [batch, h, w, channels], got shape "
            f"{x.shape}"
        )
    if x.shape[-1] != params["gamma"].shape[0]:
        raise InputError(
            f"batch_norm: x: expected {params['gamma'].shape[0]} channels (the last axis), got "
            f"shape {x.shape}"
        )

    def channels(v):  # [c] -> [1, ..., 1, c], to broadcast against x
        return jnp.reshape(v, (1,) * (x.ndim - 1) + (-1,))

    if not train:
        x_hat = (x - channels(state["mean"])) / jnp.sqrt(channels(state["var"]) + eps)
        return channels(params["gamma"]) * x_hat + channels(params["beta"]), state
    axes = tuple(range(x.ndim - 1))
    batch_statistics_check(x, axes, "batch_norm")
    if mask is None:
        mean = x.mean(axis=axes, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    else:
        weight = jnp.broadcast_to(batch_mask(mask, x), (*x.shape[:-1], 1)).astype(x.dtype)
        count = weight.sum()
        mean = (x * weight).sum(axis=axes, keepdims=True) / count
        var = (((x - mean) ** 2) * weight).sum(axis=axes, keepdims=True) / count
    x_hat = (x - mean) / jnp.sqrt(var + eps)
    state = {
        "mean": momentum * state["mean"] + (1.0 - momentum) * mean.reshape(-1),
        "var": momentum * state["var"] + (1.0 - momentum) * var.reshape(-1),
    }
    return channels(params["gamma"]) * x_hat + channels(params["beta"]), state


def _check(num_outputs, momentum) -> tuple[int, float]:
    num_outputs = check_int(num_outputs, "num_outputs", low=1)
    check_number(momentum, "momentum", low=0)
    if momentum > 1:
        raise InputError(f"momentum: expected a number in [0, 1], got {momentum!r}")
    return num_outputs, float(momentum)


def _conv(layer, x):
    return conv_general_dilated(x, layer["W"], (1, 1), "VALID", dimension_numbers=NHWC) + layer[
        "b"
    ].reshape(1, 1, 1, -1)


def bn_lenet(num_outputs: int = 10, *, momentum: float = MOMENTUM) -> Model:
    """The from-scratch BN-LeNet (module docstring).

    Params ``{"conv1", "conv2", "dense1", "dense2", "output"}``, each ``{"W", "b"}`` (kernels
    HWIO, dense weights ``[in, out]``), and ``"bn1" .. "bn4"``, each ``{"gamma", "beta"}``;
    state ``"bn1" .. "bn4"``, each ``{"mean", "var"}``.

    Args:
      num_outputs: number of classes.
      momentum: the moving averages' ``m`` (the book's 0.9).

    Returns:
      A Model with state that needs ``train`` and ``mask``; inputs NHWC ``[batch, 28, 28, 1]``,
      output logits ``[batch, num_outputs]``.

    >>> params, state = bn_lenet().init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
    >>> params["dense1"]["W"].shape, state["bn3"]["var"].shape
    ((256, 120), (120,))
    """
    num_outputs, momentum = _check(num_outputs, momentum)

    def init(key, x):
        _check_images(x)
        keys = iter(jax.random.split(key, 2 * (len(CONVS) + len(DENSES) + 1)))
        params, state, channels = {}, {}, x.shape[-1]
        for i, (name, size, out) in enumerate(CONVS, 1):
            params[name] = {
                "W": xavier_uniform(next(keys), (size, size, channels, out)),
                "b": torch_bias_init(size * size * channels)(next(keys), (out,)),
            }
            params[f"bn{i}"], state[f"bn{i}"] = batch_norm_init(out)
            channels = out
        widths = (FLAT, *(w for _, w in DENSES), num_outputs)
        names = (*(n for n, _ in DENSES), "output")
        for i, (name, n_in, n_out) in enumerate(zip(names, widths[:-1], widths[1:], strict=True)):
            params[name] = {
                "W": xavier_uniform(next(keys), (n_in, n_out)),
                "b": torch_bias_init(n_in)(next(keys), (n_out,)),
            }
            if name != "output":
                params[f"bn{i + 3}"], state[f"bn{i + 3}"] = batch_norm_init(n_out)
        return params, state

    def apply(params, state, x, *, train, key=None, mask=None):
        _check_images(x)
        new = {}

        def norm(name, x):
            y, new[name] = batch_norm(
                x, params[name], state[name], train=train, mask=mask, momentum=momentum
            )
            return jax.nn.sigmoid(y)

        x = _pool(norm("bn1", _conv(params["conv1"], x)), "avg")
        x = _pool(norm("bn2", _conv(params["conv2"], x)), "avg")
        x = x.reshape(x.shape[0], -1)
        x = norm("bn3", x @ params["dense1"]["W"] + params["dense1"]["b"][None, :])
        x = norm("bn4", x @ params["dense2"]["W"] + params["dense2"]["b"][None, :])
        return x @ params["output"]["W"] + params["output"]["b"][None, :], new if train else state

    config = {"name": "bn_lenet", "num_outputs": num_outputs, "momentum": momentum}
    return Model(init, apply, config, frozenset({"train", "mask"}))


class BNLeNet(nn.Module):
    """The concise BN-LeNet: ``flax.linen`` layers, ``nn.BatchNorm`` with the book's momentum,
    ε and variance (the moving averages in the ``batch_stats`` collection), initialised as
    :func:`bn_lenet`."""

    num_outputs: int = 10
    momentum: float = MOMENTUM

    @nn.compact
    def __call__(self, x, train: bool = False, mask=None):
        _check_images(x)
        xavier = nn.initializers.xavier_uniform()

        def norm(x):
            bn = nn.BatchNorm(
                not train, momentum=self.momentum, epsilon=EPS, use_fast_variance=False
            )
            return jax.nn.sigmoid(bn(x, mask=batch_mask(mask, x)))

        for _, size, out in CONVS:
            bias = torch_bias_init(size * size * x.shape[-1])
            x = Conv(out, (size, size), padding="VALID", kernel_init=xavier, bias_init=bias)(x)
            x = nn.avg_pool(norm(x), (2, 2), strides=(2, 2))
        x = x.reshape(x.shape[0], -1)
        for _, width in DENSES:
            x = norm(nn.Dense(width, kernel_init=xavier, bias_init=torch_bias_init(x.shape[-1]))(x))
        bias = torch_bias_init(x.shape[-1])
        return nn.Dense(self.num_outputs, kernel_init=xavier, bias_init=bias)(x)


def concise_bn_lenet(num_outputs: int = 10, *, momentum: float = MOMENTUM) -> Model:
    """:class:`BNLeNet` as a Model (state: flax's ``batch_stats``); arguments and checks as
    :func:`bn_lenet`.

    >>> sorted(concise_bn_lenet().needs)
    ['mask', 'train']
    """
    return from_flax(BNLeNet(*_check(num_outputs, momentum)))

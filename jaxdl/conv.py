"""Convolution and pooling from scratch (the book's 6.2–6.5), in pure ``jnp``.

The layout is the book's, channels first: an image is ``[h, w]`` or ``[c, h, w]``; a kernel
is ``[kh, kw]``, ``[c, kh, kw]`` (one per input channel) or ``[o, c, kh, kw]`` (PyTorch's
OIHW). What deep learning calls a convolution is a cross-correlation: the kernel slides over
the input unflipped,

    Y[a, b] = Σᵢⱼ K[i, j] · X[s_h·a + i, s_w·b + j]

on the input padded with ``p`` zeros on each side, so ``Y`` has ``⌊(h + 2p_h − kh) / s_h⌋ + 1``
rows and ``⌊(w + 2p_w − kw) / s_w⌋ + 1`` columns (the book's 6.3.2). Padding and stride are an
integer or a pair (height, width), as ``torch.nn.Conv2d``'s.

Each function comes twice where the book writes a loop: ``*_loop`` is the book's double loop
over output positions (for teaching; small inputs only), the other is vectorised as a sum over
the ``kh · kw`` kernel offsets of strided slices of the padded input (a handful of array
operations, whatever the image size). Both agree with ``jax.lax.conv_general_dilated``
(``dimension_numbers=("NCHW", "OIHW", "NCHW")``) and ``jax.lax.reduce_window``; the tests check.

Integer inputs are promoted to float32; boolean and complex inputs are refused. Shapes,
padding, strides and pool sizes are checked before any compute (they are static, also under
``jit``), with messages that name the function, the argument, what was expected and what came
in. Nothing here is jitted; the learning loop of 6.2 (:func:`learn_kernel`) is a ``lax.scan``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl._checks import check_fits, check_int, check_number
from jaxdl.errors import InputError, InputTypeError
from jaxdl.model import Model, stateless

POOL_MODES = ("max", "avg")


# Checks


def _real(x, where: str, arg: str) -> jax.Array:
    """``x`` as a floating-point array (integers promoted to float32), or an InputTypeError."""
    if not hasattr(x, "dtype"):
        try:
            x = jnp.asarray(x)
        except TypeError as error:
            raise InputTypeError(
                f"{where}: {arg}: expected an array of real numbers, got {type(x).__name__} {x!r}"
            ) from error
    x = jnp.asarray(x)
    if x.dtype == jnp.bool_ or not (
        jnp.issubdtype(x.dtype, jnp.integer) or jnp.issubdtype(x.dtype, jnp.floating)
    ):
        raise InputTypeError(
            f"{where}: {arg}: expected real numbers (integer or floating dtype), got dtype "
            f"{x.dtype}"
        )
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    return x


def _ranked(x, where: str, arg: str, rank: int, form: str) -> jax.Array:
    """:func:`_real` of ``x``, of rank ``rank`` (the form ``form``, e.g. ``[c, h, w]``)."""
    x = _real(x, where, arg)
    if x.ndim != rank:
        raise InputError(
            f"{where}: {arg}: expected rank {rank} {form}, got shape {x.shape} (rank {x.ndim})"
        )
    return x


def _pair(value, where: str, arg: str, *, low: int) -> tuple[int, int]:
    """An integer or a pair of integers (height, width), each ``>= low``, as a pair."""
    name = f"{where}: {arg}"
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 2:
            raise InputError(
                f"{name}: expected an integer or a pair (height, width), got {len(value)} "
                f"values {tuple(value)!r}"
            )
        return (
            check_int(value[0], f"{name}[0]", low=low),
            check_int(value[1], f"{name}[1]", low=low),
        )
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputTypeError(
            f"{name}: expected an integer >= {low} or a pair of them (height, width), got "
            f"{type(value).__name__} {value!r}"
        )
    value = check_int(value, name, low=low)
    return value, value


def _output_size(
    where: str, x_shape, window: tuple[int, int], padding, stride, what: str = "K"
) -> tuple[int, int]:
    """``(⌊(h + 2p_h − kh) / s_h⌋ + 1, ⌊(w + 2p_w − kw) / s_w⌋ + 1)``, or an InputError when
    the window is empty or larger than the padded input, or the padded input larger than this
    machine's memory."""
    h, w = x_shape[-2:]
    if min(window) < 1:
        raise InputError(f"{where}: {what}: expected a window of at least 1×1, got {window}")
    padded = (h + 2 * padding[0], w + 2 * padding[1])
    shape = (*x_shape[:-2], *padded)
    check_fits(
        4 * math.prod(shape),
        f"{where}: padding: the padded input {shape}",
        "expected a smaller padding",
    )
    if window[0] > padded[0] or window[1] > padded[1]:
        raise InputError(
            f"{where}: {what}: expected a window no larger than the padded input {padded} (X "
            f"{(h, w)} with padding {padding} on each side), got {window}"
        )
    return (
        (padded[0] - window[0]) // stride[0] + 1,
        (padded[1] - window[1]) // stride[1] + 1,
    )


# The vectorised core: one strided slice of the padded input per kernel offset


def _pad(x: jax.Array, padding: tuple[int, int], value) -> jax.Array:
    """``x [..., h, w]`` with ``padding`` rows and columns of ``value`` on each side."""
    if padding == (0, 0):
        return x
    widths = [(0, 0)] * (x.ndim - 2) + [(padding[0],) * 2, (padding[1],) * 2]
    return jnp.pad(x, widths, constant_values=value)


def _offsets(x: jax.Array, window, stride, out):
    """For each offset ``(i, j)`` of the window, ``(i, j, x[..., i + s_h·a, j + s_w·b])`` over
    output positions ``a < out_h``, ``b < out_w``: the inputs that the window's entry (i, j)
    meets, as one ``[..., out_h, out_w]`` slice."""
    for i in range(window[0]):
        for j in range(window[1]):
            rows = slice(i, i + stride[0] * (out[0] - 1) + 1, stride[0])
            cols = slice(j, j + stride[1] * (out[1] - 1) + 1, stride[1])
            yield i, j, x[..., rows, cols]


# Cross-correlation


def corr2d_loop(X, K) -> jax.Array:
    """The book's ``corr2d``: the 2-D cross-correlation by a double loop over output positions.

    ``Y[a, b] = Σᵢⱼ K[i, j] X[a + i, b + j]``, one output element at a time (``Y.at[a, b].set``
    for the book's in-place ``Y[i, j] = ...``). For teaching and small inputs: it makes
    ``h'·w'`` small array operations; :func:`corr2d` computes the same with ``kh·kw``.

    Args:
      X: the input ``[h, w]``.
      K: the kernel ``[kh, kw]``, no larger than ``X``.

    Returns:
      ``[h − kh + 1, w − kw + 1]``.

    >>> corr2d_loop(jnp.arange(9.0).reshape(3, 3), jnp.array([[0.0, 1.0], [2.0, 3.0]]))
    Array([[19., 25.],
           [37., 43.]], dtype=float32)
    """
    X = _ranked(X, "corr2d_loop", "X", 2, "[h, w]")
    K = _ranked(K, "corr2d_loop", "K", 2, "[kh, kw]")
    kh, kw = K.shape
    out = _output_size("corr2d_loop", X.shape, (kh, kw), (0, 0), (1, 1))
    Y = jnp.zeros(out, jnp.result_type(X, K))
    for a in range(out[0]):
        for b in range(out[1]):
            Y = Y.at[a, b].set((X[a : a + kh, b : b + kw] * K).sum())
    return Y


def corr2d(X, K, *, padding=0, stride=1) -> jax.Array:
    """The 2-D cross-correlation of ``X`` with ``K``, vectorised, with padding and stride.

    ``Y[a, b] = Σᵢⱼ K[i, j] · Xp[s_h·a + i, s_w·b + j]``, ``Xp`` being ``X`` with ``p`` zeros
    on each side, computed as a sum over the ``kh·kw`` kernel offsets ``(i, j)`` of ``K[i, j]``
    times one strided slice of ``Xp``.

    Args:
      X: the input ``[h, w]``.
      K: the kernel ``[kh, kw]``, no larger than the padded input.
      padding: zeros added on each side, an integer ``>= 0`` or a pair (height, width), as
        ``torch.nn.Conv2d(padding=...)``.
      stride: the step between windows, an integer ``>= 1`` or a pair (height, width).

    Returns:
      ``[⌊(h + 2p_h − kh) / s_h⌋ + 1, ⌊(w + 2p_w − kw) / s_w⌋ + 1]``.

    Raises:
      InputError: on a wrong rank, a kernel larger than the padded input, a stride < 1 or a
        negative padding.
      InputTypeError: on non-integer padding or stride, or non-real inputs.

    >>> X = jnp.arange(9.0).reshape(3, 3)
    >>> corr2d(X, jnp.array([[0.0, 1.0], [2.0, 3.0]]))
    Array([[19., 25.],
           [37., 43.]], dtype=float32)
    >>> corr2d(X, jnp.ones((3, 3)), padding=1, stride=2).shape
    (2, 2)
    """
    X = _ranked(X, "corr2d", "X", 2, "[h, w]")
    K = _ranked(K, "corr2d", "K", 2, "[kh, kw]")
    padding = _pair(padding, "corr2d", "padding", low=0)
    stride = _pair(stride, "corr2d", "stride", low=1)
    out = _output_size("corr2d", X.shape, K.shape, padding, stride)
    windows = _offsets(_pad(X, padding, 0), K.shape, stride, out)
    return sum(K[i, j] * x for i, j, x in windows)


def _check_channels(where: str, X: jax.Array, K: jax.Array, form: str) -> None:
    if K.shape[-3] != X.shape[0]:
        raise InputError(
            f"{where}: K: expected as many input channels as X has ({X.shape[0]}: K {form} with "
            f"c = {X.shape[0]}), got K of shape {K.shape} for X of shape {X.shape}"
        )


def corr2d_multi_in(X, K, *, padding=0, stride=1) -> jax.Array:
    """Cross-correlation of a multi-channel input: one kernel per input channel, summed.

    ``Y = Σ_c corr2d(X[c], K[c])`` (the book's 6.4.1), vectorised: for each kernel offset, the
    channels' slices are contracted with ``K[:, i, j]`` in one product.

    Args:
      X: the input ``[c, h, w]``.
      K: the kernels ``[c, kh, kw]``, one per channel of ``X``.
      padding: as :func:`corr2d`.
      stride: as :func:`corr2d`.

    Returns:
      ``[h', w']``, the sizes of :func:`corr2d`.

    >>> X = jnp.stack([jnp.arange(9.0).reshape(3, 3), jnp.arange(1.0, 10.0).reshape(3, 3)])
    >>> K = jnp.array([[[0.0, 1.0], [2.0, 3.0]], [[1.0, 2.0], [3.0, 4.0]]])
    >>> corr2d_multi_in(X, K)
    Array([[ 56.,  72.],
           [104., 120.]], dtype=float32)
    """
    where = "corr2d_multi_in"
    X = _ranked(X, where, "X", 3, "[c, h, w]")
    K = _ranked(K, where, "K", 3, "[c, kh, kw]")
    _check_channels(where, X, K, "[c, kh, kw]")
    return _multi_in_out(where, X, K[None], padding, stride)[0]


def corr2d_multi_in_out(X, K, *, padding=0, stride=1) -> jax.Array:
    """Cross-correlation with several input and output channels (PyTorch's OIHW kernels).

    ``Y[o] = corr2d_multi_in(X, K[o])`` for each output channel ``o`` (the book's 6.4.2
    stacks them), vectorised: for each kernel offset ``(i, j)``, ``K[:, :, i, j]`` ``[o, c]``
    times the channels' slices ``[c, h', w']``.

    Args:
      X: the input ``[c, h, w]``.
      K: the kernels ``[o, c, kh, kw]``.
      padding: as :func:`corr2d`.
      stride: as :func:`corr2d`.

    Returns:
      ``[o, h', w']``.

    >>> X = jnp.stack([jnp.arange(9.0).reshape(3, 3), jnp.arange(1.0, 10.0).reshape(3, 3)])
    >>> K = jnp.array([[[0.0, 1.0], [2.0, 3.0]], [[1.0, 2.0], [3.0, 4.0]]])
    >>> corr2d_multi_in_out(X, jnp.stack([K, K + 1, K + 2]))[2]
    Array([[ 96., 128.],
           [192., 224.]], dtype=float32)
    """
    where = "corr2d_multi_in_out"
    X = _ranked(X, where, "X", 3, "[c, h, w]")
    K = _ranked(K, where, "K", 4, "[o, c, kh, kw]")
    _check_channels(where, X, K, "[o, c, kh, kw]")
    return _multi_in_out(where, X, K, padding, stride)


def _multi_in_out(where, X, K, padding, stride) -> jax.Array:
    """The checked core: ``X [c, h, w]`` and ``K [o, c, kh, kw]`` -> ``[o, h', w']``."""
    padding = _pair(padding, where, "padding", low=0)
    stride = _pair(stride, where, "stride", low=1)
    out = _output_size(where, X.shape, K.shape[-2:], padding, stride)
    windows = _offsets(_pad(X, padding, 0), K.shape[-2:], stride, out)
    # highest: no bfloat16/TF32 passes on TPUs and GPUs, float32 as on the CPU
    return sum(jnp.tensordot(K[:, :, i, j], x, axes=1, precision="highest") for i, j, x in windows)


def corr2d_multi_in_out_1x1(X, K) -> jax.Array:
    """A 1×1 convolution as a matrix product (the book's 6.4.3).

    A 1×1 kernel mixes channels at each pixel independently: with the pixels as columns,
    ``Y = K [o, c] @ X [c, h·w]``, reshaped to ``[o, h, w]``. Equal to
    :func:`corr2d_multi_in_out` with the same kernel.

    Args:
      X: the input ``[c, h, w]``.
      K: the kernels ``[o, c, 1, 1]``.

    Returns:
      ``[o, h, w]``.

    >>> corr2d_multi_in_out_1x1(jnp.ones((3, 2, 2)), jnp.ones((2, 3, 1, 1)))[:, 0, 0]
    Array([3., 3.], dtype=float32)
    """
    where = "corr2d_multi_in_out_1x1"
    X = _ranked(X, where, "X", 3, "[c, h, w]")
    K = _ranked(K, where, "K", 4, "[o, c, 1, 1]")
    if K.shape[2:] != (1, 1):
        raise InputError(
            f"{where}: K: expected a 1×1 kernel [o, c, 1, 1], got shape {K.shape} (use "
            "corr2d_multi_in_out for larger kernels)"
        )
    _check_channels(where, X, K, "[o, c, 1, 1]")
    c, h, w = X.shape
    Y = jnp.matmul(K.reshape(K.shape[0], c), X.reshape(c, h * w), precision="highest")
    return Y.reshape(K.shape[0], h, w)


# Pooling


def _mode(where: str, mode) -> str:
    if not isinstance(mode, str) or mode not in POOL_MODES:
        raise InputError(f"{where}: mode: expected one of {list(POOL_MODES)}, got {mode!r}")
    return mode


def pool2d_loop(X, pool_size, mode: str = "max") -> jax.Array:
    """The book's ``pool2d``: max or average pooling by a double loop, stride 1, no padding.

    For teaching and small inputs, as :func:`corr2d_loop`; :func:`pool2d` is the vectorised
    version with stride and padding.

    Args:
      X: the input ``[h, w]``.
      pool_size: the window, an integer or a pair ``(ph, pw)``, no larger than ``X``.
      mode: ``"max"`` or ``"avg"``.

    Returns:
      ``[h − ph + 1, w − pw + 1]``.

    >>> pool2d_loop(jnp.arange(9.0).reshape(3, 3), (2, 2), "avg")
    Array([[2., 3.],
           [5., 6.]], dtype=float32)
    """
    where = "pool2d_loop"
    X = _ranked(X, where, "X", 2, "[h, w]")
    ph, pw = _pair(pool_size, where, "pool_size", low=1)
    reduce = jnp.max if _mode(where, mode) == "max" else jnp.mean
    out = _output_size(where, X.shape, (ph, pw), (0, 0), (1, 1), "pool_size")
    Y = jnp.zeros(out, X.dtype)
    for a in range(out[0]):
        for b in range(out[1]):
            Y = Y.at[a, b].set(reduce(X[a : a + ph, b : b + pw]))
    return Y


def pool2d(X, pool_size, *, stride=None, padding=0, mode: str = "max") -> jax.Array:
    """Max or average pooling over the last two axes, vectorised over any leading axes.

    Each channel (each leading index) is pooled on its own, as ``torch.nn.MaxPool2d`` and
    ``torch.nn.AvgPool2d`` do: ``Y[..., a, b]`` is the max or the mean of the window
    ``Xp[..., s_h·a : s_h·a + ph, s_w·b : s_w·b + pw]``. Padding is PyTorch's: for max
    pooling ``−inf`` (a padded entry never wins); for average pooling zeros that count in the
    window, so a window over the border is divided by ``ph·pw`` all the same (PyTorch's
    default ``count_include_pad=True``). As PyTorch, padding is at most half the window, so
    that every window holds at least one entry of ``X``.

    Args:
      X: the input ``[..., h, w]`` (rank >= 2; e.g. ``[c, h, w]``).
      pool_size: the window, an integer or a pair ``(ph, pw)``.
      stride: the step between windows, an integer or a pair; None (the default) is the
        window itself, as ``nn.MaxPool2d``'s.
      padding: added on each side, an integer or a pair, at most half the window.
      mode: ``"max"`` or ``"avg"``.

    Returns:
      ``[..., ⌊(h + 2p_h − ph) / s_h⌋ + 1, ⌊(w + 2p_w − pw) / s_w⌋ + 1]``.

    Raises:
      InputError: on rank < 2, a window larger than the padded input, a stride or window
        < 1, a negative padding or one over half the window, an unknown mode.
      InputTypeError: on non-integer sizes or non-real input.

    >>> X = jnp.arange(16.0).reshape(1, 4, 4)
    >>> pool2d(X, 3, padding=1, stride=2)
    Array([[[ 5.,  7.],
            [13., 15.]]], dtype=float32)
    >>> pool2d(jnp.arange(9.0).reshape(3, 3), 2, stride=1, mode="avg")
    Array([[2., 3.],
           [5., 6.]], dtype=float32)
    """
    where = "pool2d"
    X = _real(X, where, "X")
    if X.ndim < 2:
        raise InputError(
            f"{where}: X: expected rank >= 2 [..., h, w], got shape {X.shape} (rank {X.ndim})"
        )
    window = _pair(pool_size, where, "pool_size", low=1)
    stride = window if stride is None else _pair(stride, where, "stride", low=1)
    padding = _pair(padding, where, "padding", low=0)
    mode = _mode(where, mode)
    if padding[0] > window[0] // 2 or padding[1] > window[1] // 2:
        raise InputError(
            f"{where}: padding: expected at most half the window {window} on each side (at "
            f"most {(window[0] // 2, window[1] // 2)}, as torch.nn.MaxPool2d), got {padding}"
        )
    out = _output_size(where, X.shape, window, padding, stride, "pool_size")
    fill = -jnp.inf if mode == "max" else 0
    slices = [x for _, _, x in _offsets(_pad(X, padding, fill), window, stride, out)]
    if mode == "max":
        return functools.reduce(jnp.maximum, slices)
    return sum(slices) / math.prod(window)


# The book's Conv2D layer and its learning loop


def pytorch_conv_kernel(key: jax.Array, shape: Sequence[int]) -> jax.Array:
    """A kernel drawn as PyTorch's ``nn.Conv2d`` draws its weight: ``U(−1/√fan_in, 1/√fan_in)``.

    PyTorch's ``kaiming_uniform_(a=√5)`` bound ``√(6 / ((1 + a²) fan_in))`` is ``1/√fan_in``,
    with ``fan_in = c·kh·kw``, the inputs each output sees.

    Args:
      key: a ``jax.random.key``.
      shape: ``[kh, kw]`` (one channel in and out, fan_in = kh·kw), ``[c, kh, kw]`` or
        ``[o, c, kh, kw]`` (fan_in = c·kh·kw).

    Returns:
      A float32 kernel of ``shape``.

    >>> K = pytorch_conv_kernel(jax.random.key(0), (1, 2))
    >>> K.shape, bool(jnp.all(jnp.abs(K) <= 2**-0.5))
    ((1, 2), True)
    """
    if not isinstance(shape, Sequence) or isinstance(shape, str) or not 2 <= len(shape) <= 4:
        raise InputError(
            f"pytorch_conv_kernel: shape: expected [kh, kw], [c, kh, kw] or [o, c, kh, kw], "
            f"got {shape!r}"
        )
    shape = tuple(
        check_int(n, f"pytorch_conv_kernel: shape[{i}]", low=1) for i, n in enumerate(shape)
    )
    fan_in = math.prod(shape[-3:])
    bound = 1.0 / math.sqrt(fan_in)
    return jax.random.uniform(key, shape, minval=-bound, maxval=bound)


def conv2d_init(key: jax.Array, kernel_size) -> dict:
    """The parameters of the book's ``Conv2D(kernel_size)`` (6.2.4): a weight ``[kh, kw]``
    drawn ``U[0, 1)`` (``torch.rand``) and a scalar bias 0.

    Args:
      key: a ``jax.random.key``.
      kernel_size: an integer or a pair ``(kh, kw)``.

    Returns:
      ``{"weight": [kh, kw], "bias": []}``.

    >>> params = conv2d_init(jax.random.key(0), (1, 2))
    >>> params["weight"].shape, params["bias"]
    ((1, 2), Array(0., dtype=float32))
    """
    size = _pair(kernel_size, "conv2d_init", "kernel_size", low=1)
    return {"weight": jax.random.uniform(key, size), "bias": jnp.zeros(())}


def conv2d_apply(params: dict, x) -> jax.Array:
    """The book's ``Conv2D.forward``: ``corr2d(x, weight) + bias``.

    Args:
      params: ``{"weight": [kh, kw], "bias": []}`` (:func:`conv2d_init`).
      x: an image ``[h, w]``.

    Returns:
      ``[h − kh + 1, w − kw + 1]``.

    >>> conv2d_apply({"weight": jnp.array([[1.0, -1.0]]), "bias": jnp.ones(())}, jnp.eye(2))
    Array([[2.],
           [0.]], dtype=float32)
    """
    return corr2d(x, params["weight"]) + params["bias"]


def conv2d_layer(kernel_size) -> Model:
    """The book's ``Conv2D(kernel_size)`` as a :class:`jaxdl.model.Model` over a batch of
    images: ``init(key, x [batch, h, w])`` is :func:`conv2d_init`, ``apply`` maps
    :func:`conv2d_apply` over the batch (``jax.vmap``).

    Args:
      kernel_size: an integer or a pair ``(kh, kw)``.

    Returns:
      A Model without state; inputs ``[batch, h, w]``, outputs ``[batch, h − kh + 1,
      w − kw + 1]``.

    >>> model = conv2d_layer(2)
    >>> params, state = model.init(jax.random.key(0), jnp.ones((1, 4, 4)))
    >>> model.apply(params, state, jnp.ones((5, 4, 4)), train=False)[0].shape
    (5, 3, 3)
    """
    size = _pair(kernel_size, "conv2d_layer", "kernel_size", low=1)

    def init(key, x):
        return conv2d_init(key, size)

    def apply(params, x):
        if jnp.ndim(x) != 3:
            raise InputError(
                f"conv2d_layer: x: expected rank 3 [batch, h, w], got shape {jnp.shape(x)}"
            )
        return jax.vmap(conv2d_apply, in_axes=(None, 0))(params, x)

    return stateless(init, apply, {"name": "conv2d_layer", "kernel_size": list(size)})


def squared_error_sum(kernel, X, Y) -> jax.Array:
    """The loss of the book's 6.2.4: ``Σ (corr2d(X, kernel) − Y)²`` (summed, no ½, no mean).

    >>> float(squared_error_sum(jnp.array([[1.0, -1.0]]), jnp.eye(2), jnp.zeros((2, 1))))
    2.0
    """
    return jnp.sum((corr2d(X, kernel) - Y) ** 2)


def learn_kernel(X, Y, kernel, *, learning_rate, num_steps: int):
    """Learns a kernel from an input and its output by plain gradient descent (the book's 6.2.4).

    Each step computes ``l = Σ (corr2d(X, K) − Y)²`` and ``K ← K − η ∇_K l`` (``jax.grad``
    for the book's ``backward()``), without bias, as the book's ``nn.Conv2d(1, 1,
    kernel_size, bias=False)``. The steps are one ``lax.scan``.

    Args:
      X: the input ``[h, w]``.
      Y: the target ``[h − kh + 1, w − kw + 1]``.
      kernel: the initial kernel ``[kh, kw]``.
      learning_rate: η > 0 (a number, or a traced scalar).
      num_steps: the number of updates, an integer >= 1.

    Returns:
      ``(kernel [kh, kw], losses [num_steps])``: the kernel after the last update, and the
      loss of each step before its update (the book prints ``losses[1::2]``, epochs 2, 4, …).

    >>> X = jnp.ones((6, 8)).at[:, 2:6].set(0.0)
    >>> Y = corr2d(X, jnp.array([[1.0, -1.0]]))
    >>> K, losses = learn_kernel(X, Y, jnp.zeros((1, 2)), learning_rate=3e-2, num_steps=10)
    >>> bool(losses[-1] < losses[0]), K.round(1)
    (True, Array([[ 1., -1.]], dtype=float32))
    """
    where = "learn_kernel"
    X = _ranked(X, where, "X", 2, "[h, w]")
    Y = _ranked(Y, where, "Y", 2, "[h', w']")
    kernel = _ranked(kernel, where, "kernel", 2, "[kh, kw]")
    out = _output_size(where, X.shape, kernel.shape, (0, 0), (1, 1), "kernel")
    if Y.shape != out:
        raise InputError(
            f"{where}: Y: expected the shape of corr2d(X, kernel), {out} for X {X.shape} and "
            f"kernel {kernel.shape}, got {Y.shape}"
        )
    check_number(learning_rate, f"{where}: learning_rate", low=0, strict=True)
    num_steps = check_int(num_steps, f"{where}: num_steps", low=1)
    loss_and_grad = jax.value_and_grad(squared_error_sum)

    def step(K, _):
        loss, grad = loss_and_grad(K, X, Y)
        return K - learning_rate * grad, loss

    return jax.lax.scan(step, kernel, None, length=num_steps)

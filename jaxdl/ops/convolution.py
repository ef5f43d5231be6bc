"""``jax.lax.conv_general_dilated``, with forms of it that XLA:CPU runs faster, on a CPU only.

The training engine scans an epoch's minibatches in one ``lax.scan``. Inside a loop body,
XLA:CPU (jaxlib 0.10) runs the two convolutions of a convolution's reverse-mode gradient in
the forms jax's autodiff writes them (the weight gradient with the batch as the contracted
feature axis, ``f01b_i01o->01bf``, and the input gradient with a reversed ``01oi`` kernel)
through a slow generic loop: a LeNet step at batch 256 took 135 ms in the scan against 31 ms
as a lone jitted step. Written as plain NHWC/HWIO convolutions of transposed operands (the
weight gradient correlates the input, batch as features, with the output gradient as the
kernel; the input gradient correlates the output gradient with the flipped, transposed
kernel), the same gradient runs at about 27 ms in the scan and is bit-identical to jax's.

A convolution of one input channel at stride 1 (a LeNet's first layer) runs forward as the sum
of its ``kh · kw`` shifted, weighted images (one fused loop): as a convolution it took a third
of a LeNet training step. Its values equal ``lax.conv_general_dilated``'s up to float32 rounding
(the same sum in another order); every other value is ``lax``'s, bit for bit.

Under ``jax.vmap`` with both operands mapped (several seeds' networks, each on its own
minibatches), jax's batching rule makes one grouped convolution, which XLA:CPU runs slowly (three
LeNets: 150 ms a step); here each convolution of the forward and backward pass loops over the
mapped axis instead (``lax.map``; 94 ms a step for three, against 3 × 27 ms one at a time).

:func:`conv_general_dilated` is a drop-in for ``lax.conv_general_dilated``: on the CPU backend,
for 2-D NHWC inputs and HWIO kernels without dilation or groups (every convolution of the
book's networks, ``flax.linen.Conv``'s layout), it uses these forms; on every other backend
(a GPU's or TPU's own convolutions are what they run fastest) and for every other convolution it
is ``lax.conv_general_dilated`` itself. The choice is made when a function is traced;
:func:`cpu_forms` forces it either way (the tests compare the two, the benchmark times both).
``flax.linen.Conv(..., conv_general_dilated=...)`` takes it (:data:`Conv`). The custom gradient
is reverse mode only: ``jax.jvp`` through it raises (``jax.custom_vjp``).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax
from jax.custom_batching import custom_vmap

NHWC = ("NHWC", "HWIO", "NHWC")
_FORCED: contextvars.ContextVar[bool | None] = contextvars.ContextVar("cpu_forms", default=None)


@contextlib.contextmanager
def cpu_forms(enabled: bool):
    """Within the block, functions traced use the CPU forms on every backend (``True``) or
    ``lax.conv_general_dilated`` everywhere (``False``), whatever the backend: for tests that
    compare the two and for timing both on one machine. A function JAX has traced already
    keeps its trace (``jax.jit`` caches it): trace a new function object within the block (as
    ``fit`` does for each run).

    >>> x, w = jnp.ones((1, 4, 4, 1)), jnp.ones((3, 3, 1, 2))
    >>> with cpu_forms(False):
    ...     y = conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=NHWC)
    >>> y.shape
    (1, 2, 2, 2)
    """
    token = _FORCED.set(bool(enabled))
    try:
        yield
    finally:
        _FORCED.reset(token)


def uses_cpu_forms() -> bool:
    """Whether a convolution traced now takes the CPU forms: forced by :func:`cpu_forms`, else
    when JAX's default backend is the CPU."""
    forced = _FORCED.get()
    return jax.default_backend() == "cpu" if forced is None else forced


def _is_nhwc(lhs_shape, rhs_shape, dimension_numbers) -> bool:
    if dimension_numbers is None or len(lhs_shape) != 4:
        return False
    numbers = lax.conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    return numbers == lax.conv_dimension_numbers(lhs_shape, rhs_shape, NHWC)


def _unit(dilation) -> bool:
    return dilation is None or all(d == 1 for d in dilation)


def _conv(x, w, strides, padding, rhs_dilation=(1, 1)):
    return lax.conv_general_dilated(
        x, w, strides, padding, rhs_dilation=rhs_dilation, dimension_numbers=NHWC
    )


def _looped(f):
    """``f(a, b)`` of two arrays, with a ``jax.vmap`` that loops over the mapped axis.

    jax batches a convolution whose two operands are both mapped (one network per seed, each
    with its own minibatch) into a grouped convolution, which XLA:CPU runs several times slower
    than the convolutions one after another (three LeNets: 150 ms a step against 3 × 27 ms).
    Here the mapped call is ``lax.map`` of ``f`` over the mapped axis, an operand that is not
    mapped broadcast along it."""
    looped = custom_vmap(f)

    @looped.def_vmap
    def loop(axis_size, in_batched, a, b):
        a, b = (
            v if mapped else jnp.broadcast_to(v, (axis_size, *v.shape))
            for v, mapped in zip((a, b), in_batched, strict=True)
        )
        return lax.map(lambda ab: looped(*ab), (a, b)), True

    return looped


def _shifted_products(x, w, padding):
    """A stride-1 convolution of single-channel images ``x`` ``[batch, h, w, 1]`` with ``w``
    ``[kh, kw, 1, out]``: the sum over the ``kh · kw`` kernel offsets of the shifted, padded
    image times that offset's weights, one multiply-add per offset."""
    kh, kw = w.shape[:2]
    xp = jnp.pad(x, ((0, 0), *padding, (0, 0)))
    rows, cols = xp.shape[1] - kh + 1, xp.shape[2] - kw + 1
    return sum(
        xp[:, a : a + rows, b : b + cols, :] * w[a : a + 1, b : b + 1]
        for a in range(kh)
        for b in range(kw)
    )


def _conv_forward(x, w, strides, padding):
    """The forward convolution: shifted products (:func:`_shifted_products`) for one input
    channel at stride 1, which XLA:CPU runs in one fused loop (a LeNet's first layer, a third
    of its training step as a convolution), else the NHWC convolution."""
    if w.shape[2] == 1 and strides == (1, 1):
        return _shifted_products(x, w, padding)
    return _conv(x, w, strides, padding)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv_nhwc(x, w, strides, padding):
    return _looped(functools.partial(_conv_forward, strides=strides, padding=padding))(x, w)


def _forward(x, w, strides, padding):
    return _conv_nhwc(x, w, strides, padding), (x, w)


def _input_grad(dy, w, padding, strides):
    flipped = jnp.flip(w, (0, 1)).transpose(0, 1, 3, 2)
    return lax.conv_general_dilated(
        dy, flipped, (1, 1), padding, lhs_dilation=strides, dimension_numbers=NHWC
    )


def _weight_grad(x, dy, padding, strides):
    dw = _conv(x.transpose(3, 1, 2, 0), dy.transpose(1, 2, 0, 3), (1, 1), padding, strides)
    return dw.transpose(1, 2, 0, 3)


def _backward(strides, padding, residuals, dy):
    """The gradients of ``y = conv(x, w)`` (stride s, padding (lo, hi), kernel k, per spatial
    axis), as NHWC/HWIO convolutions.

    With ``xp`` the padded input and ``r = (n + lo + hi − k) mod s`` the input rows no window
    reaches: ``dx`` is the full correlation of ``dy`` dilated by s with the flipped kernel
    (input and output channels swapped), padded by ``(k − 1 − lo, k − 1 − hi + r)``; ``dw[a, b,
    i, o] = Σ_{n, y, x} xp[n, s·y + a, s·x + b, i] dy[n, y, x, o]`` is a correlation of the input
    with channels as the batch and the batch as channels, against ``dy`` as the kernel
    (dilated by s), padded by ``(lo, hi − r)``.
    """
    x, w = residuals
    kernel = w.shape[:2]
    rest = [
        (n + lo + hi - k) % s
        for n, (lo, hi), k, s in zip(x.shape[1:3], padding, kernel, strides, strict=True)
    ]
    dx_padding = tuple(
        (k - 1 - lo, k - 1 - hi + r) for (lo, hi), k, r in zip(padding, kernel, rest, strict=True)
    )
    dw_padding = tuple((lo, hi - r) for (lo, hi), r in zip(padding, rest, strict=True))
    dx = _looped(functools.partial(_input_grad, padding=dx_padding, strides=strides))(dy, w)
    dw = _looped(functools.partial(_weight_grad, padding=dw_padding, strides=strides))(x, dy)
    return dx, dw


_conv_nhwc.defvjp(_forward, _backward)


def conv_general_dilated(
    lhs,
    rhs,
    window_strides,
    padding,
    lhs_dilation=None,
    rhs_dilation=None,
    dimension_numbers=None,
    feature_group_count: int = 1,
    batch_group_count: int = 1,
    precision=None,
    preferred_element_type=None,
) -> jax.Array:
    """``lax.conv_general_dilated`` (same arguments, same values; one input channel at stride 1
    up to float32 rounding), on the CPU with the forms XLA:CPU runs faster (module docstring)
    for 2-D NHWC inputs and HWIO kernels without dilation, groups, precision or element-type
    settings.

    >>> x, w = jnp.ones((1, 4, 4, 1)), jnp.ones((3, 3, 1, 2))
    >>> conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=NHWC)[0, :, :, 0]
    Array([[9., 9.],
           [9., 9.]], dtype=float32)
    """
    plain = (
        uses_cpu_forms()
        and _is_nhwc(lhs.shape, rhs.shape, dimension_numbers)
        and _unit(lhs_dilation)
        and _unit(rhs_dilation)
        and feature_group_count == 1
        and batch_group_count == 1
        and precision is None
        and preferred_element_type is None
    )
    if not plain:
        return lax.conv_general_dilated(
            lhs,
            rhs,
            window_strides,
            padding,
            lhs_dilation,
            rhs_dilation,
            dimension_numbers,
            feature_group_count,
            batch_group_count,
            precision,
            preferred_element_type,
        )
    strides = tuple(int(s) for s in window_strides)
    if isinstance(padding, str):
        padding = lax.padtype_to_pads(lhs.shape[1:3], rhs.shape[:2], strides, padding)
    padding = tuple((int(lo), int(hi)) for lo, hi in padding)
    return _conv_nhwc(lhs, rhs, strides, padding)


Conv = functools.partial(nn.Conv, conv_general_dilated=conv_general_dilated)
"""``flax.linen.Conv`` computing with :func:`conv_general_dilated`: the same parameters and
values (up to rounding for one input channel), the loop-friendly gradient."""

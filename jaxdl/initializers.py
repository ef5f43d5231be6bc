"""Xavier (Glorot) initialization, from scratch: weights whose variance keeps the scale of
signals and gradients from layer to layer.

For a dense layer ``o = x W`` with weights ``W [n_in, n_out]`` (the layout of every weight in
jaxdl: rows are inputs, columns are outputs), zero-mean weights of variance σ² and inputs of
variance γ² give outputs of variance ``n_in σ² γ²``; in the backward pass the gradients' variance
is scaled by ``n_out σ²``. Both stay at scale only if ``n_in σ² = 1`` and ``n_out σ² = 1``, which
cannot hold together unless ``n_in = n_out``; Xavier initialization (Glorot & Bengio, 2010; the
book's 4.8.2) takes the compromise ``½ (n_in + n_out) σ² = 1``:

    σ² = 2 / (n_in + n_out)

drawn either as ``N(0, σ²)`` (:func:`xavier_normal`) or as ``U(−a, a)`` with ``a² / 3 = σ²``,
``a = √(6 / (n_in + n_out))`` (:func:`xavier_uniform`).

Fan-in and fan-out. A dense weight ``shape = (n_in, n_out)`` has ``fan_in = n_in`` and
``fan_out = n_out``. A convolution kernel in flax's layout ``(*kernel_spatial, in_channels,
out_channels)`` (HWIO for 2-D: ``(5, 5, 1, 6)`` is LeNet's first layer) feeds every output from
``in_channels`` channels times the ``receptive = prod(kernel_spatial)`` positions of its window,
and every input reaches ``out_channels × receptive`` outputs, so

    fan_in = in_channels · receptive,    fan_out = out_channels · receptive

(``(5, 5, 1, 6)``: fan_in 25, fan_out 150). A dense weight is the kernel with no spatial axes
(receptive 1). This is the rule of ``jax.nn.initializers.variance_scaling(..., in_axis=-2,
out_axis=-1)``, the default of ``glorot_uniform()``/``glorot_normal()``, and of PyTorch's
``torch.nn.init._calculate_fan_in_and_fan_out``, which reads PyTorch's own layout ``(out_channels,
in_channels, *kernel_spatial)`` (and ``(out_features, in_features)`` for ``nn.Linear``): a flax
kernel ``(*s, i, o)`` is the PyTorch kernel ``(o, i, *s)``, e.g. HWIO ``(kh, kw, i, o)`` ↔ OIHW
``(o, i, kh, kw)``, ``w_torch = w.transpose(3, 2, 0, 1)``; both give the same fans. Shapes of rank
0 or 1 have no input and output axis and are refused. Keys are explicit; nothing here is jitted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl._checks import check_int
from jaxdl.errors import InputError, InputTypeError

_SHAPE_FORMS = "a weight shape (n_in, n_out) or a kernel (*spatial, in_channels, out_channels)"


def _fans(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shape ``(n_in, n_out)`` or a kernel shape
    ``(*kernel_spatial, in_channels, out_channels)``, checked: every entry an integer >= 1."""
    if not isinstance(shape, Sequence) or isinstance(shape, str):
        raise InputTypeError(
            f"shape: expected {_SHAPE_FORMS}, a sequence of integers, got "
            f"{type(shape).__name__} {shape!r}"
        )
    rank = len(shape)
    if rank < 2:
        raise InputError(
            f"shape: expected {_SHAPE_FORMS}, of rank >= 2, got {tuple(shape)} of rank {rank}; "
            "fan-in and fan-out need an input axis and an output axis"
        )
    if rank == 2:
        return check_int(shape[0], "shape[0] (n_in)", low=1), check_int(
            shape[1], "shape[1] (n_out)", low=1
        )
    spatial = [check_int(n, f"shape[{i}] (kernel size)", low=1) for i, n in enumerate(shape[:-2])]
    in_channels = check_int(shape[-2], f"shape[{rank - 2}] (in_channels)", low=1)
    out_channels = check_int(shape[-1], f"shape[{rank - 1}] (out_channels)", low=1)
    receptive = math.prod(spatial)
    return in_channels * receptive, out_channels * receptive


def _check_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise InputTypeError(f"dtype: expected a floating-point dtype, got {dtype}")
    return dtype


def xavier_std(shape: Sequence[int]) -> float:
    """The standard deviation of Xavier initialization, ``σ = √(2 / (fan_in + fan_out))``.

    For a dense weight ``(n_in, n_out)``, ``σ = √(2 / (n_in + n_out))``; for a kernel
    ``(*kernel_spatial, in_channels, out_channels)``, the fans count the receptive field
    (module docstring): ``σ = √(2 / ((in_channels + out_channels) · prod(kernel_spatial)))``.
    Both :func:`xavier_normal` and :func:`xavier_uniform` draw weights of this standard
    deviation; it is also the per-layer ``init_std`` that makes :func:`jaxdl.models.mlp.mlp`
    draw Xavier-normal weights.

    Args:
      shape: the weight shape ``(n_in, n_out)``, or a kernel shape ``(*kernel_spatial,
        in_channels, out_channels)`` (flax's layout; HWIO for 2-D convolutions).

    Returns:
      σ as a Python float.

    Raises:
      TypeError, ValueError: when ``shape`` is not a sequence of rank >= 2 of integers >= 1.

    >>> round(xavier_std((784, 256)), 6), round(xavier_std((256, 10)), 6)
    (0.043853, 0.086711)
    >>> round(xavier_std((5, 5, 1, 6)), 6)  # LeNet's first kernel: √(2 / (25 + 150))
    0.106904
    """
    fan_in, fan_out = _fans(shape)
    return math.sqrt(2.0 / (fan_in + fan_out))


def xavier_normal(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
    """Weights drawn from ``N(0, σ²)`` with ``σ² = 2 / (fan_in + fan_out)``.

    An untruncated normal: ``σ · jax.random.normal(key, shape, dtype)``, σ from
    :func:`xavier_std` (for a dense weight, ``σ² = 2 / (n_in + n_out)``). (``jax.nn.initializers
    .glorot_normal()`` has the same variance but draws a normal truncated at two standard
    deviations and rescaled; ``variance_scaling(1.0, "fan_avg", "normal")`` is this one.)

    Args:
      key: a ``jax.random.key``.
      shape: the weight shape ``(n_in, n_out)``, or a kernel shape ``(*kernel_spatial,
        in_channels, out_channels)`` (flax's layout; HWIO for 2-D convolutions).
      dtype: a floating-point dtype (default float32).

    Returns:
      Weights of ``shape`` (``[n_in, n_out]``, or ``[*kernel_spatial, in_channels,
      out_channels]``) and ``dtype``.

    Raises:
      TypeError, ValueError: when ``shape`` is not a sequence of rank >= 2 of integers >= 1,
        or ``dtype`` is not floating point.

    >>> w = xavier_normal(jax.random.key(0), (1000, 1000))
    >>> w.shape, w.dtype, round(float(jnp.var(w)) * 1000, 1)  # σ² · 1000 = 2 / 2000 · 1000
    ((1000, 1000), dtype('float32'), 1.0)
    >>> k = xavier_normal(jax.random.key(0), (3, 3, 64, 64))  # fans 9 · 64 = 576 each
    >>> k.shape, round(float(jnp.var(k)) * 576, 1)  # σ² · 576 = 2 / 1152 · 576
    ((3, 3, 64, 64), 1.0)
    """
    std = xavier_std(shape)
    return std * jax.random.normal(key, tuple(shape), _check_dtype(dtype))


def xavier_uniform(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
    """Weights drawn from ``U(−a, a)`` with ``a = √(6 / (fan_in + fan_out))``.

    ``U(−a, a)`` has variance ``a² / 3 = 2 / (fan_in + fan_out)``, the variance of
    :func:`xavier_normal`; for a dense weight, ``a = √(6 / (n_in + n_out))``, and a kernel's fans
    count its receptive field (module docstring). Drawn as ``a · U(−1, 1)``, as
    ``jax.nn.initializers.glorot_uniform()`` draws it.

    Args:
      key: a ``jax.random.key``.
      shape: the weight shape ``(n_in, n_out)``, or a kernel shape ``(*kernel_spatial,
        in_channels, out_channels)`` (flax's layout; HWIO for 2-D convolutions).
      dtype: a floating-point dtype (default float32).

    Returns:
      Weights of ``shape`` (``[n_in, n_out]``, or ``[*kernel_spatial, in_channels,
      out_channels]``) and ``dtype``, each in ``[−a, a]``.

    Raises:
      TypeError, ValueError: when ``shape`` is not a sequence of rank >= 2 of integers >= 1,
        or ``dtype`` is not floating point.

    >>> w = xavier_uniform(jax.random.key(0), (4, 2))  # a = √(6 / 6) = 1
    >>> bool(jnp.all(jnp.abs(w) <= 1.0))
    True
    >>> k = xavier_uniform(jax.random.key(0), (5, 5, 1, 6))  # a = √(6 / (25 + 150)) ≈ 0.185
    >>> k.shape, bool(jnp.all(jnp.abs(k) <= 0.1852))
    ((5, 5, 1, 6), True)
    """
    fan_in, fan_out = _fans(shape)
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    return bound * jax.random.uniform(key, tuple(shape), _check_dtype(dtype), -1.0, 1.0)

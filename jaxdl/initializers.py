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

Fan-in and fan-out are defined here for 2-D weights only: ``shape = (n_in, n_out)``, so
``fan_in = shape[0]`` and ``fan_out = shape[1]`` (as ``jax.nn.initializers`` reads a 2-D shape).
Other ranks are refused: a convolution kernel's fans also count its receptive field, a rule
these functions do not apply. Keys are explicit; nothing here is jitted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl._checks import check_int


def _fans(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a 2-D weight shape ``(n_in, n_out)``, checked."""
    if not isinstance(shape, Sequence) or isinstance(shape, str):
        raise TypeError(
            f"shape: expected a 2-D weight shape (n_in, n_out), got {type(shape).__name__} "
            f"{shape!r}"
        )
    if len(shape) != 2:
        raise ValueError(
            f"shape: expected a 2-D weight shape (n_in, n_out), got {tuple(shape)} of rank "
            f"{len(shape)}; fan-in and fan-out are defined here for dense weights only"
        )
    return check_int(shape[0], "shape[0] (n_in)", low=1), check_int(
        shape[1], "shape[1] (n_out)", low=1
    )


def _check_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype: expected a floating-point dtype, got {dtype}")
    return dtype


def xavier_std(shape: Sequence[int]) -> float:
    """The standard deviation of Xavier initialization, ``σ = √(2 / (n_in + n_out))``.

    Both :func:`xavier_normal` and :func:`xavier_uniform` draw weights of this standard
    deviation; it is also the per-layer ``init_std`` that makes :func:`jaxdl.models.mlp.mlp`
    draw Xavier-normal weights.

    Args:
      shape: the weight shape ``(n_in, n_out)``.

    Returns:
      σ as a Python float.

    Raises:
      TypeError, ValueError: when ``shape`` is not two integers >= 1.

    >>> round(xavier_std((784, 256)), 6), round(xavier_std((256, 10)), 6)
    (0.043853, 0.086711)
    """
    fan_in, fan_out = _fans(shape)
    return math.sqrt(2.0 / (fan_in + fan_out))


def xavier_normal(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
    """Weights drawn from ``N(0, σ²)`` with ``σ² = 2 / (n_in + n_out)``.

    An untruncated normal: ``σ · jax.random.normal(key, shape, dtype)``. (``jax.nn.initializers
    .glorot_normal()`` has the same variance but draws a normal truncated at two standard
    deviations and rescaled; ``variance_scaling(1.0, "fan_avg", "normal")`` is this one.)

    Args:
      key: a ``jax.random.key``.
      shape: the weight shape ``(n_in, n_out)``.
      dtype: a floating-point dtype (default float32).

    Returns:
      Weights ``[n_in, n_out]`` of ``dtype``.

    Raises:
      TypeError, ValueError: when ``shape`` is not two integers >= 1, or ``dtype`` is not
        floating point.

    >>> w = xavier_normal(jax.random.key(0), (1000, 1000))
    >>> w.shape, w.dtype, round(float(jnp.var(w)) * 1000, 1)  # σ² · 1000 = 2 / 2000 · 1000
    ((1000, 1000), dtype('float32'), 1.0)
    """
    std = xavier_std(shape)
    return std * jax.random.normal(key, tuple(shape), _check_dtype(dtype))


def xavier_uniform(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
    """Weights drawn from ``U(−a, a)`` with ``a = √(6 / (n_in + n_out))``.

    ``U(−a, a)`` has variance ``a² / 3 = 2 / (n_in + n_out)``, the variance of
    :func:`xavier_normal`. Drawn as ``a · U(−1, 1)``, as ``jax.nn.initializers.glorot_uniform()``
    draws it.

    Args:
      key: a ``jax.random.key``.
      shape: the weight shape ``(n_in, n_out)``.
      dtype: a floating-point dtype (default float32).

    Returns:
      Weights ``[n_in, n_out]`` of ``dtype``, each in ``[−a, a]``.

    Raises:
      TypeError, ValueError: when ``shape`` is not two integers >= 1, or ``dtype`` is not
        floating point.

    >>> w = xavier_uniform(jax.random.key(0), (4, 2))  # a = √(6 / 6) = 1
    >>> bool(jnp.all(jnp.abs(w) <= 1.0))
    True
    """
    fan_in, fan_out = _fans(shape)
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    return bound * jax.random.uniform(key, tuple(shape), _check_dtype(dtype), -1.0, 1.0)

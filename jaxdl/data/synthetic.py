"""Synthetic data for linear regression, as the book's ``synthetic_data``."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def synthetic_regression(
    key: jax.Array, w, b, num_examples: int, noise: float = 0.01
) -> tuple[jax.Array, jax.Array]:
    """Draws ``X ~ N(0, 1)`` and ``y = X w + b + N(0, noise²)``.

    Args:
      key: a ``jax.random.key``; split once for the features and once for the noise.
      w: true weights [num_features].
      b: true bias, a scalar.
      num_examples: number of examples n >= 1.
      noise: standard deviation of the label noise, >= 0.

    Returns:
      ``(X [n, num_features], y [n])``, float32.

    >>> X, y = synthetic_regression(jax.random.key(0), jnp.array([2.0, -3.4]), 4.2, 5)
    >>> X.shape, y.shape
    ((5, 2), (5,))
    """
    w = jnp.asarray(w, jnp.float32)
    if w.ndim != 1:
        raise ValueError(f"w: expected a vector [num_features], got shape {w.shape}")
    if jnp.ndim(b) != 0:
        raise ValueError(f"b: expected a scalar, got shape {jnp.shape(b)}")
    if isinstance(num_examples, bool) or not isinstance(num_examples, int) or num_examples < 1:
        raise ValueError(f"num_examples: expected an integer >= 1, got {num_examples!r}")
    if not noise >= 0:
        raise ValueError(f"noise: expected a standard deviation >= 0, got {noise}")
    key_x, key_noise = jax.random.split(key)
    X = jax.random.normal(key_x, (num_examples, w.shape[0]))
    y = X @ w + b + noise * jax.random.normal(key_noise, (num_examples,))
    return X, y

"""Synthetic data: the book's linear-regression data (``synthetic_data``, 3.2), its
polynomial-regression data (4.4), with the polynomial features ``x^i / i!``, its
high-dimensional regression data of the weight-decay section (4.5), and the noisy sine of the
sequence models (8.1), with its lag features."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxdl._checks import check_int, check_number
from jaxdl.errors import InputError


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
        raise InputError(f"w: expected a vector [num_features], got shape {w.shape}")
    if jnp.ndim(b) != 0:
        raise InputError(f"b: expected a scalar, got shape {jnp.shape(b)}")
    check_int(num_examples, "num_examples", low=1)
    check_number(noise, "noise", low=0)
    key_x, key_noise = jax.random.split(key)
    X = jax.random.normal(key_x, (num_examples, w.shape[0]))
    y = X @ w + b + noise * jax.random.normal(key_noise, (num_examples,))
    return X, y


def polynomial_features(x, max_degree: int) -> jax.Array:
    """The book's features ``x^i / i!`` for ``i = 0 .. max_degree - 1``.

    Dividing by ``i!`` (``Γ(i + 1)``) keeps high powers of ``x ~ N(0, 1)`` from dominating the
    gradients.

    Args:
      x: inputs [n].
      max_degree: number of features, >= 1 (powers 0 .. max_degree - 1).

    Returns:
      Features [n, max_degree].

    >>> polynomial_features(jnp.array([2.0]), 4).tolist()
    [[1.0, 2.0, 2.0, 1.3333333730697632]]
    """
    x = jnp.asarray(x)
    if x.ndim != 1:
        raise InputError(f"x: expected a vector [n], got shape {x.shape}")
    check_int(max_degree, "max_degree", low=1)
    powers = jnp.arange(max_degree)
    factorials = jnp.array([math.factorial(i) for i in range(max_degree)], jnp.float32)
    return jnp.power(x[:, None], powers[None, :]) / factorials[None, :]


POLYNOMIAL_W = (5.0, 1.2, -3.4, 5.6)  # the book's: 5 + 1.2 x - 3.4 x²/2! + 5.6 x³/3!


def polynomial_data(
    key: jax.Array,
    true_w=POLYNOMIAL_W,
    *,
    max_degree: int = 20,
    num_train: int = 100,
    num_test: int = 100,
    noise: float = 0.1,
):
    """The book's polynomial-regression data (4.4): ``x ~ N(0, 1)``, features
    ``x^i / i!`` (:func:`polynomial_features`), labels ``Σ_i true_w[i] x^i / i! + N(0, noise²)``.

    Args:
      key: a ``jax.random.key``; split once for x and once for the noise.
      true_w: the true weights of the first ``len(true_w)`` features (default the book's
        ``[5, 1.2, -3.4, 5.6]``); the others are 0.
      max_degree: number of features, >= len(true_w).
      num_train: training examples, >= 1.
      num_test: test examples, >= 1.
      noise: standard deviation of the label noise, >= 0.

    Returns:
      ``((features [num_train, max_degree], labels [num_train]), (features [num_test,
      max_degree], labels [num_test]))``; the first ``num_train`` draws train.

    >>> (x, y), test = polynomial_data(jax.random.key(0), [5.0, 1.2], max_degree=4, num_train=3)
    >>> x.shape, y.shape, test[0].shape
    ((3, 4), (3,), (100, 4))
    """
    check_int(max_degree, "max_degree", low=1)
    true_w = jnp.asarray(true_w, jnp.float32)
    if true_w.ndim != 1 or not 1 <= true_w.shape[0] <= max_degree:
        raise InputError(
            f"true_w: expected a vector of 1 to max_degree ({max_degree}) weights, got shape "
            f"{true_w.shape}"
        )
    check_int(num_train, "num_train", low=1)
    check_int(num_test, "num_test", low=1)
    check_number(noise, "noise", low=0)
    key_x, key_noise = jax.random.split(key)
    x = jax.random.normal(key_x, (num_train + num_test,))
    features = polynomial_features(x, max_degree)
    w = jnp.zeros(max_degree).at[: true_w.shape[0]].set(true_w)
    labels = features @ w + noise * jax.random.normal(key_noise, x.shape)
    return (features[:num_train], labels[:num_train]), (features[num_train:], labels[num_train:])


def high_dimensional_data(
    key: jax.Array,
    *,
    num_inputs: int = 200,
    num_train: int = 20,
    num_test: int = 100,
    true_w: float = 0.01,
    true_b: float = 0.05,
    noise: float = 0.01,
):
    """The weight-decay section's data (4.5): ``y = 0.05 + Σ_i 0.01 x_i + N(0, 0.01²)`` with
    200 features, 20 training and 100 test examples: few examples, many features, so a model
    without decay overfits.

    Args:
      key: a ``jax.random.key``; split once for the training and once for the test data.
      num_inputs: features d >= 1.
      num_train: training examples, >= 1.
      num_test: test examples, >= 1.
      true_w: every true weight.
      true_b: the true bias.
      noise: standard deviation of the label noise, >= 0.

    Returns:
      ``((X [num_train, d], y [num_train]), (X [num_test, d], y [num_test]))``, each drawn by
      :func:`synthetic_regression`.

    >>> (x, y), (xt, yt) = high_dimensional_data(jax.random.key(0))
    >>> x.shape, yt.shape
    ((20, 200), (100,))
    """
    check_int(num_inputs, "num_inputs", low=1)
    check_int(num_train, "num_train", low=1)
    check_int(num_test, "num_test", low=1)
    key_train, key_test = jax.random.split(key)
    w = jnp.full(num_inputs, true_w)
    return (
        synthetic_regression(key_train, w, true_b, num_train, noise),
        synthetic_regression(key_test, w, true_b, num_test, noise),
    )


def noisy_sine(key: jax.Array, num_points: int = 1000, *, noise: float = 0.2):
    """The sequence of the book's 8.1: ``x_t = sin(0.01 t) + N(0, noise²)`` at the times
    ``t = 1, …, num_points``.

    Args:
      key: a ``jax.random.key`` for the noise.
      num_points: the number of time steps T >= 1 (the book's 1000).
      noise: the standard deviation of the noise, >= 0 (the book's 0.2).

    Returns:
      ``(time [T], x [T])``, float32; ``time`` is ``1, …, T``.

    >>> time, x = noisy_sine(jax.random.key(0), 5, noise=0.0)
    >>> time.tolist(), [round(v, 4) for v in x.tolist()]
    ([1.0, 2.0, 3.0, 4.0, 5.0], [0.01, 0.02, 0.03, 0.04, 0.05])
    """
    check_int(num_points, "num_points", low=1)
    check_number(noise, "noise", low=0)
    time = jnp.arange(1, num_points + 1, dtype=jnp.float32)
    return time, jnp.sin(0.01 * time) + noise * jax.random.normal(key, (num_points,))


def lag_features(x, tau: int) -> tuple[jax.Array, jax.Array]:
    """The book's features of an autoregressive model (8.1): each value of ``x`` after the
    first τ, as a label, with the τ values before it as its features.

    Row ``j`` is ``features[j] = x[j : j + τ]`` and ``labels[j] = x[j + τ]``: the book's
    ``features[:, i] = x[i : T - tau + i]`` for each column ``i``, and ``labels = x[tau:]``.

    Args:
      x: a sequence [T].
      tau: the number of past values each prediction sees, in [1, T - 1].

    Returns:
      ``(features [T - τ, τ], labels [T - τ])``.

    >>> features, labels = lag_features(jnp.arange(6.0), 2)
    >>> features.tolist(), labels.tolist()
    ([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0], [3.0, 4.0]], [2.0, 3.0, 4.0, 5.0])
    """
    x = jnp.asarray(x)
    if x.ndim != 1:
        raise InputError(f"x: expected a sequence [T], got shape {x.shape}")
    if x.shape[0] < 2:
        raise InputError(f"x: expected at least 2 values (τ of them and a label), got {x.shape[0]}")
    tau = check_int(tau, "tau", low=1, high=x.shape[0] - 1)
    rows = jnp.arange(x.shape[0] - tau)[:, None] + jnp.arange(tau)[None, :]
    return x[rows], x[tau:]

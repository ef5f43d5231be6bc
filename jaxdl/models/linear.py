"""Linear regression: from scratch, concise (flax.linen), and in closed form.

Both trainable variants draw ``w ~ N(0, 0.01²)`` and set ``b = 0``, as the book, and output one
prediction per example, shape [batch]; :func:`pytorch_linear` is initialised as PyTorch's
``nn.Linear``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.errors import InputError
from jaxdl.model import Model, from_flax, stateless

INIT_STD = 0.01


def linear_regression(*, init_std: float = INIT_STD) -> Model:
    """The from-scratch model ``y_hat = X w + b`` with params ``{"w": [d], "b": []}``.

    Args:
      init_std: standard deviation of the initial weights.

    Returns:
      A Model without state (:func:`jaxdl.model.stateless`); inputs [batch, d], output
      [batch].

    >>> model = linear_regression()
    >>> params, state = model.init(jax.random.key(0), jnp.ones((1, 3)))
    >>> params["w"].shape, model.apply(params, state, jnp.ones((4, 3)), train=False)[0].shape
    ((3,), (4,))
    """

    def init(key, x):
        return {
            "w": init_std * jax.random.normal(key, (x.shape[-1],)),
            "b": jnp.zeros(()),
        }

    def apply(params, x):
        return x @ params["w"] + params["b"]

    return stateless(init, apply, {"name": "linear_regression", "init_std": init_std})


def pytorch_linear() -> Model:
    """``y_hat = X w + b`` initialised as PyTorch's ``nn.Linear(d, 1)``: ``w`` and ``b`` drawn
    from ``U(-1/√d, 1/√d)`` (the book's models built with ``nn.Linear``, e.g. the house-price
    network of 4.10).

    Returns:
      A Model without state; params ``{"w": [d], "b": []}``, inputs [batch, d], output [batch].

    >>> params, _ = pytorch_linear().init(jax.random.key(0), jnp.ones((1, 4)))
    >>> bool(jnp.all(jnp.abs(params["w"]) <= 0.5)), params["b"].shape
    (True, ())
    """

    def init(key, x):
        bound = 1.0 / jnp.sqrt(x.shape[-1])
        key_w, key_b = jax.random.split(key)
        return {
            "w": jax.random.uniform(key_w, (x.shape[-1],), minval=-bound, maxval=bound),
            "b": jax.random.uniform(key_b, (), minval=-bound, maxval=bound),
        }

    def apply(params, x):
        return x @ params["w"] + params["b"]

    return stateless(init, apply, {"name": "pytorch_linear"})


class LinearRegression(nn.Module):
    """The concise model: one ``nn.Dense(1)`` layer, squeezed to [batch]."""

    init_std: float = INIT_STD

    @nn.compact
    def __call__(self, x):
        dense = nn.Dense(
            1, kernel_init=nn.initializers.normal(self.init_std), bias_init=nn.initializers.zeros
        )
        return dense(x)[..., 0]


def concise_linear_regression(*, init_std: float = INIT_STD) -> Model:
    """:class:`LinearRegression` as a Model."""
    return from_flax(LinearRegression(init_std=init_std))


def closed_form(X, y) -> tuple[jax.Array, jax.Array]:
    """Least-squares ``(w, b)`` minimising ``||X w + b - y||²``, through an SVD solve.

    Solves the normal equations ``[X 1]ᵀ[X 1] θ = [X 1]ᵀ y`` without forming ``XᵀX`` (whose
    condition number is the square of ``X``'s), by ``jnp.linalg.lstsq`` on the design matrix
    with a column of ones for the bias.

    Args:
      X: features [n, d].
      y: targets [n].

    Returns:
      ``(w [d], b [])``.

    >>> X = jnp.array([[0.0], [1.0], [2.0]])
    >>> w, b = closed_form(X, 2 * X[:, 0] + 1)
    >>> [round(float(w[0]), 4), round(float(b), 4)]
    [2.0, 1.0]
    """
    X = jnp.asarray(X)
    if X.ndim != 2:
        raise InputError(f"X: expected a matrix [n, d], got shape {X.shape}")
    theta = least_squares(jnp.concatenate([X, jnp.ones((X.shape[0], 1), X.dtype)], axis=1), y)
    return theta[:-1], theta[-1]


def least_squares(X, y) -> jax.Array:
    """The ``w`` minimising ``||X w - y||²`` (no bias: give ``X`` a column of ones for one),
    through an SVD solve (``jnp.linalg.lstsq``), the minimum-norm one when several do. What
    training by gradient descent on the squared loss converges to.

    Args:
      X: features [n, d].
      y: targets [n].

    Returns:
      ``w`` [d].

    >>> X = jnp.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    >>> [round(float(v), 4) for v in least_squares(X, 1 + 2 * X[:, 1])]
    [1.0, 2.0]
    """
    X, y = jnp.asarray(X), jnp.asarray(y)
    if X.ndim != 2:
        raise InputError(f"X: expected a matrix [n, d], got shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise InputError(f"y: expected shape ({X.shape[0]},) to match X, got {y.shape}")
    w, *_ = jnp.linalg.lstsq(X, y)
    return w

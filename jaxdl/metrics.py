"""Metrics: per-example correctness and accuracy; the squared log error and its root mean.

``correct`` and ``squared_log_error`` return one value per example, like the losses, so the
training engine can average them with a mask over padded batches; ``accuracy`` is the mean of
``correct``, the book's ``accuracy(y_hat, y) / len(y)``, and ``log_rmse`` the root of the mean
of ``squared_log_error``, the book's ``log_rmse`` of 4.10.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdl._checks import check_class_scores, check_pair
from jaxdl.errors import InputError


def _check(logits, labels, name: str) -> tuple[jax.Array, jax.Array]:
    logits, labels = jnp.asarray(logits), jnp.asarray(labels)
    check_class_scores(logits, labels, name)
    return logits, labels


def correct(logits, labels) -> jax.Array:
    """1.0 for each example whose highest-scoring class is its label, else 0.0.

    Ties go to the first maximal class (``argmax``). A label outside ``[0, num_classes)`` never
    matches, so it counts as wrong.

    Args:
      logits: scores ``[batch, num_classes]`` (logits or probabilities: argmax is the same).
      labels: integer class indices ``[batch]``.

    Returns:
      float32 ``[batch]`` of 0.0 and 1.0.

    Raises:
      ValueError: on wrong shapes.
      TypeError: when labels are not integers.

    >>> correct(jnp.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]), jnp.array([1, 1, 1]))
    Array([1., 0., 1.], dtype=float32)
    """
    logits, labels = _check(logits, labels, "correct")
    return (jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32)


def accuracy(logits, labels) -> jax.Array:
    """The fraction of examples classified correctly: the mean of :func:`correct`.

    Args:
      logits: scores ``[batch, num_classes]``, batch >= 1.
      labels: integer class indices ``[batch]``.

    Returns:
      A float32 scalar in [0, 1].

    Raises:
      ValueError: on wrong shapes or an empty batch.
      TypeError: when labels are not integers.

    >>> logits = jnp.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    >>> accuracy(logits, jnp.array([1, 1, 1, 0]))
    Array(0.75, dtype=float32)
    """
    logits, labels = _check(logits, labels, "accuracy")
    if logits.shape[0] == 0:
        raise InputError("accuracy: expected at least one example, got an empty batch")
    return jnp.mean(correct(logits, labels))


def squared_log_error(y_hat, y) -> jax.Array:
    """Per example ``(log(max(ŷ, 1)) − log(y))²``: the error of the logarithms, which weighs a
    price off by 10% alike whether it is cheap or dear. Predictions below 1 count as 1, as the
    book's ``torch.clamp(net(features), 1, float('inf'))``.

    Args:
      y_hat: predictions ``[batch]``.
      y: targets ``[batch]``, > 0.

    Returns:
      ``[batch]``, float.

    Raises:
      ValueError: when the shapes are not one [batch].

    >>> squared_log_error(jnp.array([100.0, 0.5]), jnp.array([100.0, jnp.e]))
    Array([0., 1.], dtype=float32)
    """
    y_hat, y = check_pair(y_hat, y, "squared_log_error")
    if y_hat.ndim != 1:
        raise InputError(f"squared_log_error: expected [batch], got shape {y_hat.shape}")
    return jnp.square(jnp.log(jnp.maximum(y_hat, 1.0)) - jnp.log(y))


def log_rmse(y_hat, y) -> jax.Array:
    """The book's ``log_rmse``: ``sqrt(mean((log(max(ŷ, 1)) − log(y))²))``, the Kaggle house
    price competition's score.

    >>> log_rmse(jnp.array([1.0, 1.0]), jnp.array([1.0, jnp.exp(2.0)]))
    Array(1.4142135, dtype=float32)
    """
    return jnp.sqrt(jnp.mean(squared_log_error(y_hat, y)))

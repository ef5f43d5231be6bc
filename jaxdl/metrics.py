"""Classification metrics: per-example correctness and accuracy.

``correct`` returns one value per example, like the losses, so the training engine can average
it with a mask over padded batches; ``accuracy`` is its mean, the book's ``accuracy(y_hat, y) /
len(y)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdl._checks import check_class_scores
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

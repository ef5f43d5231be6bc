"""Losses, one value per example: the caller reduces (mean, masked mean, sum).

Regression losses (``squared_loss``, ``l1_loss``, ``huber_loss``) take a prediction and a
target of the SAME shape ``[batch, ...]`` and return ``[batch]``, summing over any trailing
axes. Equal shapes are required, not broadcast: the book's classic bug is a prediction
``[n, 1]`` against targets ``[n]``, which broadcasts to an ``[n, n]`` matrix of every pair and
trains on the wrong objective without any error. Inputs must have rank >= 1 (a batch axis).

``cross_entropy`` takes logits ``[batch, num_classes]`` and integer labels ``[batch]``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl._checks import check_class_scores, check_pair, is_traced
from jaxdl.activations import log_softmax
from jaxdl.errors import InputError, InputTypeError


def _per_example(values: jax.Array) -> jax.Array:
    """Sums ``[batch, ...]`` over the trailing axes to ``[batch]``."""
    return jnp.sum(values, axis=tuple(range(1, values.ndim)))


def squared_loss(y_hat, y) -> jax.Array:
    """The book's squared loss ``½ (ŷ - y)²``, per example.

    Note the ½: this is the from-scratch ``squared_loss`` of the book, whose gradient is
    ``ŷ - y``. PyTorch's ``nn.MSELoss`` (and ``optax.squared_error``) have no ½, so at the same
    learning rate their steps are twice as long. ``optax.l2_loss`` is this loss.

    Args:
      y_hat: predictions ``[batch, ...]``.
      y: targets, the same shape as ``y_hat``.

    Returns:
      ``[batch]``: ``½ (ŷ - y)²`` summed over any axes after the first.

    Raises:
      ValueError: when the shapes differ or the inputs are scalars.

    >>> squared_loss(jnp.array([1.0, 3.0]), jnp.array([0.0, 1.0]))
    Array([0.5, 2. ], dtype=float32)
    """
    y_hat, y = check_pair(y_hat, y, "squared_loss")
    return _per_example(0.5 * (y_hat - y) ** 2)


def l1_loss(y_hat, y) -> jax.Array:
    """The absolute (L1) loss ``|ŷ - y|``, per example.

    Its derivative is ``sign(ŷ - y)``; at the kink ŷ = y it is 0 (the subgradient PyTorch
    uses; ``jnp.abs`` would give 1). ``|d|`` is computed as ``d * sign(d)``, whose derivative is
    ``sign(d)`` because ``sign`` has a zero derivative.

    Args:
      y_hat: predictions ``[batch, ...]``.
      y: targets, the same shape as ``y_hat``.

    Returns:
      ``[batch]``: ``|ŷ - y|`` summed over any axes after the first.

    Raises:
      ValueError: when the shapes differ or the inputs are scalars.

    >>> l1_loss(jnp.array([1.0, -3.0]), jnp.array([0.0, 1.0]))
    Array([1., 4.], dtype=float32)
    """
    y_hat, y = check_pair(y_hat, y, "l1_loss")
    d = y_hat - y
    return _per_example(d * jnp.sign(d))


def _check_delta(delta) -> None:
    """Validates a concrete ``delta``; traced values (under jit or vmap) cannot be checked."""
    if is_traced(delta):
        return
    value = np.asarray(delta)
    if value.dtype == bool or not np.issubdtype(value.dtype, np.number):
        raise InputTypeError(
            f"huber_loss: expected delta to be a number, got {value.dtype} {delta!r}"
        )
    if value.ndim != 0:
        raise InputError(f"huber_loss: expected delta to be a scalar, got shape {value.shape}")
    if not (value > 0 and math.isfinite(float(value))):
        raise InputError(f"huber_loss: expected delta to be a finite number > 0, got {delta!r}")


def huber_loss(y_hat, y, delta=1.0) -> jax.Array:
    """The Huber loss, per example: quadratic near 0, linear in the tails.

    With ``x = ŷ - y``::

        l(x) = ½ x²              if |x| <= delta
               delta (|x| - ½ delta)   otherwise

    Both pieces meet with equal value and slope at ``|x| = delta``, so the loss is smooth; its
    derivative is ``clip(x, -delta, delta)``. Equal to ``optax.huber_loss(ŷ, y, delta)``.

    Args:
      y_hat: predictions ``[batch, ...]``.
      y: targets, the same shape as ``y_hat``.
      delta: where the quadratic turns linear; > 0 (checked when concrete, not when traced).

    Returns:
      ``[batch]``: the loss summed over any axes after the first.

    Raises:
      ValueError: when the shapes differ, the inputs are scalars, or a concrete delta is not
        a finite number > 0.
      TypeError: when delta is not a number.

    >>> huber_loss(jnp.array([0.5, 2.0]), jnp.zeros(2), delta=1.0)
    Array([0.125, 1.5  ], dtype=float32)
    """
    _check_delta(delta)
    y_hat, y = check_pair(y_hat, y, "huber_loss")
    x = y_hat - y
    abs_x = jnp.abs(x)
    values = jnp.where(abs_x <= delta, 0.5 * x**2, delta * (abs_x - 0.5 * delta))
    return _per_example(values)


def cross_entropy(logits, labels) -> jax.Array:
    """Softmax cross-entropy with integer labels, per example: ``-log softmax(logits)[label]``.

    Computed through :func:`jaxdl.activations.log_softmax` (the log-sum-exp trick), never as
    ``-log(softmax(...))``: the latter overflows for large logits and gives ``-log(0) = inf``
    where a probability underflows. Equal to
    ``optax.softmax_cross_entropy_with_integer_labels``.

    JAX clamps out-of-range indices silently, so labels are checked: concrete labels outside
    ``[0, num_classes)`` raise a ValueError; under ``jax.jit`` (traced labels) the loss of such
    an example is NaN, never a finite number, so a training run notices.

    Args:
      logits: unnormalised scores ``[batch, num_classes]``.
      labels: integer class indices ``[batch]`` in ``[0, num_classes)``.

    Returns:
      ``[batch]``: the loss of each example (NaN for a traced out-of-range label).

    Raises:
      ValueError: on wrong shapes, or a concrete label out of range.
      TypeError: when labels are not integers.

    >>> logits = jnp.array([[1e4, 0.0, -1e4], [0.0, 0.0, 0.0]])
    >>> cross_entropy(logits, jnp.array([2, 1]))  # 2e4 and log(3)
    Array([2.0000e+04, 1.0986e+00], dtype=float32)
    """
    logits, labels = jnp.asarray(logits), labels if is_traced(labels) else np.asarray(labels)
    check_class_scores(logits, labels, "cross_entropy")
    batch, num_classes = logits.shape
    if not is_traced(labels) and batch:
        wide = labels.astype(np.int64)
        bad = labels[(wide < 0) | (wide >= num_classes)]
        if bad.size:
            raise InputError(
                f"cross_entropy: expected labels in [0, {num_classes}) for {num_classes} "
                f"classes, got label {bad[0]}"
            )
    # Compared in a wide integer type: in the labels' own (uint8, say) num_classes may wrap.
    labels = jnp.asarray(labels).astype(jnp.int32)
    valid = (labels >= 0) & (labels < num_classes)
    safe = jnp.where(valid, labels, jnp.zeros_like(labels))
    picked = jnp.take_along_axis(log_softmax(logits, axis=-1), safe[:, None], axis=-1)[:, 0]
    # 0 - picked, not -picked: a certain class then has loss 0.0, not -0.0.
    return jnp.where(valid, 0.0 - picked, jnp.full_like(picked, jnp.nan))

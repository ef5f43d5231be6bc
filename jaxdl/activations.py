"""Activation functions from scratch: ReLU, sigmoid, tanh, and a numerically stable softmax.

Each function is elementwise (softmax and log-softmax work along one axis) and matches
``jax.nn`` in value. Where the book's formula would overflow, the code takes a stable path and
says why:

- ``sigmoid`` and ``tanh`` only ever exponentiate ``-|x|``, so no ``exp`` overflows and the
  gradient is finite for any finite input;
- ``softmax`` and ``log_softmax`` subtract the maximum along the axis before ``exp`` (the
  log-sum-exp trick), so logits of magnitude 1e4 give no inf or NaN. ``naive_softmax`` is the
  book's unshifted version, kept to demonstrate the overflow.

``relu`` has derivative 0 at 0, the book's (and PyTorch's) convention.
"""

from __future__ import annotations

import types
from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxdl._checks import check_int
from jaxdl.errors import InputError, InputTypeError


def _abs(x: jax.Array) -> jax.Array:
    """``|x|`` with derivative +1 at 0 (a ``where``, so both sides stay differentiable)."""
    return jnp.where(x >= 0, x, -x)


def relu(x) -> jax.Array:
    """The rectified linear unit ``max(x, 0)``.

    The derivative is 1 for x > 0 and 0 for x <= 0: at the kink x = 0 it is 0, as in the book
    (``jnp.where(x > 0, x, 0)`` routes the gradient only through the positive side).

    Args:
      x: an array of any shape.

    Returns:
      An array of the shape and dtype of ``x``.

    >>> relu(jnp.array([-2.0, 0.0, 3.0]))
    Array([0., 0., 3.], dtype=float32)
    >>> float(jax.grad(relu)(0.0))
    0.0
    """
    x = jnp.asarray(x)
    return jnp.where(x > 0, x, jnp.zeros_like(x))


def sigmoid(x) -> jax.Array:
    """The logistic function ``1 / (1 + exp(-x))``, stable for large ``|x|``.

    With ``z = exp(-|x|)``, which lies in (0, 1], sigmoid(x) is ``1 / (1 + z)`` for x >= 0 and
    ``z / (1 + z)`` for x < 0. The book's formula computes ``exp(-x)``, which overflows to inf
    for x < -88 in float32: its value still rounds to 0, but its gradient becomes inf / inf =
    NaN. Here both the value and the gradient stay finite. The derivative is
    ``sigmoid(x) (1 - sigmoid(x))``, at most 0.25, at x = 0, and is computed so from the value
    (a custom JVP).

    Args:
      x: an array of any shape.

    Returns:
      An array of the shape of ``x`` with values in [0, 1] (floating point).

    >>> sigmoid(jnp.array([-1000.0, 0.0, 1000.0]))
    Array([0. , 0.5, 1. ], dtype=float32)
    >>> float(jax.grad(sigmoid)(0.0))
    0.25
    """
    return _sigmoid(jnp.asarray(x))


@jax.custom_jvp
def _sigmoid(x: jax.Array) -> jax.Array:
    z = jnp.exp(-_abs(x))
    return jnp.where(x >= 0, 1 / (1 + z), z / (1 + z))


@_sigmoid.defjvp
def _sigmoid_jvp(primals, tangents):
    """The derivative from the value, ``s (1 - s)``: one multiply-add per element in the
    backward pass, where differentiating the ``where`` and ``exp`` above takes several (about a
    sixth of a LeNet training step on a CPU)."""
    (x,), (dx,) = primals, tangents
    s = _sigmoid(x)
    return s, s * (1 - s) * dx


def tanh(x) -> jax.Array:
    """The hyperbolic tangent ``(1 - exp(-2x)) / (1 + exp(-2x))``, stable for large ``|x|``.

    tanh is odd, so it is computed on ``|x|`` and given the sign of x; ``exp(-2|x|)`` never
    overflows, and ``expm1`` keeps full relative precision near 0 (where ``1 - exp(-2x)``
    would cancel). The derivative is ``1 - tanh(x)²``, at most 1, at x = 0.

    Args:
      x: an array of any shape.

    Returns:
      An array of the shape of ``x`` with values in [-1, 1] (floating point).

    >>> tanh(jnp.array([-1000.0, 0.0, 1000.0]))
    Array([-1.,  0.,  1.], dtype=float32)
    >>> float(jax.grad(tanh)(0.0))
    1.0
    """
    x = jnp.asarray(x)
    m = jnp.expm1(-2 * _abs(x))  # exp(-2|x|) - 1, in (-1, 0]
    t = -m / (2 + m)  # tanh(|x|)
    return jnp.where(x >= 0, t, -t)


def _check_axis(x: jax.Array, axis, name: str) -> int:
    if x.ndim == 0:
        raise InputError(f"{name}: expected x of rank >= 1, got a scalar (shape ())")
    return check_int(axis, f"{name}: axis of x {x.shape}", low=-x.ndim, high=x.ndim - 1)


def _shifted(x: jax.Array, axis: int) -> jax.Array:
    """``x - max(x)`` along ``axis``: the largest entry becomes 0, so ``exp`` cannot overflow.

    The shift does not change softmax; ``stop_gradient`` keeps the max out of the derivative
    (it would cancel anyway). A non-finite max (a row of -inf) is replaced by 0.
    """
    x_max = jnp.max(x, axis=axis, keepdims=True)
    x_max = jnp.where(jnp.isfinite(x_max), x_max, jnp.zeros_like(x_max))
    return x - jax.lax.stop_gradient(x_max)


def softmax(x, axis: int = -1) -> jax.Array:
    """Softmax ``exp(x_i) / sum_j exp(x_j)`` along ``axis``, computed stably.

    The maximum along ``axis`` is subtracted first (softmax is unchanged by a shift), so the
    largest exponent is exp(0) = 1 and logits such as ``[1e4, 0, -1e4]`` give ``[1, 0, 0]``
    instead of inf / inf = NaN (see :func:`naive_softmax`).

    Args:
      x: logits, e.g. ``[batch, num_classes]``; rank >= 1, floating point.
      axis: the axis that sums to one.

    Returns:
      Probabilities of the shape of ``x``, non-negative and summing to 1 along ``axis``.

    Raises:
      ValueError: for a 0-d ``x`` or an axis out of range.
      TypeError: for a non-integer axis.

    >>> softmax(jnp.array([[1e4, 0.0, -1e4]]))
    Array([[1., 0., 0.]], dtype=float32)
    >>> softmax(jnp.array([2.0, 2.0, 2.0, 2.0]))
    Array([0.25, 0.25, 0.25, 0.25], dtype=float32)
    """
    x = jnp.asarray(x)
    axis = _check_axis(x, axis, "softmax")
    e = jnp.exp(_shifted(x, axis))
    return e / jnp.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis: int = -1) -> jax.Array:
    """Log-softmax ``x_i - log sum_j exp(x_j)`` along ``axis``, by the log-sum-exp trick.

    With ``s = x - max(x)``: ``log_softmax(x) = s - log(sum(exp(s)))``. The sum is at least 1,
    so its log is finite, and no ``exp`` overflows. Taking ``log(softmax(x))`` instead would give
    -inf where a probability underflows to 0 (e.g. ``[0, -1e4]``), while this gives -1e4.

    Args:
      x: logits, e.g. ``[batch, num_classes]``; rank >= 1, floating point.
      axis: the axis to normalise over.

    Returns:
      Log-probabilities of the shape of ``x``; ``exp`` of them sums to 1 along ``axis``.

    Raises:
      ValueError: for a 0-d ``x`` or an axis out of range.
      TypeError: for a non-integer axis.

    >>> log_softmax(jnp.array([0.0, -1e4]))
    Array([     0., -10000.], dtype=float32)
    """
    x = jnp.asarray(x)
    axis = _check_axis(x, axis, "log_softmax")
    s = _shifted(x, axis)
    return s - jnp.log(jnp.sum(jnp.exp(s), axis=axis, keepdims=True))


def naive_softmax(x, axis: int = -1) -> jax.Array:
    """The book's softmax, ``exp(x) / sum(exp(x))`` with no shift: NOT numerically stable.

    Kept to demonstrate the overflow: in float32 ``exp(x)`` is inf for x > 88.7, so logits such
    as ``[100, 1000]`` give inf / inf = NaN. Use :func:`softmax` in real code.

    Args:
      x: logits of rank >= 1.
      axis: the axis that sums to one.

    Returns:
      ``exp(x) / sum(exp(x), axis)``, of the shape of ``x``.

    >>> naive_softmax(jnp.log(jnp.array([1.0, 3.0])))
    Array([0.25, 0.75], dtype=float32)
    >>> naive_softmax(jnp.array([100.0, 1000.0]))
    Array([nan, nan], dtype=float32)
    """
    x = jnp.asarray(x)
    axis = _check_axis(x, axis, "naive_softmax")
    e = jnp.exp(x)
    return e / jnp.sum(e, axis=axis, keepdims=True)


ACTIVATIONS: types.MappingProxyType[str, Callable[[jax.Array], jax.Array]] = types.MappingProxyType(
    {"relu": relu, "sigmoid": sigmoid, "tanh": tanh}
)
"""The hidden-layer activations by name (read-only): ``"relu"``, ``"sigmoid"``, ``"tanh"``."""


def get_activation(name: str) -> Callable[[jax.Array], jax.Array]:
    """Looks up a hidden-layer activation by name.

    Args:
      name: ``"relu"``, ``"sigmoid"`` or ``"tanh"``.

    Returns:
      The elementwise function, e.g. :func:`relu`.

    Raises:
      TypeError: when ``name`` is not a string.
      ValueError: for an unknown name; the message lists the known ones.

    >>> get_activation("relu") is relu
    True
    """
    if not isinstance(name, str):
        raise InputTypeError(f"activation: expected a name (str), got {type(name).__name__}")
    try:
        return ACTIVATIONS[name]
    except KeyError:
        known = ", ".join(repr(k) for k in ACTIVATIONS)
        raise InputError(f"activation: expected one of {known}, got {name!r}") from None

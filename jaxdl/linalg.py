"""Norms from scratch: the book's L1, L2 and Frobenius norms, in pure ``jnp``.

Each equals ``jnp.linalg.norm`` (``ord=1``, ``ord=2`` / default, ``"fro"``) in value, and each
has a finite gradient everywhere, the zero vector included (where ``jnp.linalg.norm``'s
gradient is NaN). Ranks are checked: ``l1_norm`` and ``l2_norm`` take vectors ``[n]``,
``frobenius_norm`` takes matrices ``[m, n]``; integer inputs are promoted to floating point,
boolean and complex inputs are refused.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdl.errors import InputError, InputTypeError


def _check(x, name: str, rank: int, what: str) -> jax.Array:
    """``x`` as a floating-point array of rank ``rank``, or a TypeError/ValueError."""
    x = jnp.asarray(x)
    if x.dtype == jnp.bool_ or not (
        jnp.issubdtype(x.dtype, jnp.integer) or jnp.issubdtype(x.dtype, jnp.floating)
    ):
        raise InputTypeError(
            f"{name}: expected x to hold real numbers (integer or floating dtype), got dtype "
            f"{x.dtype}"
        )
    if x.ndim != rank:
        raise InputError(
            f"{name}: expected x to be a {what} (rank {rank}), got shape {x.shape} (rank {x.ndim})"
        )
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    return x


def _safe_sqrt_of_sum_of_squares(x: jax.Array) -> jax.Array:
    """``sqrt(sum(x²))`` whose gradient at ``x = 0`` is 0 instead of NaN (double ``where``).

    ``d sqrt(s)/ds = 1 / (2 sqrt(s))`` is infinite at ``s = 0`` and the chain rule multiplies it
    by ``ds/dx = 2x = 0``: ``inf * 0 = NaN``. A single ``where(s == 0, 0, sqrt(s))`` does not
    help, because ``jax.grad`` differentiates both branches and the unused one still carries the
    NaN into the sum (0 * NaN = NaN). So the input of ``sqrt`` is made safe as well: at
    ``s = 0`` it gets 1, whose square root has a finite derivative, and the outer ``where``
    returns 0 there and routes a zero cotangent to that branch. The gradient at 0 is then 0, a
    valid subgradient (the one of least norm).
    """
    s = jnp.sum(x * x)
    is_zero = s == 0
    safe_s = jnp.where(is_zero, jnp.ones_like(s), s)
    return jnp.where(is_zero, jnp.zeros_like(s), jnp.sqrt(safe_s))


def l1_norm(x) -> jax.Array:
    """The L1 norm of a vector, ``‖x‖₁ = Σᵢ |xᵢ|``.

    ``|xᵢ|`` is computed as ``xᵢ · sign(xᵢ)``, so the gradient is ``sign(x)``: 0 at ``xᵢ = 0``
    (the subgradient of least norm; ``jnp.abs`` would give 1 there).

    Args:
      x: a vector ``[n]`` of real numbers.

    Returns:
      A scalar ``[]``, equal to ``jnp.linalg.norm(x, 1)``.

    Raises:
      ValueError: when ``x`` is not a vector.
      TypeError: when ``x`` is boolean, complex or not numeric.

    >>> l1_norm(jnp.array([3.0, -4.0]))
    Array(7., dtype=float32)
    """
    x = _check(x, "l1_norm", 1, "vector [n]")
    return jnp.sum(x * jnp.sign(x))


def l2_norm(x) -> jax.Array:
    """The L2 (Euclidean) norm of a vector, ``‖x‖₂ = sqrt(Σᵢ xᵢ²)``.

    The gradient ``x / ‖x‖₂`` is 0/0 = NaN at ``x = 0`` when computed naively (as it is by
    ``jnp.linalg.norm``). The double-``where`` trick keeps it finite: the argument of ``sqrt``
    is replaced by 1 where the sum of squares is 0, and the result there by 0, so neither
    branch of the ``where`` carries a NaN into the gradient, which is 0 at the zero vector.

    Args:
      x: a vector ``[n]`` of real numbers.

    Returns:
      A scalar ``[]``, equal to ``jnp.linalg.norm(x)``.

    Raises:
      ValueError: when ``x`` is not a vector.
      TypeError: when ``x`` is boolean, complex or not numeric.

    >>> l2_norm(jnp.array([3.0, -4.0]))
    Array(5., dtype=float32)
    >>> jax.grad(l2_norm)(jnp.zeros(2))
    Array([0., 0.], dtype=float32)
    """
    x = _check(x, "l2_norm", 1, "vector [n]")
    return _safe_sqrt_of_sum_of_squares(x)


def frobenius_norm(x) -> jax.Array:
    """The Frobenius norm of a matrix, ``‖X‖_F = sqrt(Σᵢⱼ xᵢⱼ²)``.

    Like :func:`l2_norm` (the L2 norm of the flattened matrix), with the double-``where``
    trick so that the gradient at the zero matrix is 0, not NaN.

    Args:
      x: a matrix ``[m, n]`` of real numbers.

    Returns:
      A scalar ``[]``, equal to ``jnp.linalg.norm(x, "fro")``.

    Raises:
      ValueError: when ``x`` is not a matrix.
      TypeError: when ``x`` is boolean, complex or not numeric.

    >>> frobenius_norm(jnp.ones((4, 9)))
    Array(6., dtype=float32)
    """
    x = _check(x, "frobenius_norm", 2, "matrix [m, n]")
    return _safe_sqrt_of_sum_of_squares(x)

"""Derivatives by finite differences: the book's ``numerical_lim`` and a numerical gradient.

These are the references that ``jax.grad`` is checked against. Their accuracy is limited by
the floating-point type: with float32 (JAX's default) a difference quotient with ``h = 1e-5``
has lost most of its digits to rounding, so tables like the book's limit table are computed with
Python floats (float64), or under ``jax.enable_x64(True)`` used as a context manager.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl._checks import is_traced
from jaxdl.errors import InputError, InputTypeError


def _check_step(h, name: str) -> None:
    """A concrete ``h`` must be a real, finite, nonzero scalar; traced values pass unchecked."""
    if is_traced(h):
        return
    value = np.asarray(h)
    if value.dtype == bool or not (
        np.issubdtype(value.dtype, np.integer) or np.issubdtype(value.dtype, np.floating)
    ):
        raise InputTypeError(
            f"{name}: expected h to be a real number, got {type(h).__name__} {h!r}"
        )
    if value.ndim != 0:
        raise InputError(f"{name}: expected h to be a scalar, got shape {value.shape}")
    if value == 0 or not math.isfinite(float(value)):
        raise InputError(f"{name}: expected h to be a finite nonzero number, got {h!r}")


def _check_function(f, name: str) -> None:
    if not callable(f):
        raise InputTypeError(f"{name}: expected f to be callable, got {type(f).__name__} {f!r}")


def numerical_lim(f: Callable, x, h):
    """The difference quotient ``(f(x + h) - f(x)) / h``, as the book's ``numerical_lim``.

    As ``h → 0`` it tends to ``f'(x)``; its error is about ``h f''(x) / 2`` from the
    truncation plus about ``ε |f(x)| / h`` from rounding (``ε`` the machine epsilon), so ``h``
    cannot be made arbitrarily small: in float32 (``ε ≈ 1.2e-7``) ``h = 1e-5`` already leaves
    only two correct digits. Any numbers ``f`` accepts work: Python floats (float64), NumPy or
    JAX arrays.

    Args:
      f: a function of one argument.
      x: the point, a scalar or an array (evaluated elementwise when ``f`` is elementwise).
      h: the step, a finite nonzero real number.

    Returns:
      The difference quotient, of the type ``f`` returns.

    Raises:
      TypeError: when ``f`` is not callable or ``h`` is not a real number.
      ValueError: when ``h`` is zero, infinite, NaN or not a scalar.

    >>> f = lambda x: 3 * x**2 - 4 * x
    >>> print(f"{numerical_lim(f, 1.0, 0.01):.5f}")
    2.03000
    """
    _check_function(f, "numerical_lim")
    _check_step(h, "numerical_lim")
    return (f(x + h) - f(x)) / h


def numerical_grad(f: Callable, x, h=1e-3) -> jax.Array:
    """The gradient of a scalar function by central differences.

    ``∂f/∂xᵢ ≈ (f(x + h eᵢ) - f(x - h eᵢ)) / (2h)`` for every entry ``i`` of ``x``, with ``eᵢ``
    the i-th unit array. The truncation error is ``O(h²)`` (one order better than
    :func:`numerical_lim`'s one-sided quotient); the rounding error is about ``ε |f| / h``. All
    ``2n`` evaluations run as one ``jax.vmap`` batch, so ``f`` must be written in ``jnp``
    without Python control flow on values, and the result is the dtype of ``x`` (float32
    unless x64 is on: expect about 4 correct digits with the default ``h``).

    Args:
      f: a function from an array shaped like ``x`` to a scalar ``[]``.
      x: the point, an array of any shape ``[...]``; integers are promoted to floating point.
      h: the step, a finite nonzero real number.

    Returns:
      An array shaped like ``x``: the numerical gradient, comparable with ``jax.grad(f)(x)``.

    Raises:
      TypeError: when ``f`` is not callable, ``h`` is not a real number, or ``x`` is not real.
      ValueError: when ``h`` is zero, infinite, NaN or not a scalar, or ``f`` does not return a
        scalar.

    >>> f = lambda x: jnp.sum(x**2)
    >>> numerical_grad(f, jnp.array([1.0, -2.0]))
    Array([ 2., -4.], dtype=float32)
    """
    _check_function(f, "numerical_grad")
    _check_step(h, "numerical_grad")
    x = jnp.asarray(x)
    if x.dtype == jnp.bool_ or not (
        jnp.issubdtype(x.dtype, jnp.integer) or jnp.issubdtype(x.dtype, jnp.floating)
    ):
        raise InputTypeError(
            f"numerical_grad: expected x to hold real numbers, got dtype {x.dtype}"
        )
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    out = jax.eval_shape(f, x)
    if getattr(out, "shape", None) != ():
        shape = getattr(out, "shape", type(out).__name__)
        raise InputError(f"numerical_grad: expected f to return a scalar (shape ()), got {shape}")

    steps = h * jnp.eye(x.size, dtype=x.dtype).reshape((x.size, *x.shape))
    f_batch = jax.vmap(f)
    center = x[None]
    quotients = (f_batch(center + steps) - f_batch(center - steps)) / (2 * h)
    return quotients.reshape(x.shape).astype(x.dtype)

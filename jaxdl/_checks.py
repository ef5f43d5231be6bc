"""Input checks shared by the whole library: one helper per kind of input.

Every check raises before any compute, with a message that names the argument, what was
expected and what came in: ``TypeError`` for a value of the wrong kind, ``ValueError`` for a
value of the right kind out of range. Values traced by ``jit``/``vmap`` cannot be inspected and
pass through the value checks unchanged (their shapes are still checked).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.errors import InputError, InputTypeError


def physical_memory() -> int | None:
    """This machine's memory in bytes, or None where the system does not say (no sysconf)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_fits(need: int, what: str, fix: str) -> None:
    """An InputError when ``need`` bytes (``what`` would take them) exceed this machine's
    memory: refused up front, not left to fail in the allocator (or overflow a size)."""
    memory = physical_memory()
    if memory is not None and need > memory:
        raise InputError(
            f"{what} would take {need / 2**30:.3g} GiB, more than this machine's "
            f"{memory / 2**30:.3g} GiB; {fix}"
        )


def is_traced(x) -> bool:
    """True for a value traced by ``jit``, ``vmap`` or ``grad``, whose numbers are unknown."""
    return isinstance(x, jax.core.Tracer)


def _an_integer(low, high) -> str:
    if low is not None and high is not None:
        return f"an integer in [{low}, {high}]"
    if low is not None:
        return f"an integer >= {low}"
    return "an integer" if high is None else f"an integer <= {high}"


def check_int(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """Validates an integer argument (Python or NumPy, not bool) in ``[low, high]``.

    Args:
      value: the argument.
      name: its name, for the message.
      low: smallest allowed value, or None.
      high: largest allowed value, or None.

    Returns:
      The value as a Python int.

    Raises:
      TypeError: when ``value`` is not an integer.
      ValueError: when it lies outside ``[low, high]``.

    >>> check_int(np.int64(3), "epochs", low=0)
    3
    >>> check_int(0, "batch_size", low=1)
    Traceback (most recent call last):
    ...
    jaxdl.errors.InputError: batch_size: expected an integer >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputTypeError(
            f"{name}: expected {_an_integer(low, high)}, got {type(value).__name__} {value!r}"
        )
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise InputError(f"{name}: expected {_an_integer(low, high)}, got {value}")
    return value


def check_number(value, name: str, *, low: float | None = None, strict: bool = False) -> None:
    """Validates a real, finite scalar ``>= low`` (``> low`` when ``strict``).

    Traced values (a learning rate swept under ``vmap``, say) pass unchecked; so do arrays of
    several values, which belong to the caller's own shape checks.

    Raises:
      TypeError: when ``value`` is not a real number.
      ValueError: when it is NaN, infinite or below the bound.

    >>> check_number(0.0, "learning_rate", low=0, strict=True)
    Traceback (most recent call last):
    ...
    jaxdl.errors.InputError: learning_rate: expected a finite number > 0, got 0.0
    """
    if is_traced(value):
        return
    array = np.asarray(value)
    if array.dtype == bool or array.dtype.kind not in "iuf":
        raise InputTypeError(
            f"{name}: expected a real number, got {type(value).__name__} {value!r}"
        )
    if array.ndim:
        return
    number = float(array)
    bound = "" if low is None else f" {'>' if strict else '>='} {low}"
    ok = math.isfinite(number) and (low is None or (number > low if strict else number >= low))
    if not ok:
        raise InputError(f"{name}: expected a finite number{bound}, got {number}")


def check_pair(y_hat, y, name: str) -> tuple[jax.Array, jax.Array]:
    """Arrays of one shape ``[batch, ...]`` (rank >= 1), or a ValueError naming both shapes."""
    y_hat, y = jnp.asarray(y_hat), jnp.asarray(y)
    if y_hat.shape != y.shape:
        raise InputError(
            f"{name}: expected y_hat and y of the same shape [batch, ...], got y_hat "
            f"{y_hat.shape} and y {y.shape} (reshape one: broadcasting them would compare "
            "every prediction with every target)"
        )
    if y_hat.ndim == 0:
        raise InputError(
            f"{name}: expected y_hat and y of rank >= 1 [batch, ...], got scalars (shape ())"
        )
    return y_hat, y


def check_data(x, y, name: str = "data") -> int:
    """Validates a ``(x [n, ...], y [n, ...])`` pair and returns n.

    Raises:
      TypeError: when x or y is not an array.
      ValueError: on wrong ranks, different lengths, no examples, or NaN/inf in a concrete x
        or y.
    """
    for part, value, min_rank in (("x", x, 2), ("y", y, 1)):
        if not hasattr(value, "shape") or not hasattr(value, "dtype"):
            raise InputTypeError(
                f"{name}: expected {part} to be an array, got {type(value).__name__}"
            )
        if value.ndim < min_rank:
            expected = "[n, features...]" if part == "x" else "[n, ...]"
            raise InputError(
                f"{name}: expected {part} of rank >= {min_rank} {expected}, got shape {value.shape}"
            )
    if x.shape[0] != y.shape[0]:
        raise InputError(
            f"{name}: expected x and y with the same number of examples, got {x.shape[0]} and "
            f"{y.shape[0]}"
        )
    if x.shape[0] == 0:
        raise InputError(f"{name}: expected at least one example, got 0")
    for part, value in (("x", x), ("y", y)):
        if not is_traced(value) and jnp.issubdtype(value.dtype, jnp.inexact):
            with jax.ensure_compile_time_eval():  # eager even when called under jit
                finite = bool(jnp.all(jnp.isfinite(value)))
            if not finite:
                raise InputError(f"{name}: expected finite values in {part}, found NaN or inf")
    return x.shape[0]


def check_class_scores(logits, labels, name: str) -> None:
    """Checks class scores ``logits [batch, num_classes]`` against integer ``labels [batch]``
    (NumPy, JAX or traced arrays).

    Raises:
      ValueError: on wrong shapes; TypeError: on labels that are not integers.
    """
    if logits.ndim != 2:
        raise InputError(
            f"{name}: expected logits of shape [batch, num_classes], got {logits.shape}"
        )
    if labels.shape != logits.shape[:1]:
        raise InputError(
            f"{name}: expected labels of shape [batch] = ({logits.shape[0]},) for logits "
            f"{logits.shape}, got {labels.shape}"
        )
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise InputTypeError(
            f"{name}: expected integer labels (class indices), got dtype {labels.dtype}"
        )


def check_labels(predict: Callable[[jax.Array], jax.Array], example, y, name: str) -> None:
    """For class outputs ``[batch, C]`` and integer labels ``[n]``, checks 0 <= y < C.

    JAX clamps out-of-range indices silently, so a bad label would otherwise train quietly.

    Args:
      predict: the model's output as a function of its input, ``predict(x) -> output``
        (:func:`jaxdl.model.predict` of the model and its state); only its output shape is
        computed.
      example: an input [1, ...] the model takes.
      y: labels [n].
      name: the data's name, for the message.
    """
    if is_traced(y) or not jnp.issubdtype(y.dtype, jnp.integer) or y.ndim != 1:
        return
    out = jax.eval_shape(predict, example)
    if out.ndim != 2:
        return
    num_classes = out.shape[1]
    with jax.ensure_compile_time_eval():
        low, high = int(jnp.min(y)), int(jnp.max(y))
    if low < 0 or high >= num_classes:
        bad = low if low < 0 else high
        raise InputError(
            f"{name}: expected labels in [0, {num_classes}) for a model with {num_classes} "
            f"outputs, got label {bad}"
        )

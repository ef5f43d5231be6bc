"""Minibatch schedules: every example exactly once per epoch, the last partial batch kept.

The book's loop shuffles the examples each epoch and yields ``ceil(n / batch_size)`` batches, the
last one short. Inside ``jit`` and ``lax.scan`` every batch must have the same shape, so the
schedule is a pair of arrays: ``indices [num_batches, batch_size]`` into the data and
``mask [num_batches, batch_size]`` that is False on the padding slots of the last batch. Losses
are averaged over the True slots only, so the result equals the book's short last batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl._checks import check_int
from jaxdl.errors import InputError


class BatchSchedule(NamedTuple):
    """One epoch's minibatches.

    Attributes:
      indices: int32 [num_batches, batch_size], positions into the data; padding slots hold 0.
      mask: bool [num_batches, batch_size], True where the slot holds a real example.
    """

    indices: jax.Array
    mask: jax.Array


def check_batch_size(batch_size, num_examples: int, name: str = "batch_size") -> None:
    """Raises unless ``batch_size`` is an integer in ``[1, num_examples]``.

    >>> check_batch_size(5, 4)
    Traceback (most recent call last):
    ...
    jaxdl.errors.InputError: batch_size: expected an integer in [1, 4], got 5
    """
    check_int(batch_size, name, low=1, high=num_examples)


def num_batches(num_examples: int, batch_size: int) -> int:
    """``ceil(num_examples / batch_size)``: the last partial batch counts.

    >>> num_batches(1000, 10), num_batches(1001, 10)
    (100, 101)
    """
    check_batch_size(batch_size, num_examples)
    return math.ceil(num_examples / batch_size)


def permutation(key: jax.Array, n: int) -> jax.Array:
    """``jax.random.permutation(key, n)``, bit for bit, in about a third of the time on CPU.

    JAX shuffles by a few rounds (two for n = 60000) of a stable ``lax.sort_key_val`` over
    fresh random uint32 sort keys. XLA:CPU sorts two operands through a generic comparator,
    ~10 ms per round at n = 60000 (a third of a softmax-regression epoch), but one uint32 array
    ~6x faster. So each round here is the same stable sort done as an LSD radix sort of
    one-operand sorts: a digit of the sort key in the high bits, the element's current
    position in the low bits (positions are distinct, so no sort needs to be stable). Same
    keys, same order; ties between sort keys keep their order, as in the stable sort. The
    tests check it against ``jax.random.permutation``, which it must follow if JAX changes.

    Args:
      key: a ``jax.random.key`` (or a legacy uint32 key).
      n: number of elements, a static int >= 0.

    Returns:
      int32 [n], a permutation of ``0 .. n - 1``.

    >>> key = jax.random.key(0)
    >>> bool((permutation(key, 1000) == jax.random.permutation(key, 1000)).all())
    True
    """
    bits = max(1, (n - 1).bit_length())  # of a position
    digit = 32 - bits  # of the sort key, per pass
    if n < 2 or digit < 8:  # nothing to shuffle, or too many passes to be faster
        return jax.random.permutation(key, n)
    # jax.random.permutation's number of rounds (jax._src.random._shuffle, exponent 3).
    rounds = int(np.ceil(3 * np.log(n) / np.log(np.iinfo(np.uint32).max)))
    positions = jnp.arange(n, dtype=jnp.uint32)
    x = jnp.arange(n)
    for _ in range(rounds):
        key, subkey = jax.random.split(key)
        sort_keys = jax.random.bits(subkey, (n,), jnp.uint32)
        order = None  # the stable ascending order of sort_keys, least significant digit first
        for shift in range(0, 32, digit):
            keys = sort_keys if order is None else sort_keys[order]
            packed = (((keys >> shift) & ((1 << digit) - 1)) << bits) | positions
            step = (jax.lax.sort(packed) & ((1 << bits) - 1)).astype(jnp.int32)
            order = step if order is None else order[step]
        x = x[order]
    return x


def batch_schedule(
    key: jax.Array | None, num_examples: int, batch_size: int, *, slots: int | None = None
) -> BatchSchedule:
    """The minibatches of one epoch, shuffled with ``key`` (in order when ``key`` is None).

    Works inside ``jit`` (``num_examples``, ``batch_size`` and ``slots`` are static ints).

    Args:
      key: a ``jax.random.key``; a fresh one per epoch reshuffles the examples every epoch.
      num_examples: number of examples n.
      batch_size: examples per batch, in [1, n].
      slots: width of each batch row, >= batch_size (default batch_size). Extra slots are
        padding (mask False), e.g. to make a batch divisible by a number of devices; the real
        examples of each batch do not change.

    Returns:
      A BatchSchedule of ``ceil(n / batch_size)`` batches of ``slots`` slots.

    >>> s = batch_schedule(None, 5, 2)
    >>> s.indices.tolist(), s.mask.tolist()
    ([[0, 1], [2, 3], [4, 0]], [[True, True], [True, True], [True, False]])
    >>> batch_schedule(None, 5, 2, slots=3).mask.tolist()
    [[True, True, False], [True, True, False], [True, False, False]]
    """
    n_batches = num_batches(num_examples, batch_size)
    slots = batch_size if slots is None else slots
    check_int(slots, "slots", low=batch_size)
    order = jnp.arange(num_examples) if key is None else permutation(key, num_examples)
    padding = n_batches * batch_size - num_examples
    indices = jnp.concatenate([order, jnp.zeros(padding, order.dtype)]).astype(jnp.int32)
    mask = jnp.arange(n_batches * batch_size) < num_examples
    extra = ((0, 0), (0, slots - batch_size))
    return BatchSchedule(
        jnp.pad(indices.reshape(n_batches, batch_size), extra),
        jnp.pad(mask.reshape(n_batches, batch_size), extra),
    )


def data_iter(batch_size: int, features, labels, *, key: jax.Array | None) -> Iterator:
    """The book's ``data_iter``: a plain Python generator of shuffled minibatches.

    For teaching; the training engine uses :func:`batch_schedule`, which visits the same
    examples in the same order for the same key.

    Args:
      batch_size: examples per batch.
      features: [n, ...] array.
      labels: [n, ...] array.
      key: shuffles the examples; None keeps their order.

    Yields:
      ``(features[batch], labels[batch])``; the last batch may be shorter.

    >>> import numpy as np
    >>> [y.tolist() for _, y in data_iter(2, np.zeros((5, 1)), np.arange(5), key=None)]
    [[0, 1], [2, 3], [4]]
    """
    num_examples = len(features)
    if len(labels) != num_examples:
        raise InputError(
            f"features and labels: expected the same number of examples, got {num_examples} "
            f"and {len(labels)}"
        )
    check_batch_size(batch_size, num_examples)
    order = np.arange(num_examples) if key is None else np.asarray(permutation(key, num_examples))
    for start in range(0, num_examples, batch_size):
        batch = order[start : start + batch_size]
        yield features[batch], labels[batch]

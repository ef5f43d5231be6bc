"""The book's two ways to cut a corpus into minibatches of subsequences (8.3), as arrays.

The book's iterators draw a random offset each epoch and yield ``(X, Y)`` minibatches of shape
``[batch_size, num_steps]``, ``Y`` being ``X`` shifted by one token:

- **random partitioning** (``seq_data_iter_random``) drops the first ``offset`` tokens,
  ``offset`` in ``[0, num_steps - 1]``, cuts the rest into ``num_subseqs = (len - offset - 1)
  // num_steps`` subsequences and takes them in a random order, ``batch_size`` at a time;
- **sequential partitioning** (``seq_data_iter_sequential``) drops ``offset`` tokens,
  ``offset`` in ``[0, num_steps]``, lays the next ``(len - offset - 1) // batch_size *
  batch_size`` tokens out as ``batch_size`` rows, and walks along the rows ``num_steps``
  columns at a time, so that row ``i`` of a minibatch continues row ``i`` of the one before.

How many minibatches an epoch has depends on the offset drawn. Here an epoch is a static shape
for a given corpus length: ``x`` and ``y`` int32 ``[max_batches, batch_size, num_steps]`` and
``valid`` bool ``[max_batches]``, True for the minibatches the book's iterator yields at that
offset, in its order; the rest are padding (all 0), for the training scan to skip.
:func:`random_partition` and :func:`sequential_partition` take the draws explicitly,
:func:`seq_minibatches` draws them from a key. All three work under ``jit`` (sizes static)
and ``vmap``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl._checks import check_int, is_traced
from jaxdl.data.batching import permutation
from jaxdl.errors import InputError, InputTypeError

KINDS = ("random", "sequential")


class SeqBatches(NamedTuple):
    """One epoch of minibatches of subsequences.

    Attributes:
      x: int32 ``[max_batches, batch_size, num_steps]``, the inputs.
      y: int32 ``[max_batches, batch_size, num_steps]``, the labels: each next token.
      valid: bool ``[max_batches]``, True for the minibatches of the epoch, which come first.
    """

    x: jax.Array
    y: jax.Array
    valid: jax.Array


def _check_kind(kind) -> str:
    if kind not in KINDS:
        raise InputError(f"kind: expected one of {KINDS}, got {kind!r}")
    return kind


def _max_offset(num_steps: int, kind: str) -> int:
    return num_steps - 1 if kind == "random" else num_steps


def _count(num_tokens, batch_size: int, num_steps: int, kind: str, offset):
    """The book's number of minibatches at ``offset`` (a Python int, or traced)."""
    if kind == "random":
        return (num_tokens - offset - 1) // num_steps // batch_size
    return (num_tokens - offset - 1) // batch_size // num_steps


def max_seq_batches(num_tokens: int, *, batch_size: int, num_steps: int, kind: str) -> int:
    """The most minibatches an epoch has, at offset 0: ``max_batches`` of :class:`SeqBatches`.

    Args:
      num_tokens: the corpus's length.
      batch_size: subsequences per minibatch, >= 1.
      num_steps: tokens per subsequence, >= 1.
      kind: ``"random"`` or ``"sequential"``.

    Raises:
      InputError: on sizes < 1, an unknown ``kind``, or a corpus too short to give a minibatch
        at every offset the iterator can draw.

    >>> max_seq_batches(35, batch_size=2, num_steps=5, kind="random")
    3
    """
    check_int(num_tokens, "num_tokens", low=0)
    _check_sizes(num_tokens, batch_size, num_steps, kind)
    return _count(num_tokens, batch_size, num_steps, kind, 0)


def _check_sizes(num_tokens: int, batch_size, num_steps, kind) -> None:
    _check_kind(kind)
    check_int(batch_size, "batch_size", low=1)
    check_int(num_steps, "num_steps", low=1)
    # The count falls as the offset grows: one minibatch at the largest offset means one at all.
    largest = _max_offset(num_steps, kind)
    if _count(num_tokens, batch_size, num_steps, kind, largest) < 1:
        need = batch_size * num_steps + largest + 1
        raise InputError(
            f"corpus: expected at least {need} tokens for batch_size={batch_size} and "
            f"num_steps={num_steps} ({kind} partitioning must give a minibatch at every offset "
            f"in [0, {largest}]), got {num_tokens}"
        )


def _check_corpus(corpus) -> jax.Array:
    if not hasattr(corpus, "shape") or not hasattr(corpus, "dtype"):
        raise InputTypeError(
            f"corpus: expected a 1-D array of token indices, got {type(corpus).__name__}"
        )
    if corpus.ndim != 1:
        raise InputError(
            f"corpus: expected a 1-D array of token indices [num_tokens], got shape "
            f"{tuple(corpus.shape)}"
        )
    if not jnp.issubdtype(corpus.dtype, jnp.integer):
        raise InputTypeError(f"corpus: expected integer token indices, got dtype {corpus.dtype}")
    return jnp.asarray(corpus, jnp.int32)


def _check_offset(offset, num_steps: int, kind: str) -> jax.Array:
    """``offset`` as an int32 scalar; a concrete one checked in range, a traced one clipped."""
    largest = _max_offset(num_steps, kind)
    if not is_traced(offset):
        value = np.asarray(offset)
        if value.ndim != 0 or value.dtype == bool or value.dtype.kind not in "iu":
            raise InputTypeError(
                f"offset: expected an integer scalar, got {type(offset).__name__} {offset!r}"
            )
        check_int(int(value), "offset", low=0, high=largest)
    elif jnp.shape(offset) != () or not jnp.issubdtype(jnp.result_type(offset), jnp.integer):
        raise InputTypeError(f"offset: expected an integer scalar, got {offset!r}")
    return jnp.clip(jnp.asarray(offset, jnp.int32), 0, largest)


def _gather(corpus: jax.Array, starts: jax.Array, valid: jax.Array, num_steps: int) -> SeqBatches:
    """``x[b, i] = corpus[s : s + num_steps]`` for ``s = starts[b, i]``, ``y`` one token
    later; both 0 in the minibatches that are not ``valid``."""
    positions = starts[:, :, None] + jnp.arange(num_steps, dtype=jnp.int32)[None, None, :]
    last = corpus.shape[0] - 1
    keep = valid[:, None, None]
    x = jnp.where(keep, corpus[jnp.clip(positions, 0, last)], 0)
    y = jnp.where(keep, corpus[jnp.clip(positions + 1, 0, last)], 0)
    return SeqBatches(x, y, valid)


def random_partition(corpus, batch_size: int, num_steps: int, *, offset, order) -> SeqBatches:
    """The book's ``seq_data_iter_random`` for the draws ``offset`` and ``order``.

    The epoch cuts ``corpus[offset:]`` into ``n = (len(corpus) - offset - 1) // num_steps``
    subsequences, subsequence ``k`` starting at ``offset + k * num_steps``. The book shuffles
    their starts; here ``order``, a permutation of ``[0, max_subseqs)`` (``max_subseqs = (len
    - 1) // num_steps``, the ``n`` of offset 0), gives the shuffled list as its entries below
    ``n``, in their order. Minibatch ``b`` holds the ``b``-th ``batch_size`` of them.

    Args:
      corpus: int ``[num_tokens]``, token indices.
      batch_size: subsequences per minibatch, a static int >= 1.
      num_steps: tokens per subsequence, a static int >= 1.
      offset: int scalar in ``[0, num_steps - 1]``, may be traced (then it is clipped into
        that range, unchecked).
      order: int ``[max_subseqs]``, a permutation of ``[0, max_subseqs)`` (checked when
        concrete).

    Returns:
      :class:`SeqBatches` of ``max_seq_batches(...)`` minibatches.

    Raises:
      InputError, InputTypeError: on a corpus that is not a 1-D integer array or too short
        for a minibatch at every offset (:func:`max_seq_batches`), sizes that are not
        integers >= 1, a concrete ``offset`` out of range or ``order`` not a permutation.

    >>> order = jnp.array([4, 0, 5, 2, 1, 3])
    >>> b = random_partition(jnp.arange(35), 2, 5, offset=3, order=order)
    >>> b.x[0].tolist(), b.valid.tolist()
    ([[23, 24, 25, 26, 27], [3, 4, 5, 6, 7]], [True, True, True])
    >>> b.y[0].tolist()
    [[24, 25, 26, 27, 28], [4, 5, 6, 7, 8]]
    """
    corpus = _check_corpus(corpus)
    _check_sizes(corpus.shape[0], batch_size, num_steps, "random")
    offset = _check_offset(offset, num_steps, "random")
    order = _check_order(order, (corpus.shape[0] - 1) // num_steps)
    return _random(corpus, batch_size, num_steps, offset, order)


def _random(corpus, batch_size, num_steps, offset, order) -> SeqBatches:
    num_tokens = corpus.shape[0]
    num_subseqs = (num_tokens - offset - 1) // num_steps
    # The entries below num_subseqs first, in their order (a stable sort of the booleans).
    order = order[jnp.argsort(order >= num_subseqs, stable=True)]
    max_batches = (num_tokens - 1) // num_steps // batch_size
    starts = offset + num_steps * order[: max_batches * batch_size].reshape(-1, batch_size)
    valid = jnp.arange(max_batches) < _count(num_tokens, batch_size, num_steps, "random", offset)
    return _gather(corpus, starts, valid, num_steps)


def _check_order(order, max_subseqs: int) -> jax.Array:
    if not hasattr(order, "shape") or not hasattr(order, "dtype"):
        raise InputTypeError(f"order: expected an integer array, got {type(order).__name__}")
    if tuple(order.shape) != (max_subseqs,) or not jnp.issubdtype(order.dtype, jnp.integer):
        raise InputError(
            f"order: expected an integer permutation of shape ({max_subseqs},) (the "
            f"subsequences at offset 0), got {order.dtype} {tuple(order.shape)}"
        )
    if not is_traced(order):
        values = np.asarray(order)
        outside = values[(values < 0) | (values >= max_subseqs)]
        numbers, counts = np.unique(values, return_counts=True)
        if outside.size or np.any(counts > 1):
            got = (
                f"{outside[0]}, outside it"
                if outside.size
                else f"{numbers[counts > 1][0]} {counts[counts > 1][0]} times"
            )
            raise InputError(f"order: expected a permutation of [0, {max_subseqs}), got {got}")
    return jnp.asarray(order, jnp.int32)


def sequential_partition(corpus, batch_size: int, num_steps: int, *, offset) -> SeqBatches:
    """The book's ``seq_data_iter_sequential`` for the draw ``offset``.

    The epoch lays ``corpus[offset : offset + batch_size * width]`` out as ``batch_size`` rows
    of ``width = (len(corpus) - offset - 1) // batch_size`` tokens; minibatch ``b`` holds
    columns ``[b * num_steps, (b + 1) * num_steps)`` of every row, so that each row continues
    the row of the minibatch before.

    Args:
      corpus: int ``[num_tokens]``, token indices.
      batch_size: rows per minibatch, a static int >= 1.
      num_steps: tokens per row, a static int >= 1.
      offset: int scalar in ``[0, num_steps]``, may be traced (then it is clipped into that
        range, unchecked).

    Returns:
      :class:`SeqBatches` of ``max_seq_batches(...)`` minibatches.

    Raises:
      InputError, InputTypeError: on a corpus that is not a 1-D integer array or too short
        for a minibatch at every offset (:func:`max_seq_batches`), sizes that are not
        integers >= 1 or a concrete ``offset`` out of range.

    >>> b = sequential_partition(jnp.arange(35), 2, 5, offset=4)
    >>> b.x[1].tolist(), b.valid.tolist()
    ([[9, 10, 11, 12, 13], [24, 25, 26, 27, 28]], [True, True, True])
    """
    corpus = _check_corpus(corpus)
    _check_sizes(corpus.shape[0], batch_size, num_steps, "sequential")
    offset = _check_offset(offset, num_steps, "sequential")
    return _sequential(corpus, batch_size, num_steps, offset)


def _sequential(corpus, batch_size, num_steps, offset) -> SeqBatches:
    num_tokens = corpus.shape[0]
    max_batches = _count(num_tokens, batch_size, num_steps, "sequential", 0)
    width = (num_tokens - offset - 1) // batch_size
    rows = offset + jnp.arange(batch_size, dtype=jnp.int32) * width
    columns = jnp.arange(max_batches, dtype=jnp.int32) * num_steps
    starts = rows[None, :] + columns[:, None]
    valid = jnp.arange(max_batches) < width // num_steps
    return _gather(corpus, starts, valid, num_steps)


def seq_minibatches(
    key: jax.Array, corpus, *, batch_size: int, num_steps: int, kind: str
) -> SeqBatches:
    """One epoch of the book's random or sequential partitioning, its draws taken from ``key``.

    ``key`` is split in two: the first draws the offset uniformly from the book's range
    (``[0, num_steps - 1]`` for random, ``[0, num_steps]`` for sequential partitioning), the
    second the random order of the subsequences (a uniform permutation, of which the book's
    shuffled list is the part below the offset's count; unused for sequential partitioning).
    A fresh key per epoch (``fold_in(data_key, epoch)``) gives fresh draws.

    Args:
      key: a ``jax.random.key``.
      corpus: int ``[num_tokens]``, token indices.
      batch_size: subsequences per minibatch, a static int >= 1.
      num_steps: tokens per subsequence, a static int >= 1.
      kind: ``"random"`` or ``"sequential"``, static.

    Returns:
      :class:`SeqBatches`.

    Raises:
      InputError, InputTypeError: on a corpus that is not a 1-D integer array or too short
        for a minibatch at every offset (:func:`max_seq_batches`), sizes that are not
        integers >= 1, or an unknown ``kind``.

    >>> b = seq_minibatches(jax.random.key(0), jnp.arange(35), batch_size=2, num_steps=5,
    ...                     kind="sequential")
    >>> b.x.shape, bool((b.y[:, :, :-1] == b.x[:, :, 1:]).all())
    ((3, 2, 5), True)
    """
    _check_kind(kind)
    corpus = _check_corpus(corpus)
    _check_sizes(corpus.shape[0], batch_size, num_steps, kind)
    offset_key, order_key = jax.random.split(key)
    offset = jax.random.randint(offset_key, (), 0, _max_offset(num_steps, kind) + 1)
    if kind == "sequential":
        return _sequential(corpus, batch_size, num_steps, offset)
    order = permutation(order_key, (corpus.shape[0] - 1) // num_steps)
    return _random(corpus, batch_size, num_steps, offset, order)

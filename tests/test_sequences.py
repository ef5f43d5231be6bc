"""The book's two sequence iterators (8.3) as arrays: every valid minibatch against the book's
own generators (run with a recording stand-in for Python's ``random``), at every offset, under
jit, eagerly and under vmap over keys; the draws of the key-taking form; and bad input."""

import random
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.data import sequences as sq
from jaxdl.errors import InputError, InputTypeError


class Draws:
    """Python's ``random`` as the book's iterators call it, recording the draws; ``offset``,
    when given, is what ``randint`` returns (checked to lie in the book's range)."""

    def __init__(self, seed, offset=None):
        self.rng, self.forced = random.Random(seed), offset
        self.offset = self.shuffled = None

    def randint(self, a, b):
        self.offset = self.rng.randint(a, b) if self.forced is None else self.forced
        assert a <= self.offset <= b
        return self.offset

    def shuffle(self, x):
        self.rng.shuffle(x)
        self.shuffled = list(x)


# The book's code (d2l-zh 8.3), verbatim but for `random` passed in and NumPy for torch.
def book_random(corpus, batch_size, num_steps, random):
    corpus = corpus[random.randint(0, num_steps - 1) :]
    num_subseqs = (len(corpus) - 1) // num_steps
    initial_indices = list(range(0, num_subseqs * num_steps, num_steps))
    random.shuffle(initial_indices)

    def data(pos):
        return corpus[pos : pos + num_steps]

    num_batches = num_subseqs // batch_size
    for i in range(0, batch_size * num_batches, batch_size):
        initial_indices_per_batch = initial_indices[i : i + batch_size]
        X = [data(j) for j in initial_indices_per_batch]
        Y = [data(j + 1) for j in initial_indices_per_batch]
        yield np.array(X), np.array(Y)


def book_sequential(corpus, batch_size, num_steps, random):
    offset = random.randint(0, num_steps)
    num_tokens = ((len(corpus) - offset - 1) // batch_size) * batch_size
    Xs = np.array(corpus[offset : offset + num_tokens])
    Ys = np.array(corpus[offset + 1 : offset + 1 + num_tokens])
    Xs, Ys = Xs.reshape(batch_size, -1), Ys.reshape(batch_size, -1)
    num_batches = Xs.shape[1] // num_steps
    for i in range(0, num_steps * num_batches, num_steps):
        X = Xs[:, i : i + num_steps]
        Y = Ys[:, i : i + num_steps]
        yield X, Y


def _order(draws, num_steps, max_subseqs, rng):
    """``random_partition``'s ``order`` for the book's shuffled starts: their indices, with the
    subsequences the offset left out put in at random places."""
    order = [start // num_steps for start in draws.shuffled]
    for k in range(len(order), max_subseqs):
        order.insert(int(rng.integers(len(order) + 1)), k)
    return np.array(order, np.int32)


def _assert_book(batches, book):
    """The valid minibatches are the book's, in its order, first; the padding is 0."""
    n = len(book)
    assert batches.valid.tolist() == [True] * n + [False] * (len(batches.valid) - n)
    if n:
        np.testing.assert_array_equal(batches.x[:n], np.stack([x for x, _ in book]))
        np.testing.assert_array_equal(batches.y[:n], np.stack([y for _, y in book]))
    assert not np.any(batches.x[n:]) and not np.any(batches.y[n:])
    assert batches.x.dtype == batches.y.dtype == np.int32


# (corpus length, batch_size, num_steps): the shortest corpora each kind takes, one token
# more, lengths where the number of subsequences or minibatches changes with the offset, and
# the book's example (35 tokens, 2 x 5).
SIZES = [(35, 2, 5), (33, 2, 5), (12, 1, 1), (13, 3, 3), (14, 3, 3), (15, 3, 3), (26, 4, 5),
         (50, 1, 7), (61, 3, 4), (100, 5, 3), (101, 2, 10), (257, 8, 6)]  # fmt: skip


@pytest.mark.parametrize("num_tokens, batch_size, num_steps", SIZES)
def test_random_partition_is_the_books_iterator_at_every_offset(num_tokens, batch_size, num_steps):
    rng = np.random.default_rng(num_tokens)
    corpus = rng.choice(10 * num_tokens, num_tokens, replace=False)  # distinct tokens
    max_subseqs = (num_tokens - 1) // num_steps
    partition = jax.jit(sq.random_partition, static_argnums=(1, 2))
    counts = set()
    for offset in range(num_steps):
        for seed in range(3):
            draws = Draws(seed, offset)
            book = list(book_random(corpus.tolist(), batch_size, num_steps, draws))
            order = _order(draws, num_steps, max_subseqs, rng)
            got = partition(jnp.asarray(corpus), batch_size, num_steps, offset=offset, order=order)
            _assert_book(got, book)
            counts.add(len(book))
    assert len(got.valid) == sq.max_seq_batches(
        num_tokens, batch_size=batch_size, num_steps=num_steps, kind="random"
    )
    assert len(got.valid) == max(counts) and min(counts) >= 1


@pytest.mark.parametrize("num_tokens, batch_size, num_steps", SIZES)
def test_sequential_partition_is_the_books_iterator_at_every_offset(
    num_tokens, batch_size, num_steps
):
    corpus = np.random.default_rng(num_tokens).choice(10 * num_tokens, num_tokens, replace=False)
    partition = jax.jit(sq.sequential_partition, static_argnums=(1, 2))
    counts = set()
    for offset in range(num_steps + 1):
        draws = Draws(0, offset)
        book = list(book_sequential(corpus.tolist(), batch_size, num_steps, draws))
        _assert_book(partition(jnp.asarray(corpus), batch_size, num_steps, offset=offset), book)
        counts.add(len(book))
    got = partition(jnp.asarray(corpus), batch_size, num_steps, offset=0)
    assert (
        len(got.valid)
        == max(counts)
        == sq.max_seq_batches(
            num_tokens, batch_size=batch_size, num_steps=num_steps, kind="sequential"
        )
    )


def test_called_eagerly_they_are_the_books_iterators_too():
    """Outside jit (NumPy corpus, Python ints), at the book's example sizes."""
    rng = np.random.default_rng(1)
    corpus = rng.choice(1000, 35, replace=False)
    for offset in range(6):
        draws = Draws(offset, min(offset, 4))
        book = list(book_random(corpus.tolist(), 2, 5, draws))
        order = _order(draws, 5, 6, rng)
        _assert_book(sq.random_partition(corpus, 2, 5, offset=min(offset, 4), order=order), book)
        book = list(book_sequential(corpus.tolist(), 2, 5, Draws(0, offset)))
        _assert_book(sq.sequential_partition(corpus, 2, 5, offset=np.int64(offset)), book)


def test_the_books_example_by_hand():
    """``range(35)``, 2 x 5 (the book's ``my_seq``): sequential at offset 2 is rows
    ``2..17`` and ``17..32``; random at offset 1 cuts six subsequences starting at 1, 6, ..."""
    corpus = jnp.arange(35)
    b = sq.sequential_partition(corpus, 2, 5, offset=2)
    assert b.x[0].tolist() == [[2, 3, 4, 5, 6], [18, 19, 20, 21, 22]]
    assert b.y[2].tolist() == [[13, 14, 15, 16, 17], [29, 30, 31, 32, 33]]
    assert b.valid.tolist() == [True, True, True]
    b = sq.sequential_partition(corpus, 2, 5, offset=5)  # width 14: two minibatches
    assert b.x[1].tolist() == [[10, 11, 12, 13, 14], [24, 25, 26, 27, 28]]
    assert b.valid.tolist() == [True, True, False] and b.x[2].tolist() == [[0] * 5] * 2
    b = sq.random_partition(corpus, 2, 5, offset=1, order=jnp.array([5, 3, 0, 1, 4, 2]))
    assert b.x[:, :, 0].tolist() == [[26, 16], [1, 6], [21, 11]]
    assert b.y[0, 0].tolist() == [27, 28, 29, 30, 31]
    # 33 tokens at offset 3: five subsequences, subsequence 5 left out wherever it stands.
    b = sq.random_partition(jnp.arange(33), 2, 5, offset=3, order=jnp.array([5, 3, 0, 1, 4, 2]))
    assert b.x[:, :, 0].tolist() == [[18, 3], [8, 23], [0, 0]]
    assert b.valid.tolist() == [True, True, False]


@pytest.mark.parametrize("kind", sq.KINDS)
def test_keys_reach_every_offset_and_draw_valid_epochs_under_jit_and_vmap(kind):
    """``corpus = range(33)``: a token is its position, so each minibatch shows where it was
    cut. Over 600 keys every offset of the book's range is drawn, each epoch is a book epoch
    for its offset (its subsequences distinct, on the offset's grid), and the subsequences'
    order varies."""
    num_tokens, batch_size, num_steps = 33, 2, 5
    corpus = jnp.arange(num_tokens)
    draw = jax.jit(
        jax.vmap(
            lambda key: sq.seq_minibatches(
                key, corpus, batch_size=batch_size, num_steps=num_steps, kind=kind
            )
        )
    )
    keys = jax.random.split(jax.random.key(7), 600)
    batches = jax.tree.map(np.asarray, draw(keys))
    largest = num_steps - 1 if kind == "random" else num_steps
    first = batches.x[:, 0, 0, 0]
    offsets = first % num_steps if kind == "random" else first
    counts = np.bincount(offsets, minlength=largest + 1)
    assert len(counts) == largest + 1 and counts.min() > 600 / (largest + 1) / 2, counts
    for b, (x, y, valid) in enumerate(zip(*batches, strict=True)):
        offset = int(offsets[b])
        book = list(
            book_sequential(list(range(num_tokens)), batch_size, num_steps, Draws(0, offset))
        )
        if kind == "sequential":
            _assert_book(sq.SeqBatches(x, y, valid), book)
            continue
        assert valid.sum() == len(book)  # the book's count for this offset
        starts = x[valid][:, :, 0].ravel()
        num_subseqs = (num_tokens - offset - 1) // num_steps
        assert len(set(starts)) == len(starts) and np.all((starts - offset) % num_steps == 0)
        assert np.all((starts - offset) // num_steps < num_subseqs)
        np.testing.assert_array_equal(x[valid], x[valid][:, :, :1] + np.arange(num_steps))
        np.testing.assert_array_equal(y[valid], x[valid] + 1)
    if kind == "random":  # every subsequence leads some epoch
        assert set((first - offsets) // num_steps) == set(range(6))
    single = sq.seq_minibatches(keys[3], corpus, batch_size=2, num_steps=5, kind=kind)
    for got, want in zip(single, batches, strict=True):
        np.testing.assert_array_equal(got, want[3])


def test_two_keys_draw_two_epochs_and_a_second_call_compiles_nothing():
    corpus = jnp.asarray(np.random.default_rng(0).integers(0, 28, 500))
    draw = jax.jit(sq.seq_minibatches, static_argnames=("batch_size", "num_steps", "kind"))
    a = draw(jax.random.key(0), corpus, batch_size=4, num_steps=6, kind="random")
    b = draw(jax.random.key(1), corpus, batch_size=4, num_steps=6, kind="random")
    assert draw._cache_size() == 1
    assert not np.array_equal(a.x, b.x)
    c = draw(jax.random.key(1), corpus, batch_size=4, num_steps=6, kind="random")
    np.testing.assert_array_equal(b.x, c.x)  # the same key, the same epoch


@pytest.mark.parametrize("kind", sq.KINDS)
def test_the_shortest_corpus_gives_a_minibatch_at_the_largest_offset(kind):
    """One token fewer and the book's iterator yields nothing at its largest offset: refused."""
    batch_size, num_steps = 3, 4
    largest = num_steps - 1 if kind == "random" else num_steps
    need = batch_size * num_steps + largest + 1
    book = book_random if kind == "random" else book_sequential
    assert len(list(book(list(range(need)), batch_size, num_steps, Draws(0, largest)))) == 1
    assert list(book(list(range(need - 1)), batch_size, num_steps, Draws(0, largest))) == []
    assert sq.max_seq_batches(need, batch_size=batch_size, num_steps=num_steps, kind=kind) >= 1
    message = (
        f"corpus: expected at least {need} tokens for batch_size=3 and num_steps=4 ({kind} "
        f"partitioning must give a minibatch at every offset in [0, {largest}]), got {need - 1}"
    )
    key = jax.random.key(0)
    with pytest.raises(InputError, match=re.escape(message)):
        sq.seq_minibatches(key, jnp.arange(need - 1), batch_size=3, num_steps=4, kind=kind)
    with pytest.raises(InputError, match=re.escape(message)):
        sq.max_seq_batches(need - 1, batch_size=3, num_steps=4, kind=kind)


def test_bad_input_is_refused_naming_the_argument():
    corpus, key = jnp.arange(40), jax.random.key(0)
    order = jnp.arange(13)  # (40 - 1) // 3 subsequences at offset 0
    cases = [
        (lambda: sq.max_seq_batches(40, batch_size=0, num_steps=3, kind="random"),
         InputError, "batch_size: expected an integer >= 1, got 0"),
        (lambda: sq.max_seq_batches(40, batch_size=2.0, num_steps=3, kind="random"),
         InputTypeError, "batch_size: expected an integer >= 1, got float 2.0"),
        (lambda: sq.sequential_partition(corpus, 2, -1, offset=0),
         InputError, "num_steps: expected an integer >= 1, got -1"),
        (lambda: sq.seq_minibatches(key, corpus, batch_size=2, num_steps=3, kind="shuffled"),
         InputError, "kind: expected one of ('random', 'sequential'), got 'shuffled'"),
        (lambda: sq.random_partition(corpus, 2, 3, offset=3, order=order),
         InputError, "offset: expected an integer in [0, 2], got 3"),
        (lambda: sq.sequential_partition(corpus, 2, 3, offset=4),
         InputError, "offset: expected an integer in [0, 3], got 4"),
        (lambda: sq.sequential_partition(corpus, 2, 3, offset=1.0),
         InputTypeError, "offset: expected an integer scalar, got float 1.0"),
        (lambda: sq.random_partition(corpus, 2, 3, offset=0, order=order[:12]),
         InputError, "order: expected an integer permutation of shape (13,)"),
        (lambda: sq.random_partition(corpus, 2, 3, offset=0, order=order.at[0].set(1)),
         InputError, "order: expected a permutation of [0, 13), got 1 2 times"),
        (lambda: sq.random_partition(corpus, 2, 3, offset=0, order=order.at[5].set(13)),
         InputError, "order: expected a permutation of [0, 13), got 13, outside it"),
        (lambda: sq.sequential_partition(corpus.reshape(2, 20), 2, 3, offset=0),
         InputError, "corpus: expected a 1-D array of token indices [num_tokens], got shape (2,"),
        (lambda: sq.sequential_partition(corpus.astype(jnp.float32), 2, 3, offset=0),
         InputTypeError, "corpus: expected integer token indices, got dtype float32"),
        (lambda: sq.sequential_partition(list(range(40)), 2, 3, offset=0),
         InputTypeError, "corpus: expected a 1-D array of token indices, got list"),
    ]  # fmt: skip
    for call, error, message in cases:
        with pytest.raises(error, match="^" + re.escape(message)):
            call()

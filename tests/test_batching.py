"""Minibatch schedules: every example exactly once per epoch, last partial batch kept."""

import jax
import numpy as np
import pytest

from jaxdl.data.batching import batch_schedule, data_iter, num_batches, permutation

PAIRS = [(1, 1), (5, 2), (10, 10), (10, 3), (100, 7), (1000, 10), (1001, 10), (60000, 256)]


@pytest.mark.parametrize(("n", "batch_size"), PAIRS)
def test_every_example_exactly_once(n, batch_size):
    s = batch_schedule(jax.random.key(n), n, batch_size)
    indices, mask = np.asarray(s.indices), np.asarray(s.mask)
    assert indices.shape == mask.shape == (-(-n // batch_size), batch_size)
    visited = indices[mask]
    np.testing.assert_array_equal(np.sort(visited), np.arange(n))
    # Only the last batch may be partial; padding sits at its end.
    assert mask[:-1].all()
    assert mask[-1].sum() == n - (len(mask) - 1) * batch_size


def test_shuffles_examples_not_just_batches():
    s = batch_schedule(jax.random.key(0), 100, 10)
    first = np.asarray(s.indices)[0]
    # Contiguous blocks would be consecutive indices; shuffled examples are not.
    assert not np.array_equal(np.sort(first), np.arange(first.min(), first.min() + 10))


def test_new_key_new_order_same_key_same_order():
    key = jax.random.key(3)
    a = batch_schedule(jax.random.fold_in(key, 0), 50, 8).indices
    b = batch_schedule(jax.random.fold_in(key, 1), 50, 8).indices
    c = batch_schedule(jax.random.fold_in(key, 0), 50, 8).indices
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_no_key_keeps_order_hand_values():
    s = batch_schedule(None, 5, 2)
    np.testing.assert_array_equal(s.indices, [[0, 1], [2, 3], [4, 0]])
    np.testing.assert_array_equal(s.mask, [[1, 1], [1, 1], [1, 0]])


def test_under_jit():
    f = jax.jit(lambda k: batch_schedule(k, 23, 5))
    s = f(jax.random.key(1))
    np.testing.assert_array_equal(np.sort(np.asarray(s.indices)[np.asarray(s.mask)]), np.arange(23))


@pytest.mark.parametrize(("n", "batch_size"), [(10, 3), (9, 3), (1, 1)])
def test_data_iter_visits_what_the_schedule_visits(n, batch_size):
    features = np.arange(n * 2).reshape(n, 2)
    labels = np.arange(n) * 10
    key = jax.random.key(7)
    batches = list(data_iter(batch_size, features, labels, key=key))
    s = batch_schedule(key, n, batch_size)
    assert len(batches) == len(s.indices)
    for (xb, yb), idx, mask in zip(batches, np.asarray(s.indices), np.asarray(s.mask), strict=True):
        np.testing.assert_array_equal(xb, features[idx[mask]])
        np.testing.assert_array_equal(yb, labels[idx[mask]])


def test_num_batches_hand_values():
    assert num_batches(1000, 10) == 100
    assert num_batches(1001, 10) == 101
    assert num_batches(3, 3) == 1


@pytest.mark.parametrize("batch_size", [0, -1, 11])
def test_bad_batch_size(batch_size):
    with pytest.raises(
        ValueError, match=rf"batch_size: expected an integer in \[1, 10\].*got {batch_size}"
    ):
        batch_schedule(None, 10, batch_size)


def test_float_batch_size_is_a_type_error():
    with pytest.raises(
        TypeError, match=r"^batch_size: expected an integer in \[1, 10\], got float 2.0$"
    ):
        num_batches(10, 2.0)


def test_data_iter_length_mismatch():
    with pytest.raises(ValueError, match=r"features and labels: .* got 3 and 2"):
        next(data_iter(1, np.zeros((3, 1)), np.zeros(2), key=None))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 255, 256, 257, 60000, 65537])
def test_permutation_is_jax_random_permutation_bit_for_bit(n):
    """The engine's fast shuffle must stay JAX's own (at n = 60000 about a third of the rounds
    have tied sort keys, which keep their order); a JAX release that shuffles otherwise fails
    here, not silently elsewhere."""
    for seed in range(4):
        for key in (jax.random.key(seed), jax.random.PRNGKey(seed)):
            ours, jaxs = permutation(key, n), jax.random.permutation(key, n)
            assert ours.dtype == jaxs.dtype and ours.shape == (n,)
            np.testing.assert_array_equal(ours, jaxs)

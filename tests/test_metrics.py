"""Classification metrics against hand counts and NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.metrics import accuracy, correct

LOGITS = jnp.array([[0.1, 0.9, 0.0], [0.8, 0.2, 0.0], [0.3, 0.3, 0.4], [2.0, 2.0, -1.0]])


def test_correct_hand_values():
    # argmax per row: 1, 0, 2, 0 (a tie goes to the first class).
    got = correct(LOGITS, jnp.array([1, 1, 2, 1]))
    assert got.dtype == jnp.float32 and got.shape == (4,)
    np.testing.assert_array_equal(got, [1.0, 0.0, 1.0, 0.0])


def test_accuracy_hand_value():
    # 3 of 4 right.
    got = accuracy(LOGITS, jnp.array([1, 0, 2, 1]))
    assert got.shape == () and got.dtype == jnp.float32
    assert float(got) == 0.75


def test_against_numpy():
    key_logits, key_labels = jax.random.split(jax.random.key(0))
    logits = jax.random.normal(key_logits, (200, 10))
    labels = jax.random.randint(key_labels, (200,), 0, 10)
    hits = np.argmax(np.asarray(logits), axis=1) == np.asarray(labels)
    np.testing.assert_array_equal(correct(logits, labels), hits.astype(np.float32))
    np.testing.assert_allclose(float(accuracy(logits, labels)), hits.mean(), rtol=1e-6)


def test_probabilities_give_the_same_answer_as_logits():
    probs = jax.nn.softmax(LOGITS)
    labels = jnp.array([1, 0, 2, 0])
    np.testing.assert_array_equal(correct(probs, labels), correct(LOGITS, labels))


def test_out_of_range_label_counts_as_wrong():
    np.testing.assert_array_equal(correct(LOGITS[:2], jnp.array([3, -1])), [0.0, 0.0])


def test_under_jit():
    labels = jnp.array([1, 0, 2, 1])
    np.testing.assert_array_equal(jax.jit(correct)(LOGITS, labels), [1.0, 1.0, 1.0, 0.0])
    assert float(jax.jit(accuracy)(LOGITS, labels)) == 0.75


@pytest.mark.parametrize("f", [correct, accuracy])
def test_bad_input(f):
    with pytest.raises(ValueError, match=r"logits of shape \[batch, num_classes\], got \(4,\)"):
        f(jnp.zeros(4), jnp.zeros(4, jnp.int32))
    with pytest.raises(ValueError, match=r"labels of shape \[batch\] = \(4,\).*got \(3,\)"):
        f(LOGITS, jnp.array([0, 1, 2]))
    with pytest.raises(TypeError, match=r"integer labels.*got dtype float32"):
        f(LOGITS, jnp.array([0.0, 1.0, 2.0, 0.0]))


def test_accuracy_of_an_empty_batch_raises():
    with pytest.raises(ValueError, match="at least one example"):
        accuracy(jnp.zeros((0, 3)), jnp.zeros(0, jnp.int32))

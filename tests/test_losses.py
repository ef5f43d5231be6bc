"""Per-example losses against hand values, NumPy closed forms and optax."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.test_util import check_grads

from jaxdl.losses import cross_entropy, huber_loss, l1_loss, squared_loss

REGRESSION = [squared_loss, l1_loss, huber_loss]


@pytest.fixture
def x64():
    """Float64 for finite-difference gradient checks; the flag is restored afterwards."""
    with jax.enable_x64(True):
        yield


def _pair(key, shape=(6,)):
    k1, k2 = jax.random.split(key)
    return 2 * jax.random.normal(k1, shape), 2 * jax.random.normal(k2, shape)


# regression losses --------------------------------------------------------------------------


def test_squared_loss_hand_values_with_the_half():
    got = squared_loss(jnp.array([1.0, 3.0, -1.0]), jnp.array([0.0, 1.0, 1.0]))
    np.testing.assert_array_equal(got, [0.5, 2.0, 2.0])


def test_l1_loss_hand_values():
    got = l1_loss(jnp.array([1.0, -3.0, 2.5]), jnp.array([0.0, 1.0, 2.5]))
    np.testing.assert_array_equal(got, [1.0, 4.0, 0.0])


def test_huber_loss_hand_values():
    x = jnp.array([0.5, 2.0, -2.0, 1.0])
    # delta 1: ½·0.25 = 0.125; 1·(2 - ½) = 1.5; at |x| = delta both pieces give ½.
    np.testing.assert_allclose(huber_loss(x, jnp.zeros(4)), [0.125, 1.5, 1.5, 0.5])
    # delta 2: ½·0.25; ½·4 = 2 (|x| = delta); 2·(3 - 1) = 4.
    got = huber_loss(jnp.array([0.5, 2.0, -3.0]), jnp.zeros(3), delta=2.0)
    np.testing.assert_allclose(got, [0.125, 2.0, 4.0])


def test_regression_losses_against_references():
    y_hat, y = _pair(jax.random.key(0), (50,))
    np.testing.assert_allclose(squared_loss(y_hat, y), optax.l2_loss(y_hat, y), rtol=1e-6)
    d = np.asarray(y_hat, np.float64) - np.asarray(y, np.float64)
    np.testing.assert_allclose(l1_loss(y_hat, y), np.abs(d), rtol=1e-6)
    for delta in (0.3, 1.0, 2.5):
        np.testing.assert_allclose(
            huber_loss(y_hat, y, delta=delta), optax.huber_loss(y_hat, y, delta=delta), rtol=1e-6
        )
        expected = np.where(np.abs(d) <= delta, 0.5 * d**2, delta * (np.abs(d) - 0.5 * delta))
        np.testing.assert_allclose(huber_loss(y_hat, y, delta=delta), expected, rtol=1e-5)


@pytest.mark.parametrize("loss", REGRESSION)
def test_trailing_axes_are_summed_per_example(loss):
    y_hat, y = _pair(jax.random.key(1), (4, 3, 2))
    got = loss(y_hat, y)
    assert got.shape == (4,)
    per_element = loss(y_hat.reshape(-1), y.reshape(-1)).reshape(4, 6)
    np.testing.assert_allclose(got, per_element.sum(axis=1), rtol=1e-6)


def test_gradients_by_hand():
    x = jnp.array([-2.0, -0.5, 0.0, 0.5, 2.0])

    def grad(loss, **kw):
        return jax.grad(lambda v: jnp.sum(loss(v, jnp.zeros(5), **kw)))(x)

    np.testing.assert_allclose(grad(squared_loss), [-2.0, -0.5, 0.0, 0.5, 2.0])
    # |x|' = sign(x), and 0 at the kink (PyTorch's subgradient).
    np.testing.assert_array_equal(grad(l1_loss), [-1.0, -1.0, 0.0, 1.0, 1.0])
    np.testing.assert_allclose(grad(huber_loss), [-1.0, -0.5, 0.0, 0.5, 1.0])
    np.testing.assert_allclose(grad(huber_loss, delta=0.25), [-0.25, -0.25, 0.0, 0.25, 0.25])


@pytest.mark.parametrize("loss", REGRESSION)
def test_check_grads_away_from_kinks(loss, x64):
    # Points far from 0 (L1's kink) and from ±1 (where Huber's second derivative jumps).
    y_hat = jnp.array([0.3, -2.2, 1.7, -0.4], jnp.float64)
    y = jnp.array([-0.1, -0.5, 0.2, 0.2], jnp.float64)
    check_grads(loss, (y_hat, y), order=2, modes=["rev"])


def test_huber_gradient_at_its_kinks(x64):
    # Huber is once differentiable at |x| = delta: the gradient there is ±delta, and central
    # differences across the kink agree with jax.grad (first order only: the curvature jumps).
    delta = 1.5
    at = jnp.array([delta, -delta], jnp.float64)
    grad = jax.grad(lambda v: jnp.sum(huber_loss(v, jnp.zeros(2), delta=delta)))(at)
    np.testing.assert_allclose(grad, [delta, -delta])
    # The one-sided pieces differ by O(eps), so the step is small.
    check_grads(
        lambda v: huber_loss(v, jnp.zeros(2), delta=delta), (at,), order=1, modes=["rev"], eps=1e-7
    )


def test_huber_is_continuous_at_delta():
    delta = 1.5
    eps = 1e-4
    inside = huber_loss(jnp.array([delta - eps]), jnp.zeros(1), delta=delta)
    outside = huber_loss(jnp.array([delta + eps]), jnp.zeros(1), delta=delta)
    np.testing.assert_allclose(inside, outside, atol=3e-4)


@pytest.mark.parametrize("loss", REGRESSION)
def test_regression_shape_mismatch_names_both_shapes(loss):
    # The book's bug: predictions [n, 1] against targets [n] would broadcast to [n, n].
    with pytest.raises(ValueError, match=r"same shape.*y_hat \(3, 1\) and y \(3,\)"):
        loss(jnp.ones((3, 1)), jnp.ones(3))
    with pytest.raises(ValueError, match=r"rank >= 1.*got scalars"):
        loss(jnp.array(1.0), jnp.array(2.0))


@pytest.mark.parametrize("delta", [0.0, -1.0, float("nan"), float("inf"), np.float32(-2.0)])
def test_huber_rejects_bad_delta(delta):
    with pytest.raises(ValueError, match="delta to be a finite number > 0, got"):
        huber_loss(jnp.ones(2), jnp.zeros(2), delta=delta)


def test_huber_rejects_non_numeric_or_non_scalar_delta():
    with pytest.raises(TypeError, match="delta to be a number"):
        huber_loss(jnp.ones(2), jnp.zeros(2), delta="1")
    with pytest.raises(ValueError, match=r"delta to be a scalar, got shape \(2,\)"):
        huber_loss(jnp.ones(2), jnp.zeros(2), delta=np.array([1.0, 2.0]))


@pytest.mark.parametrize("loss", REGRESSION)
def test_regression_under_jit(loss):
    y_hat, y = _pair(jax.random.key(2), (5,))
    np.testing.assert_allclose(jax.jit(loss)(y_hat, y), loss(y_hat, y), rtol=1e-6)


def test_huber_with_a_traced_delta():
    y_hat, y = _pair(jax.random.key(3), (5,))
    deltas = jnp.array([0.5, 1.0, 2.0])
    got = jax.jit(jax.vmap(lambda d: huber_loss(y_hat, y, delta=d)))(deltas)
    expected = jnp.stack([optax.huber_loss(y_hat, y, delta=float(d)) for d in deltas])
    np.testing.assert_allclose(got, expected, rtol=1e-6)


# cross_entropy ------------------------------------------------------------------------------


def test_cross_entropy_hand_values():
    # Uniform over 3 classes: log 3. Probabilities 1/4, 3/4: -log(3/4) and -log(1/4).
    np.testing.assert_allclose(cross_entropy(jnp.zeros((1, 3)), [1]), [math.log(3.0)], rtol=1e-6)
    logits = jnp.log(jnp.array([[1.0, 3.0], [1.0, 3.0]]))
    np.testing.assert_allclose(
        cross_entropy(logits, jnp.array([1, 0])), [-math.log(0.75), math.log(4.0)], rtol=1e-6
    )


def test_cross_entropy_against_optax_and_numpy():
    key_logits, key_labels = jax.random.split(jax.random.key(4))
    logits = 4 * jax.random.normal(key_logits, (32, 10))
    labels = jax.random.randint(key_labels, (32,), 0, 10)
    got = cross_entropy(logits, labels)
    ref = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    z = np.asarray(logits, np.float64)
    lse = np.log(np.exp(z).sum(axis=1))
    expected = lse - z[np.arange(32), np.asarray(labels)]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_cross_entropy_gradient_is_softmax_minus_one_hot():
    logits = jnp.array([[0.2, -1.0, 2.0], [1.0, 1.0, 1.0]])
    labels = jnp.array([2, 0])
    got = jax.grad(lambda z: jnp.sum(cross_entropy(z, labels)))(logits)
    z = np.asarray(logits, np.float64)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got, p - np.eye(3)[[2, 0]], rtol=1e-5, atol=1e-7)


def test_cross_entropy_check_grads(x64):
    logits = jnp.array([[0.2, -1.0, 2.0], [1.0, 0.5, -0.3]], jnp.float64)
    labels = jnp.array([2, 0])
    check_grads(lambda z: cross_entropy(z, labels), (logits,), order=2, modes=["rev"])


def test_cross_entropy_is_stable_for_huge_logits():
    logits = jnp.array([[1e4, 0.0, -1e4]] * 3)
    got = cross_entropy(logits, jnp.array([0, 1, 2]))
    np.testing.assert_allclose(got, [0.0, 1e4, 2e4])
    grads = jax.grad(lambda z: jnp.sum(cross_entropy(z, jnp.array([0, 1, 2]))))(logits)
    assert bool(jnp.all(jnp.isfinite(grads)))
    np.testing.assert_allclose(cross_entropy(jnp.array([[100.0, 1000.0]]), [0]), [900.0])


def test_cross_entropy_accepts_numpy_and_list_labels():
    logits = jnp.zeros((2, 4))
    np.testing.assert_allclose(cross_entropy(logits, np.array([3, 0])), [math.log(4.0)] * 2)
    np.testing.assert_allclose(cross_entropy(logits, [3, 0]), [math.log(4.0)] * 2, rtol=1e-6)


@pytest.mark.parametrize("bad", [3, -1, 7])
def test_cross_entropy_concrete_out_of_range_label_raises(bad):
    with pytest.raises(ValueError, match=rf"labels in \[0, 3\) for 3 classes, got label {bad}"):
        cross_entropy(jnp.zeros((2, 3)), jnp.array([0, bad]))


@pytest.mark.parametrize("bad", [3, -1, 100])
def test_cross_entropy_traced_out_of_range_label_is_nan(bad):
    logits = jnp.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    got = jax.jit(cross_entropy)(logits, jnp.array([bad, 1]))
    assert math.isnan(float(got[0])), got  # never a silently clamped finite value
    np.testing.assert_allclose(got[1], math.log(3.0), rtol=1e-6)


def test_cross_entropy_rejects_float_labels():
    with pytest.raises(TypeError, match=r"integer labels .* got dtype float32"):
        cross_entropy(jnp.zeros((2, 3)), jnp.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="integer labels"):
        cross_entropy(jnp.zeros((2, 3)), jnp.array([True, False]))


def test_cross_entropy_shape_errors():
    with pytest.raises(ValueError, match=r"logits of shape \[batch, num_classes\], got \(3,\)"):
        cross_entropy(jnp.zeros(3), jnp.array([0]))
    with pytest.raises(ValueError, match=r"labels of shape \[batch\] = \(2,\).*got \(2, 1\)"):
        cross_entropy(jnp.zeros((2, 3)), jnp.array([[0], [1]]))


def test_cross_entropy_under_jit():
    logits = jax.random.normal(jax.random.key(5), (6, 4))
    labels = jnp.array([0, 1, 2, 3, 0, 1])
    np.testing.assert_allclose(
        jax.jit(cross_entropy)(logits, labels),
        optax.softmax_cross_entropy_with_integer_labels(logits, labels),
        rtol=1e-5,
    )


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16, np.uint32])
def test_cross_entropy_labels_of_a_narrow_dtype_with_more_classes_than_it_holds(dtype):
    """300 classes: 300 does not fit in uint8, but the labels 5 and 120 are fine in any dtype."""
    logits = jax.random.normal(jax.random.key(0), (2, 300))
    labels = np.array([5, 120], dtype)
    want = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.array([5, 120]))
    np.testing.assert_allclose(cross_entropy(logits, labels), want, rtol=1e-6)
    np.testing.assert_allclose(jax.jit(cross_entropy)(logits, jnp.asarray(labels)), want, rtol=1e-6)


def test_cross_entropy_negative_narrow_labels_are_out_of_range():
    logits = jnp.zeros((1, 300))
    with pytest.raises(ValueError, match=r"got label -3"):
        cross_entropy(logits, np.array([-3], np.int8))
    assert np.isnan(jax.jit(cross_entropy)(logits, jnp.array([-3], jnp.int8))).all()

"""Activations from scratch against hand values, NumPy closed forms and jax.nn."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxdl.activations import (
    ACTIVATIONS,
    get_activation,
    log_softmax,
    naive_softmax,
    relu,
    sigmoid,
    softmax,
    tanh,
)

ELEMENTWISE = [(relu, jax.nn.relu), (sigmoid, jax.nn.sigmoid), (tanh, jnp.tanh)]


@pytest.fixture
def x64():
    """Float64 for finite-difference gradient checks; the flag is restored afterwards."""
    with jax.enable_x64(True):
        yield


def _grid():
    return jnp.linspace(-6.0, 6.0, 121)


# ReLU ---------------------------------------------------------------------------------------


def test_relu_hand_values_and_dtype():
    np.testing.assert_array_equal(relu(jnp.array([-2.0, -0.0, 0.0, 0.5, 3.0])), [0, 0, 0, 0.5, 3])
    out = relu(jnp.array([-3, 4], jnp.int32))
    assert out.dtype == jnp.int32
    np.testing.assert_array_equal(out, [0, 4])


def test_relu_derivative_is_zero_at_zero_one_for_positive():
    d = jax.vmap(jax.grad(relu))(jnp.array([-1.0, 0.0, 1e-6, 2.0]))
    np.testing.assert_array_equal(d, [0.0, 0.0, 1.0, 1.0])
    assert float(jax.grad(relu)(0.0)) == 0.0


# sigmoid and tanh ---------------------------------------------------------------------------


def test_sigmoid_hand_values():
    # sigmoid(log 3) = 1 / (1 + 1/3) = 3/4; sigmoid(0) = 1/2.
    got = sigmoid(jnp.array([0.0, math.log(3.0), -math.log(3.0)]))
    np.testing.assert_allclose(got, [0.5, 0.75, 0.25], rtol=1e-6)


def test_tanh_hand_values():
    # tanh(log 2) = (2 - 1/2) / (2 + 1/2) = 0.6.
    got = tanh(jnp.array([0.0, math.log(2.0), -math.log(2.0)]))
    np.testing.assert_allclose(got, [0.0, 0.6, -0.6], rtol=1e-6, atol=1e-7)


def test_sigmoid_and_tanh_against_numpy_float64():
    x = np.linspace(-20.0, 20.0, 401)
    np.testing.assert_allclose(
        sigmoid(jnp.asarray(x, jnp.float32)), 1 / (1 + np.exp(-x)), atol=1e-7
    )
    np.testing.assert_allclose(tanh(jnp.asarray(x, jnp.float32)), np.tanh(x), atol=3e-7)


def test_tanh_keeps_relative_precision_near_zero():
    # 1 - exp(-2x) would cancel to 0 for x = 1e-8 in float32; tanh(x) ≈ x there.
    np.testing.assert_allclose(tanh(jnp.array([1e-8, -3e-20])), [1e-8, -3e-20], rtol=1e-6)


@pytest.mark.parametrize(("ours", "ref"), ELEMENTWISE)
def test_elementwise_values_and_gradients_match_jax_nn(ours, ref):
    x = jnp.concatenate([_grid(), jax.random.normal(jax.random.key(0), (50,)) * 4])
    np.testing.assert_allclose(ours(x), ref(x), atol=3e-7)
    d_ours = jax.vmap(jax.grad(ours))(x)
    d_ref = jax.vmap(jax.grad(ref))(x)
    np.testing.assert_allclose(d_ours, d_ref, atol=5e-7)


def test_derivative_peaks_by_hand():
    # sigmoid' = s (1 - s) = 1/4 at 0; tanh' = 1 - tanh² = 1 at 0; both smaller elsewhere.
    assert float(jax.grad(sigmoid)(0.0)) == pytest.approx(0.25, abs=1e-7)
    assert float(jax.grad(tanh)(0.0)) == pytest.approx(1.0, abs=1e-7)
    x = jnp.array([-2.0, -0.5, 0.5, 2.0])
    s = 1 / (1 + np.exp(-np.asarray(x, np.float64)))
    np.testing.assert_allclose(jax.vmap(jax.grad(sigmoid))(x), s * (1 - s), rtol=1e-5)
    np.testing.assert_allclose(
        jax.vmap(jax.grad(tanh))(x), 1 - np.tanh(np.asarray(x, np.float64)) ** 2, rtol=1e-5
    )


@pytest.mark.parametrize("f", [sigmoid, tanh])
def test_large_inputs_give_finite_values_and_gradients(f):
    x = jnp.array([-1e4, -1000.0, -100.0, 100.0, 1000.0, 1e4])
    y = f(x)
    d = jax.vmap(jax.grad(f))(x)
    assert bool(jnp.all(jnp.isfinite(y))) and bool(jnp.all(jnp.isfinite(d)))
    low = 0.0 if f is sigmoid else -1.0
    np.testing.assert_array_equal(y, [low, low, low, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(d, np.zeros(6))


@pytest.mark.parametrize("f", [sigmoid, tanh, relu])
def test_check_grads_away_from_kinks(f, x64):
    x = jnp.array([-2.5, -0.7, 0.3, 1.9], jnp.float64)
    check_grads(f, (x,), order=2, modes=["rev"])


@pytest.mark.parametrize(("ours", "ref"), ELEMENTWISE)
def test_elementwise_under_jit(ours, ref):
    x = _grid()
    np.testing.assert_allclose(jax.jit(ours)(x), ref(x), atol=3e-7)


# softmax and log_softmax --------------------------------------------------------------------


def test_softmax_hand_values():
    # exp(0) : exp(log 3) = 1 : 3.
    np.testing.assert_allclose(softmax(jnp.array([0.0, math.log(3.0)])), [0.25, 0.75], rtol=1e-6)
    np.testing.assert_allclose(
        log_softmax(jnp.array([0.0, math.log(3.0)])), [math.log(0.25), math.log(0.75)], rtol=1e-6
    )
    np.testing.assert_array_equal(softmax(jnp.zeros((2, 4))), np.full((2, 4), 0.25))


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_and_log_softmax_match_jax_nn(axis):
    x = 3 * jax.random.normal(jax.random.key(1), (4, 5))
    np.testing.assert_allclose(softmax(x, axis=axis), jax.nn.softmax(x, axis=axis), rtol=2e-6)
    np.testing.assert_allclose(
        log_softmax(x, axis=axis), jax.nn.log_softmax(x, axis=axis), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(jnp.sum(softmax(x, axis=axis), axis=axis), 1.0, rtol=1e-6)


def test_softmax_against_numpy_float64():
    x = np.random.default_rng(0).normal(size=(3, 7)) * 5
    e = np.exp(x - x.max(axis=1, keepdims=True))
    expected = e / e.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(softmax(jnp.asarray(x, jnp.float32)), expected, rtol=2e-6, atol=1e-8)
    np.testing.assert_allclose(
        log_softmax(jnp.asarray(x, jnp.float32)), np.log(expected), rtol=1e-5, atol=1e-5
    )


def test_softmax_is_stable_for_huge_logits():
    x = jnp.array([[1e4, 0.0, -1e4], [100.0, 1000.0, 0.0], [-1e4, -1e4, -1e4]])
    p, logp = softmax(x), log_softmax(x)
    assert bool(jnp.all(jnp.isfinite(p))) and bool(jnp.all(jnp.isfinite(logp)))
    np.testing.assert_allclose(p, [[1, 0, 0], [0, 1, 0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
    # log_softmax = x - max - log(1 + tiny): exact by hand.
    np.testing.assert_allclose(logp[0], [0.0, -1e4, -2e4])
    np.testing.assert_allclose(logp[1], [-900.0, 0.0, -1000.0])
    np.testing.assert_allclose(logp, jax.nn.log_softmax(x), rtol=1e-6)
    grads = jax.jacobian(lambda z: log_softmax(z)[:, 0])(x)
    assert bool(jnp.all(jnp.isfinite(grads)))


def test_softmax_with_a_masked_minus_inf_entry():
    x = jnp.array([0.0, -jnp.inf, math.log(3.0)])
    np.testing.assert_allclose(softmax(x), [0.25, 0.0, 0.75], rtol=1e-6)
    assert float(log_softmax(x)[1]) == -np.inf


def test_naive_softmax_overflows_where_softmax_does_not():
    small = jnp.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(naive_softmax(small), softmax(small), rtol=1e-6)
    for x in (jnp.array([1e4, 0.0, -1e4]), jnp.array([100.0, 1000.0])):
        assert not bool(jnp.all(jnp.isfinite(naive_softmax(x))))
        assert bool(jnp.all(jnp.isfinite(softmax(x))))


def test_softmax_gradients_check(x64):
    x = jnp.array([[0.3, -1.2, 2.0], [1.0, 1.0, -0.5]], jnp.float64)
    check_grads(softmax, (x,), order=2, modes=["rev"])
    check_grads(log_softmax, (x,), order=2, modes=["rev"])


def test_softmax_under_jit():
    x = jax.random.normal(jax.random.key(2), (3, 4))
    np.testing.assert_allclose(
        jax.jit(softmax, static_argnames="axis")(x, axis=0), jax.nn.softmax(x, axis=0), rtol=2e-6
    )
    np.testing.assert_allclose(jax.jit(log_softmax)(x), jax.nn.log_softmax(x), rtol=1e-5)


@pytest.mark.parametrize("f", [softmax, log_softmax, naive_softmax])
def test_softmax_bad_input(f):
    with pytest.raises(ValueError, match=r"rank >= 1, got a scalar"):
        f(jnp.array(1.0))
    name = f.__name__
    with pytest.raises(
        ValueError, match=rf"^{name}: axis of x \(2, 3\): expected an integer in \[-2, 1\], got 2$"
    ):
        f(jnp.ones((2, 3)), axis=2)
    with pytest.raises(TypeError, match=r"axis of x \(2, 3\): expected an integer .* got float"):
        f(jnp.ones((2, 3)), axis=1.0)


# get_activation -----------------------------------------------------------------------------


def test_get_activation_by_name():
    assert get_activation("relu") is relu
    assert get_activation("sigmoid") is sigmoid
    assert get_activation("tanh") is tanh
    assert sorted(ACTIVATIONS) == ["relu", "sigmoid", "tanh"]
    with pytest.raises(TypeError):
        ACTIVATIONS["gelu"] = jax.nn.gelu  # read-only


def test_get_activation_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"one of 'relu', 'sigmoid', 'tanh', got 'gelu'"):
        get_activation("gelu")
    with pytest.raises(TypeError, match="expected a name \\(str\\), got function"):
        get_activation(relu)

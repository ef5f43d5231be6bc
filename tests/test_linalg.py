"""Norms from scratch: hand values, NumPy and jnp.linalg references, gradients, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxdl.linalg import frobenius_norm, l1_norm, l2_norm


def test_book_values():
    u = jnp.array([3.0, -4.0])
    assert float(l2_norm(u)) == 5.0
    assert float(l1_norm(u)) == 7.0
    assert float(frobenius_norm(jnp.ones((4, 9)))) == 6.0


def test_more_hand_values():
    assert float(l2_norm(jnp.ones(4))) == 2.0
    assert float(l1_norm(jnp.array([-1.0, 0.0, 2.5]))) == 3.5
    assert float(frobenius_norm(jnp.array([[1.0, 2.0], [2.0, -4.0]]))) == 5.0
    assert float(l2_norm(jnp.zeros(3))) == 0.0
    assert float(l1_norm(jnp.zeros(3))) == 0.0
    assert float(frobenius_norm(jnp.zeros((2, 2)))) == 0.0


def test_integers_are_promoted_to_float32():
    for norm, x, expected in (
        (l2_norm, jnp.array([3, -4]), 5.0),
        (l1_norm, np.array([3, -4], np.int32), 7.0),
        (frobenius_norm, [[3, 0], [0, -4]], 5.0),
    ):
        value = norm(x)
        assert value.dtype == jnp.float32 and value.shape == ()
        assert float(value) == expected


def test_agree_with_numpy_and_jnp_linalg():
    rng = np.random.default_rng(0)
    v = rng.normal(size=17).astype(np.float32)
    m = rng.normal(size=(5, 7)).astype(np.float32)
    v64, m64 = v.astype(np.float64), m.astype(np.float64)
    np.testing.assert_allclose(l2_norm(v), np.sqrt(np.sum(v64**2)), rtol=1e-6)
    np.testing.assert_allclose(l1_norm(v), np.sum(np.abs(v64)), rtol=1e-6)
    np.testing.assert_allclose(frobenius_norm(m), np.sqrt(np.sum(m64**2)), rtol=1e-6)
    np.testing.assert_allclose(l2_norm(v), jnp.linalg.norm(v), rtol=1e-6)
    np.testing.assert_allclose(l1_norm(v), jnp.linalg.norm(v, 1), rtol=1e-6)
    np.testing.assert_allclose(frobenius_norm(m), jnp.linalg.norm(m, "fro"), rtol=1e-6)


@pytest.mark.parametrize(
    "norm, shape", [(l2_norm, (3,)), (l1_norm, (3,)), (frobenius_norm, (2, 3))]
)
def test_gradient_at_zero_is_finite_zero(norm, shape):
    """The double-where trick: jnp.linalg.norm's gradient at 0 is NaN, ours is 0."""
    grad = jax.grad(norm)(jnp.zeros(shape))
    assert grad.shape == shape
    np.testing.assert_array_equal(grad, np.zeros(shape))
    assert np.isnan(jax.grad(jnp.linalg.norm)(jnp.zeros(shape))).all()


def test_gradients_match_closed_forms():
    x = jnp.array([3.0, -4.0, 0.0])
    np.testing.assert_allclose(jax.grad(l2_norm)(x), x / 5.0, rtol=1e-6)
    np.testing.assert_allclose(jax.grad(l1_norm)(x), [1.0, -1.0, 0.0])
    m = jnp.array([[1.0, 2.0], [2.0, -4.0]])
    np.testing.assert_allclose(jax.grad(frobenius_norm)(m), m / 5.0, rtol=1e-6)


def test_check_grads_away_from_zero():
    with jax.enable_x64(True):
        rng = np.random.default_rng(1)
        v = jnp.asarray(rng.normal(size=5))
        m = jnp.asarray(rng.normal(size=(3, 4)))
        check_grads(l2_norm, (v,), order=2, modes=["fwd", "rev"])
        check_grads(frobenius_norm, (m,), order=2, modes=["fwd", "rev"])
        check_grads(l1_norm, (v,), order=1, modes=["fwd", "rev"])


def test_under_jit_and_vmap():
    u = jnp.array([3.0, -4.0])
    assert float(jax.jit(l2_norm)(u)) == 5.0
    assert float(jax.jit(l1_norm)(u)) == 7.0
    assert float(jax.jit(frobenius_norm)(jnp.ones((4, 9)))) == 6.0
    np.testing.assert_array_equal(jax.jit(jax.grad(l2_norm))(jnp.zeros(2)), [0.0, 0.0])
    rows = jnp.array([[3.0, -4.0], [0.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(jax.vmap(l2_norm)(rows), [5.0, 0.0, 1.0])
    np.testing.assert_allclose(jax.vmap(l1_norm)(rows), [7.0, 0.0, 1.0])


@pytest.mark.parametrize(
    "norm, x, match",
    [
        (
            l2_norm,
            jnp.ones((2, 2)),
            r"l2_norm: expected x to be a vector \[n\] \(rank 1\), "
            r"got shape \(2, 2\)",
        ),
        (l1_norm, jnp.array(3.0), r"l1_norm: expected x to be a vector \[n\].*got shape \(\)"),
        (
            frobenius_norm,
            jnp.ones(3),
            r"frobenius_norm: expected x to be a matrix \[m, n\] "
            r"\(rank 2\), got shape \(3,\)",
        ),
        (frobenius_norm, jnp.ones((2, 2, 2)), r"matrix \[m, n\].*got shape \(2, 2, 2\)"),
    ],
)
def test_wrong_rank(norm, x, match):
    with pytest.raises(ValueError, match=match):
        norm(x)


@pytest.mark.parametrize("norm", [l2_norm, l1_norm])
def test_wrong_dtype(norm):
    with pytest.raises(
        TypeError, match=rf"{norm.__name__}: expected x to hold real.*got dtype bool"
    ):
        norm(jnp.array([True, False]))
    with pytest.raises(TypeError, match="got dtype complex64"):
        norm(jnp.array([1 + 1j, 2.0]))


def test_rank_is_checked_under_jit():
    with pytest.raises(ValueError, match="l2_norm: expected x to be a vector"):
        jax.jit(l2_norm)(jnp.ones((2, 3)))

"""Finite differences: hand values, closed forms, jax.grad, bad steps."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.calculus import numerical_grad, numerical_lim


def f(x):
    """The book's f(x) = 3x² − 4x; its difference quotient at 1 is exactly 2 + 3h."""
    return 3 * x**2 - 4 * x


def test_book_limit_table():
    h, printed = 0.1, []
    for _ in range(5):
        printed.append(f"{numerical_lim(f, 1, h):.5f}")
        h *= 0.1
    assert printed == ["2.30000", "2.03000", "2.00300", "2.00030", "2.00003"]


@pytest.mark.parametrize("h", [0.5, 0.1, -0.1, 1e-3, 2])
def test_limit_is_two_plus_three_h(h):
    # (3(1+h)² − 4(1+h) + 1) / h = 2 + 3h by hand.
    assert numerical_lim(f, 1.0, h) == pytest.approx(2 + 3 * h, rel=1e-9)


def test_limit_elementwise_on_arrays():
    x = jnp.linspace(-2.0, 2.0, 9)
    np.testing.assert_allclose(numerical_lim(jnp.sin, x, 1e-2), jnp.cos(x), atol=1e-2)


def test_limit_under_jit():
    value = jax.jit(lambda x: numerical_lim(f, x, 0.01))(1.0)
    assert float(value) == pytest.approx(2.03, abs=1e-3)  # float32 rounding


def test_limit_with_x64_context():
    with jax.enable_x64(True):
        value = numerical_lim(f, jnp.array(1.0, jnp.float64), 1e-5)
        assert value.dtype == jnp.float64
    assert float(value) == pytest.approx(2.00003, abs=1e-9)


@pytest.mark.parametrize(
    "h, error, match",
    [
        (0, ValueError, r"numerical_lim: expected h to be a finite nonzero number, got 0"),
        (0.0, ValueError, "finite nonzero number, got 0.0"),
        (math.inf, ValueError, "finite nonzero number, got inf"),
        (math.nan, ValueError, "finite nonzero number, got nan"),
        ([0.1, 0.01], ValueError, r"expected h to be a scalar, got shape \(2,\)"),
        ("0.1", TypeError, "numerical_lim: expected h to be a real number, got str '0.1'"),
        (True, TypeError, "expected h to be a real number, got bool True"),
        (1j, TypeError, "expected h to be a real number, got complex"),
    ],
)
def test_limit_bad_step(h, error, match):
    with pytest.raises(error, match=match):
        numerical_lim(f, 1.0, h)


def test_limit_bad_function():
    with pytest.raises(TypeError, match="numerical_lim: expected f to be callable, got int 3"):
        numerical_lim(3, 1.0, 0.1)


def test_grad_hand_values():
    g = numerical_grad(lambda x: jnp.sum(x**2), jnp.array([1.0, -2.0]))
    np.testing.assert_allclose(g, [2.0, -4.0], rtol=1e-4)
    assert g.dtype == jnp.float32


def test_grad_book_exercise_closed_form():
    def exercise(x):
        return 3 * x[0] ** 2 + 5 * jnp.exp(x[1])

    x = jnp.array([1.0, 2.0])
    expected = [6.0, 5 * math.exp(2.0)]
    np.testing.assert_allclose(numerical_grad(exercise, x), expected, rtol=1e-3)
    with jax.enable_x64(True):
        g64 = numerical_grad(exercise, jnp.array([1.0, 2.0], jnp.float64), h=1e-4)
        assert g64.dtype == jnp.float64
    np.testing.assert_allclose(g64, expected, rtol=1e-8)


def test_grad_matches_jax_grad_on_a_matrix():
    """Any shape of x: the gradient of sum(sin(X) X²) over a [3, 4] matrix."""

    def fn(m):
        return jnp.sum(jnp.sin(m) * m**2)

    with jax.enable_x64(True):
        m = jnp.asarray(np.random.default_rng(0).normal(size=(3, 4)))
        g = numerical_grad(fn, m, h=1e-5)
        assert g.shape == (3, 4)
        np.testing.assert_allclose(g, jax.grad(fn)(m), rtol=1e-8, atol=1e-9)
        closed = np.cos(m) * m**2 + 2 * m * np.sin(m)
        np.testing.assert_allclose(g, closed, rtol=1e-8, atol=1e-9)


def test_grad_of_quadratic_form():
    rng = np.random.default_rng(2)
    a, x = rng.normal(size=(4, 4)), rng.normal(size=4)
    with jax.enable_x64(True):
        g = numerical_grad(lambda v: v @ jnp.asarray(a) @ v, jnp.asarray(x))
    np.testing.assert_allclose(g, (a + a.T) @ x, rtol=1e-8)


def test_grad_integer_point_is_promoted():
    g = numerical_grad(lambda x: jnp.sum(x**2), jnp.array([1, 2]))
    assert g.dtype == jnp.float32
    np.testing.assert_allclose(g, [2.0, 4.0], rtol=1e-4)


def test_grad_under_jit():
    fn = lambda x: jnp.sum(x**3)  # noqa: E731
    x = jnp.array([1.0, -1.0, 2.0])
    g = jax.jit(lambda x: numerical_grad(fn, x))(x)
    np.testing.assert_allclose(g, 3 * x**2, rtol=1e-3)
    # h traced under jit: not checkable, still computed.
    g = jax.jit(numerical_grad, static_argnums=0)(fn, x, 1e-2)
    np.testing.assert_allclose(g, 3 * x**2, rtol=1e-3)


def test_grad_bad_input():
    fn = lambda x: jnp.sum(x**2)  # noqa: E731
    x = jnp.ones(3)
    with pytest.raises(ValueError, match="numerical_grad: expected h to be a finite nonzero"):
        numerical_grad(fn, x, h=0.0)
    with pytest.raises(ValueError, match="numerical_grad: expected h to be a finite nonzero"):
        numerical_grad(fn, x, h=-math.inf)
    with pytest.raises(TypeError, match="numerical_grad: expected f to be callable"):
        numerical_grad("sum", x)
    with pytest.raises(TypeError, match="numerical_grad: expected x to hold real numbers, got "):
        numerical_grad(fn, jnp.array([True, False]))
    with pytest.raises(
        ValueError,
        match=r"numerical_grad: expected f to return a scalar \(shape \(\)\), got \(3,\)",
    ):
        numerical_grad(lambda x: x**2, x)

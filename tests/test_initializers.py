"""Xavier initialization against its formulas (large draws), against jax.nn.initializers, and
on bad input."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.initializers import xavier_normal, xavier_std, xavier_uniform

SHAPE = (1000, 1000)  # 10⁶ weights: sample variance within ~0.3% of the truth (3 std)
N = math.prod(SHAPE)
KEY = jax.random.key(0)


def _stats(w) -> tuple[float, float]:
    w = np.asarray(w, np.float64)
    return float(w.mean()), float(w.var())


def test_xavier_std_by_hand():
    assert xavier_std((3, 5)) == 0.5  # √(2 / 8)
    assert xavier_std((784, 256)) == pytest.approx(math.sqrt(2 / 1040), rel=1e-15)
    assert xavier_std([256, 10]) == pytest.approx(math.sqrt(1 / 133), rel=1e-15)


@pytest.mark.parametrize("shape", [SHAPE, (2000, 500)])
def test_xavier_normal_mean_and_variance_are_the_formulas(shape):
    w = xavier_normal(KEY, shape)
    assert w.shape == shape and w.dtype == jnp.float32
    variance = 2 / sum(shape)
    mean, var = _stats(w)
    assert abs(mean) < 5 * math.sqrt(variance / N)  # the sample mean's standard error, ×5
    np.testing.assert_allclose(var, variance, rtol=5e-3)
    # Untruncated: P(|w| > 2σ) = 4.55% for a normal (a truncated one has none).
    beyond = float(np.mean(np.abs(np.asarray(w)) > 2 * math.sqrt(variance)))
    np.testing.assert_allclose(beyond, 0.0455, rtol=0.03)


@pytest.mark.parametrize("shape", [SHAPE, (2000, 500)])
def test_xavier_uniform_bounds_mean_and_variance_are_the_formulas(shape):
    w = np.asarray(xavier_uniform(KEY, shape))
    bound = math.sqrt(6 / sum(shape))
    assert np.all(np.abs(w) <= np.float32(bound))
    assert w.max() > 0.999 * bound and w.min() < -0.999 * bound  # fills [-a, a]
    mean, var = _stats(w)
    assert abs(mean) < 5 * bound / math.sqrt(3 * N)
    np.testing.assert_allclose(var, bound**2 / 3, rtol=5e-3)  # a² / 3 = 2 / (n_in + n_out)
    np.testing.assert_allclose(var, xavier_std(shape) ** 2, rtol=5e-3)


def test_against_jax_glorot_normal_statistics():
    """jax's glorot_normal is a normal truncated at ±2 and rescaled to the same variance: its
    samples differ from ours, so the variances are compared, not the samples."""
    ours = xavier_normal(KEY, SHAPE)
    theirs = jax.nn.initializers.glorot_normal()(KEY, SHAPE)
    (m_ours, v_ours), (m_theirs, v_theirs) = _stats(ours), _stats(theirs)
    variance = 2 / sum(SHAPE)
    np.testing.assert_allclose(v_theirs, variance, rtol=5e-3)
    np.testing.assert_allclose(v_ours, v_theirs, rtol=1e-2)
    assert abs(m_ours - m_theirs) < 10 * math.sqrt(variance / N)
    # The truncation: theirs stop at 2 / 0.8796 σ ≈ 2.27 σ, ours do not.
    sigma = math.sqrt(variance)
    assert np.max(np.abs(np.asarray(theirs))) <= 2.28 * sigma < np.max(np.abs(np.asarray(ours)))


def test_against_jax_glorot_uniform_statistics_and_samples():
    ours = xavier_uniform(KEY, SHAPE)
    theirs = jax.nn.initializers.glorot_uniform()(KEY, SHAPE)
    np.testing.assert_allclose(_stats(ours)[1], _stats(theirs)[1], rtol=1e-5)
    # Both draw a · U(-1, 1) from the key: the same numbers, up to the rounding of a.
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=0)


@pytest.mark.parametrize("shape", [(784, 256), (256, 10), (7, 3)])
def test_xavier_normal_is_jax_untruncated_variance_scaling(shape):
    """``variance_scaling(1, "fan_avg", "normal")`` (untruncated) draws ours, sample for sample."""
    theirs = jax.nn.initializers.variance_scaling(1.0, "fan_avg", "normal")(KEY, shape)
    np.testing.assert_allclose(xavier_normal(KEY, shape), theirs, rtol=1e-6, atol=0)


@pytest.mark.parametrize("init", [xavier_normal, xavier_uniform])
def test_keys_dtype_and_jit(init):
    a, b = init(jax.random.key(1), (5, 4)), init(jax.random.key(2), (5, 4))
    assert not np.allclose(a, b)  # another key, other weights
    np.testing.assert_array_equal(init(jax.random.key(1), (5, 4)), a)  # same key, same weights
    jitted = jax.jit(init, static_argnums=1)(jax.random.key(1), (5, 4))
    np.testing.assert_allclose(jitted, a, rtol=1e-6)
    for dtype in (jnp.bfloat16, jnp.float16):
        assert init(KEY, (5, 4), dtype).dtype == dtype


@pytest.mark.parametrize("init", [xavier_normal, xavier_uniform])
@pytest.mark.parametrize(
    ("shape", "error", "message"),
    [
        (
            (3, 4, 5),
            ValueError,
            r"shape: expected a 2-D weight shape \(n_in, n_out\), got \(3, 4, 5\) of rank 3",
        ),
        ((10,), ValueError, r"got \(10,\) of rank 1"),
        ((0, 4), ValueError, r"shape\[0\] \(n_in\): expected an integer >= 1, got 0"),
        ((4, -1), ValueError, r"shape\[1\] \(n_out\): expected an integer >= 1, got -1"),
        ((3.0, 4), TypeError, r"shape\[0\] \(n_in\): expected an integer >= 1, got float"),
        (12, TypeError, "shape: expected a 2-D weight shape .n_in, n_out., got int 12"),
        ("ab", TypeError, "shape: expected a 2-D weight shape .n_in, n_out., got str 'ab'"),
    ],
)
def test_bad_shapes(init, shape, error, message):
    with pytest.raises(error, match=message):
        init(KEY, shape)
    with pytest.raises(error, match=message):
        xavier_std(shape)


@pytest.mark.parametrize("init", [xavier_normal, xavier_uniform])
def test_bad_dtype(init):
    with pytest.raises(TypeError, match="dtype: expected a floating-point dtype, got int32"):
        init(KEY, (3, 4), jnp.int32)

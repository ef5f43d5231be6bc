"""Xavier initialization against its formulas (large draws), against jax.nn.initializers (and
PyTorch's fans, where torch is installed), for dense weights and convolution kernels, and on bad
input."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.initializers import _fans, xavier_normal, xavier_std, xavier_uniform

SHAPE = (1000, 1000)  # 10⁶ weights: sample variance within ~0.3% of the truth (3 std)
N = math.prod(SHAPE)
KEY = jax.random.key(0)
# A convolution kernel (kh, kw, in, out) of 9 · 10⁵ weights: fan_in 900, fan_out 9000.
CONV = (3, 3, 100, 1000)
CONV_N = math.prod(CONV)
# Kernels in flax's layout (*spatial, in_channels, out_channels) and their fans, by hand:
# (in_channels · prod(spatial), out_channels · prod(spatial)).
KERNEL_FANS = [
    ((5, 5, 1, 6), (25, 150)),  # LeNet's first convolution, HWIO
    ((5, 5, 6, 16), (150, 400)),  # LeNet's second
    ((3, 3, 16, 32), (144, 288)),
    ((1, 1, 7, 3), (7, 3)),  # a 1×1 convolution is a dense layer
    ((3, 4, 5), (12, 15)),  # 1-D: (width, in, out)
    ((2, 3, 3, 4, 8), (72, 144)),  # 3-D: (depth, height, width, in, out)
]


def _stats(w) -> tuple[float, float]:
    w = np.asarray(w, np.float64)
    return float(w.mean()), float(w.var())


def test_xavier_std_by_hand():
    assert xavier_std((3, 5)) == 0.5  # √(2 / 8)
    assert xavier_std((784, 256)) == pytest.approx(math.sqrt(2 / 1040), rel=1e-15)
    assert xavier_std([256, 10]) == pytest.approx(math.sqrt(1 / 133), rel=1e-15)


@pytest.mark.parametrize(("shape", "fans"), KERNEL_FANS)
def test_conv_kernel_fans_and_std_by_hand(shape, fans):
    assert _fans(shape) == fans
    assert xavier_std(shape) == pytest.approx(math.sqrt(2 / sum(fans)), rel=1e-15)


def test_lenet_kernel_by_hand():
    """(5, 5, 1, 6): 25 inputs per output, each input reaches 150 outputs; σ² = 2 / 175."""
    assert _fans((5, 5, 1, 6)) == (25, 150)
    assert xavier_std((5, 5, 1, 6)) == pytest.approx(0.1069044967649698, rel=1e-15)
    assert _fans([5, 5, np.int64(1), np.int32(6)]) == (25, 150)  # NumPy integers, a list


@pytest.mark.parametrize("shape", [(784, 256), (256, 10), (7, 3), (1, 1), (1000, 1000)])
def test_dense_path_is_unchanged(shape):
    """Dense weights: the fans are the shape and the arithmetic is the 2-D formulas', bit for
    bit (exact equality, not a tolerance)."""
    n_in, n_out = shape
    assert _fans(shape) == (n_in, n_out)
    assert xavier_std(shape) == math.sqrt(2.0 / (n_in + n_out))
    np.testing.assert_array_equal(
        xavier_normal(KEY, shape),
        math.sqrt(2.0 / (n_in + n_out)) * jax.random.normal(KEY, shape, jnp.float32),
    )
    np.testing.assert_array_equal(
        xavier_uniform(KEY, shape),
        math.sqrt(6.0 / (n_in + n_out)) * jax.random.uniform(KEY, shape, jnp.float32, -1.0, 1.0),
    )


@pytest.mark.parametrize("init", [xavier_normal, xavier_uniform])
def test_one_by_one_conv_draws_the_dense_weights(init):
    """A (1, 1, in, out) kernel has the dense layer's fans and, drawn from the same key, its
    numbers."""
    np.testing.assert_array_equal(init(KEY, (1, 1, 7, 3))[0, 0], init(KEY, (7, 3)))


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


def test_conv_xavier_normal_variance_is_two_over_the_fans():
    """Fans 900 and 9000 (a rule that dropped the receptive field, 100 and 1000, or read the
    kernel in PyTorch's layout would miss by a factor of 9 or more)."""
    w = xavier_normal(KEY, CONV)
    assert w.shape == CONV and w.dtype == jnp.float32
    variance = 2 / (900 + 9000)
    mean, var = _stats(w)
    assert abs(mean) < 5 * math.sqrt(variance / CONV_N)
    np.testing.assert_allclose(var, variance, rtol=5e-3)  # ~3.3 standard errors of the variance
    np.testing.assert_allclose(var, xavier_std(CONV) ** 2, rtol=5e-3)
    beyond = float(np.mean(np.abs(np.asarray(w)) > 2 * math.sqrt(variance)))
    np.testing.assert_allclose(beyond, 0.0455, rtol=0.03)  # untruncated


def test_conv_xavier_uniform_bounds_and_variance():
    w = np.asarray(xavier_uniform(KEY, CONV))
    bound = math.sqrt(6 / (900 + 9000))
    assert np.all(np.abs(w) <= np.float32(bound))
    assert w.max() > 0.999 * bound and w.min() < -0.999 * bound
    mean, var = _stats(w)
    assert abs(mean) < 5 * bound / math.sqrt(3 * CONV_N)
    np.testing.assert_allclose(var, 2 / (900 + 9000), rtol=5e-3)


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


@pytest.mark.parametrize(
    "shape",
    [CONV]
    + [shape for shape, _ in KERNEL_FANS[:-1]]
    + [pytest.param(KERNEL_FANS[-1][0], marks=pytest.mark.slow)],  # 3-D: 20 s to compile here
)
def test_conv_against_jax_glorot_uniform_samples(shape):
    """glorot_uniform() reads fans with in_axis=-2, out_axis=-1, the receptive field the other
    axes: on the same key it draws our numbers, up to the float32 rounding of the bound."""
    ours = xavier_uniform(KEY, shape)
    theirs = jax.nn.initializers.glorot_uniform()(KEY, shape)
    assert ours.shape == theirs.shape == shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=0)


@pytest.mark.parametrize(
    "shape", [(784, 256), (256, 10), (7, 3), (5, 5, 1, 6), (3, 3, 16, 32), (3, 4, 5)]
)
def test_xavier_normal_is_jax_untruncated_variance_scaling(shape):
    """``variance_scaling(1, "fan_avg", "normal")`` (untruncated) draws ours, sample for sample."""
    theirs = jax.nn.initializers.variance_scaling(1.0, "fan_avg", "normal")(KEY, shape)
    np.testing.assert_allclose(xavier_normal(KEY, shape), theirs, rtol=1e-6, atol=0)


def _to_pytorch_layout(shape):
    """flax (*spatial, in, out) -> PyTorch (out, in, *spatial): the axes of the transpose."""
    rank = len(shape)
    return (rank - 1, rank - 2, *range(rank - 2))


@pytest.mark.parametrize(("shape", "fans"), [*KERNEL_FANS, ((784, 256), (784, 256))])
def test_pytorch_layout_mapping(shape, fans):
    """PyTorch's rule (torch/nn/init.py, ``_calculate_fan_in_and_fan_out``) reads ``fan_in =
    size(1) · receptive``, ``fan_out = size(0) · receptive``, receptive ``prod(size()[2:])``: on
    the transposed kernel it gives our fans. (HWIO (5, 5, 1, 6) is OIHW (6, 1, 5, 5).)"""
    torch_shape = np.empty(shape).transpose(_to_pytorch_layout(shape)).shape
    assert torch_shape == (shape[-1], shape[-2], *shape[:-2])
    receptive = math.prod(torch_shape[2:])
    assert (torch_shape[1] * receptive, torch_shape[0] * receptive) == fans == _fans(shape)


@pytest.mark.parametrize(("shape", "fans"), [*KERNEL_FANS, ((784, 256), (784, 256))])
def test_fans_agree_with_pytorch(shape, fans):
    torch = pytest.importorskip("torch", reason="torch is not installed; PyTorch's fans unchecked")
    weight = torch.empty(np.empty(shape).transpose(_to_pytorch_layout(shape)).shape)
    assert torch.nn.init._calculate_fan_in_and_fan_out(weight) == fans == _fans(shape)
    # And torch's xavier_normal_ draws the same σ (gain 1): σ = √(2 / (fan_in + fan_out)).
    assert xavier_std(shape) == pytest.approx(math.sqrt(2.0 / sum(fans)), rel=1e-15)


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
def test_conv_keys_dtype_and_jit(init):
    shape = (3, 3, 2, 4)
    a, b = init(jax.random.key(1), shape), init(jax.random.key(2), shape)
    assert a.shape == shape and not np.allclose(a, b)
    np.testing.assert_array_equal(init(jax.random.key(1), shape), a)
    jitted = jax.jit(init, static_argnums=1)(jax.random.key(1), shape)
    np.testing.assert_allclose(jitted, a, rtol=1e-6)
    assert init(KEY, shape, jnp.bfloat16).dtype == jnp.bfloat16


@pytest.mark.parametrize("init", [xavier_normal, xavier_uniform])
@pytest.mark.parametrize(
    ("shape", "error", "message"),
    [
        (
            (10,),
            ValueError,
            r"shape: expected a weight shape \(n_in, n_out\) or a kernel \(\*spatial, "
            r"in_channels, out_channels\), of rank >= 2, got \(10,\) of rank 1; fan-in and "
            r"fan-out need an input axis and an output axis",
        ),
        ((), ValueError, r"shape: expected .*, of rank >= 2, got \(\) of rank 0"),
        ([7], ValueError, r"shape: expected .*, of rank >= 2, got \(7,\) of rank 1"),
        ((0, 4), ValueError, r"shape\[0\] \(n_in\): expected an integer >= 1, got 0"),
        ((4, -1), ValueError, r"shape\[1\] \(n_out\): expected an integer >= 1, got -1"),
        ((3.0, 4), TypeError, r"shape\[0\] \(n_in\): expected an integer >= 1, got float"),
        (
            12,
            TypeError,
            r"shape: expected a weight shape \(n_in, n_out\) or a kernel \(\*spatial, "
            r"in_channels, out_channels\), a sequence of integers, got int 12",
        ),
        ("ab", TypeError, r"shape: expected .*, a sequence of integers, got str 'ab'"),
        (None, TypeError, r"shape: expected .*, a sequence of integers, got NoneType None"),
        # Kernels: every entry named by its index and role.
        ((5, 5, 0, 6), ValueError, r"shape\[2\] \(in_channels\): expected an integer >= 1, got 0"),
        (
            (5, 5, 1, -6),
            ValueError,
            r"shape\[3\] \(out_channels\): expected an integer >= 1, got -6",
        ),
        ((5, 0, 1, 6), ValueError, r"shape\[1\] \(kernel size\): expected an integer >= 1, got 0"),
        ((3, 0, 5), ValueError, r"shape\[1\] \(in_channels\): expected an integer >= 1, got 0"),
        (
            (5.0, 5, 1, 6),
            TypeError,
            r"shape\[0\] \(kernel size\): expected an integer >= 1, got float 5.0",
        ),
        (
            (5, 5, 1, True),
            TypeError,
            r"shape\[3\] \(out_channels\): expected an integer >= 1, got bool",
        ),
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

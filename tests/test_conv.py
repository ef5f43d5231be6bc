"""Convolution and pooling from scratch (``jaxdl.conv``): hand values, the loops against the
vectorised versions, agreement with ``jax.lax.conv_general_dilated`` and
``jax.lax.reduce_window`` (and PyTorch's functional ops where torch is installed) over a grid
of kernels, paddings and strides, gradients, ``jit``, and the messages of bad input."""

import functools
import itertools
import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import jaxdl
from jaxdl.conv import (
    conv2d_apply,
    conv2d_init,
    conv2d_layer,
    corr2d,
    corr2d_loop,
    corr2d_multi_in,
    corr2d_multi_in_out,
    corr2d_multi_in_out_1x1,
    learn_kernel,
    pool2d,
    pool2d_loop,
    pytorch_conv_kernel,
    squared_error_sum,
)
from jaxdl.errors import InputError, InputTypeError

TOL = {"rtol": 1e-5, "atol": 1e-5}  # float32 sums of a few dozen products of O(1) values
X3 = jnp.arange(9.0).reshape(3, 3)
K2 = jnp.array([[0.0, 1.0], [2.0, 3.0]])


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def out_size(n, k, p, s):
    """The book's formula ⌊(n + 2p − k) / s⌋ + 1."""
    return (n + 2 * p - k) // s + 1


def lax_conv(X, K, padding, stride):
    """``jax.lax.conv_general_dilated`` of X [c, h, w] with K [o, c, kh, kw] (NCHW/OIHW)."""
    p, s = pair(padding), pair(stride)
    return jax.lax.conv_general_dilated(
        X[None],
        K,
        s,
        [(p[0], p[0]), (p[1], p[1])],
        dimension_numbers=("NCHW", "OIHW", "NCHW"),
        precision="highest",
    )[0]


def lax_pool(X, window, stride, padding, mode):
    """``jax.lax.reduce_window`` over the last two axes (max: −inf padding; avg: zeros)."""
    w, s, p = pair(window), pair(window if stride is None else stride), pair(padding)
    lead = X.ndim - 2
    init, op = (-jnp.inf, jax.lax.max) if mode == "max" else (0.0, jax.lax.add)
    y = jax.lax.reduce_window(
        X, init, op, (1,) * lead + w, (1,) * lead + s, [(0, 0)] * lead + [(p[0],) * 2, (p[1],) * 2]
    )
    return y if mode == "max" else y / math.prod(w)


def numpy_corr2d(X, K):
    """The definition, in float64 NumPy: Y[a, b] = Σᵢⱼ K[i, j] X[a + i, b + j]."""
    X, K = np.asarray(X, np.float64), np.asarray(K, np.float64)
    kh, kw = K.shape
    Y = np.zeros((X.shape[0] - kh + 1, X.shape[1] - kw + 1))
    for a, b in np.ndindex(Y.shape):
        Y[a, b] = np.sum(X[a : a + kh, b : b + kw] * K)
    return Y


# Hand values


def test_book_values_loop_and_vectorised():
    for fn in (corr2d_loop, corr2d):
        np.testing.assert_array_equal(fn(X3, K2), [[19.0, 25.0], [37.0, 43.0]])


def test_edge_detection_by_hand():
    X = jnp.ones((6, 8)).at[:, 2:6].set(0.0)
    K = jnp.array([[1.0, -1.0]])
    expected = np.zeros((6, 7))
    expected[:, 1], expected[:, 5] = 1.0, -1.0
    np.testing.assert_array_equal(corr2d(X, K), expected)
    np.testing.assert_array_equal(corr2d(X.T, K), np.zeros((8, 5)))


def test_padding_and_stride_by_hand():
    """arange(16) [4, 4] with ones(2, 2), padding 1, stride 2: 3 × 3 windows over the padded
    6 × 6, rows and columns {−1, 0}, {1, 2}, {3, 4}."""
    X = jnp.arange(16.0).reshape(4, 4)
    Y = corr2d(X, jnp.ones((2, 2)), padding=1, stride=2)
    np.testing.assert_array_equal(Y, [[0, 1 + 2, 3], [4 + 8, 5 + 6 + 9 + 10, 7 + 11], [12, 27, 15]])
    # Stride (1, 3), no padding: columns 0 and 3 only.
    Y = corr2d(X, jnp.array([[1.0], [10.0]]), stride=(1, 3))
    np.testing.assert_array_equal(Y, [[40.0, 73.0], [84.0, 117.0], [128.0, 161.0]])


@pytest.mark.parametrize(
    ("kernel", "padding", "stride", "shape"),
    [
        ((3, 3), 1, 1, (8, 8)),
        ((5, 3), (2, 1), 1, (8, 8)),
        ((3, 3), 1, 2, (4, 4)),
        ((3, 5), (0, 1), (3, 4), (2, 2)),
    ],
)
def test_the_books_output_shapes(kernel, padding, stride, shape):
    assert corr2d(jnp.zeros((8, 8)), jnp.zeros(kernel), padding=padding, stride=stride).shape == (
        shape
    )


def test_multi_channel_book_values():
    X = jnp.stack([X3, X3 + 1])
    K = jnp.stack([K2, K2 + 1])
    np.testing.assert_array_equal(corr2d_multi_in(X, K), [[56.0, 72.0], [104.0, 120.0]])
    Y = corr2d_multi_in_out(X, jnp.stack([K, K + 1, K + 2]))
    expected = [[[56, 72], [104, 120]], [[76, 100], [148, 172]], [[96, 128], [192, 224]]]
    np.testing.assert_array_equal(Y, np.array(expected, np.float32))


def test_multi_in_is_the_sum_of_per_channel_correlations_and_multi_out_their_stack():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 6, 7)).astype(np.float32)
    K = rng.normal(size=(4, 3, 2, 3)).astype(np.float32)
    per_channel = [sum(numpy_corr2d(X[c], K[o, c]) for c in range(3)) for o in range(4)]
    np.testing.assert_allclose(corr2d_multi_in(X, K[1]), per_channel[1], **TOL)
    np.testing.assert_allclose(corr2d_multi_in_out(X, K), np.stack(per_channel), **TOL)


def test_one_by_one_by_hand_and_against_the_general_correlation():
    X = jnp.stack([jnp.ones((2, 2)), 2 * jnp.ones((2, 2)), 3 * jnp.ones((2, 2))])
    K = jnp.array([1.0, 10.0, 100.0, -1.0, 0.0, 1.0]).reshape(2, 3, 1, 1)
    Y = corr2d_multi_in_out_1x1(X, K)
    np.testing.assert_array_equal(Y, np.stack([np.full((2, 2), 321.0), np.full((2, 2), 2.0)]))
    rng = np.random.default_rng(1)
    X, K = rng.normal(size=(3, 3, 3)), rng.normal(size=(2, 3, 1, 1))
    np.testing.assert_allclose(
        corr2d_multi_in_out_1x1(X, K), corr2d_multi_in_out(X, K), rtol=1e-6, atol=1e-6
    )


def test_pooling_book_values():
    for fn in (pool2d_loop, functools.partial(pool2d, stride=1)):
        np.testing.assert_array_equal(fn(X3, (2, 2)), [[4.0, 5.0], [7.0, 8.0]])
        np.testing.assert_array_equal(fn(X3, (2, 2), mode="avg"), [[2.0, 3.0], [5.0, 6.0]])
    X = jnp.arange(16.0).reshape(1, 4, 4)
    np.testing.assert_array_equal(pool2d(X, 3), [[[10.0]]])  # the stride is the window
    np.testing.assert_array_equal(pool2d(X, 3, padding=1, stride=2), [[[5, 7], [13, 15]]])
    np.testing.assert_array_equal(
        pool2d(X, (2, 3), padding=(0, 1), stride=(2, 3)), [[[5, 7], [13, 15]]]
    )
    both = pool2d(jnp.concatenate([X, X + 1]), 3, padding=1, stride=2)
    np.testing.assert_array_equal(both, [[[5, 7], [13, 15]], [[6, 8], [14, 16]]])


def test_padding_by_mode_by_hand():
    """Max pooling pads with −inf (negative inputs keep their maximum); average pooling
    counts the zeros of the padding in the window (count_include_pad=True)."""
    X = -jnp.arange(1.0, 5.0).reshape(2, 2)  # [[-1, -2], [-3, -4]]
    np.testing.assert_array_equal(
        pool2d(X, 2, stride=1, padding=1), [[-1, -1, -2], [-1, -1, -2], [-3, -3, -4]]
    )
    np.testing.assert_allclose(
        pool2d(X, 2, stride=1, padding=1, mode="avg"),
        np.array([[-1, -3, -2], [-4, -10, -6], [-3, -7, -4]]) / 4,
        rtol=1e-7,
    )


def test_integers_are_promoted_to_float32():
    Y = corr2d(np.arange(9).reshape(3, 3), np.array([[0, 1], [2, 3]], np.int32))
    assert Y.dtype == jnp.float32
    np.testing.assert_array_equal(Y, [[19.0, 25.0], [37.0, 43.0]])
    assert pool2d(np.arange(9).reshape(3, 3), 2, padding=1).dtype == jnp.float32


# The loops against the vectorised versions


@pytest.mark.parametrize(
    ("x_shape", "k_shape"), [((3, 3), (2, 2)), ((5, 7), (3, 2)), ((4, 6), (1, 1)), ((2, 5), (2, 5))]
)
def test_loop_equals_vectorised_equals_definition(x_shape, k_shape):
    rng = np.random.default_rng(sum(x_shape + k_shape))
    X = rng.normal(size=x_shape).astype(np.float32)
    K = rng.normal(size=k_shape).astype(np.float32)
    np.testing.assert_allclose(corr2d_loop(X, K), numpy_corr2d(X, K), **TOL)
    np.testing.assert_allclose(corr2d(X, K), corr2d_loop(X, K), **TOL)
    for mode in ("max", "avg"):
        np.testing.assert_allclose(
            pool2d(X, k_shape, stride=1, mode=mode), pool2d_loop(X, k_shape, mode), **TOL
        )


# Against jax.lax over a grid

KERNELS = [(1, 1), (2, 3), (3, 3), (5, 2)]
PADDINGS = [0, 1, (2, 1)]
STRIDES = [1, 2, (3, 2)]


@pytest.mark.parametrize(
    ("kernel", "padding", "stride"), list(itertools.product(KERNELS, PADDINGS, STRIDES))
)
def test_against_lax_conv_general_dilated(kernel, padding, stride):
    rng = np.random.default_rng(7)
    X = jnp.asarray(rng.normal(size=(2, 7, 9)), jnp.float32)
    K = jnp.asarray(rng.normal(size=(3, 2, *kernel)), jnp.float32)
    expected = lax_conv(X, K, padding, stride)
    p, s = pair(padding), pair(stride)
    assert expected.shape[1:] == (
        out_size(7, kernel[0], p[0], s[0]),
        out_size(9, kernel[1], p[1], s[1]),
    )
    np.testing.assert_allclose(
        corr2d_multi_in_out(X, K, padding=padding, stride=stride), expected, **TOL
    )
    np.testing.assert_allclose(
        corr2d_multi_in(X, K[0], padding=padding, stride=stride), expected[0], **TOL
    )
    np.testing.assert_allclose(
        corr2d(X[0], K[0, 0], padding=padding, stride=stride),
        lax_conv(X[:1], K[:1, :1], padding, stride)[0],
        **TOL,
    )


POOLS = [
    ((2, 2), None, 0),
    ((3, 3), 2, 1),
    ((2, 3), (2, 3), (0, 1)),
    ((3, 2), 1, (1, 0)),
    ((1, 1), 2, 0),
]


@pytest.mark.parametrize(("mode", "pool"), list(itertools.product(["max", "avg"], POOLS)))
def test_against_lax_reduce_window_over_leading_axes(mode, pool):
    window, stride, padding = pool
    X = jnp.asarray(np.random.default_rng(3).normal(size=(2, 3, 7, 8)), jnp.float32)
    Y = pool2d(X, window, stride=stride, padding=padding, mode=mode)
    expected = lax_pool(X, window, stride, padding, mode)
    assert Y.shape == expected.shape
    np.testing.assert_allclose(Y, expected, **TOL)
    # Each leading index pooled on its own.
    np.testing.assert_allclose(
        Y[1, 2], pool2d(X[1, 2], window, stride=stride, padding=padding, mode=mode), **TOL
    )


# Against PyTorch, where installed

TORCH_CONVS = [
    ((3, 3), 1, 1),
    ((5, 3), (2, 1), 1),
    ((3, 3), 1, 2),
    ((3, 5), (0, 1), (3, 4)),
    ((2, 2), 0, (1, 2)),
]


@pytest.mark.parametrize(("kernel", "padding", "stride"), TORCH_CONVS)
def test_against_pytorch_conv2d(kernel, padding, stride):
    torch = pytest.importorskip(
        "torch", reason="torch is not installed; PyTorch's conv2d unchecked"
    )
    rng = np.random.default_rng(11)
    X = rng.normal(size=(2, 8, 8)).astype(np.float32)
    K = rng.normal(size=(3, 2, *kernel)).astype(np.float32)
    expected = torch.nn.functional.conv2d(
        torch.from_numpy(X)[None], torch.from_numpy(K), stride=pair(stride), padding=pair(padding)
    )[0].numpy()
    np.testing.assert_allclose(
        corr2d_multi_in_out(X, K, padding=padding, stride=stride), expected, **TOL
    )


@pytest.mark.parametrize("pool", POOLS)
def test_against_pytorch_pooling(pool):
    torch = pytest.importorskip(
        "torch", reason="torch is not installed; PyTorch's pooling unchecked"
    )
    window, stride, padding = pool
    X = np.random.default_rng(5).normal(size=(2, 3, 7, 8)).astype(np.float32)
    args = {"kernel_size": window, "stride": stride, "padding": pair(padding)}
    F = torch.nn.functional
    max_expected = F.max_pool2d(torch.from_numpy(X), **args).numpy()
    avg_expected = F.avg_pool2d(torch.from_numpy(X), count_include_pad=True, **args).numpy()
    np.testing.assert_allclose(
        pool2d(X, window, stride=stride, padding=padding), max_expected, **TOL
    )
    np.testing.assert_allclose(
        pool2d(X, window, stride=stride, padding=padding, mode="avg"), avg_expected, **TOL
    )


def test_pytorch_conv_kernel_bound_is_pytorchs():
    torch = pytest.importorskip(
        "torch", reason="torch is not installed; nn.Conv2d's bound unchecked"
    )
    torch.manual_seed(0)
    weight = torch.nn.Conv2d(3, 64, kernel_size=(2, 5)).weight.detach().numpy()
    bound = 1 / math.sqrt(3 * 2 * 5)
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.95 * bound
    ours = pytorch_conv_kernel(jax.random.key(0), weight.shape)
    assert np.abs(ours).max() <= bound and np.abs(ours).max() > 0.95 * bound


# Gradients and jit


@pytest.mark.slow
def test_check_grads():
    with jax.enable_x64(True):
        rng = np.random.default_rng(2)
        X = jnp.asarray(rng.normal(size=(5, 6)))
        K = jnp.asarray(rng.normal(size=(2, 3)))
        check_grads(
            lambda x, k: corr2d(x, k, padding=1, stride=(2, 1)),
            (X, K),
            order=2,
            modes=["fwd", "rev"],
        )
        X3c, K4 = (
            jnp.asarray(rng.normal(size=(2, 5, 5))),
            jnp.asarray(rng.normal(size=(3, 2, 2, 2))),
        )
        check_grads(
            lambda x, k: corr2d_multi_in_out(x, k, stride=2), (X3c, K4), order=1, modes=["rev"]
        )
        check_grads(lambda x: pool2d(x, 3, stride=2, padding=1, mode="avg"), (X,), order=1)
        check_grads(lambda x: pool2d(x, 2), (X,), order=1)  # distinct values: no ties


def test_grad_of_the_learning_loss_by_hand():
    """∂/∂K Σ (corr2d(X, K) − Y)² = 2 Σ r · (the window's inputs), r the residual."""
    X = np.random.default_rng(4).normal(size=(4, 5))
    K = np.array([[0.3, -0.2]])
    Y = numpy_corr2d(X, [[1.0, -1.0]])
    r = numpy_corr2d(X, K) - Y
    expected = [[2 * np.sum(r * X[:, :-1]), 2 * np.sum(r * X[:, 1:])]]
    grad = jax.grad(squared_error_sum)(jnp.asarray(K, jnp.float32), X, Y)
    np.testing.assert_allclose(grad, expected, rtol=1e-5)


def test_everything_runs_under_jit():
    rng = np.random.default_rng(6)
    X = jnp.asarray(rng.normal(size=(2, 7, 7)), jnp.float32)
    K = jnp.asarray(rng.normal(size=(3, 2, 3, 3)), jnp.float32)
    conv = jax.jit(corr2d, static_argnames=("padding", "stride"))
    np.testing.assert_allclose(
        conv(X[0], K[0, 0], padding=(1, 2), stride=2),
        corr2d(X[0], K[0, 0], padding=(1, 2), stride=2),
        **TOL,
    )
    multi = jax.jit(functools.partial(corr2d_multi_in_out, padding=1, stride=(2, 1)))
    np.testing.assert_allclose(multi(X, K), lax_conv(X, K, 1, (2, 1)), **TOL)
    one = jax.jit(corr2d_multi_in_out_1x1)
    np.testing.assert_allclose(
        one(X, K[:, :, :1, :1]), corr2d_multi_in_out(X, K[:, :, :1, :1]), **TOL
    )
    pool = jax.jit(pool2d, static_argnames=("pool_size", "stride", "padding", "mode"))
    np.testing.assert_allclose(
        pool(X, pool_size=3, padding=1, stride=2, mode="avg"), lax_pool(X, 3, 2, 1, "avg"), **TOL
    )
    np.testing.assert_allclose(jax.jit(corr2d_loop)(X[0], K[0, 0]), corr2d(X[0], K[0, 0]), **TOL)
    np.testing.assert_allclose(
        jax.jit(pool2d_loop, static_argnums=(1, 2))(X[0], 2, "max"),
        pool2d(X[0], 2, stride=1),
        **TOL,
    )


# The book's Conv2D and its learning loop


def test_conv2d_layer_init_apply_and_model():
    params = conv2d_init(jax.random.key(0), (2, 3))
    assert params["weight"].shape == (2, 3) and params["bias"].shape == ()
    assert float(params["bias"]) == 0.0
    assert bool(jnp.all((params["weight"] >= 0) & (params["weight"] < 1)))  # torch.rand
    other = conv2d_init(jax.random.key(1), (2, 3))
    assert not np.allclose(other["weight"], params["weight"])
    params = {"weight": jnp.array([[1.0, -1.0]]), "bias": jnp.array(0.5)}
    x = jnp.ones((6, 8)).at[:, 2:6].set(0.0)
    np.testing.assert_array_equal(conv2d_apply(params, x), corr2d(x, params["weight"]) + 0.5)
    model = conv2d_layer((1, 2))
    batch = jnp.stack([x, 2 * x + 1])
    model_params, state = model.init(jax.random.key(0), batch)
    assert state == {} and model_params["weight"].shape == (1, 2)
    y, _ = model.apply(params, state, batch, train=False)
    np.testing.assert_array_equal(y, np.stack([conv2d_apply(params, b) for b in batch]))
    assert model.config == {"name": "conv2d_layer", "kernel_size": [1, 2]}


def test_pytorch_conv_kernel_bounds_and_keys():
    for shape, fan_in in (((1, 2), 2), ((3, 4, 5), 60), ((16, 3, 4, 5), 60)):
        K = pytorch_conv_kernel(jax.random.key(0), shape)
        assert K.shape == shape and K.dtype == jnp.float32
        assert float(jnp.abs(K).max()) <= 1 / math.sqrt(fan_in)
    big = pytorch_conv_kernel(jax.random.key(0), (64, 3, 2, 5))
    assert float(jnp.abs(big).max()) > 0.95 / math.sqrt(30)  # it fills the whole interval
    assert not np.allclose(
        pytorch_conv_kernel(jax.random.key(1), (1, 2)),
        pytorch_conv_kernel(jax.random.key(0), (1, 2)),
    )


def numpy_learn(X, Y, K, lr, steps):
    """Gradient descent on Σ (corr2d(X, K) − Y)² in float64 NumPy, the gradient by hand: for
    each kernel entry (i, j), 2 Σ r · X[i:, j:] (the window's inputs)."""
    X, Y, K = (np.asarray(a, np.float64) for a in (X, Y, K))
    kh, kw = K.shape
    losses = []
    for _ in range(steps):
        r = numpy_corr2d(X, K) - Y
        losses.append(np.sum(r**2))
        grad = np.array(
            [
                [2 * np.sum(r * X[i : i + r.shape[0], j : j + r.shape[1]]) for j in range(kw)]
                for i in range(kh)
            ]
        )
        K = K - lr * grad
    return K, np.array(losses)


def test_learn_kernel_against_numpy():
    X = jnp.ones((6, 8)).at[:, 2:6].set(0.0)
    Y = corr2d(X, jnp.array([[1.0, -1.0]]))
    K0 = jnp.array([[0.3, 0.6]])
    K, losses = learn_kernel(X, Y, K0, learning_rate=3e-2, num_steps=10)
    K_np, losses_np = numpy_learn(X, Y, K0, 3e-2, 10)
    assert losses.shape == (10,)
    np.testing.assert_allclose(losses, losses_np, rtol=1e-4)
    np.testing.assert_allclose(K, K_np, rtol=1e-5, atol=1e-6)
    # The first loss is the start's, before any update: Σ (0.3 a + 0.6 b − (a − b))².
    assert float(losses[0]) == pytest.approx(losses_np[0], rel=1e-6)
    jitted = jax.jit(learn_kernel, static_argnames="num_steps")
    K_jit, _ = jitted(X, Y, K0, learning_rate=jnp.float32(3e-2), num_steps=10)  # traced η
    np.testing.assert_allclose(K_jit, K, rtol=1e-6)


# Bad input

BAD = [
    (
        corr2d,
        (jnp.ones((2, 3, 3)), K2),
        {},
        InputError,
        "corr2d: X: expected rank 2 [h, w], got shape (2, 3, 3) (rank 3)",
    ),
    (
        corr2d,
        (X3, jnp.ones(2)),
        {},
        InputError,
        "corr2d: K: expected rank 2 [kh, kw], got shape (2,) (rank 1)",
    ),
    (
        corr2d,
        (X3, jnp.ones((4, 2))),
        {},
        InputError,
        (
            "corr2d: K: expected a window no larger than the padded input (3, 3) (X (3, 3) with "
            "padding (0, 0) on each side), got (4, 2)"
        ),
    ),
    (
        corr2d,
        (X3, jnp.ones((6, 2))),
        {"padding": 1},
        InputError,
        (
            "no larger than the padded input (5, 5) (X (3, 3) with padding (1, 1) on each side), "
            "got (6, 2)"
        ),
    ),
    (
        corr2d,
        (X3, K2),
        {"stride": 0},
        InputError,
        "corr2d: stride: expected an integer >= 1, got 0",
    ),
    (
        corr2d,
        (X3, K2),
        {"stride": (1, 0)},
        InputError,
        "corr2d: stride[1]: expected an integer >= 1, got 0",
    ),
    (
        corr2d,
        (X3, K2),
        {"stride": (2.0, 1)},
        InputTypeError,
        "corr2d: stride[0]: expected an integer >= 1, got float 2.0",
    ),
    (
        corr2d,
        (X3, K2),
        {"padding": -1},
        InputError,
        "corr2d: padding: expected an integer >= 0, got -1",
    ),
    (
        corr2d,
        (X3, K2),
        {"padding": 1.5},
        InputTypeError,
        (
            "corr2d: padding: expected an integer >= 0 or a pair of them (height, width), got "
            "float 1.5"
        ),
    ),
    (
        corr2d,
        (X3, K2),
        {"padding": (1, 2, 3)},
        InputError,
        ("corr2d: padding: expected an integer or a pair (height, width), got 3 values (1, 2, 3)"),
    ),
    (
        corr2d,
        (X3 > 1, K2),
        {},
        InputTypeError,
        "corr2d: X: expected real numbers (integer or floating dtype), got dtype bool",
    ),
    (
        corr2d,
        ("abc", K2),
        {},
        InputTypeError,
        "corr2d: X: expected an array of real numbers, got str 'abc'",
    ),
    (
        corr2d_loop,
        (X3, jnp.ones((3, 4))),
        {},
        InputError,
        "corr2d_loop: K: expected a window no larger than the padded input (3, 3)",
    ),
    (
        corr2d_multi_in,
        (jnp.ones((2, 3, 3)), jnp.ones((3, 2, 2))),
        {},
        InputError,
        (
            "corr2d_multi_in: K: expected as many input channels as X has (2: K [c, kh, kw] with "
            "c = 2), got K of shape (3, 2, 2) for X of shape (2, 3, 3)"
        ),
    ),
    (
        corr2d_multi_in,
        (X3, K2),
        {},
        InputError,
        "corr2d_multi_in: X: expected rank 3 [c, h, w], got shape (3, 3) (rank 2)",
    ),
    (
        corr2d_multi_in_out,
        (jnp.ones((2, 3, 3)), jnp.ones((4, 3, 2, 2))),
        {},
        InputError,
        (
            "corr2d_multi_in_out: K: expected as many input channels as X has (2: K [o, c, kh, "
            "kw] with c = 2), got K of shape (4, 3, 2, 2)"
        ),
    ),
    (
        corr2d_multi_in_out,
        (jnp.ones((2, 3, 3)), jnp.ones((2, 2, 2))),
        {},
        InputError,
        "corr2d_multi_in_out: K: expected rank 4 [o, c, kh, kw], got shape (2, 2, 2) (rank 3)",
    ),
    (
        corr2d_multi_in_out_1x1,
        (jnp.ones((2, 3, 3)), jnp.ones((4, 2, 3, 3))),
        {},
        InputError,
        ("corr2d_multi_in_out_1x1: K: expected a 1×1 kernel [o, c, 1, 1], got shape (4, 2, 3, 3)"),
    ),
    (
        corr2d_multi_in_out_1x1,
        (jnp.ones((2, 3, 3)), jnp.ones((4, 3, 1, 1))),
        {},
        InputError,
        "corr2d_multi_in_out_1x1: K: expected as many input channels as X has (2",
    ),
    (
        pool2d,
        (X3, 2),
        {"mode": "min"},
        InputError,
        "pool2d: mode: expected one of ['max', 'avg'], got 'min'",
    ),
    (
        pool2d_loop,
        (X3, 2, "mean"),
        {},
        InputError,
        "pool2d_loop: mode: expected one of ['max', 'avg'], got 'mean'",
    ),
    (
        pool2d,
        (X3, 3),
        {"padding": 2},
        InputError,
        (
            "pool2d: padding: expected at most half the window (3, 3) on each side (at most (1, "
            "1), as torch.nn.MaxPool2d), got (2, 2)"
        ),
    ),
    (
        pool2d,
        (jnp.ones(4), 2),
        {},
        InputError,
        "pool2d: X: expected rank >= 2 [..., h, w], got shape (4,) (rank 1)",
    ),
    (pool2d, (X3, 0), {}, InputError, r"pool2d: pool_size: expected an integer >= 1, got 0"),
    (
        pool2d,
        (X3, 2.5),
        {},
        InputTypeError,
        (
            "pool2d: pool_size: expected an integer >= 1 or a pair of them (height, width), got "
            "float 2.5"
        ),
    ),
    (
        pool2d,
        (X3, 4),
        {},
        InputError,
        (
            "pool2d: pool_size: expected a window no larger than the padded input (3, 3) (X (3, "
            "3) with padding (0, 0) on each side), got (4, 4)"
        ),
    ),
    (
        pool2d,
        (X3, 2),
        {"stride": 0},
        InputError,
        "pool2d: stride: expected an integer >= 1, got 0",
    ),
    (
        pool2d_loop,
        (jnp.ones((1, 3, 3)), 2),
        {},
        InputError,
        "pool2d_loop: X: expected rank 2 [h, w], got shape (1, 3, 3)",
    ),
    (
        learn_kernel,
        (X3, jnp.ones((3, 3)), K2),
        {"learning_rate": 0.1, "num_steps": 1},
        InputError,
        (
            "learn_kernel: Y: expected the shape of corr2d(X, kernel), (2, 2) for X (3, 3) and "
            "kernel (2, 2), got (3, 3)"
        ),
    ),
    (
        learn_kernel,
        (X3, jnp.ones((2, 2)), K2),
        {"learning_rate": 0.0, "num_steps": 1},
        InputError,
        "learn_kernel: learning_rate: expected a finite number > 0, got 0.0",
    ),
    (
        learn_kernel,
        (X3, jnp.ones((2, 2)), K2),
        {"learning_rate": 0.1, "num_steps": 0},
        InputError,
        "learn_kernel: num_steps: expected an integer >= 1, got 0",
    ),
    (
        conv2d_init,
        (jax.random.key(0), (1, 0)),
        {},
        InputError,
        "conv2d_init: kernel_size[1]: expected an integer >= 1, got 0",
    ),
    (
        conv2d_layer,
        ("3",),
        {},
        InputTypeError,
        (
            "conv2d_layer: kernel_size: expected an integer >= 1 or a pair of them (height, "
            "width), got str '3'"
        ),
    ),
    (
        pytorch_conv_kernel,
        (jax.random.key(0), (3,)),
        {},
        InputError,
        ("pytorch_conv_kernel: shape: expected [kh, kw], [c, kh, kw] or [o, c, kh, kw], got (3,)"),
    ),
]


@pytest.mark.parametrize(
    ("fn", "args", "kwargs", "error", "message"), BAD, ids=lambda v: getattr(v, "__name__", None)
)
def test_bad_input_messages(fn, args, kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        fn(*args, **kwargs)


def test_conv2d_layer_refuses_an_image_without_a_batch_axis():
    model = conv2d_layer(2)
    params, state = model.init(jax.random.key(0), jnp.ones((1, 4, 4)))
    with pytest.raises(
        InputError, match=r"conv2d_layer: x: expected rank 3 \[batch, h, w\], got shape \(4, 4\)"
    ):
        model.apply(params, state, jnp.ones((4, 4)), train=False)


def test_checks_hold_under_jit():
    with pytest.raises(InputError, match=r"corr2d_multi_in: K: expected as many input channels"):
        jax.jit(corr2d_multi_in)(jnp.ones((2, 3, 3)), jnp.ones((3, 2, 2)))


def test_public_names():
    for name in ("corr2d", "corr2d_loop", "pool2d", "learn_kernel", "conv2d_layer"):
        assert name in jaxdl.__all__ and getattr(jaxdl, name) is getattr(jaxdl.conv, name)


@pytest.mark.parametrize(
    "fn, kernel",
    [
        (corr2d, jnp.ones((0, 2))),
        (corr2d_loop, jnp.ones((2, 0))),
        (corr2d_multi_in, jnp.ones((1, 0, 0))),
        (corr2d_multi_in_out, jnp.ones((1, 1, 0, 2))),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_an_empty_kernel_is_refused_not_summed_to_zero(fn, kernel):
    """An empty window has no output defined (PyTorch refuses it): every function that slides
    a kernel refuses it, as it does a kernel larger than the input."""
    x = jnp.ones((4, 4)) if kernel.ndim == 2 else jnp.ones((1, 4, 4))
    with pytest.raises(InputError, match=r"K: expected a window of at least 1×1, got \("):
        fn(x, kernel)


@pytest.mark.parametrize("padding", [10**6, 2**62, (0, 10**12)])
@pytest.mark.parametrize(
    "call",
    [
        lambda p: corr2d(jnp.ones((4, 4)), jnp.ones((2, 2)), padding=p),
        lambda p: corr2d_multi_in_out(jnp.ones((1, 4, 4)), jnp.ones((1, 1, 2, 2)), padding=p),
        lambda p: corr2d_multi_in(jnp.ones((2, 4, 4)), jnp.ones((2, 2, 2)), padding=p),
    ],
    ids=["corr2d", "corr2d_multi_in_out", "corr2d_multi_in"],
)
def test_a_padding_larger_than_memory_is_refused_before_allocating(call, padding):
    """A padded input that cannot fit in this machine's memory is refused up front, with the
    size it would take, not left to fail in the allocator or overflow a size (pooling refuses
    a padding over half its window, as PyTorch)."""
    with pytest.raises(InputError, match=r"padding: the padded input .* GiB, more than this"):
        call(padding)

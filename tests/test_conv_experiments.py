"""The chapter-6 sections 6.2–6.5 (conv_layer, padding_strides, channels, pooling), run as a
user runs them (``--quick``, in-process), their recorded figures recomputed in float64 NumPy
from the inputs they record, and held to the book's printed values."""

import math

import numpy as np
import pytest

# The slow tier (pytest -m slow): each section's runs; the default tier runs each once on
# tiny data (test_sections.py).
pytestmark = pytest.mark.slow

BOOK_EPOCH_LOSSES = [6.422, 1.225, 0.266, 0.070, 0.022]  # the book's epochs 2, 4, 6, 8, 10


def numpy_conv(X, K, padding=(0, 0), stride=(1, 1)):
    """Cross-correlation by its definition on the zero-padded input, float64."""
    X = np.pad(np.asarray(X, np.float64), [(padding[0],) * 2, (padding[1],) * 2])
    K = np.asarray(K, np.float64)
    kh, kw = K.shape
    out = ((X.shape[0] - kh) // stride[0] + 1, (X.shape[1] - kw) // stride[1] + 1)
    Y = np.zeros(out)
    for a, b in np.ndindex(out):
        r, c = a * stride[0], b * stride[1]
        Y[a, b] = np.sum(X[r : r + kh, c : c + kw] * K)
    return Y


def numpy_pool(X, window, stride, padding, mode):
    """Pooling of each channel of X [c, h, w]; max pads with −inf, avg with counted zeros."""
    fill = -np.inf if mode == "max" else 0.0
    X = np.pad(
        np.asarray(X, np.float64),
        [(0, 0), (padding[0],) * 2, (padding[1],) * 2],
        constant_values=fill,
    )
    out = ((X.shape[1] - window[0]) // stride[0] + 1, (X.shape[2] - window[1]) // stride[1] + 1)
    reduce = np.max if mode == "max" else np.mean
    Y = np.zeros((X.shape[0], *out))
    for c, a, b in np.ndindex(Y.shape):
        r, s = a * stride[0], b * stride[1]
        Y[c, a, b] = reduce(X[c, r : r + window[0], s : s + window[1]])
    return Y


def numpy_learn(X, Y, K, lr, steps):
    """The book's loop in float64: loss Σ r², r = corr2d(X, K) − Y, then K −= lr · 2 Σ r X
    (each kernel entry's window inputs); the loss before each update."""
    X, Y, K = (np.asarray(a, np.float64) for a in (X, Y, K))
    losses = []
    for _ in range(steps):
        r = numpy_conv(X, K) - Y
        losses.append(np.sum(r**2))
        h, w = r.shape
        grad = np.array(
            [
                [2 * np.sum(r * X[i : i + h, j : j + w]) for j in range(K.shape[1])]
                for i in range(K.shape[0])
            ]
        )
        K = K - lr * grad
    return K, np.array(losses)


def test_conv_layer(run_experiment):
    m, stdout, out = run_experiment("conv_layer")
    c = m["corr2d"]
    assert c["vectorised"] == c["loop"] == [[19.0, 25.0], [37.0, 43.0]]  # the book's
    np.testing.assert_array_equal(numpy_conv(c["X"], c["K"]), c["vectorised"])
    e = m["edge"]
    X = np.ones((6, 8))
    X[:, 2:6] = 0.0
    np.testing.assert_array_equal(e["X"], X)
    Y = np.asarray(e["Y"])
    np.testing.assert_array_equal(Y[:, 1], np.ones(6))
    np.testing.assert_array_equal(Y[:, 5], -np.ones(6))
    assert np.count_nonzero(Y) == 12
    np.testing.assert_array_equal(numpy_conv(X.T, [[1.0, -1.0]]), e["Y_transposed"])
    assert e["transposed_all_zero"] and e["max_abs_error_vs_book"] == 0.0
    assert m["conv2d_layer"]["output_shape"] == [1, 6, 7]

    learn = m["learn"]
    K0 = np.asarray(learn["initial_kernel"])
    assert K0.shape == (1, 2) and np.all(np.abs(K0) <= 1 / math.sqrt(2))  # nn.Conv2d's bound
    assert learn["learning_rate"] == 3e-2 and learn["num_steps"] == 10
    K, losses = numpy_learn(X, Y, K0, 3e-2, 10)
    np.testing.assert_allclose(learn["losses"], losses, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(learn["kernel"], K, rtol=1e-5, atol=1e-6)
    assert learn["epochs"] == [2, 4, 6, 8, 10]
    np.testing.assert_allclose(learn["epoch_losses"], losses[1::2], rtol=1e-4, atol=1e-7)
    assert learn["book_epoch_losses"] == BOOK_EPOCH_LOSSES
    assert learn["kernel_error"] == pytest.approx(np.abs(K - [[1.0, -1.0]]).max(), rel=1e-4)
    assert learn["final_loss"] == pytest.approx(losses[-1], rel=1e-4)
    # The contraction the reference's band rests on: 0.8 per step along (1, 1), 0.64 along
    # (1, −1), so 10 steps leave at most 0.8¹⁰·|K0 − K*| along the slow direction.
    assert learn["kernel_error"] < 0.8**10 * np.abs(K0 - [[1.0, -1.0]]).sum()
    for epoch, loss in zip(learn["epochs"], losses[1::2], strict=True):
        assert f"epoch {epoch}, loss {loss:.3f}" in stdout
    assert (out / "conv_layer.png").stat().st_size > 0


def test_conv_layer_book_configuration_lies_in_the_bands_and_seeds_differ(run_experiment):
    m, stdout, _ = run_experiment("conv_layer", quick=False)
    assert "| in the book's band | yes |" in stdout
    other, _, _ = run_experiment("conv_layer", "--seed", "1", quick=False)
    assert other["learn"]["initial_kernel"] != m["learn"]["initial_kernel"]
    assert other["corr2d"] == m["corr2d"]  # the seed draws the kernels only


def test_padding_strides(run_experiment):
    m, stdout, _ = run_experiment("padding_strides")
    x = np.asarray(m["x"])
    assert x.shape == (8, 8) and np.all((x >= 0) & (x < 1))  # torch.rand
    book = [
        ([3, 3], [1, 1], [1, 1], [8, 8]),
        ([5, 3], [2, 1], [1, 1], [8, 8]),
        ([3, 3], [1, 1], [2, 2], [4, 4]),
        ([3, 5], [0, 1], [3, 4], [2, 2]),
    ]
    assert len(m["cases"]) == 4
    for case, (kernel_size, padding, stride, shape) in zip(m["cases"], book, strict=True):
        assert (case["kernel_size"], case["padding"], case["stride"]) == (
            kernel_size,
            padding,
            stride,
        )
        assert case["shape"] == case["flax_shape"] == case["lax_shape"] == shape
        assert case["book_shape"] == case["formula_shape"] == shape
        assert case["flax_kernel_shape"] == [*kernel_size, 1, 1]  # HWIO
        kernel = np.asarray(case["kernel"])
        assert kernel.shape == tuple(kernel_size)
        assert np.all(np.abs(kernel) <= 1 / math.sqrt(math.prod(kernel_size)))
        expected = numpy_conv(x, kernel, padding, stride) + case["bias"]
        np.testing.assert_allclose(case["output"], expected, rtol=1e-5, atol=1e-6)
        assert 0 <= case["max_abs_diff_lax"] < 1e-5 and 0 <= case["max_abs_diff_flax"] < 1e-5
    assert m["shapes_match_book"] is True
    assert m["max_abs_diff"] == max(
        c[k] for c in m["cases"] for k in ("max_abs_diff_lax", "max_abs_diff_flax")
    )
    assert "→ (2, 2)" in stdout and "(book: (4, 4))" in stdout


def test_channels(run_experiment):
    m, _, _ = run_experiment("channels")
    mi = m["multi_in"]
    X, K = np.asarray(mi["X"]), np.asarray(mi["K"])
    np.testing.assert_array_equal(X, [np.arange(9).reshape(3, 3), np.arange(1, 10).reshape(3, 3)])
    expected = sum(numpy_conv(X[c], K[c]) for c in range(2))
    np.testing.assert_array_equal(expected, [[56, 72], [104, 120]])  # the book's, by NumPy
    np.testing.assert_array_equal(mi["Y"], expected)
    np.testing.assert_array_equal(mi["per_channel"], [numpy_conv(X[c], K[c]) for c in range(2)])
    mo = m["multi_in_out"]
    K3 = np.stack([K, K + 1, K + 2])
    assert mo["K_shape"] == list(K3.shape) == [3, 2, 2, 2]
    expected3 = np.stack([sum(numpy_conv(X[c], K3[o, c]) for c in range(2)) for o in range(3)])
    book = [[[56, 72], [104, 120]], [[76, 100], [148, 172]], [[96, 128], [192, 224]]]
    np.testing.assert_array_equal(expected3, book)
    np.testing.assert_array_equal(mo["Y"], expected3)
    assert mo["max_abs_error_vs_book"] == 0.0 and mi["max_abs_error_vs_book"] == 0.0
    one = m["one_by_one"]
    X1, K1 = np.asarray(one["X"], np.float64), np.asarray(one["K"], np.float64)
    assert X1.shape == (3, 3, 3) and K1.shape == (2, 3, 1, 1)
    expected1 = np.einsum("oc,chw->ohw", K1[:, :, 0, 0], X1)
    np.testing.assert_allclose(one["Y_matmul"], expected1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(one["Y_corr"], expected1, rtol=1e-5, atol=1e-6)
    diff = np.abs(np.asarray(one["Y_matmul"]) - np.asarray(one["Y_corr"]))
    assert one["max_abs_diff"] == pytest.approx(diff.max(), rel=1e-6, abs=1e-12)
    assert one["sum_abs_diff"] == pytest.approx(diff.sum(), rel=1e-6, abs=1e-12)
    assert one["sum_abs_diff"] < 1e-6  # the book's assert


def test_pooling(run_experiment):
    m, stdout, _ = run_experiment("pooling")
    p = m["pool2d"]
    assert p["max"] == p["max_loop"] == [[4.0, 5.0], [7.0, 8.0]]
    assert p["avg"] == p["avg_loop"] == [[2.0, 3.0], [5.0, 6.0]]
    X16 = np.arange(16.0).reshape(1, 4, 4)
    inputs = [X16, X16, X16, np.concatenate([X16, X16 + 1]), X16]
    book = [
        [[[10]]],
        [[[5, 7], [13, 15]]],
        [[[5, 7], [13, 15]]],
        [[[5, 7], [13, 15]], [[6, 8], [14, 16]]],
    ]
    assert len(m["cases"]) == 5
    for i, (case, x) in enumerate(zip(m["cases"], inputs, strict=True)):
        np.testing.assert_array_equal(case["input"], x)
        expected = numpy_pool(x, case["pool_size"], case["stride"], case["padding"], case["mode"])
        np.testing.assert_allclose(case["Y"], expected, rtol=1e-6)
        if i < 4:
            assert case["source"] == "book" and case["mode"] == "max"
            np.testing.assert_array_equal(case["Y"], book[i])
        assert 0 <= case["max_abs_diff_lax"] < 1e-6 and 0 <= case["max_abs_diff_flax"] < 1e-6
    avg = m["cases"][4]
    assert (avg["mode"], avg["pool_size"], avg["stride"], avg["padding"]) == (
        "avg",
        [3, 3],
        [2, 2],
        [1, 1],
    )
    # count_include_pad: the corner window holds 0, 1, 4, 5 and five zeros, divided by 9
    assert avg["Y"][0][0][0] == pytest.approx(10 / 9, rel=1e-6)
    assert m["max_abs_error_vs_book"] == 0.0
    assert "MaxPool2d((2, 3), stride=(2, 3), padding=(0, 1))" in stdout

# %% [markdown]
# # Multiple input and multiple output channels (the book's 6.4)
#
# Colour images have three channels, and a convolutional layer's output has as many as it
# has kernels. With c input channels a kernel is c kh × kw slices, one per input channel; the
# layer correlates each channel with its slice and sums the results. With o output channels
# there are o such kernels, [o, c, kh, kw] (PyTorch's layout), and o results stacked. A 1 × 1
# kernel sees no neighbourhood at all: it mixes the channels at each pixel, a fully connected
# layer applied pixel by pixel, so it can be computed as one matrix product.
#
# What to look at: the book's two-channel example gives [[56, 72], [104, 120]]; three
# kernels K, K + 1, K + 2 give three output channels as the book's; and the 1 × 1 convolution
# as a matrix product equals the general one to float32 rounding (the book asserts a summed
# difference below 1e-6). Both agree with `jax.lax.conv_general_dilated`.

# %%
import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.conv import corr2d, corr2d_multi_in, corr2d_multi_in_out, corr2d_multi_in_out_1x1

import harness

# %% [markdown]
# ## Configuration
#
# Nothing to set: the section runs the book's examples. On the command line, `python
# experiments/channels.py --help` lists the flags every section has (`--seed`, `--out`,
# `--quick`).

# %%
BOOK = dict()
config, out = harness.start("channels", BOOK)
key_x, key_k = jax.random.split(jax.random.key(config.seed))
metrics = {}


def lax_conv(X, K):
    """``jax.lax.conv_general_dilated`` of X [c, h, w] with K [o, c, kh, kw] -> [o, h', w']."""
    y = jax.lax.conv_general_dilated(
        X[None],
        K,
        (1, 1),
        "VALID",
        dimension_numbers=("NCHW", "OIHW", "NCHW"),
        precision="highest",
    )
    return y[0]


# %% [markdown]
# ## Multiple input channels
#
# One 2 × 2 kernel slice per input channel; the output is the sum of the two
# cross-correlations: (0·0 + 1·1 + 3·2 + 4·3) + (1·1 + 2·2 + 4·3 + 5·4) = 19 + 37 = 56 in the
# top left. The library computes the sum for all channels at once (for each kernel offset,
# one product over the channel axis).

# %%
harness.show_source(corr2d_multi_in)
X = jnp.array(
    [
        [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]],
        [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]],
    ]
)
K = jnp.array([[[0.0, 1.0], [2.0, 3.0]], [[1.0, 2.0], [3.0, 4.0]]])
Y = corr2d_multi_in(X, K)
harness.print_value("corr2d_multi_in(X, K)", Y)
per_channel = jnp.stack([corr2d(x, k) for x, k in zip(X, K, strict=True)])
print("the book's sum(corr2d(x, k) for x, k in zip(X, K)):", per_channel.sum(0).tolist())
BOOK_MULTI_IN = np.array([[56.0, 72.0], [104.0, 120.0]])
metrics["multi_in"] = {
    "X": X,
    "K": K,
    "Y": Y,
    "per_channel": per_channel,
    "max_abs_error_vs_book": float(np.abs(np.asarray(Y) - BOOK_MULTI_IN).max()),
}

# %% [markdown]
# ## Multiple output channels
#
# Three kernels K, K + 1 and K + 2 stacked into [3, 2, 2, 2]: three output channels, the
# first the result above.

# %%
harness.show_source(corr2d_multi_in_out)
K3 = jnp.stack([K, K + 1, K + 2])
print("K.shape:", K3.shape)
Y3 = corr2d_multi_in_out(X, K3)
harness.print_value("corr2d_multi_in_out(X, K)", Y3)
BOOK_MULTI_IN_OUT = np.array(
    [
        [[56.0, 72.0], [104.0, 120.0]],
        [[76.0, 100.0], [148.0, 172.0]],
        [[96.0, 128.0], [192.0, 224.0]],
    ]
)
metrics["multi_in_out"] = {
    "K_shape": list(K3.shape),
    "Y": Y3,
    "max_abs_error_vs_book": float(np.abs(np.asarray(Y3) - BOOK_MULTI_IN_OUT).max()),
    "max_abs_diff_lax": float(jnp.abs(Y3 - lax_conv(X, K3)).max()),
}
print("max |ours − lax.conv_general_dilated|:", metrics["multi_in_out"]["max_abs_diff_lax"])

# %% [markdown]
# ## 1 × 1 convolutional layer
#
# With the h·w pixels as the columns of a [c, h·w] matrix, a 1 × 1 convolution with kernels
# [o, c, 1, 1] is the product of the [o, c] matrix of kernel weights with it: a fully
# connected layer from c to o applied at each pixel. It equals the general cross-correlation
# with the same kernel; the two sum the same products in another order, so they may differ by
# float32 rounding.

# %%
harness.show_source(corr2d_multi_in_out_1x1)
X1 = jax.random.normal(key_x, (3, 3, 3))
K1 = jax.random.normal(key_k, (2, 3, 1, 1))
Y1 = corr2d_multi_in_out_1x1(X1, K1)
Y2 = corr2d_multi_in_out(X1, K1)
diff = jnp.abs(Y1 - Y2)
print(
    f"Y1.shape {Y1.shape}; max |Y1 − Y2| {float(diff.max()):.1e}, "
    f"Σ|Y1 − Y2| {float(diff.sum()):.1e}"
)
print("the book's assert Σ|Y1 − Y2| < 1e-6:", float(diff.sum()) < 1e-6)
metrics["one_by_one"] = {
    "X": X1,
    "K": K1,
    "Y_matmul": Y1,
    "Y_corr": Y2,
    "max_abs_diff": float(diff.max()),
    "sum_abs_diff": float(diff.sum()),
    "max_abs_diff_lax": float(jnp.abs(Y1 - lax_conv(X1, K1)).max()),
}

# %% [markdown]
# ## Against the book
#
# The run writes `results/channels/` (or `--out`): `metrics.json`, `"multi_in"`: `{"X" [2, 3, 3],
# "K" [2, 2, 2], "Y" [2, 2], "per_channel" [2, 2, 2] (corr2d of each channel),
# "max_abs_error_vs_book"}`; `"multi_in_out"`: `{"K_shape": [3, 2, 2, 2], "Y" [3, 2, 2],
# "max_abs_error_vs_book", "max_abs_diff_lax"}`; `"one_by_one"`: `{"X" [3, 3, 3], "K" [2, 3, 1,
# 1], "Y_matmul" [2, 3, 3], "Y_corr" [2, 3, 3], "max_abs_diff", "sum_abs_diff" (the book's Σ|Y1 −
# Y2|), "max_abs_diff_lax"}`.

# %%
harness.compare_with_book("channels", metrics, out)
metrics = harness.finish(out, metrics, {})

# %% [markdown]
# # Pooling (the book's 6.5)
#
# A pooling layer slides a window over its input as a convolution does, but has no kernel:
# it outputs the maximum (max pooling) or the mean (average pooling) of each window. Max
# pooling makes the output insensitive to where exactly in the window a feature lies; both
# shrink the image when the stride is larger than 1. With several channels, each channel is
# pooled on its own, so the output has as many channels as the input. Padding and stride work
# as for convolutions; PyTorch's default stride is the window itself.
#
# What to look at: the book's 3 × 3 example, max [[4, 5], [7, 8]] and average [[2, 3], [5,
# 6]]; on the 4 × 4 input arange(16), a 3 × 3 window gives [[10]], and with padding 1 and
# stride 2 (or a 2 × 3 window, stride (2, 3), padding (0, 1)) [[5, 7], [13, 15]]; two channels
# give two outputs. Every result also from `jax.lax.reduce_window` and from flax's
# `max_pool` / `avg_pool`, with no difference.

# %%
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.conv import pool2d, pool2d_loop

import harness

# %% [markdown]
# ## Configuration
#
# Nothing to set: the section runs the book's examples. On the command line, `python
# experiments/pooling.py --help` lists the flags every section has (`--seed`, `--out`,
# `--quick`).

# %%
BOOK = dict()
config, out = harness.start("pooling", BOOK)
metrics = {}

# %% [markdown]
# ## Maximum pooling and average pooling
#
# The book's `pool2d`, written out below (as `book_pool2d`: the library's `pool2d` keeps its
# name), loops over the output positions, stride 1 and no padding, as its `corr2d` does; the
# library's `pool2d` takes every window's entries as the kernel offsets' strided slices of the
# input and reduces them with `jnp.maximum` or their mean, with padding and stride.


# %%
def book_pool2d(X, pool_size, mode="max"):
    p_h, p_w = pool_size
    Y = jnp.zeros((X.shape[0] - p_h + 1, X.shape[1] - p_w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            window = X[i : i + p_h, j : j + p_w]
            Y = Y.at[i, j].set(window.max() if mode == "max" else window.mean())
    return Y


# %%
X = jnp.arange(9.0).reshape(3, 3)
pooled = {
    "max": pool2d(X, (2, 2), stride=1),
    "avg": pool2d(X, (2, 2), stride=1, mode="avg"),
    "max_loop": book_pool2d(X, (2, 2)),
    "avg_loop": book_pool2d(X, (2, 2), "avg"),
}
same = all(
    bool(jnp.array_equal(book_pool2d(X, (2, 2), mode), pool2d_loop(X, (2, 2), mode)))
    for mode in ("max", "avg")
)
harness.print_value("the book's pool2d, the same as the library's jaxdl.conv.pool2d_loop", same)
for name, value in pooled.items():
    harness.print_value(f"{name}: pool2d(X, (2, 2))", value)
BOOK_3x3 = {"max": np.array([[4.0, 5.0], [7.0, 8.0]]), "avg": np.array([[2.0, 3.0], [5.0, 6.0]])}
metrics["pool2d"] = {
    "X": X,
    **pooled,
    "max_abs_error_vs_book": max(
        float(np.abs(np.asarray(pooled[k]) - BOOK_3x3[k.split("_")[0]]).max()) for k in pooled
    ),
}

# %% [markdown]
# ## Padding and stride
#
# `nn.MaxPool2d(3)` on the 4 × 4 input: the stride is the window, so only one 3 × 3 window
# fits, with maximum 10. With padding 1 and stride 2 four windows fit. For max pooling the
# padding is −inf, so a padded entry never wins; for average pooling it is zeros that count
# in the window's mean (PyTorch's default `count_include_pad=True`): the top-left window of
# the last case holds 0, 1, 4, 5 and five zeros of padding, mean 10 / 9.
#
# The references: `jax.lax.reduce_window` (the primitive: max with −inf as the initial and
# padding value; a sum with 0, divided by the window size) and flax's `max_pool` and
# `avg_pool`, which take images channels last, [batch, h, w, channels]; our channels are their
# batch here.


# %%
def lax_pool(X, window, stride, padding, mode):
    """``jax.lax.reduce_window`` over the last two axes of X [c, h, w]."""
    init, op = (-jnp.inf, jax.lax.max) if mode == "max" else (0.0, jax.lax.add)
    y = jax.lax.reduce_window(
        X, init, op, (1, *window), (1, *stride), [(0, 0), (padding[0],) * 2, (padding[1],) * 2]
    )
    return y if mode == "max" else y / (window[0] * window[1])


def flax_pool(X, window, stride, padding, mode):
    """``flax.linen.max_pool`` / ``avg_pool`` of X [c, h, w] as [c, h, w, 1]."""
    pads = [(padding[0],) * 2, (padding[1],) * 2]
    x = X[..., None]
    if mode == "max":
        return nn.max_pool(x, window, stride, pads)[..., 0]
    return nn.avg_pool(x, window, stride, pads, count_include_pad=True)[..., 0]


harness.show_source(pool2d)
X16 = jnp.arange(16.0).reshape(1, 4, 4)
X2 = jnp.concatenate([X16, X16 + 1])
CASES = [
    # (name, input, mode, pool_size, stride, padding, expected, source)
    ("MaxPool2d(3)", X16, "max", (3, 3), (3, 3), (0, 0), [[[10.0]]], "book"),
    (
        "MaxPool2d(3, padding=1, stride=2)",
        X16,
        "max",
        (3, 3),
        (2, 2),
        (1, 1),
        [[[5.0, 7.0], [13.0, 15.0]]],
        "book",
    ),
    (
        "MaxPool2d((2, 3), stride=(2, 3), padding=(0, 1))",
        X16,
        "max",
        (2, 3),
        (2, 3),
        (0, 1),
        [[[5.0, 7.0], [13.0, 15.0]]],
        "book",
    ),
    (
        "cat(X, X + 1), MaxPool2d(3, padding=1, stride=2)",
        X2,
        "max",
        (3, 3),
        (2, 2),
        (1, 1),
        [[[5.0, 7.0], [13.0, 15.0]], [[6.0, 8.0], [14.0, 16.0]]],
        "book",
    ),
    (
        "AvgPool2d(3, padding=1, stride=2)",
        X16,
        "avg",
        (3, 3),
        (2, 2),
        (1, 1),
        # by hand: (0+1+4+5)/9, (1+2+3+5+6+7)/9, (4+5+8+9+12+13)/9, (5+6+7+9+10+11+13+14+15)/9
        [[[10 / 9, 24 / 9], [51 / 9, 90 / 9]]],
        "hand",
    ),
]
metrics["cases"] = []
for name, x, mode, window, stride, padding, expected, source in CASES:
    Y = pool2d(x, window, stride=stride, padding=padding, mode=mode)
    case = {
        "name": name,
        "mode": mode,
        "pool_size": list(window),
        "stride": list(stride),
        "padding": list(padding),
        "input": x,
        "Y": Y,
        "expected": expected,
        "source": source,
        "max_abs_error": float(np.abs(np.asarray(Y) - np.asarray(expected)).max()),
        "max_abs_diff_lax": float(jnp.abs(Y - lax_pool(x, window, stride, padding, mode)).max()),
        "max_abs_diff_flax": float(jnp.abs(Y - flax_pool(x, window, stride, padding, mode)).max()),
    }
    metrics["cases"].append(case)
    harness.print_value(f"{name} ({source}: {np.round(expected, 4).tolist()})", Y)
    print(
        f"  max |ours − reduce_window| {case['max_abs_diff_lax']:.1e}, |ours − flax| "
        f"{case['max_abs_diff_flax']:.1e}"
    )
metrics["max_abs_error_vs_book"] = max(
    metrics["pool2d"]["max_abs_error_vs_book"],
    *(c["max_abs_error"] for c in metrics["cases"] if c["source"] == "book"),
)
metrics["max_abs_diff"] = max(
    c[k] for c in metrics["cases"] for k in ("max_abs_diff_lax", "max_abs_diff_flax")
)

# %% [markdown]
# ## Against the book
#
# The run writes `results/pooling/` (or `--out`): `metrics.json`, `"pool2d"`: `{"X" [3, 3], "max",
# "avg" (vectorised), "max_loop", "avg_loop", "max_abs_error_vs_book"}`; `"cases"`: a list, per
# layer `{"name", "mode", "pool_size", "stride", "padding" (pairs), "input" [c, 4, 4], "Y",
# "expected" (the book's printout, or hand values), "source" ("book" or "hand"), "max_abs_error"
# (vs expected), "max_abs_diff_lax", "max_abs_diff_flax"}`; `"max_abs_error_vs_book"`: over every
# value the book prints; `"max_abs_diff"`: the largest |ours − reduce_window| or |ours − flax|
# over the cases.

# %%
harness.compare_with_book("pooling", metrics, out)
metrics = harness.finish(out, metrics, {})

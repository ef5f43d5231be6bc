# %% [markdown]
# # Padding and stride (the book's 6.3)
#
# A kh × kw kernel on an h × w input leaves (h − kh + 1) × (w − kw + 1) outputs: each layer
# shrinks the image and the border pixels take part in fewer windows. Padding adds p rows and
# columns of zeros on each side; a stride s moves the window s pixels at a time. The output
# then has ⌊(h + 2p_h − kh) / s_h⌋ + 1 rows and ⌊(w + 2p_w − kw) / s_w⌋ + 1 columns. The
# book checks the formula on four `nn.Conv2d` layers applied to an 8 × 8 input.
#
# What to look at: the book's four output shapes, (8, 8), (8, 8), (4, 4) and (2, 2), from the
# library's from-scratch `corr2d`, from `flax.linen.Conv` and from `jax.lax.conv_general_dilated`,
# and, with one kernel and bias, the same values from all three.

# %%
import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.conv import corr2d, pytorch_conv_kernel

import harness

# %% [markdown]
# ## Configuration
#
# Nothing to set: the section runs the book's examples. On the command line, `python
# experiments/padding_strides.py --help` lists the flags every section has (`--seed`, `--out`,
# `--quick`).

# %%
BOOK = dict()
config, out = harness.start("padding_strides", BOOK)
key_x, *case_keys = jax.random.split(jax.random.key(config.seed), 5)
# (kernel_size, padding, stride, the shape the book prints)
CASES = [
    ((3, 3), (1, 1), (1, 1), (8, 8)),
    ((5, 3), (2, 1), (1, 1), (8, 8)),
    ((3, 3), (1, 1), (2, 2), (4, 4)),
    ((3, 5), (0, 1), (3, 4), (2, 2)),
]
X = jax.random.uniform(key_x, (8, 8))
metrics = {"x": X, "cases": []}

# %% [markdown]
# ## Three ways to the same convolution
#
# `corr2d` pads the input with zeros and takes every s-th window. `flax.linen.Conv` takes
# images channels last, [batch, h, w, channels], and its kernel [kh, kw, in, out] (HWIO);
# padding given explicitly as ((p_h, p_h), (p_w, p_w)) is PyTorch's (flax's `"SAME"` would
# pad by its own rule). `jax.lax.conv_general_dilated` is the primitive under both flax and
# the XLA convolution, here in PyTorch's layout (NCHW inputs, OIHW kernels).


# %%
def flax_conv(kernel, bias, x, kernel_size, padding, stride):
    """``flax.linen.Conv`` with our kernel [kh, kw] and bias on x [h, w]: (output [h', w'],
    the kernel shape flax's own init gives)."""
    conv = nn.Conv(
        features=1,
        kernel_size=kernel_size,
        strides=stride,
        padding=[(padding[0], padding[0]), (padding[1], padding[1])],
        precision="highest",
    )
    x = x[None, :, :, None]  # NHWC
    own = jax.eval_shape(conv.init, jax.random.key(0), x)["params"]["kernel"].shape
    params = {"kernel": kernel[:, :, None, None], "bias": bias[None]}
    return conv.apply({"params": params}, x)[0, :, :, 0], own


def lax_conv(kernel, bias, x, padding, stride):
    """``jax.lax.conv_general_dilated`` in NCHW/OIHW on x [h, w], plus bias."""
    y = jax.lax.conv_general_dilated(
        x[None, None],
        kernel[None, None],
        window_strides=stride,
        padding=[(padding[0], padding[0]), (padding[1], padding[1])],
        dimension_numbers=("NCHW", "OIHW", "NCHW"),
        precision="highest",
    )
    return y[0, 0] + bias


def formula(n, k, p, s):
    return (n + 2 * p - k) // s + 1


# %% [markdown]
# ## The book's four layers
#
# Padding p = (k − 1) / 2 on each side keeps the size: kernel 3 with padding 1, and kernel
# (5, 3) with padding (2, 1), both give 8 × 8. Stride 2 halves it: 4 × 4. The last layer
# mixes everything: ⌊(8 + 0 − 3) / 3⌋ + 1 = 2 rows, ⌊(8 + 2 − 5) / 4⌋ + 1 = 2 columns.

# %%
harness.show_source(corr2d)
for key, (kernel_size, padding, stride, book_shape) in zip(case_keys, CASES, strict=True):
    key_k, key_b = jax.random.split(key)
    kernel = pytorch_conv_kernel(key_k, kernel_size)
    bound = 1.0 / (kernel_size[0] * kernel_size[1]) ** 0.5
    bias = jax.random.uniform(key_b, (), minval=-bound, maxval=bound)
    ours = corr2d(X, kernel, padding=padding, stride=stride) + bias
    flax_out, flax_kernel_shape = flax_conv(kernel, bias, X, kernel_size, padding, stride)
    lax_out = lax_conv(kernel, bias, X, padding, stride)
    if not ours.shape == flax_out.shape == lax_out.shape:  # a bug in one of them: stop
        raise RuntimeError(f"shapes differ: {ours.shape}, {flax_out.shape}, {lax_out.shape}")
    case = {
        "kernel_size": list(kernel_size),
        "padding": list(padding),
        "stride": list(stride),
        "book_shape": list(book_shape),
        "formula_shape": [formula(8, kernel_size[d], padding[d], stride[d]) for d in (0, 1)],
        "shape": list(ours.shape),
        "flax_shape": list(flax_out.shape),
        "lax_shape": list(lax_out.shape),
        "flax_kernel_shape": list(flax_kernel_shape),
        "kernel": kernel,
        "bias": bias,
        "output": ours,
        "max_abs_diff_lax": float(jnp.abs(ours - lax_out).max()),
        "max_abs_diff_flax": float(jnp.abs(ours - flax_out).max()),
    }
    metrics["cases"].append(case)
    print(
        f"kernel_size={kernel_size}, padding={padding}, stride={stride}: ours {ours.shape}, "
        f"flax {flax_out.shape}, lax {lax_out.shape} (book: {book_shape}); max |ours − lax| "
        f"{case['max_abs_diff_lax']:.1e}, |ours − flax| {case['max_abs_diff_flax']:.1e}"
    )

metrics["shapes_match_book"] = all(
    c["shape"] == c["flax_shape"] == c["lax_shape"] == c["formula_shape"] == c["book_shape"]
    for c in metrics["cases"]
)
metrics["max_abs_diff"] = max(
    c[k] for c in metrics["cases"] for k in ("max_abs_diff_lax", "max_abs_diff_flax")
)
print("every shape as the book's:", metrics["shapes_match_book"])

# %% [markdown]
# ## Against the book
#
# The run writes `results/padding_strides/` (or `--out`): `metrics.json`, `"x"` [8, 8]; `"cases"`:
# a list, per layer `{"kernel_size", "padding", "stride" (pairs), "book_shape", "formula_shape"
# (⌊(n + 2p − k) / s⌋ + 1), "shape" (ours), "flax_shape", "lax_shape", "flax_kernel_shape" (flax's
# own init: [kh, kw, 1, 1]), "kernel" [kh, kw], "bias", "output", "max_abs_diff_lax",
# "max_abs_diff_flax"}`; `"shapes_match_book"`: bool (ours, flax's, lax's and the formula's, every
# case); `"max_abs_diff"`: the largest max |ours − lax| or |ours − flax| over the cases.

# %%
harness.compare_with_book("padding_strides", metrics, out)
metrics = harness.finish(out, metrics, {})

# %% [markdown]
# # Convolutions for images (the book's 6.2)
#
# A convolutional layer slides a small kernel over its input and takes, at each position, the
# sum of the elementwise product of the kernel with the window under it: a cross-correlation
# (what deep learning calls a convolution; the kernel is not flipped). The book writes it as a
# double loop over output positions, `corr2d`, applies it to detect the vertical edges of a
# black-and-white image, and then learns the edge kernel back from the image and its edges by
# gradient descent. Here the book's loop is written out below and checked against the
# library's; the library's `corr2d` computes the same as one sum over the kernel's few offsets of
# strided slices of the input, and `jax.grad` replaces `backward()`.
#
# What to look at: `corr2d` of the book's 3×3 input gives [[19, 25], [37, 43]] both ways; the
# edge kernel [[1, −1]] marks the edges with 1 and −1 and sees nothing in the transposed
# image; and the learned kernel's loss falls as the book's (6.422, 1.225, 0.266, 0.070, 0.022
# at epochs 2–10 from PyTorch's random start; ours from another random start) to a kernel
# close to [[1, −1]].

# %%
import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.conv import (
    conv2d_layer,
    corr2d_loop,
    learn_kernel,
    pytorch_conv_kernel,
    squared_error_sum,
)
from jaxdl.conv import corr2d as library_corr2d
from jaxdl.engine.divergence import divergence_error, divergences
from jaxdl.plotting import new_figure

import harness

# %% [markdown]
# ## Configuration
#
# The book's settings for learning the edge kernel: 10 steps (`epochs`) of gradient descent at
# learning rate 0.03. Edit them here to try others: a run whose settings differ from the book's
# is reported as such. On the command line each is a flag (`python experiments/conv_layer.py
# --help`).

# %%
BOOK = dict(epochs=10, lr=0.03)
config, out = harness.start("conv_layer", BOOK)
key_kernel, key_layer = jax.random.split(jax.random.key(config.seed))
metrics = {}

# %% [markdown]
# ## The cross-correlation operation
#
# `Y[i, j] = Σₐᵦ K[a, b] X[i + a, j + b]`: an input of h × w and a kernel of kh × kw give an
# output of (h − kh + 1) × (w − kw + 1). The book's loop computes one output element at a
# time; JAX arrays are immutable, so `Y[i, j] = ...` becomes `Y = Y.at[i, j].set(...)`.


# %%
def corr2d(X, K):
    h, w = K.shape
    Y = jnp.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y = Y.at[i, j].set((X[i : i + h, j : j + w] * K).sum())
    return Y


# %%
X = jnp.arange(9.0).reshape(3, 3)
K = jnp.array([[0.0, 1.0], [2.0, 3.0]])
loop = corr2d(X, K)
harness.print_value("corr2d(X, K)", loop)
same = bool(jnp.array_equal(loop, corr2d_loop(X, K)))
harness.print_value("the same as the library's jaxdl.conv.corr2d_loop", same)

# %% [markdown]
# The loop costs one small array operation per output element. The library's
# `jaxdl.conv.corr2d`, which the rest of the chapter uses, turns it around: for each of the kh·kw
# entries of the kernel, one strided slice of the input holds every input element that this
# entry meets, and the output is the sum of those slices weighted by the kernel's entries. It
# also takes the padding and stride of the next section, and checks its input.

# %%
harness.show_source(library_corr2d)
vectorised = library_corr2d(X, K)
harness.print_value("jaxdl.conv.corr2d(X, K)", vectorised)
BOOK_CORR2D = np.array([[19.0, 25.0], [37.0, 43.0]])
metrics["corr2d"] = {
    "X": X,
    "K": K,
    "loop": loop,
    "vectorised": vectorised,
    "loop_equals_vectorised": bool(jnp.array_equal(loop, vectorised)),
    "max_abs_error_vs_book": float(np.abs(np.asarray(vectorised) - BOOK_CORR2D).max()),
}

# %% [markdown]
# ## Object edge detection in images
#
# A 6 × 8 image, white (1) but for a black (0) band in columns 2–5. The kernel [[1, −1]]
# takes the difference of horizontally adjacent pixels: 0 where they agree, 1 at the edge
# from white to black, −1 at the edge from black to white. It detects vertical edges only:
# on the transposed image, whose edges are horizontal, it gives zeros everywhere.

# %%
X_edge = jnp.ones((6, 8)).at[:, 2:6].set(0.0)
K_edge = jnp.array([[1.0, -1.0]])
Y_edge = corr2d(X_edge, K_edge)
harness.print_value("X", X_edge)
harness.print_value("Y = corr2d(X, K)", Y_edge)
Y_transposed = corr2d(X_edge.T, K_edge)
harness.print_value("corr2d(X.T, K)", Y_transposed)
BOOK_EDGE = np.zeros((6, 7))
BOOK_EDGE[:, 1], BOOK_EDGE[:, 5] = 1.0, -1.0
metrics["edge"] = {
    "X": X_edge,
    "K": K_edge,
    "Y": Y_edge,
    "Y_transposed": Y_transposed,
    "max_abs_error_vs_book": float(np.abs(np.asarray(Y_edge) - BOOK_EDGE).max()),
    "transposed_all_zero": bool(jnp.all(Y_transposed == 0)),
}

# %% [markdown]
# ## A convolutional layer
#
# The book's `Conv2D(kernel_size)` has a weight drawn from U[0, 1) (`torch.rand`) and a scalar
# bias 0, and computes `corr2d(x, weight) + bias`. Here it is two pure functions,
# `conv2d_init` and `conv2d_apply`, and as a `jaxdl.model.Model` over a batch of images
# (`conv2d_layer`).

# %%
layer = conv2d_layer((1, 2))
layer_params, layer_state = layer.init(key_layer, X_edge[None])
layer_output, _ = layer.apply(layer_params, layer_state, X_edge[None], train=False)
harness.print_value("conv2d_layer((1, 2)): weight", layer_params["weight"])
print("its output on X [1, 6, 8]:", layer_output.shape)
metrics["conv2d_layer"] = {
    "kernel_size": [1, 2],
    "weight": layer_params["weight"],
    "bias": layer_params["bias"],
    "output_shape": list(layer_output.shape),
}

# %% [markdown]
# ## Learning a kernel
#
# Given only X and Y, can the kernel be learned? The book starts from `nn.Conv2d(1, 1,
# kernel_size=(1, 2), bias=False)`, whose weight PyTorch draws from U(±1/√fan_in) with
# fan_in = 2, and takes 10 steps of plain gradient descent on the summed squared error,
# printing the loss every other epoch. `learn_kernel` is the same loop with `jax.grad` in place
# of `backward()` and the weight update as a new value; the steps are one `lax.scan`, jitted
# once here.

# %%
harness.show_source(squared_error_sum, learn_kernel)
initial_kernel = pytorch_conv_kernel(key_kernel, (1, 2))
harness.print_value("initial kernel (as nn.Conv2d's, from --seed)", initial_kernel)
train = jax.jit(learn_kernel, static_argnames="num_steps")
kernel, losses = train(
    X_edge, Y_edge, initial_kernel, learning_rate=config.lr, num_steps=config.epochs
)
diverged = divergences({"train_loss": np.asarray(losses)})  # stop as the engine would
if diverged:
    raise divergence_error("learning the kernel", diverged, learning_rate=config.lr)
BOOK_EPOCH_LOSSES = {2: 6.422, 4: 1.225, 6: 0.266, 8: 0.070, 10: 0.022}
epochs = list(range(2, config.epochs + 1, 2))
for epoch in epochs:
    book = BOOK_EPOCH_LOSSES.get(epoch)
    print(
        f"epoch {epoch}, loss {float(losses[epoch - 1]):.3f}"
        + ("" if book is None else f"  (book: {book:.3f})")
    )
harness.print_value("learned kernel", kernel)
metrics["learn"] = {
    "learning_rate": config.lr,
    "num_steps": config.epochs,
    "initial_kernel": initial_kernel,
    "losses": losses,
    "epochs": epochs,
    "epoch_losses": [losses[e - 1] for e in epochs],
    "book_epoch_losses": [BOOK_EPOCH_LOSSES.get(e) for e in epochs],
    "kernel": kernel,
    "kernel_error": float(jnp.abs(kernel - K_edge).max()),
    "final_loss": losses[-1],
}

# %% [markdown]
# The loss is a quadratic in the kernel's two entries, so plain gradient descent converges
# geometrically: along the kernel direction (1, 1) the error shrinks by |1 − 0.03·60| = 0.8
# per step (overshooting each time), along (1, −1) by 1 − 0.03·12 = 0.64 (the Hessian of
# the loss here has eigenvalues 60 and 12). From any start PyTorch could draw, 10 steps leave
# the kernel within 0.09 of [[1, −1]]; how close depends on the start, which is why our loss
# printout differs from the book's in its digits but not in its course.


# %%
def matrix(ax, values, title):
    """``values`` as an image with each entry written on it."""
    values = np.asarray(values)
    ax.imshow(values, cmap="coolwarm", vmin=-1, vmax=1)
    for (i, j), v in np.ndenumerate(values):
        text = f"{v:.0f}" if v == round(v) else f"{v:.2f}"
        ax.text(j, i, text.replace("-", "−"), ha="center", va="center", fontsize=6)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


fig, axes = new_figure((13.0, 2.8), 1, 4)
matrix(axes[0], X_edge, "X")
matrix(axes[1], Y_edge, "Y = corr2d(X, [[1, −1]])")
matrix(axes[2], corr2d(X_edge, kernel), "corr2d(X, learned kernel)")
steps = np.arange(1, config.epochs + 1)
axes[3].semilogy(steps, np.asarray(losses), "o-", ms=3, label=f"jaxdl (seed {config.seed})")
book_epochs = [e for e in BOOK_EPOCH_LOSSES if e <= config.epochs]
axes[3].semilogy(book_epochs, [BOOK_EPOCH_LOSSES[e] for e in book_epochs], "rs", ms=4, label="book")
axes[3].set_xlabel("epoch")
axes[3].set_ylabel("loss Σ(Ŷ − Y)²")
axes[3].legend()
fig.tight_layout()
harness.show(fig)

# %% [markdown]
# ## Against the book
#
# The run writes `results/conv_layer/` (or `--out`): `metrics.json`, `"corr2d"`: `{"X" [3, 3], "K"
# [2, 2], "loop" [2, 2], "vectorised" [2, 2], "loop_equals_vectorised": bool,
# "max_abs_error_vs_book"}` (against [[19, 25], [37, 43]]); `"edge"`: `{"X" [6, 8], "K" [1, 2],
# "Y" [6, 7], "Y_transposed" [8, 5], "max_abs_error_vs_book", "transposed_all_zero": bool}` (Y
# against 1 in column 1, −1 in column 5, 0 elsewhere); `"conv2d_layer"`: `{"kernel_size": [1, 2],
# "weight" [1, 2], "bias", "output_shape"}`; `"learn"`: `{"learning_rate", "num_steps",
# "initial_kernel" [1, 2], "losses" [num_steps] (each step's loss before its update), "epochs" [2,
# 4, …] and "epoch_losses" (the book's printout: losses at those epochs), "book_epoch_losses",
# "kernel" [1, 2] (after the last update), "kernel_error" (max |kernel − [[1, −1]]|),
# "final_loss"}`. Figure `conv_layer.png`: X, Y, the learned kernel's output, and the loss per
# epoch.

# %%
harness.compare_with_book("conv_layer", metrics, out)
metrics = harness.finish(out, metrics, {"conv_layer.png": fig})

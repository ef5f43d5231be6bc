# %% [markdown]
# # Numerical stability and initialization (the book's 4.8)
#
# Backpropagation multiplies one factor per layer: the derivative of each activation and each
# weight matrix. The book shows how that product can vanish or explode. A sigmoid passes back at
# most a quarter of the gradient, and almost none once its input is far from 0; a product of
# 100 random 4×4 matrices grows by many orders of magnitude. The remedy it derives is to choose
# the scale of the initial weights: Xavier initialization draws weights of variance
# `2 / (n_in + n_out)`, so that both the forward signal and the backward gradient keep their
# variance from layer to layer.
#
# The book stops at the formula; here the book's MLP is also trained from several initial
# scales at once, to see what the scale does in practice.
#
# What to look at: the sigmoid's derivative, at most 0.25 at x = 0 and about 3e-4 at ±8; the
# norm of the matrix product, close to a straight line on the log scale, ending more than
# twenty orders of magnitude above where it started; Xavier's draws next to
# `jax.nn.initializers`' (the same variance; JAX's normal is truncated); and the training
# curves, where the scale alone changes how fast the loss falls and where it ends.

# %%
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.activations import sigmoid
from jaxdl.engine import train
from jaxdl.engine.divergence import divergence_error, divergences, learning_rates
from jaxdl.engine.progress import ProgressBoard
from jaxdl.errors import InputError
from jaxdl.initializers import xavier_normal, xavier_std, xavier_uniform
from jaxdl.linalg import frobenius_norm
from jaxdl.losses import cross_entropy
from jaxdl.metrics import correct
from jaxdl.models.mlp import scratch_mlp
from jaxdl.optim import sgd
from jaxdl.plotting import new_figure, plot

import harness
from harness import Setting, classifiers
from harness.config import positive_float

START, STOP, STEP = -8.0, 8.0, 0.1
SIZE, MULTIPLICATIONS = 4, 100
HIDDEN = (256,)
XAVIER_SHAPE = (784, 256)

# %% [markdown]
# ## Configuration
#
# The book's MLP settings, and the initial scales σ to compare (Xavier is always added). Edit
# them here to try others: a run whose settings differ from the book's is reported as such,
# not held to its figures. On the command line each is a flag (`python
# experiments/initialization.py --help`); `--quick` trains 3 epochs on the first 2000 training
# images, tested on 500.

# %%
BOOK = dict(epochs=10, lr=0.1, batch_size=256, init_stds=[1e-3, 1e-2, 1e-1, 1.0])
QUICK = dict(epochs=3, train_size=2000, test_size=500)
config, out = harness.start(
    "initialization",
    BOOK,
    quick=QUICK,
    settings={
        "init_stds": Setting(
            positive_float, "standard deviations σ of the initial weights, W ~ N(0, σ²)"
        )
    },
    data_dir="folder of the Fashion-MNIST IDX files",
)
if len(set(config.init_stds)) != len(config.init_stds):
    raise InputError(f"init_stds: expected distinct values, got {config.init_stds}")
key_matrices, key_xavier, key_train = jax.random.split(jax.random.key(config.seed), 3)
metrics, figures = {}, {}
epochs = config.epochs
metrics, figures = {}, {}

# %% [markdown]
# ## Vanishing gradients: the sigmoid
#
# The book's grid, `arange(-8, 8, 0.1)`. The derivative `s(x)(1 − s(x))` is `jax.grad` of the
# library's sigmoid, mapped over x with `jax.vmap`. It is 0.25 at x = 0, its largest, and
# falls off fast on both sides: a gradient passing back through a saturated sigmoid (an input
# far from 0) is all but cut off, and through many layers of sigmoids it shrinks, from their
# derivatives alone, by a factor of at least four per layer.

# %%
harness.show_source(sigmoid)
x = jnp.arange(START, STOP, STEP)
y, dy = sigmoid(x), jax.vmap(jax.grad(sigmoid))(x)
i = int(jnp.argmax(dy))
metrics["sigmoid"] = {
    "x": {"start": START, "stop": STOP, "step": STEP, "num_points": int(x.shape[0])},
    "grad_max": float(dy[i]),
    "grad_argmax_x": float(x[i]),
    "grad_at_0": float(jax.grad(sigmoid)(0.0)),
    "grad_at_-8": float(jax.grad(sigmoid)(-8.0)),
    "grad_at_8": float(jax.grad(sigmoid)(8.0)),
}
d = metrics["sigmoid"]
print(
    f"sigmoid': max {d['grad_max']:.6f} at x = {d['grad_argmax_x']:.3g}; at 0: "
    f"{d['grad_at_0']:.6f}; at -8: {d['grad_at_-8']:.3e}; at 8: {d['grad_at_8']:.3e}"
)
figures["sigmoid.png"] = plot(x, [y, dy], "x", legend=["sigmoid", "gradient"], figsize=(4.5, 2.5))
harness.show(figures["sigmoid.png"])

# %% [markdown]
# ## Exploding gradients: a product of random matrices
#
# As the book: a 4×4 matrix of N(0, 1) entries, multiplied by 100 more (a `lax.scan`, in
# float32, the book's dtype). The norm grows by a roughly constant factor per multiplication,
# a straight line on the log scale. Its norms are computed in float64 on the host: the float32
# Frobenius norm (`jaxdl.linalg.frobenius_norm`, √Σ x²) of the final product overflows to inf
# although every entry is still a finite float32, one more way for large values to break a
# computation.


# %%
def multiply(key: jax.Array, num: int, size: int) -> tuple[jax.Array, jax.Array]:
    """A [size, size] N(0, 1) matrix multiplied by ``num`` more: ``(first [size, size],
    after each multiplication [num, size, size])``."""
    matrices = jax.random.normal(key, (num + 1, size, size))

    def step(m, a):
        m = m @ a
        return m, m

    _, products = jax.lax.scan(step, matrices[0], matrices[1:])
    return matrices[0], products


first, products = multiply(key_matrices, MULTIPLICATIONS, SIZE)
product = products[-1]
matrices = np.concatenate([np.asarray(first)[None], np.asarray(products)]).astype(np.float64)
norms = np.linalg.norm(matrices, axis=(1, 2))
with np.printoptions(precision=4, linewidth=100):
    print("a single matrix\n", np.asarray(first))
    print(f"after multiplying {MULTIPLICATIONS} matrices\n", np.asarray(product))
harness.show_source(frobenius_norm)
float32_norm = float(frobenius_norm(product))
print(f"Frobenius norm: {norms[0]:.3g} -> {norms[-1]:.3g} (float64); in float32: {float32_norm}")
metrics["matrix_product"] = {
    "size": SIZE,
    "num_multiplications": MULTIPLICATIONS,
    "first_matrix": np.asarray(first).tolist(),
    "product": np.asarray(product).tolist(),
    "frobenius_norms": norms.tolist(),
    "initial_norm": float(norms[0]),
    "final_norm": float(norms[-1]),
    "log10_growth_per_multiplication": float(np.log10(norms[-1] / norms[0]) / MULTIPLICATIONS),
    "float32_norm_finite": math.isfinite(float32_norm),
}
figures["matrix_product.png"] = plot(
    np.arange(MULTIPLICATIONS + 1),
    norms,
    "matrices multiplied",
    "‖M‖_F",
    yscale="log",
    figsize=(4.5, 2.5),
)
harness.show(figures["matrix_product.png"])

# %% [markdown]
# ## Xavier initialization
#
# For a layer `o = x W` with `W [n_in, n_out]`, the forward pass keeps the variance of its
# signal when `n_in σ² = 1` and the backward pass keeps the gradient's when `n_out σ² = 1`;
# Xavier takes the compromise `σ² = 2 / (n_in + n_out)`, as a normal `N(0, σ²)` or as a
# uniform `U(−a, a)` with `a = √(6 / (n_in + n_out))` (whose variance is `a² / 3 = σ²`).
# Below, one draw of each for the MLP's first layer [784, 256] (200,704 weights) next to
# `jax.nn.initializers`: its `glorot_normal` has the same variance but is a normal truncated at
# two standard deviations and rescaled (so compare variances, not samples, and see its largest
# |w| stop near 2.3 σ); its `glorot_uniform` draws `a · U(−1, 1)` as ours does, and with the
# same key gives the same numbers (up to the float32 rounding of a).

# %%
harness.show_source(xavier_std, xavier_normal, xavier_uniform)
variance, bound = 2.0 / sum(XAVIER_SHAPE), math.sqrt(6.0 / sum(XAVIER_SHAPE))
sigma = xavier_std(XAVIER_SHAPE)  # √variance
draws = {
    "xavier_normal": xavier_normal(key_xavier, XAVIER_SHAPE),
    "glorot_normal": jax.nn.initializers.glorot_normal()(key_xavier, XAVIER_SHAPE),
    "xavier_uniform": xavier_uniform(key_xavier, XAVIER_SHAPE),
    "glorot_uniform": jax.nn.initializers.glorot_uniform()(key_xavier, XAVIER_SHAPE),
}
metrics["xavier"] = {"shape": list(XAVIER_SHAPE), "variance": variance, "bound": bound}
metrics["xavier"]["draws"] = {
    name: {
        "mean": float(np.mean(w, dtype=np.float64)),
        "variance": float(np.var(w, dtype=np.float64)),
        "variance_ratio": float(np.var(w, dtype=np.float64)) / variance,
        "max_abs": float(np.max(np.abs(w))),
    }
    for name, w in ((n, np.asarray(w)) for n, w in draws.items())
}
metrics["xavier"]["uniform_max_abs_diff"] = float(
    jnp.max(jnp.abs(draws["xavier_uniform"] - draws["glorot_uniform"]))
)
print(f"W {XAVIER_SHAPE}: σ² = 2 / (n_in + n_out) = {variance:.4e}, a = {bound:.4f}")
print(f"{'':16s}{'mean':>11s}{'variance':>12s}{'var / σ²':>10s}{'max |w| / σ':>13s}")
for name, d in metrics["xavier"]["draws"].items():
    print(
        f"{name:16s}{d['mean']:11.2e}{d['variance']:12.4e}{d['variance_ratio']:10.4f}"
        f"{d['max_abs'] / sigma:13.3f}"
    )
print(
    "xavier_uniform vs glorot_uniform, same key: max |difference| = "
    f"{metrics['xavier']['uniform_max_abs_diff']:g}"
)
fig, ax = new_figure((5.0, 2.8))
for name, w in draws.items():
    style = "--" if name.startswith("glorot") else "-"  # the uniform draws coincide
    ax.hist(np.ravel(w) / sigma, 120, density=True, histtype="step", ls=style, label=name)
ax.set_xlabel("w / σ")
ax.set_ylabel("density")
ax.legend(fontsize="small")
figures["xavier.png"] = fig
harness.show(fig)

# %% [markdown]
# ## What the initial scale does to training
#
# The book's MLP (784-256-10, ReLU, batch 256, learning rate 0.1) from `W ~ N(0, σ²)` for
# each σ, and from Xavier normal (σ per layer: about 0.044 for [784, 256] and 0.087 for
# [256, 10]). `mlp` takes `init_std` as one σ per layer, and may take it traced, so the scales
# are an array [models, layers] and `jax.jit(jax.vmap(...))` over `jaxdl.engine.train` trains
# every model in one compiled program. All start from the same key: the same unit-normal draws,
# scaled, and the same minibatch order, so the scale is the only difference.

# %%
harness.show_source(scratch_mlp)
data = classifiers.fashion_mnist(config)
names = [f"{s:g}" for s in config.init_stds] + ["xavier"]
xavier_stds = [xavier_std(shape) for shape in ((784, *HIDDEN), (*HIDDEN, 10))]
stds = np.array([[s, s] for s in config.init_stds] + [xavier_stds], np.float32)


def train_scale(layer_stds, train_set, test_set):
    """The MLP trained from one row of per-layer standard deviations (traced)."""
    return train(
        scratch_mlp(HIDDEN, init_std=layer_stds),
        cross_entropy,
        sgd(config.lr),
        train_set,
        epochs=epochs,
        batch_size=config.batch_size,
        key=key_train,
        eval_data={"test": test_set},
        metrics={"acc": correct},
        config=config.flags,
        data_digest=data.digest,
        on_epoch=board,
    )


def label(name: str) -> str:
    return "Xavier" if name == "xavier" else f"σ = {name}"


def training_figure(histories: dict, epochs: int, diverged=()):
    """The training loss (log scale) and the test accuracy of each model against epoch."""
    fig, (ax_loss, ax_acc) = new_figure((9.0, 3.2), ncols=2)
    ep = np.arange(1, len(next(iter(histories.values()))["train_loss"]) + 1)
    for stat, ax, ylabel, yscale in (
        ("train_loss", ax_loss, "train loss", "log"),
        ("test_acc", ax_acc, "test accuracy", "linear"),
    ):
        plot(
            ep,
            [np.asarray(h[stat], np.float64) for h in histories.values()],
            "epoch",
            ylabel,
            legend=[label(n) for n in histories],
            xlim=(1, max(epochs, 2)),
            yscale=yscale,
            fmts=("-", "--", "-.", ":"),
            axes=ax,
        )
    if diverged:
        fig.suptitle(f"diverged, not shown: {', '.join(label(n) for n in diverged)}")
    return fig


# The curves after each epoch, drawn (notebook) or printed (terminal) as the sweep runs: under
# jax.vmap, train reports each model's epoch in the models' order.
board = ProgressBoard(epochs, models=names, draw=training_figure)
# The data go in as arguments, shared by every model (in_axes None): closed over, they would
# be compiled into the program as constants (188 MB of images).
sweep = jax.jit(jax.vmap(train_scale, in_axes=(0, None, None)))
result = jax.block_until_ready(sweep(stds, data.train, data.test))
print(f"trained {len(names)} models at once for {epochs} epochs")

# %% [markdown]
# ## Diverged or not, and the curves
#
# `train` is pure and cannot stop when a loss turns NaN; `divergences` finds every model of a
# history whose loss became NaN or inf (`check_finite` raises with the same report). Here a
# model that diverged is recorded as diverged, with the message naming its loss and epoch, and
# left out of the figure; the others are reported as usual. With this network none of the
# default scales diverges. ReLU is positively homogeneous and the biases start at 0, so
# multiplying both layers' weights by c multiplies the initial logits by c²: a large σ gives a
# huge loss, not NaN, until the logits overflow float32 (σ = 1e10 still trains, σ = 1e20 gives
# NaN: try `--init-stds 1e20`).
#
# In the curves: σ = 0.1 and Xavier (per-layer σ of the same order, 0.044 and 0.087) lose
# the most in the first epoch and stay ahead; σ = 0.001 starts slowly, its outputs and the
# gradients flowing back through its small weights nearly zero; σ = 1 starts with a loss in the
# tens and is still well behind after 10 epochs.

# %%
history = {k: np.asarray(v) for k, v in result.history.items()}
found = {d.model: d for d in divergences(history)}
rates = learning_rates(result.state.opt_state)
models = {}
for i, name in enumerate(names):
    diverged = None
    if (i,) in found:
        error = divergence_error(f"the model from init {name}", [found[(i,)]], learning_rate=rates)
        diverged = str(error)
    h = {
        k: [float(v) if np.isfinite(v) else None for v in history[k][i]]
        for k in classifiers.HISTORY_KEYS
    }
    done = diverged is None
    models[name] = {
        "init_std": [float(str(s)) for s in stds[i]],
        "diverged": diverged,
        "train_loss": h["train_loss"][-1] if done else None,
        "test_acc": h["test_acc"][-1] if done else None,
        "history": h,
    }
    if diverged:
        print(f"init {name}: DIVERGED: {diverged}")
    elif done:
        print(
            f"init {name}: train loss {h['train_loss'][0]:.3f} (epoch 1) -> "
            f"{h['train_loss'][-1]:.3f}, test acc {h['test_acc'][0]:.3f} -> {h['test_acc'][-1]:.3f}"
        )
metrics["training"] = {
    "epochs": epochs,
    "lr": config.lr,
    "batch_size": config.batch_size,
    "models": models,
}
metrics["runs"] = {"sweep": result.run.to_dict()}

shown = [n for n in names if models[n]["diverged"] is None]
if shown:
    figures["training.png"] = training_figure(
        {n: models[n]["history"] for n in shown},
        epochs,
        diverged=[n for n in names if n not in shown],
    )
    board.show(figures["training.png"])  # the board's last frame, without the diverged models

# %% [markdown]
# ## Against the book
#
# The run writes `results/initialization/` (or `--out`): `metrics.json`, with the sigmoid's
# derivative (`sigmoid`), the product of 100 random matrices (`matrix_product`), the variance of
# Xavier draws (`xavier`) and the sweep over initial scales (`training`: per model its history,
# or the epoch it diverged, and `runs`, the sweep's record); and the figures `sigmoid.png`,
# `matrix_product.png`, `xavier.png` and `training.png`.

# %%
harness.compare_with_book("initialization", metrics, out)
metrics = harness.finish(out, metrics, figures)

# %% [markdown]
# # Weight decay (the book's 4.5)
#
# The book makes a problem built to overfit: linear regression with 200 features and only 20
# training examples (`y = 0.05 + Σ 0.01 x_i + noise`), weights drawn from N(0, 1). Without
# regularization the model memorises the training set and misses the test set by far. Weight
# decay adds the penalty `λ/2 ‖w‖²` to the loss, which pulls the weights toward zero. The book
# trains it twice: from scratch, with the penalty added to the loss by hand, and concisely,
# with the decay inside the optimizer (`torch.optim.SGD(weight_decay=λ)` on the weights only).
# Here the scratch penalty is a regularizer passed to the training loop and the concise decay
# is optax's `add_decayed_weights` chained with SGD; each variant trains λ = 0 and λ = 3 at
# once with `jax.vmap`, and a sweep over 16 values of λ shows the whole trade-off.
#
# What to look at: with λ = 0, ‖w‖₂ about 13 and a test loss far above the training loss;
# with λ = 3, ‖w‖₂ about 0.35 and a test loss below 1 (the book: 13.5 and 0.35 from scratch,
# 14.2 and 0.44 concise); and in the sweep, ‖w‖₂ and the test loss falling together as λ
# grows.

# %%
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdl.data.synthetic import high_dimensional_data
from jaxdl.engine import train
from jaxdl.engine.divergence import check_finite
from jaxdl.linalg import l2_norm
from jaxdl.losses import squared_loss
from jaxdl.models.linear import concise_linear_regression, linear_regression
from jaxdl.optim import l2_penalty, sgd, sgd_weight_decay
from jaxdl.plotting import loss_panels, new_figure, plot

import harness

LAMBDAS = (0.0, 3.0)
SWEEP = np.logspace(-3, 2, 16)

# %% [markdown]
# ## Configuration
#
# The book's settings. Edit them here to try others: a run whose settings differ from the
# book's is reported as such, not held to its figures. On the command line each is a flag
# (`python experiments/weight_decay.py --help`); `--quick` trains 20 epochs.

# %%
BOOK = dict(epochs=100, lr=0.003, batch_size=5)
QUICK = dict(epochs=20)
config, out = harness.start("weight_decay", BOOK, quick=QUICK)
options = dict(epochs=config.epochs, lr=config.lr, batch_size=config.batch_size)

# %% [markdown]
# ## The data
#
# 20 training and 100 test examples of 200 features each: ten times more weights than
# training examples, so a model without decay can fit the training set exactly.

# %%
key_data, key_train = jax.random.split(jax.random.key(config.seed))
data = high_dimensional_data(key_data)
(x_train, _), (x_test, _) = data
print(f"features: train {x_train.shape}, test {x_test.shape}")

# %% [markdown]
# ## Scratch and concise
#
# From scratch, the book's `l2_penalty` is half the squared norm of `w`; `λ · l2_penalty(w)`
# is added to the loss `½(ŷ - y)²` (the bias is not penalised). Concisely, the loss is
# `(ŷ - y)²` (the book's `nn.MSELoss`, twice the scratch loss) and the decay is in the
# optimizer: `w ← w - lr · (grad + λ w)`, masked to the weights. With plain SGD, decay in the
# optimizer and the penalty in the loss give the same update; the two variants differ only by
# their losses' factor 2.

# %%
harness.show_source(l2_penalty, sgd_weight_decay)


# %%
def weights(variant: str, params):
    """The weights w [..., 200] of either variant's parameters (stacked or not)."""
    if variant == "concise":
        return params["Dense_0"]["kernel"][..., 0]
    return params["w"]


def setup(variant: str, lam, lr: float):
    """``(model, loss, optimizer, regularizer)`` of a variant for one λ (may be traced)."""
    if variant == "scratch":
        regularizer = lambda params: lam * l2_penalty(params["w"])  # noqa: E731
        return linear_regression(init_std=1.0), squared_loss, sgd(lr), regularizer
    decay_kernel_only = {"Dense_0": {"kernel": True, "bias": False}}
    optimizer = sgd_weight_decay(lr, lam, mask=decay_kernel_only)
    return concise_linear_regression(init_std=1.0), optax.squared_error, optimizer, None


def train_lambdas(variant: str, lambdas, key, data, *, epochs: int, lr: float, batch_size: int):
    """Trains one model per λ at once (``vmap``), all from the same initial parameters:
    ``(norms ||w||₂ [λ], history {key: [λ, epochs]}, run)``."""
    train_set, test_set = data

    def one(lam):
        model, loss, optimizer, regularizer = setup(variant, lam, lr)
        return train(
            model,
            loss,
            optimizer,
            train_set,
            epochs=epochs,
            batch_size=batch_size,
            key=key,
            eval_data={"train_eval": train_set, "test": test_set},
            regularizer=regularizer,
            config=config.flags | {"variant": variant, "lambdas": [float(x) for x in lambdas]},
        )

    result = jax.jit(jax.vmap(one))(jnp.asarray(lambdas, jnp.float32))
    history = check_finite(result, f"weight decay, {variant}", swept={"λ": lambdas})
    norms = np.asarray(jax.vmap(l2_norm)(weights(variant, result.state.params)))
    return norms, history, result.run


# %% [markdown]
# ## λ = 0 and λ = 3
#
# Each variant trains both values of λ from the same initial weights and minibatch order. The
# curves show the loss over the whole training and test sets after each epoch: without decay
# the training loss falls toward zero while the test loss stays high; with λ = 3 the training
# loss falls less and the test loss ends orders of magnitude lower.

# %%
metrics, curves, runs = {}, {}, {}
for variant in ("scratch", "concise"):
    norms, history, runs[variant] = train_lambdas(variant, LAMBDAS, key_train, data, **options)
    metrics[variant] = {}
    for i, lam in enumerate(LAMBDAS):
        train_curve = history["train_eval_loss"][i]
        test_curve = history["test_loss"][i]
        curves[f"{variant}, λ = {lam:g}"] = (train_curve, test_curve)
        metrics[variant][f"{lam:g}"] = {
            "w_norm": float(norms[i]),
            "train_loss": float(train_curve[-1]),
            "test_loss": float(test_curve[-1]),
        }
        print(f"{variant}, lambda {lam:g}: L2 norm of w: {norms[i]:.4f}")
        print(f"  train loss {train_curve[-1]:.4g}, test loss {test_curve[-1]:.4g}")

figures = {"curves.png": loss_panels(curves, ncols=2)}
harness.show(figures["curves.png"])

# %% [markdown]
# ## A sweep over λ
#
# The scratch variant for 16 values of λ from 0.001 to 100, trained at once. As λ grows,
# ‖w‖₂ shrinks and the test loss falls with it, by almost four orders of magnitude, then
# levels off near 0.01: about the loss of predicting the bias alone. From 20 examples the
# model cannot find the true weights (0.01 each), but decay stops it from fitting the noise.

# %%
norms, history, runs["sweep"] = train_lambdas("scratch", SWEEP, key_train, data, **options)
metrics["sweep"] = {
    "lambda": SWEEP.tolist(),
    "w_norm": norms.tolist(),
    "test_loss": history["test_loss"][:, -1].tolist(),
}
for lam, norm, test in zip(SWEEP, norms, metrics["sweep"]["test_loss"], strict=True):
    print(f"sweep: lambda {lam:8.4g}: ||w|| {norm:8.4f}, test loss {test:.4g}")

fig, (ax_loss, ax_norm) = new_figure((8, 3), ncols=2)
plot(
    SWEEP,
    metrics["sweep"]["test_loss"],
    "λ",
    "test loss",
    xscale="log",
    yscale="log",
    axes=ax_loss,
)
plot(SWEEP, norms, "λ", "||w||₂", xscale="log", yscale="log", axes=ax_norm)
figures["sweep.png"] = fig
harness.show(fig)
metrics["runs"] = {name: run.to_dict() for name, run in runs.items()}

# %% [markdown]
# ## Against the book
#
# The run writes `results/weight_decay/` (or `--out`): `metrics.json`, `{"scratch"|"concise":
# {"0"|"3": {"w_norm": the true L2 norm ||w||₂ (not ½||w||²), "train_loss", "test_loss": final
# losses over the whole sets (each variant's own loss)}}, "sweep": {"lambda": [16 values],
# "w_norm": [...], "test_loss": [...]}, "runs": {"scratch"|"concise"|"sweep": the identity
# (`jaxdl.engine.record.Run`) of each vmapped run}}`. Figures: `curves.png` (train and test loss
# against epoch, log scale, per variant and λ) and `sweep.png` (final test loss and ||w||₂ against
# λ).

# %%
harness.compare_with_book("weight_decay", metrics, out)
metrics = harness.finish(out, metrics, figures)

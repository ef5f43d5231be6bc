# %% [markdown]
# # Model selection, underfitting and overfitting (the book's 4.4)
#
# The book makes data from a cubic, `y = 5 + 1.2 x - 3.4 x²/2! + 5.6 x³/3! + noise`, gives the
# model the features `x^i / i!` for `i = 0 .. 19`, and trains a linear layer without bias on
# the first few of them: the first 4 (degree 3, the true model), the first 2 (a line:
# underfitting), and all 20 (far more freedom than 100 examples pin down: overfitting). Here
# the three fits are one masked linear model whose mask says which features are in use, so
# models of every degree have one shape and train together under `jax.vmap`; a sweep over
# every degree 0..19 adds the book's model-complexity picture.
#
# What to look at: the learned weights of the degree-3 fit next to the true `[5, 1.2, -3.4,
# 5.6]`; the line's losses, both high; the 20-feature fit's training loss below its test
# loss; and in the complexity curve, the test loss falling steeply until degree 3 and no lower
# after it.

# %%
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdl.data.synthetic import polynomial_data, polynomial_features
from jaxdl.engine import train
from jaxdl.engine.divergence import check_finite
from jaxdl.models.linear import least_squares
from jaxdl.optim import sgd
from jaxdl.plotting import loss_panels, plot
from jaxdl.selection import masked_linear

import harness
from harness import Setting
from harness.config import positive_int

MAX_DEGREE = 20  # features x^0/0! .. x^19/19!, polynomial_data's default
FITS = {"degree3": 4, "linear": 2, "all20": MAX_DEGREE}

# %% [markdown]
# ## Configuration
#
# The book's settings. Edit them here to try others: a run whose settings differ from the
# book's is reported as such, not held to its figures. On the command line each is a flag
# (`python experiments/polynomial_regression.py --help`); `--quick` trains 40 epochs (60 for the
# all-features fit and the sweep).

# %%
BOOK = dict(epochs=400, lr=0.01, batch_size=10, overfit_epochs=1500)
QUICK = dict(epochs=40, overfit_epochs=60)
config, out = harness.start(
    "polynomial_regression",
    BOOK,
    quick=QUICK,
    settings={
        "overfit_epochs": Setting(positive_int, "epochs of the all-features fit and the sweep")
    },
)

# %% [markdown]
# ## The data
#
# `polynomial_data` draws 200 values `x ~ N(0, 1)`, turns each into the 20 features
# `x^i / i!` below (the `i!` keeps the high powers from swamping the gradients), and labels
# them with the cubic plus noise of standard deviation 0.1; the first 100 train, the other 100
# test.

# %%
harness.show_source(polynomial_features)

# %%
key_data, key_train = jax.random.split(jax.random.key(config.seed))
data = polynomial_data(key_data)
(x_train, y_train), (x_test, y_test) = data
print(f"features: train {x_train.shape}, test {x_test.shape}")

# %% [markdown]
# ## The model
#
# `masked_linear(mask)` is `y = X (w * mask)`: the features where the mask is 0 take no part,
# and their weights get no gradient. With the mask's first k entries 1 it is the book's
# `nn.Linear(k, 1, bias=False)`. `train_by_num_features` trains one such model per number of
# features, all at once (`jax.vmap` over k), with the loss `(ŷ - y)²` and SGD; after every
# epoch it records the loss over the whole training and test sets.

# %%
harness.show_source(masked_linear)


# %%
def train_by_num_features(num_features, key, data, *, epochs, lr, batch_size):
    """Trains one model per entry of ``num_features`` (an int array) at once, with ``vmap``.

    The model with k features trains with ``fold_in(key, k)``, whatever else trains beside it.
    """
    train_set, test_set = data

    def one(k):
        model = masked_linear(jnp.arange(MAX_DEGREE) < k)
        return train(
            model,
            optax.squared_error,
            sgd(lr),
            train_set,
            epochs=epochs,
            batch_size=batch_size,
            key=jax.random.fold_in(key, k),
            eval_data={"train_eval": train_set, "test": test_set},
            config=config.flags,
        )

    result = jax.jit(jax.vmap(one))(jnp.asarray(num_features))
    history = check_finite(result, "polynomial regression", swept={"features": num_features})
    return np.asarray(result.state.params["w"]), history, result.run


# %% [markdown]
# ## Training
#
# Two runs: the degree-3 and linear fits for `--epochs` (400), and every number of features
# 1..20 for `--overfit-epochs` (1500). The second run's 20-feature model is the book's
# overfitting fit; the whole run is the complexity sweep further down.

# %%
options = dict(lr=config.lr, batch_size=config.batch_size)
short = train_by_num_features([4, 2], key_train, data, epochs=config.epochs, **options)
num_features = np.arange(1, MAX_DEGREE + 1)
long = train_by_num_features(num_features, key_train, data, epochs=config.overfit_epochs, **options)

# %% [markdown]
# ## The three fits
#
# The learned weights and final losses of the book's three fits, and their training and test
# loss after each epoch. Degree 3 lands near the true weights (the book: about `[4.95, 1.37,
# -3.29, 5.06]`, losses 0.023 train and 0.048 test after 400 epochs, still above the noise
# variance 0.01). The line stays far above the noise on both sets. With all 20 features,
# trained 1500 epochs, the training loss ends below the test loss.
#
# Next to each, the least-squares solution on the same features: what SGD converges to. At 400
# epochs SGD has not converged on the x³ weight (the book's 5.06 against the true 5.6); the
# exact solution shows what full convergence gives.

# %%
sources = {"degree3": (short, 0), "linear": (short, 1), "all20": (long, MAX_DEGREE - 1)}
metrics, curves = {}, {}
for name, ((w, history, _), row) in sources.items():
    k = FITS[name]
    train_curve, test_curve = history["train_eval_loss"][row], history["test_loss"][row]
    curves[name] = (train_curve, test_curve)
    exact = least_squares(data[0][0][:, :k], data[0][1])  # where SGD converges to
    exact_losses = [float(jnp.mean((x[:, :k] @ exact - y) ** 2)) for x, y in data]
    metrics[name] = {
        "w": w[row, :k].tolist(),
        "train_loss": float(train_curve[-1]),
        "test_loss": float(test_curve[-1]),
        "num_features": k,
        "epochs": len(train_curve),
        "exact": {"w": exact, "train_loss": exact_losses[0], "test_loss": exact_losses[1]},
    }
    print(f"{name}: weight {np.round(metrics[name]['w'], 4)}")
    print(f"{name}: train loss {train_curve[-1]:.4f}, test loss {test_curve[-1]:.4f}")
    print(
        f"{name}: least squares {np.round(np.asarray(exact), 4)}, train loss "
        f"{exact_losses[0]:.4f}, test loss {exact_losses[1]:.4f}"
    )

titled = {f"{name} ({FITS[name]} features)": c for name, c in curves.items()}
figures = {"fits.png": loss_panels(titled, ncols=3)}
harness.show(figures["fits.png"])

# %% [markdown]
# ## Model complexity
#
# The final training and test loss of every degree 0..19 after `--overfit-epochs`. Both fall
# steeply until degree 3, the true model. Past it the extra features buy nothing: the
# training loss stays near the noise variance 0.01 and the test loss a little above it.

# %%
_, sweep_history, _ = long
metrics["sweep"] = {
    "num_features": num_features.tolist(),
    "degree": (num_features - 1).tolist(),
    "train_loss": sweep_history["train_eval_loss"][:, -1].tolist(),
    "test_loss": sweep_history["test_loss"][:, -1].tolist(),
}
for k, tr, te in zip(
    num_features, *(metrics["sweep"][s] for s in ("train_loss", "test_loss")), strict=True
):
    print(f"sweep: {k:2d} features (degree {k - 1:2d}): train {tr:.4f}, test {te:.4f}")

figures["complexity.png"] = plot(
    num_features - 1,
    [metrics["sweep"]["train_loss"], metrics["sweep"]["test_loss"]],
    "degree (number of features - 1)",
    f"loss after {config.overfit_epochs} epochs",
    legend=["train", "test"],
    yscale="log",
    figsize=(4.5, 3),
)
harness.show(figures["complexity.png"])
metrics["runs"] = {"first_fits": short[2].to_dict(), "sweep": long[2].to_dict()}

# %% [markdown]
# ## Against the book
#
# The run writes `results/polynomial_regression/` (or `--out`): `metrics.json`,
# `{"degree3"|"linear"|"all20": {"w": learned weights of the features in use, "train_loss",
# "test_loss": final losses over the whole set, "num_features", "epochs", "exact": {"w",
# "train_loss", "test_loss"}: the least-squares solution on the same features, where SGD converges
# to (`jaxdl.models.linear.least_squares`)}, "sweep": {"num_features": [1..20], "degree": [0..19],
# "train_loss": [...], "test_loss": [...]}, "runs": {"first_fits"|"sweep": the identity
# (`jaxdl.engine.record.Run`) of the vmapped run of degree3 and linear, and of the sweep (whose
# all-20 row is all20)}}`. Figures: `fits.png` (train and test loss against epoch, log scale, one
# panel per fit) and `complexity.png` (final train and test loss against degree).

# %%
harness.compare_with_book("polynomial_regression", metrics, out)
metrics = harness.finish(out, metrics, figures)

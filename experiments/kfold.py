# %% [markdown]
# # Choosing the degree by k-fold cross-validation (the book's 4.4)
#
# The book's section on model selection describes k-fold cross-validation: when data are too
# few to hold out a validation set, split the training data into k folds, train k times, each
# time on k - 1 folds, validate on the fold left out, and average the k validation losses.
# Here it chooses the degree of the polynomial of 4.4 (100 training examples, 20 features
# `x^i / i!`): every candidate, the models on the first 1..20 features, is scored by 5-fold
# cross-validation, and the one with the lowest mean validation loss is retrained on all 100
# examples and scored on the 100 test examples, which the choice never saw. All 5 × 20 fold
# models train at once, as one program (`jax.vmap` over folds, a loop over candidates).
#
# What to look at: the validation loss against degree, high for degrees 0..2 (underfitting)
# and lowest near degree 3, the true degree; the chosen degree; and its test loss.

# %%
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdl.data.synthetic import polynomial_data
from jaxdl.engine import fit
from jaxdl.errors import InputError
from jaxdl.optim import sgd
from jaxdl.plotting import new_figure, set_axes
from jaxdl.selection import cross_validate, k_fold_splits, masked_linear

import harness
from harness import Setting
from harness.config import positive_int

MAX_DEGREE = 20  # features x^0/0! .. x^19/19!, polynomial_data's default

# %% [markdown]
# ## Configuration
#
# The book's k = 5, the polynomial experiment's training settings, and the candidate models
# (the number of polynomial features each uses). Edit them here to try others. On the command
# line each is a flag (`python experiments/kfold.py --help`); `--quick` trains 30 epochs of
# three candidates.

# %%
BOOK = dict(
    epochs=400,
    lr=0.01,
    batch_size=10,
    folds=5,
    candidates=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20],
)
QUICK = dict(epochs=30, candidates=[2, 4, 8])
config, out = harness.start(
    "kfold",
    BOOK,
    quick=QUICK,
    settings={"candidates": Setting(positive_int, "numbers of features of the candidates")},
)
candidates = config.candidates

# %% [markdown]
# ## The data and the candidates
#
# The polynomial data of 4.4: 100 training examples to choose with, 100 test examples kept
# for the end. Candidate k is the linear model on the first k features (`masked_linear`: the
# other features' weights are masked out), so every candidate has one shape.

# %%
key_data, key_cv, key_final = jax.random.split(jax.random.key(config.seed), 3)
(x_train, y_train), (x_test, y_test) = polynomial_data(key_data)
if not 2 <= config.folds <= len(x_train):
    raise InputError(f"folds: expected an integer in [2, {len(x_train)}], got {config.folds}")
harness.show_source(masked_linear)


# %%
def model(k):
    """Candidate ``k``: the linear model on the first ``k`` features."""
    return masked_linear(jnp.arange(MAX_DEGREE) < k)


# %% [markdown]
# ## Cross-validation
#
# `k_fold_splits` cuts the training examples into k contiguous blocks, as the book's
# `get_k_fold_data` (4.10), but drops no example when k does not divide n. `cross_validate` trains
# each candidate's k fold models with the loss `(ŷ - y)²` and SGD, and returns each fold
# model's final loss on its own training rows and on its validation fold.

# %%
harness.show_source(k_fold_splits)

# %%
cv = cross_validate(
    model,
    optax.squared_error,
    sgd(config.lr),
    (x_train, y_train),
    k=config.folds,
    epochs=config.epochs,
    batch_size=config.batch_size,
    key=key_cv,
    candidates=np.array(candidates),
)
val, train = cv.val_loss, cv.train_loss  # [candidates, folds]
for k, v, t in zip(candidates, val, train, strict=True):
    print(
        f"{k:2d} features (degree {k - 1:2d}): {config.folds}-fold validation loss "
        f"{v.mean():.4f} ± {v.std():.4f}, train loss {t.mean():.4f}"
    )

# %% [markdown]
# ## The chosen model
#
# The candidate with the lowest mean validation loss, trained again on all 100 training
# examples and scored once on the test set.

# %%
chosen = candidates[int(np.argmin(val.mean(axis=1)))]
final = fit(
    model(chosen),
    optax.squared_error,
    sgd(config.lr),
    (x_train, y_train),
    epochs=config.epochs,
    batch_size=config.batch_size,
    key=key_final,
    eval_data={"test": (x_test, y_test)},
    config=config.flags,
    desc="chosen",
)
test_loss = float(final.history["test_loss"][-1])
print(f"chosen: {chosen} features (degree {chosen - 1}), test loss {test_loss:.4f}")

metrics = {
    "candidates": candidates,
    "degree": [k - 1 for k in candidates],
    "mean_val_loss": val.mean(axis=1).tolist(),
    "std_val_loss": val.std(axis=1).tolist(),
    "mean_train_loss": train.mean(axis=1).tolist(),
    "chosen": chosen,
    "chosen_degree": chosen - 1,
    "chosen_test_loss": test_loss,
    "folds": config.folds,
    "runs": {"chosen": final.run.to_dict()},
}

# %% [markdown]
# ## Loss against degree
#
# The mean validation and training loss over the folds, with one standard deviation as error
# bars, and the chosen degree. The validation loss sits above the training loss. It falls by
# two orders of magnitude from degree 0 to degree 3 and past it stays nearly flat (a little
# higher in the book's configuration), so the choice lands on degree 3 or near it.

# %%
degrees = np.array(candidates) - 1
fig, ax = new_figure((4.5, 3))
for losses, fmt, label in ((val, "o-", "validation"), (train, "s--", "train")):
    ax.errorbar(
        degrees, losses.mean(axis=1), yerr=losses.std(axis=1), fmt=fmt, capsize=3, label=label
    )
ax.axvline(chosen - 1, color="gray", linestyle=":", label=f"chosen: degree {chosen - 1}")
set_axes(ax, "degree", f"{config.folds}-fold loss", None, None, "linear", "log", legend=True)
figures = {"kfold.png": fig}
harness.show(fig)

# %% [markdown]
# ## Against the book
#
# The run writes `results/kfold/` (or `--out`): `metrics.json`, `{"candidates": [number of
# features per candidate], "degree": [...], "mean_val_loss": [...], "std_val_loss": [...] (over
# folds), "mean_train_loss": [...], "chosen": number of features of the chosen candidate,
# "chosen_degree", "chosen_test_loss": its loss on the test set, "folds", "runs": {"chosen": the
# final run's identity (`jaxdl.engine.record.Run`)}}`. Figure: `kfold.png` (mean validation and
# training loss ± one standard deviation over folds against degree, log scale).

# %%
harness.compare_with_book("kfold", metrics, out)
metrics = harness.finish(out, metrics, figures)

"""Choosing the polynomial degree by k-fold cross-validation (the book's k-fold procedure).

Data: the training half (100 examples) of ``polynomial_regression.py``'s problem. Candidates:
models on the first k features (degree k - 1) for k = 1..20, each scored by 5-fold
cross-validation (``jaxdl.selection.cross_validate``: the 5 fold models train at once under
``jax.vmap``), 400 epochs of SGD (learning rate 0.01, batch 10, loss (ŷ - y)²). The chosen
model has the lowest mean validation loss; it is then trained on all 100 examples and scored
on the 100 test examples.

Command: ``python experiments/kfold.py [--folds 5 --epochs 400 --lr 0.01 --batch-size 10
--seed 0 --out results/kfold --quick]``

metrics.json: ``{"candidates": [number of features per candidate], "degree": [...],
"mean_val_loss": [...], "std_val_loss": [...] (over folds), "mean_train_loss": [...],
"chosen": number of features of the chosen candidate, "chosen_degree",
"chosen_test_loss": its loss on the test set, "folds", "runs": {"chosen": the final run's
identity (``jaxdl.run.Run``)}}``.
Figure: ``kfold.png`` (mean validation and training loss ± one standard deviation over folds
against degree, log scale).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdl.fit import fit
from jaxdl.optim import sgd
from jaxdl.plotting import new_figure, set_axes
from jaxdl.selection import cross_validate, masked_linear

import common
from polynomial_regression import MAX_DEGREE, make_data


def main(argv=None) -> dict:
    p = common.parser("kfold", __doc__, epochs=400, lr=0.01, batch_size=10)
    p.add_argument("--folds", type=int, default=5, help="number of folds k")
    args, out = common.start(p, argv)
    candidates = list(range(1, MAX_DEGREE + 1))
    if args.quick:
        args.epochs, candidates = min(args.epochs, 30), [2, 4, 8]
    key_data, key_cv, key_final = jax.random.split(jax.random.key(args.seed), 3)
    (x_train, y_train), (x_test, y_test) = make_data(key_data)

    def model(k):
        return masked_linear(jnp.arange(MAX_DEGREE) < k)

    cv = cross_validate(
        model,
        optax.squared_error,
        sgd(args.lr),
        (x_train, y_train),
        k=args.folds,
        epochs=args.epochs,
        batch_size=args.batch_size,
        key=key_cv,
        candidates=np.array(candidates),
    )
    val, train = cv.val_loss, cv.train_loss  # [candidates, folds]
    for k, v, t in zip(candidates, val, train, strict=True):
        print(
            f"{k:2d} features (degree {k - 1:2d}): {args.folds}-fold validation loss "
            f"{v.mean():.4f} ± {v.std():.4f}, train loss {t.mean():.4f}"
        )
    chosen = candidates[int(np.argmin(val.mean(axis=1)))]
    final = fit(
        model(chosen),
        optax.squared_error,
        sgd(args.lr),
        (x_train, y_train),
        epochs=args.epochs,
        batch_size=args.batch_size,
        key=key_final,
        eval_data={"test": (x_test, y_test)},
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
        "folds": args.folds,
        "runs": {"chosen": final.run.to_dict()},
    }
    degrees = np.array(candidates) - 1
    fig, ax = new_figure((4.5, 3))
    for losses, fmt, label in ((val, "o-", "validation"), (train, "s--", "train")):
        ax.errorbar(
            degrees, losses.mean(axis=1), yerr=losses.std(axis=1), fmt=fmt, capsize=3, label=label
        )
    ax.axvline(chosen - 1, color="gray", linestyle=":", label=f"chosen: degree {chosen - 1}")
    set_axes(ax, "degree", f"{args.folds}-fold loss", None, None, "linear", "log", legend=True)
    return common.finish(out, metrics, {"kfold.png": fig})


if __name__ == "__main__":
    common.run(main)

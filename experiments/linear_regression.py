"""Linear regression from scratch, concise and in closed form (the book's sections 3.1-3.3).

Data: ``y = X w + b + noise`` with w = [2, -3.4], b = 4.2, 1000 examples, noise 0.01. Training:
minibatch SGD, batch 10, learning rate 0.03, 3 epochs.

- scratch: ``jaxdl.models.linear.linear_regression`` + ``jaxdl.losses.squared_loss``
  (½(ŷ - y)², the book's) + ``jaxdl.optim.sgd`` (from scratch).
- concise: ``flax.linen.Dense`` + ``optax.squared_error`` ((ŷ - y)², as ``nn.MSELoss``: no ½,
  so its gradient steps are twice as long at the same learning rate) +
  ``optax.inject_hyperparams(optax.sgd)`` (the rate held in the optimizer's state).
- closed_form: least squares with a bias column (``jaxdl.models.linear.closed_form``).

Command: ``python experiments/linear_regression.py [--epochs 3 --lr 0.03 --batch-size 10
--seed 0 --out results/linear_regression --quick]``

metrics.json: ``{"scratch"|"concise"|"closed_form": {"w": [2 floats], "b": float,
"w_error": true w - estimate, "b_error": true b - estimate, "train_loss_per_epoch": the
variant's loss on the whole training set after each epoch (for closed_form, one value)},
"runs": {"scratch"|"concise": the run's identity (``jaxdl.run.Run``)}}``.
Figures: ``loss.png`` (training loss against epoch, log scale) and ``fit.png`` (the data
against the second feature, with each variant's fitted line).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdl.data.synthetic import synthetic_regression
from jaxdl.fit import fit
from jaxdl.losses import squared_loss
from jaxdl.models.linear import closed_form, concise_linear_regression, linear_regression
from jaxdl.optim import sgd
from jaxdl.plotting import new_figure, plot

import common

TRUE_W = (2.0, -3.4)
TRUE_B = 4.2
NUM_EXAMPLES = 1000
NOISE = 0.01


def summary(w, b, losses) -> dict:
    """The metrics of one variant: estimates, errors (true - estimate) and losses."""
    w = np.asarray(w, np.float64).ravel()
    b = float(np.ravel(b)[0])
    return {
        "w": w.tolist(),
        "b": b,
        "w_error": (np.array(TRUE_W) - w).tolist(),
        "b_error": TRUE_B - b,
        "train_loss_per_epoch": [float(v) for v in losses],
    }


def main(argv=None) -> dict:
    p = common.parser("linear_regression", __doc__, epochs=3, lr=0.03, batch_size=10)
    args, out = common.start(p, argv)
    key_data, key_scratch, key_concise = jax.random.split(jax.random.key(args.seed), 3)
    X, y = synthetic_regression(key_data, jnp.array(TRUE_W), TRUE_B, NUM_EXAMPLES, NOISE)

    variants = {
        "scratch": (linear_regression(), squared_loss, sgd(args.lr), key_scratch),
        "concise": (
            concise_linear_regression(),
            optax.squared_error,
            optax.inject_hyperparams(optax.sgd)(learning_rate=args.lr),
            key_concise,
        ),
    }
    metrics, runs = {}, {}
    for name, (model, loss, optimizer, key) in variants.items():
        result = fit(
            model,
            loss,
            optimizer,
            (X, y),
            epochs=args.epochs,
            batch_size=args.batch_size,
            key=key,
            eval_data={"train_eval": (X, y)},
            desc=name,
        )
        runs[name] = result.run.to_dict()
        losses = result.history["train_eval_loss"].tolist()
        print(f"{name}:")
        for epoch, value in enumerate(losses, 1):
            print(f"  epoch {epoch}, loss {value:f}")
        params = result.state.params
        if name == "concise":
            dense = params["params"]["Dense_0"]
            w, b = dense["kernel"], dense["bias"]
        else:
            w, b = params["w"], params["b"]
        metrics[name] = summary(w, b, losses)

    w, b = closed_form(X, y)
    metrics["closed_form"] = summary(w, b, [jnp.mean(squared_loss(X @ w + b, y))])
    print("closed_form:")
    print(f"  loss {metrics['closed_form']['train_loss_per_epoch'][0]:f}")

    for name, m in metrics.items():
        print(f"{name}: error in estimating w {np.round(m['w_error'], 6)}")
        print(f"{name}: error in estimating b {m['b_error']:.6f}")

    figures = {}
    epochs = np.arange(1, args.epochs + 1)
    if args.epochs:
        figures["loss.png"] = plot(
            epochs,
            [
                metrics["scratch"]["train_loss_per_epoch"],
                metrics["concise"]["train_loss_per_epoch"],
            ],
            "epoch",
            "training loss",
            legend=["scratch: ½(ŷ-y)²", "concise: (ŷ-y)²"],
            yscale="log",
            figsize=(4.5, 3),
        )

    fig, ax = new_figure((4.5, 3))
    ax.scatter(np.asarray(X[:, 1]), np.asarray(y), s=1, c="gray", label="data")
    grid = np.linspace(float(X[:, 1].min()), float(X[:, 1].max()), 2)
    for name, fmt in zip(metrics, ("-", "m--", "g-."), strict=True):
        m = metrics[name]
        ax.plot(grid, m["w"][1] * grid + m["b"], fmt, label=f"{name}")
    ax.set_xlabel("feature 2 (feature 1 at its mean, 0)")
    ax.set_ylabel("y")
    ax.legend()
    figures["fit.png"] = fig
    metrics["runs"] = runs
    return common.finish(out, metrics, figures)


if __name__ == "__main__":
    common.run(main)

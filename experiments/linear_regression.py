"""Linear regression from scratch, concise and in closed form (the book's sections 3.1-3.3).

Data: ``y = X w + b + noise`` with w = [2, -3.4], b = 4.2, 1000 examples, noise 0.01. Training:
minibatch SGD, batch 10, learning rate 0.03, 3 epochs.

- scratch: ``jaxdl.models.linear.linear_regression`` + ``jaxdl.losses.squared_loss``
  (½(ŷ - y)², the book's) + ``jaxdl.optim.sgd`` (from scratch).
- concise: ``flax.linen.Dense`` + ``optax.squared_error`` ((ŷ - y)², as ``nn.MSELoss``: no ½,
  so its gradient steps are twice as long at the same learning rate) + ``optax.sgd``.
- closed_form: least squares with a bias column (``jaxdl.models.linear.closed_form``).

Command: ``python experiments/linear_regression.py [--epochs 3 --lr 0.03 --batch-size 10
--seed 0 --out results/linear_regression --quick]``

metrics.json: ``{"scratch"|"concise"|"closed_form": {"w": [2 floats], "b": float,
"w_error": true w - estimate, "b_error": true b - estimate, "train_loss_per_epoch": the
variant's loss on the whole training set after each epoch (for closed_form, one value)}}``.
Figures: ``loss.png`` (training loss against epoch, log scale) and ``fit.png`` (the data
against the second feature, with each variant's fitted line).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdl.data.synthetic import synthetic_regression
from jaxdl.losses import squared_loss
from jaxdl.models.linear import closed_form, concise_linear_regression, linear_regression
from jaxdl.optim import sgd
from jaxdl.plotting import new_figure, plot, save_figure
from jaxdl.train import fit

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
    args = common.parser("linear_regression", __doc__, epochs=3, lr=0.03, batch_size=10).parse_args(
        argv
    )
    key_data, key_scratch, key_concise = jax.random.split(jax.random.key(args.seed), 3)
    X, y = synthetic_regression(key_data, jnp.array(TRUE_W), TRUE_B, NUM_EXAMPLES, NOISE)

    variants = {
        "scratch": (linear_regression(), squared_loss, sgd(args.lr), key_scratch),
        "concise": (
            concise_linear_regression(),
            optax.squared_error,
            optax.sgd(args.lr),
            key_concise,
        ),
    }
    metrics = {}
    for name, (model, loss, optimizer, key) in variants.items():
        result = fit(
            model,
            loss,
            optimizer,
            (X, y),
            epochs=args.epochs,
            batch_size=args.batch_size,
            key=key,
            eval_data=(X, y),
            desc=name,
        )
        losses = result.history.get("eval_loss", [])
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

    epochs = np.arange(1, args.epochs + 1)
    if args.epochs:
        fig = plot(
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
        save_figure(fig, args.out / "loss.png")

    fig, ax = new_figure((4.5, 3))
    ax.scatter(np.asarray(X[:, 1]), np.asarray(y), s=1, c="gray", label="data")
    grid = np.linspace(float(X[:, 1].min()), float(X[:, 1].max()), 2)
    for name, fmt in zip(metrics, ("-", "m--", "g-."), strict=True):
        m = metrics[name]
        ax.plot(grid, m["w"][1] * grid + m["b"], fmt, label=f"{name}")
    ax.set_xlabel("feature 2 (feature 1 at its mean, 0)")
    ax.set_ylabel("y")
    ax.legend()
    save_figure(fig, args.out / "fit.png")
    common.save_metrics(args.out, metrics)
    return metrics


if __name__ == "__main__":
    main()

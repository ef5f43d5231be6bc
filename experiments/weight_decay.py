"""Weight decay, from scratch and concise (the book's section 4.5).

Data (the book's): y = 0.05 + Σ 0.01 x_i + N(0, 0.01²) with 200 features, 20 training and 100
test examples; linear regression with w ~ N(0, 1), b = 0; SGD, batch 5, learning rate 0.003,
100 epochs. Only w is decayed, as in the book.

- scratch: penalty λ/2 ||w||² (``jaxdl.optim.l2_penalty``) added to the loss ½(ŷ - y)².
- concise: loss (ŷ - y)² (``nn.MSELoss``) and decoupled weight decay
  (``optax.add_decayed_weights`` chained with SGD: ``jaxdl.optim.sgd_weight_decay``), as the
  book's ``torch.optim.SGD(weight_decay=wd)`` on the weights.
- sweep: the scratch variant for 16 values of λ in a logspace, trained at once with
  ``jax.vmap``.

Command: ``python experiments/weight_decay.py [--epochs 100 --lr 0.003 --batch-size 5
--seed 0 --out results/weight_decay --quick]``

metrics.json: ``{"scratch"|"concise": {"0"|"3": {"w_norm": the true L2 norm ||w||₂ (not
½||w||²), "train_loss", "test_loss": final losses over the whole sets (each variant's own
loss)}}, "sweep": {"lambda": [16 values], "w_norm": [...], "test_loss": [...]},
"runs": {"scratch"|"concise"|"sweep": the identity (``jaxdl.run.Run``) of each vmapped run}}``.
Figures: ``curves.png`` (train and test loss against epoch, log scale, per variant and λ) and
``sweep.png`` (final test loss and ||w||₂ against λ).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdl.data.synthetic import synthetic_regression
from jaxdl.engine import check_finite, train
from jaxdl.linalg import l2_norm
from jaxdl.losses import squared_loss
from jaxdl.models.linear import concise_linear_regression, linear_regression
from jaxdl.optim import l2_penalty, sgd, sgd_weight_decay
from jaxdl.plotting import loss_panels, new_figure, plot

import common

NUM_INPUTS, NUM_TRAIN, NUM_TEST = 200, 20, 100
TRUE_B, NOISE = 0.05, 0.01
LAMBDAS = (0.0, 3.0)
SWEEP = np.logspace(-3, 2, 16)


def make_data(key):
    """``(train, test)``: 20 and 100 examples of the book's 200-feature problem."""
    key_train, key_test = jax.random.split(key)
    w = jnp.full(NUM_INPUTS, 0.01)
    return (
        synthetic_regression(key_train, w, TRUE_B, NUM_TRAIN, NOISE),
        synthetic_regression(key_test, w, TRUE_B, NUM_TEST, NOISE),
    )


def weights(variant: str, params):
    """The weights w [..., 200] of either variant's parameters (stacked or not)."""
    if variant == "concise":
        return params["params"]["Dense_0"]["kernel"][..., 0]
    return params["w"]


def setup(variant: str, lam, lr: float):
    """``(model, loss, optimizer, regularizer)`` of a variant for one λ (may be traced)."""
    if variant == "scratch":
        regularizer = lambda params: lam * l2_penalty(params["w"])  # noqa: E731
        return linear_regression(init_std=1.0), squared_loss, sgd(lr), regularizer
    decay_kernel_only = {"params": {"Dense_0": {"kernel": True, "bias": False}}}
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
        )

    result = jax.jit(jax.vmap(one))(jnp.asarray(lambdas, jnp.float32))
    history = check_finite(result, f"weight decay, {variant}")
    norms = np.asarray(jax.vmap(l2_norm)(weights(variant, result.state.params)))
    return norms, history, result.run


def main(argv=None) -> dict:
    p = common.parser("weight_decay", __doc__, epochs=100, lr=0.003, batch_size=5)
    args, out = common.start(p, argv)
    epochs = min(args.epochs, 20) if args.quick else args.epochs
    options = dict(epochs=epochs, lr=args.lr, batch_size=args.batch_size)
    key_data, key_train = jax.random.split(jax.random.key(args.seed))
    data = make_data(key_data)

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
                "train_loss": float(train_curve[-1]) if epochs else None,
                "test_loss": float(test_curve[-1]) if epochs else None,
            }
            print(f"{variant}, lambda {lam:g}: L2 norm of w: {norms[i]:.4f}")
            if epochs:
                print(f"  train loss {train_curve[-1]:.4g}, test loss {test_curve[-1]:.4g}")

    norms, history, runs["sweep"] = train_lambdas("scratch", SWEEP, key_train, data, **options)
    metrics["sweep"] = {
        "lambda": SWEEP.tolist(),
        "w_norm": norms.tolist(),
        "test_loss": history["test_loss"][:, -1].tolist() if epochs else [],
    }
    for lam, norm, test in zip(SWEEP, norms, metrics["sweep"]["test_loss"], strict=False):
        print(f"sweep: lambda {lam:8.4g}: ||w|| {norm:8.4f}, test loss {test:.4g}")

    figures = {}
    if epochs:
        figures["curves.png"] = loss_panels(curves, ncols=2)
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
    metrics["runs"] = {name: run.to_dict() for name, run in runs.items()}
    return common.finish(out, metrics, figures)


if __name__ == "__main__":
    common.run(main)

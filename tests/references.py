"""Independent references that several test files hold the library to: plain losses, and the
book's linear-regression SGD loop in float64 NumPy on the engine's documented schedule.

A plain module, not a test file: ``tests/conftest.py`` puts ``tests/`` on ``sys.path``, so a
test file imports it as ``from references import ...``.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.engine.keys import run_keys, shuffle_key
from jaxdl.models.linear import linear_regression


def half_squared(y_hat, y):
    """The book's squared loss, ``½ (ŷ − y)²``, per example."""
    return 0.5 * (y_hat - y) ** 2


def absolute(y_hat, y):
    """``|ŷ − y|`` per example."""
    return jnp.abs(y_hat - y)


def initial_params(key, x):
    """The parameters ``train`` and ``fit`` start ``linear_regression()`` from with ``key``:
    the model's init under the run's init key (``jaxdl.engine.keys``)."""
    params, _ = linear_regression().init(run_keys(key).init, x[:1])
    return params


def numpy_sgd(params, x, y, key, epochs, batch_size, lr, *, wd=0.0, valid=None, bias=True):
    """The book's loop in float64 NumPy, on the engine's documented schedule (epoch e visits
    the examples in the order of ``jax.random.permutation(shuffle_key(run_keys(key), e), n)``,
    ``jaxdl.engine.keys``, in batches of ``batch_size``, the last one short): the mean gradient over
    each batch's real examples, no step for a batch without any. ``bias=False``: ``b`` stays
    as it is (a model without bias).

    Returns ``(w, b, trajectory, train_stats)``: the final parameters, the parameters after each
    epoch, and each epoch's ``(mean loss, mean |error|)`` over the examples it trained on, each
    with the parameters its batch saw.
    """
    w, b = np.asarray(params["w"], np.float64), float(params["b"])
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    valid = np.ones(len(x), bool) if valid is None else np.asarray(valid)
    keys = run_keys(key)
    trajectory, train_stats = [], []
    for e in range(epochs):
        # The order from JAX's own permutation, not the engine's batch schedule under test.
        order = np.asarray(jax.random.permutation(shuffle_key(keys, e), len(x)))
        loss_sum = abs_sum = count = 0.0
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            real = idx[valid[idx]]
            if real.size == 0:
                continue
            xb, yb = x[real], y[real]
            err = xb @ w + b - yb
            loss_sum, abs_sum, count = (
                loss_sum + np.sum(0.5 * err**2),
                abs_sum + np.sum(np.abs(err)),
                count + len(real),
            )
            grad_w, grad_b = xb.T @ err / len(xb) + wd * w, err.mean()
            w, b = w - lr * grad_w, b - lr * grad_b * bias
        trajectory.append((w.copy(), b))
        train_stats.append((loss_sum / count, abs_sum / count))
    return w, b, trajectory, np.array(train_stats)


def numpy_eval(w, b, x, y):
    """``(mean ½ error², mean |error|)`` of the linear model on ``(x, y)``, in float64."""
    err = np.asarray(x, np.float64) @ w + b - np.asarray(y, np.float64)
    return np.mean(0.5 * err**2), np.mean(np.abs(err))

"""The book's autoregressive model (8.1): an MLP that predicts the next value of a sequence
from the τ values before it, and the three ways the book predicts with it.

- **one step ahead**: each prediction from τ observed values (the model applied to
  :func:`jaxdl.data.synthetic.lag_features`);
- **multi-step** (:func:`multistep_predictions`): from a point on, each prediction is fed back
  as an input of the next, and observations are no longer used;
- **k steps ahead** (:func:`k_step_predictions`): from every window of τ observations, the
  predictions 1, 2, …, ``max_steps`` steps on, each fed back.

Both feed predictions back through one loop, :func:`feed_back`: a ``lax.scan`` whose carry is
the window of the last τ values, for a batch of windows at once. A predictor is any function
``[batch, τ] -> [batch]`` (a trained model's ``lambda w: predict(model, state, w)``).
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl._checks import check_int
from jaxdl.errors import InputError
from jaxdl.initializers import xavier_uniform
from jaxdl.model import Model, from_flax
from jaxdl.models.lenet import torch_bias_init

Predictor = Callable[[jax.Array], jax.Array]


class AutoregressiveMLP(nn.Module):
    """The book's ``get_net()``: ``nn.Linear(τ, 10)``, ReLU, ``nn.Linear(10, 1)``, weights
    Xavier-uniform (its ``init_weights``), biases PyTorch's default ``U(±1/√fan_in)``; inputs
    ``[batch, τ]``, output ``[batch]`` (the one output unit's column)."""

    num_hiddens: int = 10

    @nn.compact
    def __call__(self, x):
        if x.ndim != 2:
            raise InputError(f"x: expected windows [batch, tau], got shape {x.shape}")
        hidden = nn.Dense(
            self.num_hiddens, kernel_init=xavier_uniform, bias_init=torch_bias_init(x.shape[1])
        )
        output = nn.Dense(
            1, kernel_init=xavier_uniform, bias_init=torch_bias_init(self.num_hiddens)
        )
        return output(nn.relu(hidden(x)))[:, 0]


def autoregressive_mlp(num_hiddens: int = 10) -> Model:
    """:class:`AutoregressiveMLP` as a Model; params ``{"Dense_0": {"kernel" [τ, h], "bias"
    [h]}, "Dense_1": {"kernel" [h, 1], "bias" [1]}}``.

    Args:
      num_hiddens: hidden units, >= 1 (the book's 10).

    Returns:
      A Model without state: windows [batch, τ] -> predictions [batch].

    >>> model = autoregressive_mlp()
    >>> params, _ = model.init(jax.random.key(0), jnp.zeros((1, 4)))
    >>> params["Dense_0"]["kernel"].shape, params["Dense_1"]["kernel"].shape
    ((4, 10), (10, 1))
    """
    return from_flax(AutoregressiveMLP(check_int(num_hiddens, "num_hiddens", low=1)))


def feed_back(predict: Predictor, windows, num_steps: int) -> jax.Array:
    """Predicts ``num_steps`` values after each window, each prediction fed back as the
    newest input of the next: a ``lax.scan`` carrying the windows.

    Step s predicts ``p_s = predict(window_s)`` and moves every window on by one,
    ``window_{s+1} = [window_s[:, 1:], p_s]``; after τ steps the windows hold predictions only.

    Args:
      predict: the predictor, windows ``[batch, τ] -> [batch]``.
      windows: the starting windows ``[batch, τ]``, oldest value first.
      num_steps: how many values to predict, >= 0.

    Returns:
      ``[batch, num_steps]``: column ``s`` is the prediction ``s + 1`` steps after each window.

    >>> mean = lambda w: jnp.mean(w, axis=1)
    >>> feed_back(mean, jnp.array([[0.0, 3.0]]), 3).tolist()
    [[1.5, 2.25, 1.875]]
    """
    windows = jnp.asarray(windows)
    if windows.ndim != 2 or windows.shape[1] < 1:
        raise InputError(f"windows: expected [batch, tau] with tau >= 1, got shape {windows.shape}")
    check_int(num_steps, "num_steps", low=0)

    def step(window, _):
        prediction = predict(window)
        if prediction.shape != window.shape[:1]:
            raise InputError(
                f"predict: expected one prediction per window [{window.shape[0]}], got shape "
                f"{prediction.shape}"
            )
        return jnp.concatenate([window[:, 1:], prediction[:, None]], axis=1), prediction

    _, predictions = jax.lax.scan(step, windows, length=num_steps)
    return predictions.T


def _check_sequence(x) -> jax.Array:
    x = jnp.asarray(x)
    if x.ndim != 1:
        raise InputError(f"x: expected a sequence [T], got shape {x.shape}")
    return x


def multistep_predictions(predict: Predictor, x, *, start: int, tau: int) -> jax.Array:
    """The book's multi-step predictions: ``x`` up to ``start``, then every later value
    predicted from the τ values before it, predictions fed back.

    The book's loop, ``multistep_preds[:start] = x[:start]``, then for ``i`` from ``start`` to
    ``T - 1``: ``multistep_preds[i] = net(multistep_preds[i - tau:i])`` (its ``start`` is
    ``n_train + tau``); here one :func:`feed_back` of ``T - start`` steps from ``x[start - τ:
    start]``.

    Args:
      predict: the predictor, windows ``[batch, τ] -> [batch]``.
      x: the observed sequence [T].
      start: the first predicted time index, in [τ, T].
      tau: the window's length, >= 1.

    Returns:
      ``[T]``: ``x[:start]``, then the ``T - start`` predictions.

    >>> last = lambda w: w[:, -1] + 1.0
    >>> multistep_predictions(last, jnp.zeros(5), start=2, tau=1).tolist()
    [0.0, 0.0, 1.0, 2.0, 3.0]
    """
    x = _check_sequence(x)
    tau = check_int(tau, "tau", low=1)
    start = check_int(start, "start", low=tau, high=x.shape[0])
    window = x[None, start - tau : start]
    return jnp.concatenate([x[:start], feed_back(predict, window, x.shape[0] - start)[0]])


def k_step_predictions(predict: Predictor, x, *, tau: int, max_steps: int) -> jax.Array:
    """The book's k-step-ahead predictions for k = 1, …, ``max_steps``, from every window of τ
    observations.

    The book builds ``features [T - τ - max_steps + 1, τ + max_steps]``: its first τ columns
    are observations, ``features[:, i] = x[i : i + T - τ - max_steps + 1]``, and each later
    column ``i`` is ``net(features[:, i - tau:i])``. Those later columns are returned here, from
    one :func:`feed_back` over the rows.

    Args:
      predict: the predictor, windows ``[batch, τ] -> [batch]``.
      x: the observed sequence [T].
      tau: the window's length, >= 1.
      max_steps: the furthest step ahead, in [1, T - τ].

    Returns:
      ``[T - τ - max_steps + 1, max_steps]``: row ``j``, column ``k - 1`` is the k-step-ahead
      prediction of ``x[j + τ + k - 1]`` from the observations ``x[j : j + τ]``; column ``k -
      1`` covers the (1-based) times ``τ + k`` to ``T - max_steps + k``, the book's
      ``time[tau + k - 1 : T - max_steps + k]``.

    >>> last = lambda w: w[:, -1] + 1.0
    >>> k_step_predictions(last, jnp.arange(4.0), tau=1, max_steps=2).tolist()
    [[1.0, 2.0], [2.0, 3.0]]
    """
    x = _check_sequence(x)
    if x.shape[0] < 2:
        raise InputError(
            f"x: expected at least 2 values (a window and a step ahead), got {x.shape[0]}"
        )
    tau = check_int(tau, "tau", low=1, high=x.shape[0] - 1)
    max_steps = check_int(max_steps, "max_steps", low=1, high=x.shape[0] - tau)
    rows = x.shape[0] - tau - max_steps + 1
    windows = x[jnp.arange(rows)[:, None] + jnp.arange(tau)[None, :]]
    return feed_back(predict, windows, max_steps)

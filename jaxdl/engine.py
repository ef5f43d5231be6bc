"""The training engine's pure driver: ``train``, a ``lax.scan`` of the epoch over epochs.

:func:`train` runs the epoch function (:mod:`jaxdl.epoch`) of a run set up by
:func:`jaxdl.prepare.prepare` for every epoch inside one traceable function (``jax.jit``/
``jax.vmap`` it to train many models as one program); :func:`jaxdl.fit.fit` calls the same
function from the host, one jitted dispatch per epoch. Both follow the run's key schedule
(:mod:`jaxdl.keys`), so they agree bit for bit. Both return a :class:`Result`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxdl.epoch import Loss
from jaxdl.model import Model, TrainState
from jaxdl.prepare import prepare
from jaxdl.run import Run


class Result(NamedTuple):
    """What :func:`train` and :func:`jaxdl.fit.fit` return.

    Attributes:
      state: the final TrainState.
      history: ``{key: per-epoch values [epochs]}`` (``[models, epochs]`` under ``vmap``), with
        the keys of an epoch's record (:mod:`jaxdl.epoch`); ``fit`` adds ``seconds``, each
        epoch's wall time (the first includes compilation).
      run: the run's identity (:class:`jaxdl.run.Run`): settings and data fingerprint.
    """

    state: TrainState
    history: dict[str, Any]
    run: Run


def train(model: Model, loss: Loss, optimizer, data, *, on_epoch=None, **options) -> Result:
    """Trains for ``epochs`` epochs inside one function: ``lax.scan`` over the epoch function.

    Pure and traceable: wrap it in ``jax.jit``, and in ``jax.vmap`` to train many models at
    once (over keys, hyperparameters held in arrays, or data). Same keys, schedule and results
    as :func:`jaxdl.fit.fit`, bit for bit. Being pure it cannot stop on a diverged loss: check
    the result with :func:`jaxdl.divergence.check_finite`.

    Args:
      model: the Model (:class:`jaxdl.model.Model`).
      loss: per-example loss ``loss(output [batch, ...], y [batch, ...]) -> [batch]``.
      optimizer: an optax GradientTransformation; it sees the parameters, not the model state.
      data: training ``(x [n, ...], y [n, ...])``, or ``(x, y, valid)`` with ``valid`` bool
        [n] marking the rows that are real examples (the others, padding, never train).
      epochs: number of epochs >= 0.
      batch_size: examples per step, in [1, n].
      key: a ``jax.random.key``, the root of the run's keys (:func:`jaxdl.keys.run_keys`); or
        a batch of keys [N] (``jax.random.split(key, N)``, seeds): N models trained at once,
        as ``jax.vmap`` over keys would, with histories [N, epochs].
      eval_data: named evaluation sets ``{name: (x, y)}`` (or ``(x, y, valid)``, with
        ``valid`` bool [n] marking the examples to count), each evaluated after every epoch;
        history keys ``<name>_loss``, ``<name>_<metric>``.
      metrics: per-example metrics ``{name: f(output, y) -> [batch]}``, e.g. accuracy.
      regularizer: a function of the parameters added to each step's mean loss.
      transform: a function applied to each batch of inputs before the model, inside the
        scan (``x`` may stay uint8 or small; each batch is scaled or resized as it is used).
      eval_batch_size: evaluation batch size (default ``max(batch_size, 1024)``).
      mesh: train data-parallel over these devices (``jaxdl.parallel.data_mesh``).
      on_epoch: a host function called from inside the program after each epoch,
        ``on_epoch(epoch, record)`` (epochs counted from 1, ``record`` the epoch's ``{series:
        value}``), through ``jax.debug.callback`` (ordered): under ``jax.vmap``, once per
        model, in the models' order (:class:`jaxdl.progress.ProgressBoard` with ``models``).
        It sees the values only; the results are the same without it.

    Returns:
      A :class:`Result`; its history holds arrays [epochs].

    Raises:
      TypeError, ValueError: on a bad model, data, labels, key, epochs, batch sizes or names,
        naming the argument, before any compute.

    >>> from jaxdl.models.linear import linear_regression
    >>> from jaxdl.losses import squared_loss
    >>> from jaxdl.optim import sgd
    >>> x = jnp.arange(8.0).reshape(4, 2)
    >>> result = jax.jit(lambda: train(linear_regression(), squared_loss, sgd(0.01), (x, x[:, 0]),
    ...     epochs=3, batch_size=2, key=jax.random.key(0), eval_data={"test": (x, x[:, 0])}))()
    >>> sorted(result.history), result.history["test_loss"].shape
    (['test_loss', 'train_loss'], (3,))
    """
    s = prepare(model, loss, optimizer, data, **options)

    def one_epoch(state, e):
        state, record = s.epoch(state, s.keys, e, s.data, s.eval_data)
        if on_epoch is not None:
            jax.debug.callback(on_epoch, e + 1, record, ordered=True)
        return state, record

    state, history = jax.lax.scan(one_epoch, s.state, jnp.arange(s.run.epochs))
    if s.models is not None:  # [models, epochs], as under jax.vmap
        history = {name: values.T for name, values in history.items()}
    return Result(state, history, s.run)

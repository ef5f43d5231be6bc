"""The epoch: one pure function that trains an epoch and evaluates the result.

An epoch is one masked batch scan over the shuffled training data (every example once, the
last partial batch padded and masked), followed by the same scan, in order and without
updates, over each named evaluation set. :func:`make_epoch` builds it;
:func:`jaxdl.engine.train` scans it over epochs, :func:`jaxdl.engine.fit` calls it from the host.
Its random numbers follow the run's key schedule (:mod:`jaxdl.engine.keys`).

An epoch's record maps ``train_<stat>`` (the mean over the epoch's training examples, each
with the parameters its batch saw, as the book's training loop) and ``<set>_<stat>`` for each
evaluation set to a scalar, where ``<stat>`` is ``loss`` or a metric's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh

from jaxdl._checks import check_int
from jaxdl.data.batching import batch_schedule, check_batch_size
from jaxdl.engine.keys import RunKeys, shuffle_key, step_key
from jaxdl.model import Model, TrainState
from jaxdl.parallel import batch_slots, shard_batch

Loss = Callable[[jax.Array, jax.Array], jax.Array]
Metric = Callable[[jax.Array, jax.Array], jax.Array]
Transform = Callable[[jax.Array], jax.Array]
TRAIN = "train"


def record_names(metrics, eval_names) -> list[str]:
    """The keys of an epoch's record, in order: ``train_loss``, ``train_<metric>``..., then
    ``<set>_loss``, ``<set>_<metric>``... for each evaluation set."""
    return [f"{part}_{stat}" for part in (TRAIN, *eval_names) for stat in ("loss", *metrics)]


def _masked_sum(values: jax.Array, mask: jax.Array) -> jax.Array:
    return jnp.sum(jnp.where(mask, values, 0.0))


def _scan_batches(body, carry, arrays, schedule, *, metrics, mesh, transform):
    """The masked batch scan: the one loop over minibatches, for training and evaluation.

    ``body(carry, xb, yb, mask) -> (carry, output, losses)`` runs each batch (``xb`` after
    ``transform``); the scan sums the per-example ``losses`` and metrics of ``output`` over the
    real examples (``mask``, and the rows marked ``valid``) and returns ``(carry, {stat: mean
    over the real examples})``.
    """
    x, y, valid = arrays

    def step(carry, batch):
        idx, mask = batch
        if valid is not None:
            mask = mask & valid[idx]
        xb, yb, mask = (shard_batch(a, mesh) for a in (x[idx], y[idx], mask))
        if transform is not None:
            xb = transform(xb)
        carry, output, losses = body(carry, xb, yb, mask)
        sums = {"loss": _masked_sum(losses, mask)}
        sums |= {name: _masked_sum(m(output, yb), mask) for name, m in metrics.items()}
        sums["count"] = jnp.sum(mask).astype(jnp.float32)
        return carry, sums

    carry, sums = jax.lax.scan(step, carry, (schedule.indices, schedule.mask))
    totals = {name: jnp.sum(v) for name, v in sums.items()}
    count = jnp.maximum(totals.pop("count"), 1.0)
    return carry, {name: v / count for name, v in totals.items()}


def make_epoch(
    model: Model,
    loss: Loss,
    optimizer,
    *,
    num_examples: int,
    batch_size: int,
    eval_sizes: Mapping[str, int] | None = None,
    eval_batch_size: int | None = None,
    metrics: Mapping[str, Metric] | None = None,
    regularizer: Callable[[Any], jax.Array] | None = None,
    transform: Transform | None = None,
    mesh: Mesh | None = None,
):
    """Builds the pure function that trains one epoch and evaluates the result.

    Each step minimises the mean loss over the real examples of the batch (plus
    ``regularizer(params)``) through ``jax.value_and_grad`` with respect to the parameters
    alone, and the optimizer; the model's new state (running statistics) comes from the
    training pass. Evaluation calls the model with ``train=False``.

    Args:
      model: the Model.
      loss: per-example loss ``loss(output [batch, ...], y [batch, ...]) -> [batch]``.
      optimizer: an optax GradientTransformation.
      num_examples: examples in the training data.
      batch_size: examples per step, in [1, num_examples]; the last partial batch is padded
        and masked.
      eval_sizes: ``{name: number of examples}`` of each evaluation set.
      eval_batch_size: examples per evaluation batch, >= 1 (default ``max(batch_size,
        1024)``); at most each set's size.
      metrics: per-example metrics ``{name: f(output, y) -> [batch]}``.
      regularizer: added to each step's mean loss, e.g. ``lambda p: lam * l2_penalty(p["w"])``.
      transform: applied to each batch of inputs inside the scan, before the model (scale,
        resize, normalise), so that transformed inputs exist one batch at a time.
      mesh: shard each batch over these devices (``jaxdl.parallel.data_mesh``); the batch gets
        padding slots up to a multiple of the device count.

    Returns:
      ``epoch(state, keys, e, data, eval_data) -> (state, record)``: epoch ``e`` (from 0) of a
      run with keys ``keys`` (:func:`jaxdl.engine.keys.run_keys`): its examples shuffled with
      ``shuffle_key(keys, e)``, and for a model that needs a key (``Model.needs``), step ``s``
      with ``step_key(keys, s)``. ``data`` is ``(x [n, ...], y [n, ...], valid)``, where
      ``valid`` (bool [n], or None) marks the rows that are real examples: the others are
      never trained on. ``eval_data`` maps each name of ``eval_sizes`` to such a triple.
      ``record`` is the epoch's record (module docstring).
    """
    metrics = dict(metrics or {})
    eval_sizes = dict(eval_sizes or {})
    check_batch_size(batch_size, num_examples)
    if eval_batch_size is None:
        eval_batch_size = max(batch_size, 1024)
    check_int(eval_batch_size, "eval_batch_size", low=1)
    slots = batch_slots(batch_size, mesh)
    # Each set's (examples, batch size, slots); its schedule is built inside the epoch: an
    # array made here would be a constant closed over by the compiled epoch, which, read back
    # from the persistent compilation cache on several devices, deadlocked its all-reduce.
    eval_batches = {
        name: (n, min(n, eval_batch_size), batch_slots(min(n, eval_batch_size), mesh))
        for name, n in eval_sizes.items()
    }
    scan = dict(metrics=metrics, mesh=mesh, transform=transform)
    takes_key, takes_mask = "key" in model.needs, "mask" in model.needs

    def objective(params, model_state, xb, yb, mask, key):
        output, model_state = model.apply(
            params, model_state, xb, train=True, key=key, mask=mask if takes_mask else None
        )
        losses = loss(output, yb)
        mean = _masked_sum(losses, mask) / jnp.maximum(jnp.sum(mask), 1)
        total = mean if regularizer is None else mean + regularizer(params)
        return total, (output, losses, model_state)

    def epoch(state: TrainState, keys: RunKeys, e, data, eval_data):
        padded = data[2] is not None

        def train_step(state, xb, yb, mask):
            key = step_key(keys, state.step) if takes_key else None
            (_, (output, losses, model_state)), grads = jax.value_and_grad(objective, has_aux=True)(
                state.params, state.model_state, xb, yb, mask, key
            )
            updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
            params = optax.apply_updates(state.params, updates)
            new = TrainState(params, model_state, opt_state, state.step + 1)
            if padded:  # a batch of padding only must not move anything
                new = jax.tree.map(lambda a, b: jnp.where(jnp.sum(mask) > 0, a, b), new, state)
            return new, output, losses

        schedule = batch_schedule(shuffle_key(keys, e), num_examples, batch_size, slots=slots)
        state, stats = _scan_batches(train_step, state, data, schedule, **scan)
        record = {f"{TRAIN}_{stat}": value for stat, value in stats.items()}

        def eval_step(carry, xb, yb, mask):
            output, _ = model.apply(
                state.params, state.model_state, xb, train=False, mask=mask if takes_mask else None
            )
            return carry, output, loss(output, yb)

        for name, (n, size, eval_slots) in eval_batches.items():
            schedule = batch_schedule(None, n, size, slots=eval_slots)
            _, stats = _scan_batches(eval_step, None, eval_data[name], schedule, **scan)
            record |= {f"{name}_{stat}": value for stat, value in stats.items()}
        return state, record

    return epoch

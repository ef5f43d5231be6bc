"""The training engine: one jitted call per epoch, data on the device, any model.

A model is ``Model(init, apply)``; a loss returns one value per example; an optimizer is an optax
``GradientTransformation``. :func:`make_epoch` builds a pure epoch function (``lax.scan`` over a
shuffled :func:`~jaxdl.data.batching.batch_schedule`), :func:`make_evaluate` a pure evaluation
over a whole split in batches. :func:`fit` runs them, one jitted dispatch per epoch with the
training state donated, and shows progress; :func:`train` runs every epoch inside one function,
so ``jax.vmap(train)`` trains many models (seeds, folds, hyperparameters) as one program.

Both derive every random number from one key the same way: ``init_key, data_key = split(key)``;
epoch ``e`` shuffles with ``fold_in(data_key, e)``. So ``fit`` and ``train`` agree, and the same
key gives the same parameters, bit for bit, on the same machine.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh
from tqdm.auto import tqdm

from jaxdl.checkpoint import Checkpointer
from jaxdl.data.batching import batch_schedule, check_batch_size
from jaxdl.optim import find_learning_rate
from jaxdl.parallel import batch_slots, replicate, shard_batch

Loss = Callable[[jax.Array, jax.Array], jax.Array]
Metric = Callable[[jax.Array, jax.Array], jax.Array]


class Model(NamedTuple):
    """A model as two pure functions.

    Attributes:
      init: ``init(key, example_input [batch, ...]) -> params``.
      apply: ``apply(params, x [batch, ...]) -> output [batch, ...]``.
    """

    init: Callable[[jax.Array, jax.Array], Any]
    apply: Callable[[Any, jax.Array], jax.Array]


def from_flax(module) -> Model:
    """Adapts a ``flax.linen.Module``, whose ``init``/``apply`` are already pure."""
    return Model(init=module.init, apply=module.apply)


class TrainState(NamedTuple):
    """Everything that changes during training.

    Attributes:
      params: the model's parameter pytree.
      opt_state: the optimizer's state.
      step: int32 scalar, the number of updates applied.
    """

    params: Any
    opt_state: Any
    step: jax.Array


def init_state(model: Model, optimizer, key: jax.Array, example_input) -> TrainState:
    """Initialises parameters with ``key`` and the optimizer state from them."""
    params = model.init(key, example_input)
    return TrainState(params, optimizer.init(params), jnp.zeros((), jnp.int32))


def _masked_sums(values: jax.Array, mask: jax.Array) -> jax.Array:
    return jnp.sum(jnp.where(mask, values, 0.0))


def make_epoch(
    model: Model,
    loss: Loss,
    optimizer,
    *,
    num_examples: int,
    batch_size: int,
    metrics: Mapping[str, Metric] | None = None,
    regularizer: Callable[[Any], jax.Array] | None = None,
    mesh: Mesh | None = None,
):
    """Builds a pure function that trains one epoch.

    Each step minimises the mean loss over the real examples of the batch (plus
    ``regularizer(params)``), through ``jax.value_and_grad`` and the optimizer.

    Args:
      model: the Model.
      loss: per-example loss ``loss(output [batch, ...], y [batch, ...]) -> [batch]``.
      optimizer: an optax GradientTransformation.
      num_examples: examples in the training data.
      batch_size: examples per step; the last partial batch is padded and masked.
      metrics: per-example metrics ``{name: f(output, y) -> [batch]}``, averaged over the epoch
        with the parameters each batch saw (as the book's training loop).
      regularizer: added to each step's mean loss, e.g. ``lambda p: lam * l2_penalty(p["w"])``.
      mesh: shard each batch over these devices (``jaxdl.parallel.data_mesh``); the batch gets
        padding slots up to a multiple of the device count.

    Returns:
      ``epoch(state, x [n, ...], y [n, ...], key, valid=None) -> (state, stats)``, where ``stats``
      maps ``"loss"`` and each metric name to its mean over the epoch's examples, and ``valid``
      (bool [n]) optionally marks padding rows of ``x`` that must not be trained on.
    """
    metrics = dict(metrics or {})
    check_batch_size(batch_size, num_examples)

    def objective(params, xb, yb, mask):
        output = model.apply(params, xb)
        values = loss(output, yb)
        mean = _masked_sums(values, mask) / jnp.maximum(jnp.sum(mask), 1)
        total = mean if regularizer is None else mean + regularizer(params)
        return total, (values, output)

    slots = batch_slots(batch_size, mesh)

    def epoch(state: TrainState, x, y, key, valid=None):
        schedule = batch_schedule(key, num_examples, batch_size, slots=slots)

        def step(state, batch):
            idx, mask = batch
            if valid is not None:
                mask = mask & valid[idx]
            xb, yb, mask = (shard_batch(a, mesh) for a in (x[idx], y[idx], mask))
            (_, (values, output)), grads = jax.value_and_grad(objective, has_aux=True)(
                state.params, xb, yb, mask
            )
            sums = {"loss": _masked_sums(values, mask)}
            sums |= {name: _masked_sums(m(output, yb), mask) for name, m in metrics.items()}
            sums["count"] = jnp.sum(mask).astype(jnp.float32)
            updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
            new = TrainState(optax.apply_updates(state.params, updates), opt_state, state.step + 1)
            if valid is not None:  # a batch of padding only must not move anything
                new = jax.tree.map(lambda a, b: jnp.where(sums["count"] > 0, a, b), new, state)
            return new, sums

        state, sums = jax.lax.scan(step, state, (schedule.indices, schedule.mask))
        totals = {name: jnp.sum(v) for name, v in sums.items()}
        count = jnp.maximum(totals.pop("count"), 1.0)
        return state, {name: v / count for name, v in totals.items()}

    return epoch


def make_evaluate(
    model: Model,
    loss: Loss,
    *,
    num_examples: int,
    batch_size: int,
    metrics: Mapping[str, Metric] | None = None,
    mesh: Mesh | None = None,
):
    """Builds a pure function that evaluates a model over a whole split, in batches.

    Every example is used exactly once (the last batch padded and masked), on the device; with
    ``mesh``, each batch is sharded over its devices as in :func:`make_epoch`.

    Returns:
      ``evaluate(params, x [n, ...], y [n, ...], valid=None) -> stats``: ``"loss"`` and each
      metric averaged over the (valid) examples.
    """
    metrics = dict(metrics or {})
    schedule = batch_schedule(None, num_examples, batch_size, slots=batch_slots(batch_size, mesh))

    def evaluate(params, x, y, valid=None):
        def step(carry, batch):
            idx, mask = batch
            if valid is not None:
                mask = mask & valid[idx]
            xb, yb, mask = (shard_batch(a, mesh) for a in (x[idx], y[idx], mask))
            output = model.apply(params, xb)
            sums = {"loss": _masked_sums(loss(output, yb), mask)}
            sums |= {name: _masked_sums(m(output, yb), mask) for name, m in metrics.items()}
            sums["count"] = jnp.sum(mask).astype(jnp.float32)
            return carry, sums

        _, sums = jax.lax.scan(step, None, (schedule.indices, schedule.mask))
        totals = {name: jnp.sum(v) for name, v in sums.items()}
        count = jnp.maximum(totals.pop("count"), 1.0)
        return {name: v / count for name, v in totals.items()}

    return evaluate


class History(Mapping):
    """Per-epoch metrics: ``history["train_loss"]`` is a list with one float per epoch.

    Keys are ``train_loss``, ``train_<metric>`` (averaged over the epoch's minibatches), with
    evaluation data ``eval_loss`` and ``eval_<metric>`` (or ``eval_<name>_loss``... for named
    evaluation sets), and ``seconds``: each epoch's wall time, its evaluation included (the
    first epoch's includes compilation).
    """

    def __init__(self, metrics: Mapping[str, list[float]] | None = None):
        self._metrics = {k: list(v) for k, v in (metrics or {}).items()}

    def append(self, stats: Mapping[str, float]) -> None:
        """Adds one epoch's values."""
        for name, value in stats.items():
            self._metrics.setdefault(name, []).append(float(value))

    def __getitem__(self, name: str) -> list[float]:
        return self._metrics[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._metrics)

    def __len__(self) -> int:
        return len(self._metrics)

    def to_dict(self) -> dict[str, list[float]]:
        """A copy as a plain dict of lists."""
        return {name: list(values) for name, values in self._metrics.items()}

    def last(self) -> dict[str, float]:
        """The final epoch's values."""
        return {name: values[-1] for name, values in self._metrics.items() if values}

    def __repr__(self) -> str:
        return f"History({self._metrics!r})"


class FitResult(NamedTuple):
    """What :func:`fit` returns: the final TrainState and the History."""

    state: TrainState
    history: History


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def check_data(x, y, name: str = "data") -> int:
    """Validates a ``(x, y)`` pair and returns the number of examples.

    Raises:
      TypeError: when x or y is not an array.
      ValueError: on wrong ranks, different lengths, no examples, or NaN/inf in a concrete x
        or y.
    """
    for part, value, min_rank in (("x", x, 2), ("y", y, 1)):
        if not hasattr(value, "shape") or not hasattr(value, "dtype"):
            raise TypeError(f"{name}: expected {part} to be an array, got {type(value).__name__}")
        if value.ndim < min_rank:
            expected = "[n, features...]" if part == "x" else "[n, ...]"
            raise ValueError(
                f"{name}: expected {part} of rank >= {min_rank} {expected}, got shape {value.shape}"
            )
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{name}: expected x and y with the same number of examples, got {x.shape[0]} and "
            f"{y.shape[0]}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one example, got 0")
    for part, value in (("x", x), ("y", y)):
        if _is_concrete(value) and jnp.issubdtype(value.dtype, jnp.inexact):
            with jax.ensure_compile_time_eval():  # eager even when called under jit
                finite = bool(jnp.all(jnp.isfinite(value)))
            if not finite:
                raise ValueError(f"{name}: expected finite values in {part}, found NaN or inf")
    return x.shape[0]


def check_labels(model: Model, params, x, y, name: str = "data") -> None:
    """For class outputs ``[batch, C]`` and integer labels ``[batch]``, checks 0 <= y < C.

    JAX clamps out-of-range indices silently, so a bad label would otherwise train quietly.
    """
    if not (_is_concrete(y) and jnp.issubdtype(y.dtype, jnp.integer) and y.ndim == 1):
        return
    out = jax.eval_shape(model.apply, params, x[:1])
    if out.ndim != 2:
        return
    num_classes = out.shape[1]
    with jax.ensure_compile_time_eval():
        low, high = int(jnp.min(y)), int(jnp.max(y))
    if low < 0 or high >= num_classes:
        bad = low if low < 0 else high
        raise ValueError(
            f"{name}: expected labels in [0, {num_classes}) for a model with {num_classes} "
            f"outputs, got label {bad}"
        )


def _check_epochs(epochs) -> None:
    if isinstance(epochs, bool) or not isinstance(epochs, int | np.integer) or epochs < 0:
        raise ValueError(f"epochs: expected an integer >= 0, got {epochs!r}")


def _prefixed(prefix: str, stats: Mapping[str, jax.Array]) -> dict[str, jax.Array]:
    return {f"{prefix}_{name}": value for name, value in stats.items()}


def _evaluators(
    model, loss, eval_data, *, batch_size, eval_batch_size, metrics, params=None, mesh=None
):
    """Validates ``eval_data`` and builds one evaluation per set.

    ``eval_data`` is ``(x, y)`` or ``(x, y, valid)`` (prefix ``eval``), or a mapping
    ``{name: (x, y[, valid])}`` (prefixes ``eval_<name>``). With ``params``, integer labels are
    range-checked against the model's outputs.

    Returns:
      A list of ``(prefix, evaluate, arrays)``; ``evaluate(params, *arrays)`` gives the stats.
    """
    if eval_data is None:
        return []
    if isinstance(eval_data, Mapping):
        sets = {(f"eval_{k}", f"eval_data[{k!r}]"): v for k, v in eval_data.items()}
    else:
        sets = {("eval", "eval_data"): eval_data}
    evaluators = []
    for (prefix, label), arrays in sets.items():
        if not isinstance(arrays, tuple | list) or len(arrays) not in (2, 3):
            raise TypeError(
                f"{label}: expected a tuple (x, y) or (x, y, valid), got {type(arrays).__name__}"
            )
        arrays = tuple(jnp.asarray(a) for a in arrays)  # tracers pass through unchanged
        n_eval = check_data(arrays[0], arrays[1], label)
        if params is not None:
            check_labels(model, params, arrays[0], arrays[1], label)
        size = min(n_eval, eval_batch_size or max(batch_size, 1024))
        check_batch_size(size, n_eval, "eval_batch_size")
        evaluate = make_evaluate(
            model, loss, num_examples=n_eval, batch_size=size, metrics=metrics, mesh=mesh
        )
        evaluators.append((prefix, evaluate, replicate(arrays, mesh)))
    return evaluators


def train(
    model: Model,
    loss: Loss,
    optimizer,
    data,
    *,
    epochs: int,
    batch_size: int,
    key: jax.Array,
    eval_data=None,
    metrics: Mapping[str, Metric] | None = None,
    regularizer: Callable[[Any], jax.Array] | None = None,
    eval_batch_size: int | None = None,
    valid=None,
):
    """Trains for ``epochs`` epochs inside one function: ``lax.scan`` over epochs.

    Pure and traceable: wrap it in ``jax.jit``, and in ``jax.vmap`` to train many models at once
    (over keys, hyperparameters held in arrays, or data). Same keys and schedule as :func:`fit`.

    Args:
      model, loss, optimizer, epochs, batch_size, key, metrics, regularizer: as :func:`fit`.
      data: ``(x [n, ...], y [n, ...])``.
      eval_data: as :func:`fit`; a tuple may carry a third array, ``valid`` (bool [n]), the
        examples to evaluate.
      eval_batch_size: batch size for evaluation (default: as :func:`fit`).
      valid: optional bool [n] mask of the training rows that are real (padding rows False).

    Returns:
      ``(state, history)``: the final TrainState and a dict of arrays [epochs] with the keys
      of :class:`History`.
    """
    _check_epochs(epochs)
    x, y = data
    n = check_data(x, y, "data")
    epoch_fn = make_epoch(
        model,
        loss,
        optimizer,
        num_examples=n,
        batch_size=batch_size,
        metrics=metrics,
        regularizer=regularizer,
    )
    evaluators = _evaluators(
        model,
        loss,
        eval_data,
        batch_size=batch_size,
        eval_batch_size=eval_batch_size,
        metrics=metrics,
    )
    init_key, data_key = jax.random.split(key)
    state = init_state(model, optimizer, init_key, x[:1])

    def one_epoch(state, e):
        state, stats = epoch_fn(state, x, y, jax.random.fold_in(data_key, e), valid)
        record = _prefixed("train", stats)
        for prefix, evaluate, arrays in evaluators:
            record |= _prefixed(prefix, evaluate(state.params, *arrays))
        return state, record

    return jax.lax.scan(one_epoch, state, jnp.arange(epochs))


def fit(
    model: Model,
    loss: Loss,
    optimizer,
    data,
    *,
    epochs: int,
    batch_size: int,
    key: jax.Array,
    eval_data=None,
    metrics: Mapping[str, Metric] | None = None,
    regularizer: Callable[[Any], jax.Array] | None = None,
    eval_batch_size: int | None = None,
    quiet: bool = False,
    desc: str | None = None,
    mesh: Mesh | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    keep_checkpoints: int = 3,
) -> FitResult:
    """Trains a model, one jitted call per epoch, with a progress bar over epochs.

    The data move to the device once. Each epoch is a single dispatch of the jitted
    :func:`make_epoch` function with the training state donated; evaluation is a second jitted
    call. Neither recompiles after the first epoch.

    Args:
      model: the Model.
      loss: per-example loss ``loss(output, y) -> [batch]``.
      optimizer: an optax GradientTransformation.
      data: training ``(x [n, ...], y [n, ...])``.
      epochs: number of epochs >= 0.
      batch_size: examples per step, in [1, n].
      key: a ``jax.random.key`` for initialisation and shuffling.
      eval_data: optional ``(x, y)`` evaluated after every epoch (history keys ``eval_loss``,
        ``eval_<metric>``), or a mapping ``{name: (x, y)}`` of several sets (keys
        ``eval_<name>_loss``, ...).
      metrics: per-example metrics ``{name: f(output, y) -> [batch]}``, e.g. accuracy.
      regularizer: a function of the parameters added to each step's mean loss.
      eval_batch_size: evaluation batch size (default ``max(batch_size, 1024)``, at most n).
      quiet: hide the progress bar.
      desc: label of the progress bar.
      mesh: train data-parallel over these devices (``jaxdl.parallel.data_mesh``): data and
        state replicated, every batch sharded along its batch axis.
      checkpoint_dir: save a checkpoint after every epoch into this folder
        (:class:`jaxdl.checkpoint.Checkpointer`) and, when it already holds one of this run,
        resume after its last complete epoch, with the same results as an uninterrupted run.
      keep_checkpoints: how many of the latest checkpoints to keep.

    Returns:
      A FitResult ``(state, history)``.

    Raises:
      ValueError: on bad data, labels, epochs or batch size, before any compute; for a damaged
        checkpoint or one of another run.
      FloatingPointError: when the training loss turns NaN or inf; names epoch and learning rate.
    """
    _check_epochs(epochs)
    x, y = (jnp.asarray(a) for a in data)
    n = check_data(x, y, "data")
    check_batch_size(batch_size, n)
    init_key, data_key = jax.random.split(key)
    state = init_state(model, optimizer, init_key, x[:1])
    check_labels(model, state.params, x, y, "data")
    history, start = History(), 0
    checkpointer = None
    if checkpoint_dir is not None:
        checkpointer = Checkpointer(checkpoint_dir, keep=keep_checkpoints)
        resumed = checkpointer.restore(state, key)
        if resumed is not None:
            start, state, saved = resumed
            history = History(saved)
        if start > epochs:
            raise ValueError(
                f"epochs: expected at least the {start} epochs already done in the checkpoint "
                f"at {checkpointer.directory}, got {epochs}"
            )
    x, y, state = replicate((x, y, state), mesh)
    epoch_fn = jax.jit(
        make_epoch(
            model,
            loss,
            optimizer,
            num_examples=n,
            batch_size=batch_size,
            metrics=metrics,
            regularizer=regularizer,
            mesh=mesh,
        ),
        donate_argnums=0,
    )
    evaluators = [
        (prefix, jax.jit(evaluate), arrays)
        for prefix, evaluate, arrays in _evaluators(
            model,
            loss,
            eval_data,
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            metrics=metrics,
            params=state.params,
            mesh=mesh,
        )
    ]
    learning_rate = find_learning_rate(state.opt_state)
    try:
        with tqdm(range(start, epochs), desc=desc, disable=quiet, unit="epoch", leave=False) as bar:
            for e in bar:
                began = time.perf_counter()
                state, stats = epoch_fn(state, x, y, jax.random.fold_in(data_key, e))
                record = _prefixed("train", stats)
                for prefix, evaluate, arrays in evaluators:
                    record |= _prefixed(prefix, evaluate(state.params, *arrays))
                record = {name: float(value) for name, value in record.items()}
                record["seconds"] = time.perf_counter() - began  # float() waited for the epoch
                if not math.isfinite(record["train_loss"]):
                    raise FloatingPointError(
                        f"training diverged: the train loss is {record['train_loss']} at epoch "
                        f"{e + 1} (learning rate {learning_rate}); lower the learning rate"
                    )
                history.append(record)
                if checkpointer is not None:
                    checkpointer.save(e + 1, state, key, history.to_dict())
                bar.set_postfix({k: f"{v:.4g}" for k, v in record.items()}, refresh=False)
    finally:
        if checkpointer is not None:
            checkpointer.close()
    return FitResult(state, history)


def check_finite_history(
    history: Mapping[str, jax.Array], what: str = "training"
) -> dict[str, np.ndarray]:
    """Brings a history from :func:`train` to the host and checks its ``train_loss``.

    For histories of many models (shape [models, epochs]), names the first bad model and epoch.

    Returns:
      The history as NumPy arrays.

    Raises:
      FloatingPointError: when a training loss is NaN or inf.
    """
    history = {name: np.asarray(values) for name, values in history.items()}
    losses = history["train_loss"]
    bad = np.argwhere(~np.isfinite(losses))
    if bad.size:
        where = ", ".join(f"{i}" for i in bad[0])
        raise FloatingPointError(
            f"{what} diverged: the train loss is {losses[tuple(bad[0])]} at index ({where}) "
            "(model, epoch: epochs counted from 0); lower the learning rate"
        )
    return history

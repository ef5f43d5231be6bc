"""The training engine: one pure epoch function, and ``train``, a ``lax.scan`` over it.

An epoch is one masked batch scan over the shuffled training data (every example once, the
last partial batch padded and masked), followed by the same scan, in order and without
updates, over each named evaluation set. :func:`make_epoch` builds it; :func:`train` scans it
over epochs inside one traceable function (``jax.jit``/``jax.vmap`` it to train many models as
one program); :func:`jaxdl.fit.fit` calls the same function from the host, one jitted dispatch
per epoch. Both derive every random number from one key the same way: ``init_key, data_key =
split(key)``; epoch ``e`` shuffles with ``fold_in(data_key, e)``. So they agree bit for bit.

An epoch's record maps ``train_<stat>`` (the mean over the epoch's minibatches, with the
parameters each batch saw, as the book's training loop) and ``<set>_<stat>`` for each
evaluation set to a scalar, where ``<stat>`` is ``loss`` or a metric's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh

from jaxdl._checks import check_data, check_int, check_labels
from jaxdl.data.batching import batch_schedule, check_batch_size
from jaxdl.model import Model, TrainState, init_state
from jaxdl.optim import optimizer_hyperparams
from jaxdl.parallel import batch_slots, shard_batch
from jaxdl.run import Run

Loss = Callable[[jax.Array, jax.Array], jax.Array]
Metric = Callable[[jax.Array, jax.Array], jax.Array]
TRAIN = "train"


class Result(NamedTuple):
    """What :func:`train` and :func:`jaxdl.fit.fit` return.

    Attributes:
      state: the final TrainState.
      history: ``{key: per-epoch values [epochs]}`` (``[models, epochs]`` under ``vmap``), with
        the keys of an epoch's record (module docstring); ``fit`` adds ``seconds``, each
        epoch's wall time (the first includes compilation).
      run: the run's identity (:class:`jaxdl.run.Run`): settings and data fingerprint.
    """

    state: TrainState
    history: dict[str, Any]
    run: Run


def record_names(metrics, eval_names) -> list[str]:
    """The keys of an epoch's record, in order: ``train_loss``, ``train_<metric>``..., then
    ``<set>_loss``, ``<set>_<metric>``... for each evaluation set."""
    return [f"{part}_{stat}" for part in (TRAIN, *eval_names) for stat in ("loss", *metrics)]


def _masked_sum(values: jax.Array, mask: jax.Array) -> jax.Array:
    return jnp.sum(jnp.where(mask, values, 0.0))


def _scan_batches(body, carry, arrays, schedule, *, metrics, mesh):
    """The masked batch scan: the one loop over minibatches, for training and evaluation.

    ``body(carry, xb, yb, mask) -> (carry, output, losses)`` runs each batch; the scan sums
    the per-example ``losses`` and metrics of ``output`` over the real examples (``mask``, and
    the rows marked ``valid``) and returns ``(carry, {stat: mean over the real examples})``.
    """
    x, y, valid = arrays

    def step(carry, batch):
        idx, mask = batch
        if valid is not None:
            mask = mask & valid[idx]
        xb, yb, mask = (shard_batch(a, mesh) for a in (x[idx], y[idx], mask))
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
    mesh: Mesh | None = None,
):
    """Builds the pure function that trains one epoch and evaluates the result.

    Each step minimises the mean loss over the real examples of the batch (plus
    ``regularizer(params)``), through ``jax.value_and_grad`` and the optimizer.

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
      mesh: shard each batch over these devices (``jaxdl.parallel.data_mesh``); the batch gets
        padding slots up to a multiple of the device count.

    Returns:
      ``epoch(state, key, data, eval_data) -> (state, record)``. ``key`` shuffles the epoch's
      examples and, for a stochastic model (``Model.stochastic``, dropout), gives each training
      step its key, ``fold_in(key, state.step)``. ``data`` is ``(x [n, ...], y [n, ...],
      valid)``, where ``valid`` (bool [n], or None) marks the rows that are real examples: the
      others are never trained on. ``eval_data`` maps each name of ``eval_sizes`` to such a
      triple. ``record`` is the epoch's record (module docstring).
    """
    metrics = dict(metrics or {})
    eval_sizes = dict(eval_sizes or {})
    check_batch_size(batch_size, num_examples)
    if eval_batch_size is None:
        eval_batch_size = max(batch_size, 1024)
    check_int(eval_batch_size, "eval_batch_size", low=1)
    slots = batch_slots(batch_size, mesh)
    eval_schedules = {
        name: batch_schedule(
            None, n, min(n, eval_batch_size), slots=batch_slots(min(n, eval_batch_size), mesh)
        )
        for name, n in eval_sizes.items()
    }
    scan = dict(metrics=metrics, mesh=mesh)

    def objective(params, xb, yb, mask, step_key):
        if model.stochastic:  # a key of the step's own, and the training switch
            output = model.apply(params, xb, key=step_key, train=True)
        else:
            output = model.apply(params, xb)
        losses = loss(output, yb)
        mean = _masked_sum(losses, mask) / jnp.maximum(jnp.sum(mask), 1)
        return (mean if regularizer is None else mean + regularizer(params)), (output, losses)

    def epoch(state: TrainState, key, data, eval_data):
        padded = data[2] is not None

        def train_step(state, xb, yb, mask):
            step_key = jax.random.fold_in(key, state.step) if model.stochastic else None
            (_, (output, losses)), grads = jax.value_and_grad(objective, has_aux=True)(
                state.params, xb, yb, mask, step_key
            )
            updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
            new = TrainState(optax.apply_updates(state.params, updates), opt_state, state.step + 1)
            if padded:  # a batch of padding only must not move anything
                new = jax.tree.map(lambda a, b: jnp.where(jnp.sum(mask) > 0, a, b), new, state)
            return new, output, losses

        schedule = batch_schedule(key, num_examples, batch_size, slots=slots)
        state, stats = _scan_batches(train_step, state, data, schedule, **scan)
        record = {f"{TRAIN}_{stat}": value for stat, value in stats.items()}

        def eval_step(carry, xb, yb, mask):
            del mask
            output = model.apply(state.params, xb)
            return carry, output, loss(output, yb)

        for name, schedule in eval_schedules.items():
            _, stats = _scan_batches(eval_step, None, eval_data[name], schedule, **scan)
            record |= {f"{name}_{stat}": value for stat, value in stats.items()}
        return state, record

    return epoch


def _arrays(pair, label: str):
    """``(x, y)`` or ``(x, y, valid)`` as a checked triple of arrays (valid may be None)."""
    if not isinstance(pair, tuple | list) or len(pair) not in (2, 3):
        raise TypeError(
            f"{label}: expected a tuple (x, y) or (x, y, valid), got {type(pair).__name__}"
        )
    x, y, *valid = (jnp.asarray(a) for a in pair)  # tracers pass through unchanged
    n = check_data(x, y, label)
    valid = valid[0] if valid else None
    if valid is not None and (valid.shape != (n,) or valid.dtype != jnp.bool_):
        raise ValueError(
            f"{label}: expected valid to be bool [{n}], got {valid.dtype} {tuple(valid.shape)}"
        )
    return x, y, valid


class Setup(NamedTuple):
    """A run checked and ready: its epoch function, data, first state, identity and mesh, and
    for several models trained at once (a batch of keys), their number."""

    epoch: Callable
    data: tuple
    eval_data: dict[str, tuple]
    state: TrainState
    data_key: jax.Array
    run: Run
    mesh: Mesh | None
    models: int | None

    def epoch_key(self, e) -> jax.Array:
        """Epoch ``e``'s key: ``fold_in(data_key, e)`` (of each model)."""
        if self.models is None:
            return jax.random.fold_in(self.data_key, e)
        return jax.vmap(jax.random.fold_in, in_axes=(0, None))(self.data_key, e)


def _batched(key: jax.Array) -> int | None:
    """The number of keys in a batch of keys ``[N]``, or None for one key."""
    typed = jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
    if key.ndim == (1 if typed else 2):
        return key.shape[0]
    if key.ndim != (0 if typed else 1):
        raise ValueError(f"key: expected a key or a batch of keys [N], got shape {key.shape}")
    return None


def prepare(
    model: Model,
    loss: Loss,
    optimizer,
    data,
    *,
    epochs: int,
    batch_size: int,
    key: jax.Array,
    eval_data: Mapping[str, tuple] | None = None,
    metrics: Mapping[str, Metric] | None = None,
    regularizer: Callable[[Any], jax.Array] | None = None,
    eval_batch_size: int | None = None,
    mesh: Mesh | None = None,
) -> Setup:
    """Validates the arguments of a run (before any compute) and builds what :func:`train` and
    :func:`jaxdl.fit.fit` both run: the epoch function, the arrays, the first state, the run's
    identity. The arguments are documented in :func:`train`."""
    check_int(epochs, "epochs", low=0)
    if eval_data is None:
        eval_data = {}
    if not isinstance(eval_data, Mapping):
        raise TypeError(
            "eval_data: expected a mapping {name: (x, y)} of evaluation sets, e.g. "
            f"{{'test': (x, y)}}, got {type(eval_data).__name__}"
        )
    metrics = dict(metrics or {})
    for name in (*eval_data, *metrics):
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(
                f"eval_data and metrics: expected names that are identifiers, got {name!r}"
            )
    if TRAIN in eval_data:
        raise ValueError(
            f"eval_data: the name {TRAIN!r} is taken by the training averages ("
            f"{TRAIN}_loss, ...); name the set otherwise, e.g. 'train_eval'"
        )
    for name in metrics:
        if name == "loss" or name.endswith("_loss"):
            raise ValueError(
                f"metrics: names 'loss' and '..._loss' are kept for losses, got {name!r}"
            )
    names = record_names(metrics, eval_data)
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise ValueError(
            f"eval_data and metrics: the statistics' keys <set>_<stat> must differ; {clash} "
            "would stand for two of them; rename a set or a metric"
        )
    x, y, valid = _arrays(data, "data")
    check_batch_size(batch_size, x.shape[0])
    labels = {name: f"eval_data[{name!r}]" for name in eval_data}
    sets = {name: _arrays(pair, labels[name]) for name, pair in eval_data.items()}
    models = _batched(key)
    if models is None:
        init_key, data_key = jax.random.split(key)
        state = init_state(model, optimizer, init_key, x[:1])
        params = state.params
    else:  # several models at once, one per key
        init_key, data_key = jax.vmap(jax.random.split, out_axes=1)(key)
        state = jax.vmap(lambda k: init_state(model, optimizer, k, x[:1]))(init_key)
        params = jax.tree.map(lambda a: a[0], state.params)
    for label, (ex, ey, _) in [("data", (x, y, None)), *((labels[n], a) for n, a in sets.items())]:
        try:
            check_labels(model.apply, params, ex, ey, label)
        except TypeError as error:  # the model cannot take these inputs
            raise ValueError(
                f"{label}: the model cannot take x of shape {tuple(ex.shape)}: {error}"
            ) from error
    epoch = make_epoch(
        model,
        loss,
        optimizer,
        num_examples=x.shape[0],
        batch_size=batch_size,
        eval_sizes={name: a[0].shape[0] for name, a in sets.items()},
        eval_batch_size=eval_batch_size,
        metrics=metrics,
        regularizer=regularizer,
        mesh=mesh,
    )
    if models is not None:
        epoch = jax.vmap(epoch, in_axes=(0, 0, None, None))
    run = Run.describe(
        model=model.config,
        loss=loss,
        optimizer=optimizer,
        params=jax.eval_shape(lambda: params),
        regularizer=regularizer,
        metrics=metrics,
        batch_size=batch_size,
        epochs=epochs,
        key=key,
        data=(x, y),
        eval_data={name: a[:2] for name, a in sets.items()},
    )
    return Setup(epoch, (x, y, valid), sets, state, data_key, run, mesh, models)


def train(model: Model, loss: Loss, optimizer, data, **options) -> Result:
    """Trains for ``epochs`` epochs inside one function: ``lax.scan`` over the epoch function.

    Pure and traceable: wrap it in ``jax.jit``, and in ``jax.vmap`` to train many models at
    once (over keys, hyperparameters held in arrays, or data). Same keys, schedule and results
    as :func:`jaxdl.fit.fit`, bit for bit. Being pure it cannot stop on a diverged loss: check
    the result with :func:`check_finite`.

    Args:
      model: the Model.
      loss: per-example loss ``loss(output [batch, ...], y [batch, ...]) -> [batch]``.
      optimizer: an optax GradientTransformation.
      data: training ``(x [n, ...], y [n, ...])``, or ``(x, y, valid)`` with ``valid`` bool
        [n] marking the rows that are real examples (the others, padding, never train).
      epochs: number of epochs >= 0.
      batch_size: examples per step, in [1, n].
      key: a ``jax.random.key`` for initialisation and shuffling; or a batch of keys [N]
        (``jax.random.split(key, N)``, seeds): N models trained at once, as ``jax.vmap``
        over keys would, with histories [N, epochs].
      eval_data: named evaluation sets ``{name: (x, y)}`` (or ``(x, y, valid)``, with
        ``valid`` bool [n] marking the examples to count), each evaluated after every epoch;
        history keys ``<name>_loss``, ``<name>_<metric>``.
      metrics: per-example metrics ``{name: f(output, y) -> [batch]}``, e.g. accuracy.
      regularizer: a function of the parameters added to each step's mean loss.
      eval_batch_size: evaluation batch size (default ``max(batch_size, 1024)``).
      mesh: train data-parallel over these devices (``jaxdl.parallel.data_mesh``).

    Returns:
      A :class:`Result`; its history holds arrays [epochs].

    Raises:
      TypeError, ValueError: on bad data, labels, epochs, batch sizes or names, naming the
        argument, before any compute.

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
        return s.epoch(state, s.epoch_key(e), s.data, s.eval_data)

    state, history = jax.lax.scan(one_epoch, s.state, jnp.arange(s.run.epochs))
    if s.models is not None:  # [models, epochs], as under jax.vmap
        history = {name: values.T for name, values in history.items()}
    return Result(state, history, s.run)


def divergence_message(what: str, name: str, value, epoch: int, learning_rate) -> str:
    """The error of a diverged run: which loss, its value, the epoch (from 1), the rate."""
    rate = (
        "the optimizer's learning rate is unknown"
        if learning_rate is None
        else f"learning rate {learning_rate:g}"
    )
    return (
        f"{what} diverged: the {name} loss is {value} at epoch {epoch} ({rate}); lower the "
        "learning rate"
    )


def check_finite(result: Result, what: str = "training") -> dict[str, np.ndarray]:
    """Brings the history of :func:`train` to the host and checks every recorded loss.

    Histories of many models (``[models, epochs]``, from ``vmap``) name the first bad model.

    Args:
      result: a Result of :func:`train`, of one model or stacked over models.
      what: what trained, for the message.

    Returns:
      The history as NumPy arrays.

    Raises:
      FloatingPointError: when a loss (training or any evaluation set) is NaN or inf; names
        the set, the epoch, the model (when several) and its learning rate.
    """
    history = {name: np.asarray(values) for name, values in result.history.items()}
    rates = optimizer_hyperparams(result.state.opt_state).get("learning_rate")
    first = None
    for key, values in history.items():
        if not key.endswith("_loss"):
            continue
        bad = np.argwhere(~np.isfinite(values))
        if bad.size and (first is None or bad[0][-1] < first[1][-1]):
            first = (key, tuple(int(i) for i in bad[0]))
    if first is None:
        return history
    key, index = first
    *model, epoch = index
    rate = None if rates is None else float(np.asarray(rates)[tuple(model)])
    where = f"{what}, model {', '.join(map(str, model))}" if model else what
    raise FloatingPointError(
        divergence_message(where, key.removesuffix("_loss"), history[key][index], epoch + 1, rate)
    )

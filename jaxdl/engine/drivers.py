"""The engine's two drivers of one pure epoch function: :func:`train`, a ``lax.scan`` over
epochs inside one traceable function (``jax.jit``/``jax.vmap`` it to train many models as one
program), and :func:`fit`, one jitted dispatch per epoch from the host, which adds what only the
host can do (the state donated between epochs, a progress bar, each epoch's wall time,
checkpoints with resume, a stop with a clear error as soon as a loss turns NaN or inf). Both
follow the run's key schedule (:mod:`jaxdl.engine.keys`), so they agree bit for bit, and both
return a :class:`Result`. :func:`estimate_epoch_seconds` times a run's first minibatches to say
how long its epochs will take, before it trains.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from jaxdl._checks import check_int
from jaxdl.data.batching import num_batches
from jaxdl.engine.divergence import check_history
from jaxdl.engine.epoch import Loss, Metric, Transform, record_names
from jaxdl.engine.record import Run
from jaxdl.engine.setup import prepare
from jaxdl.model import Model, TrainState
from jaxdl.parallel import replicate


class Result(NamedTuple):
    """What :func:`train` and :func:`jaxdl.engine.fit` return.

    Attributes:
      state: the final TrainState.
      history: ``{key: per-epoch values [epochs]}`` (``[models, epochs]`` under ``vmap``), with
        the keys of an epoch's record (:mod:`jaxdl.engine.epoch`); ``fit`` adds ``seconds``, each
        epoch's wall time (the first includes compilation).
      run: the run's identity (:class:`jaxdl.engine.record.Run`): settings and data fingerprint.
    """

    state: TrainState
    history: dict[str, Any]
    run: Run


def train(
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
    transform: Transform | None = None,
    eval_batch_size: int | None = None,
    mesh: Mesh | None = None,
    config: Mapping | None = None,
    data_digest: str | None = None,
    on_epoch: Callable | None = None,
) -> Result:
    """Trains for ``epochs`` epochs inside one function: ``lax.scan`` over the epoch function.

    Pure and traceable: wrap it in ``jax.jit``, and in ``jax.vmap`` to train many models at
    once (over keys, hyperparameters held in arrays, or data). Same keys, schedule and results
    as :func:`jaxdl.engine.fit`, bit for bit. Being pure it cannot stop on a diverged loss: check
    the result with :func:`jaxdl.engine.divergence.check_finite`.

    Args:
      model: the Model (:class:`jaxdl.model.Model`).
      loss: per-example loss ``loss(output [batch, ...], y [batch, ...]) -> [batch]``.
      optimizer: an optax GradientTransformation; it sees the parameters, not the model state.
      data: training ``(x [n, ...], y [n, ...])``, or ``(x, y, valid)`` with ``valid`` bool
        [n] marking the rows that are real examples (the others, padding, never train).
      epochs: number of epochs >= 0.
      batch_size: examples per step, in [1, n].
      key: a ``jax.random.key``, the root of the run's keys (:func:`jaxdl.engine.keys.run_keys`); or
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
      config: the run's declared configuration, ``{setting: value}`` (JSON values), recorded
        in its record (:class:`~jaxdl.engine.record.Run`) with the model's config, the
        optimizer's hyperparameters, the loss's name and the data's fingerprint: whatever else
        defines the run (a loss's ``delta``, a regularizer's ``λ``) belongs here.
      data_digest: a digest of the data set taken when it was loaded (its files' digests): the
        record's fingerprint of the data, in place of hashing the arrays' bytes.
      on_epoch: a host function called from inside the program after each epoch,
        ``on_epoch(epoch, record)`` (epochs counted from 1, ``record`` the epoch's ``{series:
        value}``), through ``jax.debug.callback`` (ordered): under ``jax.vmap``, once per
        model, in the models' order (:class:`jaxdl.engine.progress.ProgressBoard` with ``models``).
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
    s = prepare(
        model,
        loss,
        optimizer,
        data,
        epochs=epochs,
        batch_size=batch_size,
        key=key,
        eval_data=eval_data,
        metrics=metrics,
        regularizer=regularizer,
        transform=transform,
        eval_batch_size=eval_batch_size,
        mesh=mesh,
        config=config,
        data_digest=data_digest,
    )

    def one_epoch(state, e):
        state, record = s.epoch(state, s.keys, e, s.data, s.eval_data)
        if on_epoch is not None:
            jax.debug.callback(on_epoch, e + 1, record, ordered=True)
        return state, record

    state, history = jax.lax.scan(one_epoch, s.state, jnp.arange(s.run.epochs))
    if s.models is not None:  # [models, epochs], as under jax.vmap
        history = {name: values.T for name, values in history.items()}
    return Result(state, history, s.run)


def own_buffers(tree):
    """``tree`` with no array shared by two of its leaves (the later ones copied): a donated
    argument may not hand XLA one buffer twice, and an ``init`` may well put one ``jnp.ones``
    in both the parameters and the state.

    >>> a = jnp.ones(2)
    >>> b = own_buffers({"p": a, "s": a})
    >>> b["p"] is a, b["s"] is a
    (True, False)
    """
    seen = set()

    def own(leaf):
        if id(leaf) in seen:
            return jnp.copy(leaf)
        seen.add(id(leaf))
        return leaf

    return jax.tree.map(own, tree)


def fit(
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
    transform: Transform | None = None,
    eval_batch_size: int | None = None,
    mesh: Mesh | None = None,
    config: Mapping | None = None,
    data_digest: str | None = None,
    quiet: bool = False,
    desc: str | None = None,
    on_epoch: Callable | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    keep_checkpoints: int = 3,
) -> Result:
    """Trains a model, one jitted call per epoch, with a progress bar over epochs.

    The data move to the device once. Each epoch (training and evaluation) is a single
    dispatch of the engine's jitted epoch function with the training state donated; it
    compiles once.

    Args:
      model, loss, optimizer, data, epochs, batch_size, key, eval_data, metrics, regularizer,
        transform, eval_batch_size, config, data_digest: as :func:`train` (a batch of keys
        [N] trains N models at once, histories [N, epochs]).
      mesh: as :func:`train`: data and state replicated on its devices, every batch sharded
        along its batch axis.
      quiet: hide the progress (the default bar or board) and the resume message; an
        ``on_epoch`` given is still called.
      desc: what trains, for the progress bar and messages.
      on_epoch: called after each epoch as ``on_epoch(epoch, record)`` (epochs counted from 1,
        ``record`` the epoch's ``{series: value}`` with its ``seconds``; on a resume, first
        once for each restored epoch), in place of the progress bar: a
        :class:`jaxdl.engine.progress.ProgressBoard` draws the curves in a notebook and prints a
        line per epoch in a terminal. By default, a board in a notebook and a
        progress bar (on standard error) in a terminal.
      checkpoint_dir: save a checkpoint after every epoch into this folder
        (:class:`jaxdl.engine.checkpoint.Checkpointer`) and, when it holds one of this run, resume
        after its last complete epoch, with the same results as an uninterrupted run.
      keep_checkpoints: how many of the latest checkpoints to keep.

    Returns:
      A :class:`~jaxdl.engine.Result`; its history holds NumPy float32 arrays [epochs], as
      ``train``'s, and ``seconds``, each epoch's wall time (compilation not included: the
      epoch's program is compiled before the first epoch starts).

    Raises:
      ValueError: on bad data, labels, epochs or batch size, before any compute; for a damaged
        checkpoint or one of another run (naming each differing setting).
      FloatingPointError: when a loss turns NaN or inf; names the set, the epoch and the
        learning rate.
    """
    from tqdm import tqdm  # imported on use: `import jaxdl.engine.drivers` stays light

    from jaxdl.engine.progress import ProgressBoard, in_notebook

    s = prepare(
        model,
        loss,
        optimizer,
        data,
        epochs=epochs,
        batch_size=batch_size,
        key=key,
        eval_data=eval_data,
        metrics=metrics,
        regularizer=regularizer,
        transform=transform,
        eval_batch_size=eval_batch_size,
        mesh=mesh,
        config=config,
        data_digest=data_digest,
    )
    what = "training" if desc is None else f"training ({desc})"
    names = [*record_names(metrics or {}, s.eval_data), "seconds"]
    state, history, start = s.state, {name: [] for name in names}, 0
    with contextlib.ExitStack() as stack:
        checkpointer = None
        if checkpoint_dir is not None:
            from jaxdl.engine.checkpoint import Checkpointer  # on use: orbax imports slowly

            checkpointer = Checkpointer(checkpoint_dir, keep=keep_checkpoints)
            stack.callback(checkpointer.close)
            resumed = checkpointer.restore(state, s.run)
            messages = checkpointer.messages
            if resumed is not None:
                start, state, history = resumed
                messages.append(f"resumed after epoch {start} of {s.run.epochs}")
            for message in [] if quiet else messages:
                print(f"{desc or 'training'}: {message}")
        data, eval_data, state = replicate((s.data, s.eval_data, own_buffers(state)), s.mesh)
        sets = ["train", *s.eval_data]  # the record's order
        epochs = range(start, s.run.epochs)
        epoch = jax.jit(s.epoch, donate_argnums=0)
        if epochs:  # compiled before the first epoch's clock starts: seconds are the run's
            epoch = epoch.lower(state, s.keys, start, data, eval_data).compile()
        if on_epoch is None and not quiet and in_notebook():
            on_epoch = ProgressBoard(s.run.epochs, runs=[desc or "training"])
        bar_off = quiet or on_epoch is not None
        bar = stack.enter_context(
            tqdm(epochs, desc=desc, disable=bar_off, unit="epoch", leave=False)
        )
        if on_epoch is not None:  # the restored epochs first: a board's curves go on
            for e in range(start):
                on_epoch(e + 1, {name: values[e] for name, values in history.items()})
        for e in bar:
            began = time.perf_counter()
            state, record = epoch(state, s.keys, e, data, eval_data)
            record = {name: np.asarray(value) for name, value in record.items()}
            epoch_history = {k: v[..., None] for k, v in record.items()}
            check_history(
                epoch_history, what, sets=sets, opt_state=state.opt_state, first_epoch=e + 1
            )
            record = {name: value.tolist() for name, value in record.items()}
            record["seconds"] = time.perf_counter() - began  # asarray waited for the epoch
            for name, value in record.items():
                history[name].append(value)
            if checkpointer is not None:
                checkpointer.save(e + 1, state, s.run, history)
            bar.set_postfix({k: f"{np.mean(v):.4g}" for k, v in record.items()}, refresh=False)
            if on_epoch is not None:
                on_epoch(e + 1, record)
    history = {
        name: np.asarray(values, np.float64 if name == "seconds" else np.float32)
        for name, values in history.items()
    }
    if s.models is not None:  # [models, epochs], as train's
        history = {name: v if name == "seconds" else v.T for name, v in history.items()}
    return Result(state, history, s.run)


def estimate_epoch_seconds(
    model: Model,
    loss: Loss,
    optimizer,
    data,
    *,
    batch_size: int,
    key: jax.Array,
    eval_data: Mapping[str, tuple] | None = None,
    metrics: Mapping[str, Metric] | None = None,
    regularizer: Callable[[Any], jax.Array] | None = None,
    transform: Transform | None = None,
    eval_batch_size: int | None = None,
    mesh: Mesh | None = None,
    steps: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """About how many seconds an epoch of :func:`fit` with these arguments takes here, timed on
    its first ``steps`` minibatches: a short epoch (those minibatches, and the same share of
    each evaluation set) is compiled, then run once from the run's first state, and its time
    (compilation not counted) is scaled to the whole epoch.

    It trains nothing of the run: the short epoch's state and record are thrown away, and the
    run's keys, state and history are those it would have had without the estimate.

    Args:
      model, loss, optimizer, data, batch_size, key, eval_data, metrics, regularizer,
        transform, eval_batch_size, mesh: as :func:`fit`, checked as it checks them.
      steps: minibatches to time, >= 1 (at most an epoch's).
      clock: the clock read before and after the short epoch (seconds).

    Returns:
      The estimated seconds of one epoch, training and evaluation.

    >>> from jaxdl.models.linear import linear_regression
    >>> from jaxdl.losses import squared_loss
    >>> from jaxdl.optim import sgd
    >>> x = jnp.arange(8.0).reshape(4, 2)
    >>> ticks = iter([10.0, 10.5])  # a fake clock: the first of two steps takes 0.5 s
    >>> estimate_epoch_seconds(linear_regression(), squared_loss, sgd(0.01), (x, x[:, 0]),
    ...     batch_size=2, key=jax.random.key(0), clock=lambda: next(ticks))
    1.0
    """
    check_int(steps, "steps", low=1)
    checks = dict(
        epochs=1,
        batch_size=batch_size,
        key=key,
        metrics=metrics,
        regularizer=regularizer,
        transform=transform,
        eval_batch_size=eval_batch_size,
        mesh=mesh,
        data_digest="",  # the short epoch's record is thrown away: no need to hash the data
    )
    full = prepare(model, loss, optimizer, data, eval_data=eval_data, **checks)
    per_epoch = num_batches(full.data[1].shape[0], batch_size)
    steps = min(steps, per_epoch)

    def head(triple, rows: int):
        return tuple(a[:rows] for a in triple if a is not None)

    def share(triple):  # of an evaluation set: as much of it as the steps are of the epoch
        return head(triple, math.ceil(triple[1].shape[0] * steps / per_epoch))

    short = prepare(
        model,
        loss,
        optimizer,
        head(full.data, steps * batch_size),
        eval_data={name: share(triple) for name, triple in full.eval_data.items()},
        **checks,
    )
    data, eval_data, state = replicate((short.data, short.eval_data, short.state), short.mesh)
    epoch = jax.jit(short.epoch).lower(state, short.keys, 0, data, eval_data).compile()
    began = clock()
    jax.block_until_ready(epoch(state, short.keys, 0, data, eval_data))
    return (clock() - began) * per_epoch / steps

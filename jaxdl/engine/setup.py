"""A run checked and set up: :func:`prepare` validates the arguments of ``train`` and ``fit``
before any compute and builds what both run: the epoch function, the arrays, the first state,
the keys and the run's identity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.sharding import Mesh

from jaxdl._checks import check_data, check_int, check_labels
from jaxdl.data.batching import check_batch_size
from jaxdl.engine.epoch import TRAIN, Loss, Metric, Transform, make_epoch, record_names
from jaxdl.engine.keys import RunKeys, run_keys
from jaxdl.engine.record import Run
from jaxdl.errors import InputError, InputTypeError
from jaxdl.model import Model, TrainState, check_needs, init_state, predict
from jaxdl.parallel import batch_slots


class Setup(NamedTuple):
    """A run checked and ready: its epoch function (``epoch(state, keys, e, data,
    eval_data)``, vmapped over models when several train at once), data, first state, keys,
    identity and mesh, and for several models trained at once (a batch of keys), their
    number."""

    epoch: Callable
    data: tuple
    eval_data: dict[str, tuple]
    state: TrainState
    keys: RunKeys
    run: Run
    mesh: Mesh | None
    models: int | None


def _arrays(pair, label: str):
    """``(x, y)`` or ``(x, y, valid)`` as a checked triple of arrays (valid may be None)."""
    if not isinstance(pair, tuple | list) or len(pair) not in (2, 3):
        raise InputTypeError(
            f"{label}: expected a tuple (x, y) or (x, y, valid), got {type(pair).__name__}"
        )
    x, y, *valid = (jnp.asarray(a) for a in pair)  # tracers pass through unchanged
    n = check_data(x, y, label)
    valid = valid[0] if valid else None
    if valid is not None and (valid.shape != (n,) or valid.dtype != jnp.bool_):
        raise InputError(
            f"{label}: expected valid to be bool [{n}], got {valid.dtype} {tuple(valid.shape)}"
        )
    return x, y, valid


def _check_names(eval_data, metrics) -> None:
    """Evaluation sets and metrics need identifier names that give distinct record keys."""
    for name in (*eval_data, *metrics):
        if not isinstance(name, str) or not name.isidentifier():
            raise InputError(
                f"eval_data and metrics: expected names that are identifiers, got {name!r}"
            )
    if TRAIN in eval_data:
        raise InputError(
            f"eval_data: the name {TRAIN!r} is taken by the training averages ("
            f"{TRAIN}_loss, ...); name the set otherwise, e.g. 'train_eval'"
        )
    for name in metrics:
        if name == "loss" or name.endswith("_loss"):
            raise InputError(
                f"metrics: names 'loss' and '..._loss' are kept for losses, got {name!r}"
            )
    names = record_names(metrics, eval_data)
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise InputError(
            f"eval_data and metrics: the statistics' keys <set>_<stat> must differ; {clash} "
            "would stand for two of them; rename a set or a metric"
        )


def _check_model(model) -> None:
    if not isinstance(model, Model):
        raise InputTypeError(
            "model: expected a jaxdl Model (jaxdl.model.stateless(init, apply) for plain "
            f"functions, jaxdl.from_flax(module) for a flax module), got {type(model).__name__}"
        )
    check_needs(model.needs)


def _check_state_sees_no_padding(model, state, *, padded: bool) -> None:
    """A model whose state its training pass updates (batch statistics) must take the batch
    mask when batches can hold padding: else the padding would enter its statistics."""
    if padded and jax.tree.leaves(state.model_state) and "mask" not in model.needs:
        raise InputError(
            "model: it has state (e.g. batch norm's running statistics), and these batches hold "
            "padding (a last partial batch, padding slots for the devices, or rows not valid), "
            "which would enter its statistics; let it take the batch mask (a `mask` argument "
            "of the flax module's __call__, passed on to BatchNorm(mask=batch_mask(mask, x)); "
            f"needs={sorted(model.needs)} lacks 'mask'), or use a batch size that divides the "
            "data, on one device, without a valid mask"
        )


def _check_per_example(fns: Mapping[str, Callable], output, y) -> None:
    """Losses and metrics return one value per example: the engine takes the mean over the real
    ones. A function that reduces the batch itself (PyTorch's default ``reduction="mean"``)
    would count the padding of partial batches, and train otherwise."""
    for label, fn in fns.items():
        got = jax.eval_shape(fn, output, y)
        if getattr(got, "shape", None) != (y.shape[0],):
            raise InputError(
                f"{label}: expected one value per example, shape ({y.shape[0]},) for a batch of "
                f"{y.shape[0]}, got shape {getattr(got, 'shape', type(got).__name__)}; return "
                "the per-example values (no mean over the batch: the engine averages over the "
                "real examples)"
            )


def _batched(key: jax.Array) -> int | None:
    """The number of keys in a batch of keys ``[N]``, or None for one key."""
    if not isinstance(key, jax.Array) or not jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        raise InputTypeError(
            "key: expected a jax.random.key(seed) (or a batch of them, jax.random.split(key, "
            f"N)), got {type(key).__name__} {key!r}"
        )
    if key.ndim == 1:
        return key.shape[0]
    if key.ndim != 0:
        raise InputError(f"key: expected a key or a batch of keys [N], got shape {key.shape}")
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
    transform: Transform | None = None,
    eval_batch_size: int | None = None,
    mesh: Mesh | None = None,
    config: Mapping | None = None,
    data_digest: str | None = None,
) -> Setup:
    """Validates the arguments of a run (before any compute) and builds what
    :func:`jaxdl.engine.train` and :func:`jaxdl.engine.fit` both run. The arguments are documented
    in :func:`jaxdl.engine.train`."""
    _check_model(model)
    check_int(epochs, "epochs", low=0)
    if eval_data is None:
        eval_data = {}
    if not isinstance(eval_data, Mapping):
        raise InputTypeError(
            "eval_data: expected a mapping {name: (x, y)} of evaluation sets, e.g. "
            f"{{'test': (x, y)}}, got {type(eval_data).__name__}"
        )
    metrics = dict(metrics or {})
    _check_names(eval_data, metrics)
    x, y, valid = _arrays(data, "data")
    check_batch_size(batch_size, x.shape[0])
    steps = -(-x.shape[0] // batch_size)  # per epoch; the step counter is an int32
    check_int(
        epochs, f"epochs (of {steps} steps each, counted in int32)", high=(2**31 - 1) // steps
    )
    labels = {name: f"eval_data[{name!r}]" for name in eval_data}
    sets = {name: _arrays(pair, labels[name]) for name, pair in eval_data.items()}
    models = _batched(key)

    def first(a, rows: int = 1):  # the first examples, as the model takes them
        return a[:rows] if transform is None else transform(a[:rows])

    example = first(x)
    keys = run_keys(key)
    if models is None:
        state = one = init_state(model, optimizer, keys.init, example)
    else:  # several models at once, one per key
        state = jax.vmap(lambda k: init_state(model, optimizer, k, example))(keys.init)
        one = jax.tree.map(lambda a: a[0], state)
    slots = batch_slots(batch_size, mesh)
    padded = valid is not None or x.shape[0] % batch_size != 0 or slots != batch_size
    _check_state_sees_no_padding(model, one, padded=padded)
    checked = [("data", example, y), *((labels[n], first(a[0]), a[1]) for n, a in sets.items())]
    for label, inputs, labels_of_set in checked:
        try:
            check_labels(lambda xb: predict(model, one, xb), inputs, labels_of_set, label)
        except TypeError as error:  # the model cannot take these inputs
            raise InputError(
                f"{label}: the model cannot take examples of shape {tuple(inputs.shape[1:])}: "
                f"{error}"
            ) from error
    pair = min(2, x.shape[0])  # two examples: a batch's mean cannot pass for them
    outputs = jax.eval_shape(lambda xb: predict(model, one, xb), first(x, pair))
    named = {f"metrics[{k!r}]": fn for k, fn in metrics.items()}
    _check_per_example({"loss": loss, **named}, outputs, y[:pair])
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
        transform=transform,
        mesh=mesh,
    )
    if models is not None:
        epoch = jax.vmap(epoch, in_axes=(0, 0, None, None, None))
    run = Run.describe(
        config=config,
        model=model.config,
        loss=loss,
        optimizer=optimizer,
        params=jax.eval_shape(lambda: one.params),
        batch_size=batch_size,
        epochs=epochs,
        key=key,
        data=(x, y, valid),
        eval_data=sets,
        data_digest=data_digest,
    )
    return Setup(epoch, (x, y, valid), sets, state, keys, run, mesh, models)

"""Diverged runs: the one reporter that ``fit`` (after each epoch) and ``check_finite`` (after
``train``) share.

A model has diverged when any loss it recorded (training or an evaluation set) is NaN or inf.
Several models trained at once (seeds, folds, a sweep) are reported together: every diverged
model, its first bad loss (the earliest epoch; within an epoch, the first set in the record's
order), and what sets it apart from the others (the swept values: its learning rate, and λ, σ
or whatever the caller names).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from jaxdl.errors import InputError
from jaxdl.optim import optimizer_hyperparams


class Divergence(NamedTuple):
    """One diverged model's first NaN or inf loss.

    Attributes:
      model: the model's index among those trained at once (``()`` for a lone model; two
        numbers for a grid such as candidates × folds).
      set: the set whose loss it is: ``"train"`` or an evaluation set's name.
      epoch: the epoch, from 1.
      value: the loss, NaN or ±inf.
    """

    model: tuple[int, ...]
    set: str
    epoch: int
    value: float


def divergences(
    history: Mapping[str, np.ndarray], *, first_epoch: int = 1, sets=None
) -> list[Divergence]:
    """Every model of ``history`` whose losses turn NaN or inf, in model order.

    Args:
      history: ``{key: values [..., epochs]}`` (leading axes: the models); keys ending in
        ``_loss`` are checked, the others ignored.
      first_epoch: the epoch number of the last axis's first entry.
      sets: the sets in the record's order (``["train", *eval_data]``), which decides between
        two sets that turn bad in the same epoch; by default ``"train"``, then the others in
        the order of ``history`` (a history that went through ``jit`` has its keys sorted).

    Returns:
      One :class:`Divergence` per diverged model: its first bad loss.

    >>> h = {"train_loss": np.array([[1.0, 2.0], [np.inf, np.nan]]), "test_loss": np.ones((2, 2))}
    >>> divergences(h)
    [Divergence(model=(1,), set='train', epoch=1, value=inf)]
    """
    names = [k.removesuffix("_loss") for k in history if k.endswith("_loss")]
    order = [*(sets or ["train"]), *names]
    rank = {name: order.index(name) for name in names}
    first: dict[tuple[int, ...], Divergence] = {}
    for name in sorted(names, key=rank.get):
        values = np.asarray(history[f"{name}_loss"])
        for index in np.argwhere(~np.isfinite(values)):
            *model, epoch = (int(i) for i in index)
            model = tuple(model)
            if model not in first or epoch + first_epoch < first[model].epoch:
                value = float(values[tuple(index)])
                first[model] = Divergence(model, name, epoch + first_epoch, value)
    return [first[m] for m in sorted(first)]


def _value_of(values, model: tuple[int, ...]):
    """A swept value of ``model``: ``values`` indexed by the model's leading indices (one
    value per model, or per candidate of a candidates × folds grid), or the value shared by
    all; a value that is itself several numbers (σ per layer) as a list."""
    values = np.asarray(values)
    picked = values[model[: values.ndim]] if values.ndim else values
    return picked.item() if picked.ndim == 0 else picked.tolist()


def _format(value) -> str:
    if isinstance(value, list):
        return f"[{', '.join(map(_format, value))}]"
    if isinstance(value, bool | str) or not isinstance(value, int | float):
        return str(value)
    return f"{value:g}"


def _check_swept(swept: Mapping[str, object], grid: tuple[int, ...]) -> None:
    """Each swept value is one for all models, or one per model along the grid's leading axes."""
    for name, values in swept.items():
        shape = np.shape(values)
        k = min(len(shape), len(grid))
        if shape[:k] != grid[:k]:
            raise InputError(
                f"swept[{name!r}]: expected one value per model, shape {list(grid)} (or a "
                f"prefix of it), or one value for all, got shape {list(shape)}"
            )


def divergence_error(
    what: str,
    found: list[Divergence],
    *,
    models: int | None = None,
    swept: Mapping[str, object] | None = None,
    learning_rate=None,
) -> FloatingPointError:
    """The error that names every diverged model of ``found``.

    Args:
      what: what trained, for the message ("training", "weight decay, scratch"...).
      found: the diverged models (:func:`divergences`), not empty.
      models: how many models trained at once, None for one.
      swept: ``{name: values [models]}`` to name with each model, e.g. ``{"λ": lambdas}``.
      learning_rate: the learning rate, one per model or shared; None when unknown.

    Returns:
      A FloatingPointError: ``"<what> diverged: the <set> loss is <value> at epoch <e>
      (learning rate <r>); lower the learning rate"`` for one model, and for several ``"<what>:
      <n> of <models> models diverged: model <i> (<name> = <v>): the <set> loss is ...; model
      ...; lower the learning rate"``.
    """

    def clause(d: Divergence) -> str:
        rate = None if learning_rate is None else _value_of(learning_rate, d.model)
        rate = (
            "the optimizer's learning rate is unknown"
            if rate is None
            else f"learning rate {_format(rate)}"
        )
        return f"the {d.set} loss is {d.value} at epoch {d.epoch} ({rate})"

    advice = "lower the learning rate"
    if models is None:
        return FloatingPointError(f"{what} diverged: {clause(found[0])}; {advice}")
    lines = []
    for d in found:
        labels = [f"{name} = {_format(_value_of(v, d.model))}" for name, v in (swept or {}).items()]
        label = f" ({', '.join(labels)})" if labels else ""
        lines.append(f"model {', '.join(map(str, d.model))}{label}: {clause(d)}")
    count = f"{len(found)} of {models} models diverged"
    return FloatingPointError(f"{what}: {count}: {'; '.join(lines)}; {advice}")


def learning_rates(opt_state):
    """The learning rate an optimizer state holds (one per model when stacked), or None."""
    rate = optimizer_hyperparams(opt_state).get("learning_rate")
    return None if rate is None else np.asarray(rate)


def check_history(
    history: Mapping[str, np.ndarray],
    what: str,
    *,
    sets,
    opt_state,
    swept: Mapping[str, object] | None = None,
    first_epoch: int = 1,
) -> None:
    """Raises :func:`divergence_error` when any loss of ``history`` (``{key: values [...,
    epochs]}``, leading axes the models) is NaN or inf: the one check of ``fit`` (after each
    epoch) and of :func:`check_finite`.

    Args:
      history: the losses and metrics, on the host.
      what: what trained, for the message.
      sets: the sets in the record's order (:func:`divergences`).
      opt_state: the optimizer state, which may hold the learning rate (read here, when a
        model has diverged: a schedule's rate of that moment).
      swept: ``{name: values}`` named with each diverged model (:func:`divergence_error`).
      first_epoch: the epoch number of the last axis's first entry.

    Raises:
      ValueError: when a swept value has neither one value per model nor one for all.
      FloatingPointError: when a loss is NaN or inf.
    """
    losses = [np.asarray(v) for k, v in history.items() if k.endswith("_loss")]
    grid = losses[0].shape[:-1] if losses else ()
    _check_swept(swept or {}, grid)
    found = divergences(history, first_epoch=first_epoch, sets=sets)
    if found:
        models = int(np.prod(grid)) if grid else None
        rate = learning_rates(opt_state)
        raise divergence_error(what, found, models=models, swept=swept, learning_rate=rate)


def check_finite(result, what: str = "training", *, swept: Mapping[str, object] | None = None):
    """Brings the history of :func:`jaxdl.engine.train` to the host and checks every recorded
    loss; ``train`` is pure and cannot stop on a diverged loss itself.

    Args:
      result: a Result of ``train``, of one model or stacked over models (``vmap``).
      what: what trained, for the message.
      swept: ``{name: values [models]}``: the values that tell the models apart, named with
        each diverged one (the learning rate, when the optimizer state holds it, always is).

    Returns:
      The history as NumPy arrays.

    Raises:
      ValueError: when a swept value has neither one value per model nor one for all.
      FloatingPointError: when a loss (training or any evaluation set) is NaN or inf, naming
        every diverged model, its set, epoch, swept values and learning rate
        (:func:`divergence_error`).
    """
    history = {name: np.asarray(values) for name, values in result.history.items()}
    sets = ["train", *result.run.eval_data]
    check_history(history, what, sets=sets, opt_state=result.state.opt_state, swept=swept)
    return history

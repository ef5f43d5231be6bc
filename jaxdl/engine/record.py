"""A run's record: what the run was declared to be and a fingerprint of its data.

One serialisable value (:class:`Run`), made by the engine for every run (``Result.run``),
written into each experiment's ``metrics.json`` and into every checkpoint. A checkpoint is
resumed only by the same run: any difference other than more epochs is refused, naming each
differing field with both values.

The record is declared, not read out of the functions a run is given: the configuration the
caller declares (a section's settings: a huber ``delta`` or a regularizer's ``λ`` belongs there),
the model's config, the hyperparameters the optimizer's state holds, the loss by name, the batch
size, the epochs, the key, and the data's shapes, dtypes and digest (one the caller took when
it loaded the data, or the SHA-256 of the arrays' bytes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl._checks import is_traced
from jaxdl._describe import array_digest, describe, function_name
from jaxdl.errors import InputError
from jaxdl.optim import optimizer_hyperparams

__all__ = ["Run", "describe_optimizer", "fingerprint", "function_name"]


def fingerprint(arrays, digest: str | None = None) -> dict:
    """Shapes, dtypes and a SHA-256 digest of ``arrays``: ``digest`` when given (the data set's,
    taken when it was loaded), else of their bytes (None when any is traced, e.g. a fold's rows
    under ``vmap``).

    >>> fingerprint((np.zeros((2, 3), np.float32), np.zeros(2, np.int32)))["shapes"]
    [[2, 3], [2]]
    """
    arrays = list(arrays)
    if digest is None and not any(is_traced(a) for a in arrays):
        digest = array_digest(arrays)
    return {
        "shapes": [list(a.shape) for a in arrays],
        "dtypes": [str(a.dtype) for a in arrays],
        "sha256": digest,
    }


def describe_optimizer(opt_state) -> dict:
    """An optimizer as the hyperparameters its state holds, ``{name: value}``.

    Hyperparameters are visible when the optimizer keeps them in its state, as
    :func:`jaxdl.optim.sgd` and :func:`jaxdl.optim.sgd_weight_decay` do and
    ``optax.inject_hyperparams(optax.sgd)(learning_rate=...)`` does; ``optax.sgd(0.1)`` keeps
    none, so its rate is part of the run's record only through its declared configuration.
    The state's own classes are not recorded: they are the optimizer library's internals, which
    an upgrade may rename (the checkpoint's signature still tells a state of other arrays
    apart).
    """
    return {k: describe(v) for k, v in optimizer_hyperparams(opt_state).items()}


@dataclasses.dataclass(frozen=True)
class Run:
    """A run's record, JSON-ready.

    Attributes:
      config: the configuration the caller declared (``{setting: value}``), or None.
      model: the model's config (``Model.config``: name and hyperparameters), or None.
      loss: the loss function by name (a ``functools.partial`` with its bound arguments).
      optimizer: the hyperparameters the optimizer's state holds (:func:`describe_optimizer`).
      batch_size: examples per step.
      epochs: epochs asked for.
      key: the root key's data (from the seed), or None when traced.
      data: the training data's :func:`fingerprint`: ``x``, ``y`` and, when given, the
        ``valid`` mask of the rows that are real examples.
      eval_data: ``{name: fingerprint}`` of each evaluation set (with its ``valid`` mask).
    """

    config: Any
    model: Any
    loss: str | None
    optimizer: dict
    batch_size: int
    epochs: int
    key: list | None
    data: dict
    eval_data: dict

    @classmethod
    def describe(
        cls,
        *,
        config: Mapping | None,
        model: Mapping | None,
        loss,
        optimizer,
        params,
        batch_size: int,
        epochs: int,
        key: jax.Array,
        data: tuple,
        eval_data: Mapping[str, tuple],
        data_digest: str | None = None,
    ) -> Run:
        """The Run of these settings.

        ``optimizer`` is the optax GradientTransformation and ``params`` the model's parameters
        (or their shapes, ``jax.eval_shape``): the hyperparameters are read from the state the
        optimizer makes, on the host, so they are known even when ``train`` is traced.
        ``data`` and each evaluation set are ``(x, y)`` or ``(x, y, valid)``; a ``valid`` of
        None is left out. ``data_digest``, a digest of the whole data set taken when it was
        loaded, stands for every set's digest (the arrays are not hashed).
        """
        with jax.ensure_compile_time_eval():  # concrete values, even under jit
            zeros = jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), params)
            opt_state = optimizer.init(zeros)
            key_data = None if is_traced(key) else np.asarray(jax.random.key_data(key)).tolist()

        def arrays(triple):
            return fingerprint((a for a in triple if a is not None), data_digest)

        return cls(
            config=describe(config),
            model=describe(model),
            loss=describe(loss),
            optimizer=describe_optimizer(opt_state),
            batch_size=int(batch_size),
            epochs=int(epochs),
            key=key_data,
            data=arrays(data),
            eval_data={name: arrays(triple) for name, triple in eval_data.items()},
        )

    def to_dict(self) -> dict:
        """The Run as plain JSON values."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping) -> Run:
        """The Run written by :meth:`to_dict`.

        Raises:
          ValueError: when ``values`` does not hold exactly a Run's fields.
        """
        fields = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(values, Mapping) or set(values) != fields:
            got = sorted(values) if isinstance(values, Mapping) else type(values).__name__
            raise InputError(f"run: expected the fields {sorted(fields)}, got {got}")
        return cls(**values)

    def differences(self, other: Run) -> list[tuple[str, Any, Any]]:
        """``(field, other's value, this value)`` for each field that differs, nested fields
        named with dots (``"model.activation"``), in field order.

        >>> a = Run(None, None, "l", {}, 10, 3, None, {}, {})
        >>> a.differences(dataclasses.replace(a, batch_size=20))
        [('batch_size', 20, 10)]
        """
        return _differences(other.to_dict(), self.to_dict(), "")

    def check_resume(self, saved: Run, epochs_done: int, where: str) -> None:
        """Refuses to resume ``saved`` (written at ``where``) as this run, unless the two differ
        in their number of epochs only (``epochs``, and ``config.epochs`` where the configuration
        declares it), and this one asks for at least ``epochs_done``.

        Raises:
          ValueError: naming each differing field with the checkpoint's value and this run's.
        """
        lines = [
            f"  {name}: {theirs!r} in the checkpoint, {mine!r} in this run"
            for name, theirs, mine in self.differences(saved)
            if name not in ("epochs", "config.epochs")  # more epochs, declared or not
        ]
        if lines:
            raise InputError(
                f"checkpoint {where} was written by another run; resume with the same settings "
                "(more epochs are fine) or use another checkpoint folder:\n" + "\n".join(lines)
            )
        if self.epochs < epochs_done:
            raise InputError(
                f"epochs: expected at least the {epochs_done} epochs already done in the "
                f"checkpoint at {where}, got {self.epochs}"
            )


def _differences(theirs, mine, prefix: str) -> list[tuple[str, Any, Any]]:
    if isinstance(theirs, Mapping) and isinstance(mine, Mapping):
        found = []
        for name in list(mine) + [k for k in theirs if k not in mine]:
            path = f"{prefix}{name}"
            if name not in theirs or name not in mine:
                found.append((path, theirs.get(name), mine.get(name)))
            else:
                found += _differences(theirs[name], mine[name], f"{path}.")
        return found
    return [] if theirs == mine else [(prefix.removesuffix("."), theirs, mine)]


jax.tree_util.register_static(Run)  # a Run passes through jit and vmap as static data

"""What a model is, and what training changes: ``Model``, ``TrainState``, ``init_state``.

Model modules import this module only; the training engine and its host driver live in
:mod:`jaxdl.engine` and :mod:`jaxdl.fit`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Model(NamedTuple):
    """A model as two pure functions, and the hyperparameters that define it.

    Attributes:
      init: ``init(key, example_input [batch, ...]) -> params``.
      apply: ``apply(params, x [batch, ...]) -> output [batch, ...]``.
      config: the model's name and hyperparameters, JSON-ready
        (``{"name": "mlp", "num_hiddens": [256], ...}``); recorded in the run's identity
        (:class:`jaxdl.run.Run`), so a checkpoint is never resumed by another model. None for
        a model that does not say.
      stochastic: True for a model whose training pass draws random numbers (dropout): its
        ``apply(params, x, *, key=None, train=False)`` takes a key and a train switch. The
        engine passes each training step a key of its own and ``train=True``; evaluation and
        prediction call ``apply(params, x)``, deterministic. Other models are called
        ``apply(params, x)`` alone.
    """

    init: Callable[[jax.Array, jax.Array], Any]
    apply: Callable[..., jax.Array]
    config: Mapping[str, Any] | None = None
    stochastic: bool = False


def _plain(value):
    """A JSON-ready stand-in for a module attribute: numbers and strings as they are,
    sequences as lists, anything else (an initializer function, say) by its name."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return getattr(value, "__qualname__", type(value).__name__)


def from_flax(module, *, stochastic: bool = False) -> Model:
    """Adapts a ``flax.linen.Module``, whose ``init``/``apply`` are already pure.

    The config is the module's class name and its dataclass fields.

    Args:
      module: the module.
      stochastic: the module's ``__call__(x, train=False)`` uses ``flax.linen.Dropout`` (or
        other layers drawing from the ``"dropout"`` stream) when ``train`` is True; the Model's
        ``apply(params, x, *, key=None, train=False)`` passes ``key`` as that stream.

    >>> import flax.linen as nn
    >>> from_flax(nn.Dense(3)).config["features"]
    3
    """
    fields = {
        f.name: _plain(getattr(module, f.name))
        for f in dataclasses.fields(module)
        if f.name not in ("parent", "name")
    }
    config = {"name": type(module).__name__, **fields}
    if not stochastic:
        return Model(module.init, module.apply, config)

    def apply(params, x, *, key=None, train=False):
        return module.apply(params, x, train=train, rngs=None if key is None else {"dropout": key})

    return Model(module.init, apply, config, stochastic=True)


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

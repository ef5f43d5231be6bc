"""What a model is, and what training changes: ``Model``, ``TrainState``, ``init_state``,
``predict``, and the adapters of plain functions (:func:`stateless`) and flax modules
(:func:`from_flax`).

A model has parameters, which training differentiates and the optimizer updates, and model
state, which its training pass updates itself (batch norm's running statistics; empty for most
models): two pytrees, kept apart so that gradients, optimizers and regularizers see the
parameters only (as flax's ``params`` and ``batch_stats`` collections, or equinox's explicit
``State``). The training engine calls every model the same way::

    init(key, example_input) -> (params, state)
    apply(params, state, x, *, train, key=None, mask=None) -> (output, state)

with ``train=True`` in training steps and ``train=False`` in evaluation and prediction.
What else a model takes from the engine it says in ``Model.needs``: ``"key"``, a key of each
training step's own (dropout); ``"mask"``, the batch's mask of real examples (statistics that
must leave padding out, as batch norm's); ``"train"``, that it behaves otherwise in training.

Model modules import this module only; the training engine and its host driver live in
:mod:`jaxdl.engine` and :func:`jaxdl.engine.fit`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxdl._describe import describe
from jaxdl.errors import InputError, InputTypeError

NEEDS = ("key", "train", "mask")


class Model(NamedTuple):
    """A model as two pure functions, what they need from the engine, and its definition.

    Attributes:
      init: ``init(key, example_input [batch, ...]) -> (params, state)``; ``state`` is ``{}``
        for a model without state.
      apply: ``apply(params, state, x [batch, ...], *, train, key=None, mask=None) ->
        (output [batch, ...], state)``; with ``train=False`` the state comes back unchanged.
      config: the model's name and hyperparameters, JSON-ready
        (``{"name": "mlp", "num_hiddens": [256], ...}``); recorded in the run's identity
        (:class:`jaxdl.engine.record.Run`), so a checkpoint is never resumed by another model.
        None for a model that does not say.
      needs: what ``apply`` takes from the engine, a subset of ``NEEDS``: ``"key"`` (each
        training step gets a key of its own; others get None), ``"mask"`` (bool [batch], True
        for the real examples; others get None), ``"train"`` (it behaves otherwise in
        training; every model is passed ``train``).
    """

    init: Callable[[jax.Array, jax.Array], tuple[Any, Any]]
    apply: Callable[..., tuple[jax.Array, Any]]
    config: Mapping[str, Any] | None = None
    needs: frozenset[str] = frozenset()


def check_needs(needs: Iterable[str]) -> frozenset[str]:
    """``needs`` as a frozenset, each one of ``NEEDS``.

    >>> sorted(check_needs(["train", "key"]))
    ['key', 'train']
    """
    if isinstance(needs, str):
        raise InputTypeError(
            f"needs: expected a collection of {list(NEEDS)}, got the string {needs!r}"
        )
    needs = frozenset(needs)
    unknown = sorted(needs - set(NEEDS))
    if unknown:
        raise InputError(f"needs: expected some of {list(NEEDS)}, got {unknown}")
    return needs


def stateless(
    init: Callable[[jax.Array, jax.Array], Any],
    apply: Callable[..., jax.Array],
    config: Mapping[str, Any] | None = None,
    *,
    needs: Iterable[str] = (),
) -> Model:
    """A Model of a model without state, from its plain functions.

    Args:
      init: ``init(key, example_input) -> params``.
      apply: ``apply(params, x) -> output``, also taking the keywords named in ``needs``
        (``apply(params, x, *, key, train)`` for dropout).
      config: as :attr:`Model.config`.
      needs: what ``apply`` takes besides ``params`` and ``x`` (:attr:`Model.needs`).

    Returns:
      The Model; its state is ``{}``.

    Raises:
      InputError: when ``apply`` takes no keyword that ``needs`` names.

    >>> model = stateless(lambda key, x: {"w": jnp.ones(2)}, lambda p, x: x @ p["w"])
    >>> params, state = model.init(jax.random.key(0), jnp.ones((1, 2)))
    >>> model.apply(params, state, jnp.ones((3, 2)), train=False)
    (Array([2., 2., 2.], dtype=float32), {})
    """
    needs = check_needs(needs)
    try:
        parameters = inspect.signature(apply).parameters.values()
    except (TypeError, ValueError):  # no signature to read (a builtin): left to the call
        parameters = None
    if parameters is not None and all(p.kind != p.VAR_KEYWORD for p in parameters):
        names = {p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
        lacking = sorted(set(needs) - names)
        if lacking:
            raise InputError(
                f"stateless: apply: expected the keywords {lacking} that needs names, got a "
                f"function without them; add them to apply's parameters or drop them from needs"
            )

    def init_model(key, x):
        return init(key, x), {}

    def apply_model(params, state, x, *, train, key=None, mask=None):
        given = {"key": key, "train": train, "mask": mask}
        return apply(params, x, **{name: given[name] for name in needs}), state

    return Model(init_model, apply_model, config, needs)


def from_flax(module, *, rngs: Iterable[str] = ()) -> Model:
    """Adapts a ``flax.linen.Module``: its ``params`` collection is the Model's parameters,
    every other collection (``batch_stats``) its state.

    What the module's ``__call__`` takes by name it is given: ``train`` (True in training
    steps, False at initialisation, evaluation and prediction) and ``mask`` (the batch's bool
    [batch] mask of real examples; None at initialisation). For
    ``flax.linen.BatchNorm(mask=...)`` shape it to the normalised input with
    :func:`batch_mask`: a ``[batch]`` mask alone would be matched against the input's last
    axis. In training steps the state's collections are mutable and their new
    values are the new state, as flax's ``examples/imagenet`` does for ``batch_stats``.

    The config is :func:`jaxdl._describe.describe` of the module: its class name and its
    fields (a ``functools.partial`` field with its keywords).

    Args:
      module: the module.
      rngs: the names of the random streams its training pass draws from (``"dropout"`` for
        ``flax.linen.Dropout``): each training step's key is the stream's key (with several
        streams, ``jax.random.split(key, len(rngs))`` in order).

    Returns:
      The Model.

    >>> import flax.linen as nn
    >>> from_flax(nn.Dense(3)).config["features"]
    3
    """
    rngs = tuple(rngs)
    for name in rngs:
        if not isinstance(name, str):
            raise InputTypeError(f"rngs: expected names of random streams, got {name!r}")
    takes = {n for n in ("train", "mask") if n in inspect.signature(module.__call__).parameters}
    needs = frozenset(takes | ({"key"} if rngs else set()))

    def init(key, x):
        options = {name: {"train": False, "mask": None}[name] for name in takes}
        variables = dict(module.init(key, x, **options))
        return variables.pop("params", {}), variables

    def apply(params, state, x, *, train, key=None, mask=None):
        given = {"train": train, "mask": mask}
        options = {name: given[name] for name in takes}
        if key is not None and rngs:
            keys = [key] if len(rngs) == 1 else list(jax.random.split(key, len(rngs)))
            options["rngs"] = dict(zip(rngs, keys, strict=True))
        variables = {"params": params, **state}
        from flax.errors import InvalidRngError  # the module is flax's: already imported

        try:
            if train and state:
                import flax.linen as nn

                with nn.intercept_methods(_one_value_per_channel_refused):
                    return module.apply(variables, x, mutable=list(state), **options)
            return module.apply(variables, x, **options), state
        except InvalidRngError as err:
            raise InputError(
                f"from_flax: the module draws from a random stream that rngs={list(rngs)} does "
                f"not name ({str(err).split(' (')[0]}); pass its name, e.g. "
                "from_flax(module, rngs=['dropout'])"
            ) from err

    return Model(init, apply, describe(module), needs)


def batch_statistics_check(x: jax.Array, axes, where: str) -> None:
    """An InputError when the batch statistics over ``axes`` of ``x`` would see one value per
    channel: each value normalises to 0 and nothing is learnt (PyTorch's batch norm refuses it
    too). Shapes only: checked as a step is traced."""
    if math.prod(x.shape[a] for a in axes) == 1:
        raise InputError(
            f"{where}: expected more than 1 value per channel for the batch statistics in "
            f"training, got input shape {tuple(x.shape)}: each would normalise to 0; train with "
            "a batch size > 1"
        )


def _one_value_per_channel_refused(call, args, kwargs, context):
    """A flax interceptor: :func:`batch_statistics_check` on each ``nn.BatchNorm`` call that
    normalises with the batch's statistics."""
    import flax.linen as nn

    module = context.module
    if isinstance(module, nn.BatchNorm) and context.method_name == "__call__" and args:
        running = nn.merge_param(
            "use_running_average", module.use_running_average, kwargs.get("use_running_average")
        )
        if not running:
            axis = (module.axis,) if isinstance(module.axis, int) else module.axis
            feature_axes = {a % args[0].ndim for a in axis}
            axes = [a for a in range(args[0].ndim) if a not in feature_axes]
            batch_statistics_check(args[0], axes, f"{module.name or 'BatchNorm'}")
    return call(*args, **kwargs)


class TrainState(NamedTuple):
    """Everything that changes during training.

    Attributes:
      params: the model's parameter pytree (what gradients and the optimizer see).
      model_state: the model's state (running statistics; ``{}`` for most models).
      opt_state: the optimizer's state.
      step: int32 scalar, the number of updates applied.
    """

    params: Any
    model_state: Any
    opt_state: Any
    step: jax.Array


def batch_mask(mask: jax.Array | None, x: jax.Array) -> jax.Array | None:
    """The batch's mask ``bool [batch]`` shaped to broadcast against ``x [batch, ...]``:
    ``[batch, 1, ..., 1]``, as ``flax.linen.BatchNorm(mask=...)`` needs it (a mask of shape
    ``[batch]`` alone would be matched against ``x``'s last axis). None stays None.

    Raises:
      InputError: on a mask that is not one flag per example of ``x``.

    >>> batch_mask(jnp.array([True, False]), jnp.zeros((2, 5, 5, 3))).shape
    (2, 1, 1, 1)
    """
    if mask is None:
        return None
    if jnp.ndim(mask) != 1 or jnp.shape(mask)[0] != jnp.shape(x)[0]:
        raise InputError(
            f"mask: expected one flag per example, shape ({jnp.shape(x)[0]},) for a batch of "
            f"shape {tuple(jnp.shape(x))}, got shape {tuple(jnp.shape(mask))}"
        )
    return jnp.reshape(mask, (mask.shape[0],) + (1,) * (x.ndim - 1))


def init_state(model: Model, optimizer, key: jax.Array, example_input) -> TrainState:
    """Initialises parameters and model state with ``key``, and the optimizer state from the
    parameters."""
    params, model_state = model.init(key, example_input)
    return TrainState(params, model_state, optimizer.init(params), jnp.zeros((), jnp.int32))


def predict(model: Model, state: TrainState, x) -> jax.Array:
    """The model's output in evaluation mode (``train=False``: no dropout, batch norm with its
    running statistics) with the parameters and model state of ``state``.

    Args:
      model: the Model.
      state: a TrainState of one model (``Result.state``; for several models trained at once,
        pick one first, e.g. ``jax.tree.map(lambda a: a[0], state)``).
      x: inputs [batch, ...].

    Returns:
      The output [batch, ...].

    Raises:
      InputError: on the state of several models (its ``step`` has a models axis).

    >>> model = stateless(lambda key, x: {"w": jnp.ones(2)}, lambda p, x: x @ p["w"])
    >>> import optax
    >>> state = init_state(model, optax.sgd(0.1), jax.random.key(0), jnp.ones((1, 2)))
    >>> predict(model, state, jnp.ones((1, 2)))
    Array([2.], dtype=float32)
    """
    step = getattr(state, "step", None)
    if step is not None and jnp.ndim(step) > 0:
        shape = tuple(jnp.shape(step))
        raise InputError(
            f"predict: state: expected the state of one model, got {shape} models' (trained "
            "at once: a batch of keys or a sweep); pick one, e.g. "
            "jax.tree.map(lambda a: a[0], state)"
        )
    output, _ = model.apply(state.params, state.model_state, x, train=False)
    return output

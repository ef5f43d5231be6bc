"""Optimizers as optax ``GradientTransformation``s, and the L2 penalty.

``sgd`` is the book's minibatch SGD written from scratch: ``update`` turns gradients into
``-learning_rate * grad``, exactly as ``optax.sgd`` does. Its state carries the learning rate, so
the training engine can name it when a run diverges, and a sweep can hold it in an array.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdl._checks import check_number, is_traced
from jaxdl.errors import InputError


class SGDState(NamedTuple):
    """State of :func:`sgd`: only the learning rate, a float32 scalar."""

    learning_rate: jax.Array


def sgd(learning_rate) -> optax.GradientTransformation:
    """Minibatch stochastic gradient descent: ``params <- params - learning_rate * grad``.

    Args:
      learning_rate: step size > 0; a float or a float32 scalar array (traced values are
        allowed, e.g. one rate per model under ``jax.vmap``).

    Returns:
      An optax GradientTransformation; ``optax.apply_updates`` applies its updates.

    >>> opt = sgd(0.1)
    >>> params = {"w": jnp.array([1.0, 2.0])}
    >>> updates, _ = opt.update({"w": jnp.array([1.0, -1.0])}, opt.init(params))
    >>> optax.apply_updates(params, updates)["w"].tolist()
    [0.8999999761581421, 2.0999999046325684]
    """
    check_number(learning_rate, "learning_rate", low=0, strict=True)
    if not is_traced(learning_rate) and jnp.ndim(learning_rate) == 0:
        with np.errstate(over="ignore"):  # a rate too large for float32 becomes inf: refused
            rate32 = np.float32(learning_rate)
        if not 0 < rate32 < np.inf:
            raise InputError(
                "learning_rate: expected a number that float32, the training dtype, holds as "
                f"a finite number > 0, got {float(learning_rate)!r} ({rate32} in float32)"
            )

    def init(params):
        del params
        return SGDState(jnp.asarray(learning_rate, jnp.float32))

    def update(updates, state, params=None):
        del params
        updates = jax.tree.map(lambda g: -state.learning_rate * g, updates)
        return updates, state

    return optax.GradientTransformation(init, update)


def sgd_weight_decay(learning_rate, weight_decay, *, mask=None) -> optax.GradientTransformation:
    """SGD with decoupled weight decay: ``params <- params - lr * (grad + weight_decay * params)``.

    ``optax.add_decayed_weights`` chained before :func:`sgd`. With plain SGD this equals adding
    the penalty ``weight_decay / 2 * ||w||²`` to the loss (see :func:`l2_penalty`). The decay is
    held in the state (``optax.inject_hyperparams``), as the learning rate is, so it is part of
    a run's identity and may be an array swept under ``jax.vmap``.

    Args:
      learning_rate: step size > 0.
      weight_decay: decay coefficient >= 0 (a traced scalar is allowed).
      mask: optional pytree of bools (or a function of params returning one) selecting the
        parameters to decay; the book decays weights, not biases.

    Returns:
      An optax GradientTransformation.
    """
    check_number(weight_decay, "weight_decay", low=0)
    decayed = optax.inject_hyperparams(optax.add_decayed_weights, static_args=("mask",))
    decay = decayed(weight_decay=weight_decay, mask=mask)
    return optax.chain(decay, sgd(learning_rate))


def adam(learning_rate, *, weight_decay=0.0) -> optax.GradientTransformation:
    """PyTorch's ``torch.optim.Adam(lr, weight_decay)``: L2 weight decay added to the gradient
    (``grad + weight_decay * params``), then ``optax.adam``.

    The decay is coupled (it passes through Adam's scaling), unlike AdamW's. PyTorch's defaults
    and optax's agree (betas 0.9 / 0.999, eps 1e-8 added after the square root). The learning
    rate and the decay are held in the state (``optax.inject_hyperparams``), so both are part
    of a run's identity.

    Args:
      learning_rate: step size > 0.
      weight_decay: L2 coefficient >= 0.

    Returns:
      An optax GradientTransformation.

    >>> opt = adam(0.1)
    >>> params = {"w": jnp.array([1.0])}
    >>> updates, _ = opt.update({"w": jnp.array([5.0])}, opt.init(params), params)
    >>> updates["w"]  # Adam's first step is -lr * sign(grad)
    Array([-0.1], dtype=float32)
    """
    check_number(learning_rate, "learning_rate", low=0, strict=True)
    check_number(weight_decay, "weight_decay", low=0)
    decay = optax.inject_hyperparams(optax.add_decayed_weights)(weight_decay=weight_decay)
    return optax.chain(decay, optax.inject_hyperparams(optax.adam)(learning_rate=learning_rate))


def l2_penalty(params) -> jax.Array:
    """The book's ``l2_penalty``: ``½ ||w||²``, summed over every leaf of ``params``.

    Note this is half the squared norm, not the L2 norm; for the norm use ``jaxdl.linalg``.

    >>> float(l2_penalty({"w": jnp.array([3.0, 4.0])}))
    12.5
    """
    leaves = jax.tree.leaves(params)
    if not leaves:
        raise InputError("params: expected at least one array, got an empty pytree")
    return sum(jnp.sum(jnp.square(p)) for p in leaves) / 2


def optimizer_hyperparams(opt_state) -> dict:
    """The hyperparameters an optimizer state holds: ``{"learning_rate": ..., ...}``.

    Finds :class:`SGDState` and the ``hyperparams`` of ``optax.inject_hyperparams``; values
    are as stored (arrays, stacked under ``vmap``). Empty when the state holds none.

    >>> optimizer_hyperparams(sgd(0.5).init({}))
    {'learning_rate': Array(0.5, dtype=float32)}
    """
    is_state = lambda s: isinstance(s, SGDState) or hasattr(s, "hyperparams")  # noqa: E731
    found = {}
    for node in jax.tree.leaves(opt_state, is_leaf=is_state):
        if isinstance(node, SGDState):
            found.setdefault("learning_rate", node.learning_rate)
        elif hasattr(node, "hyperparams"):
            for name, value in node.hyperparams.items():
                found.setdefault(name, value)
    return found

"""The key schedule of a training run: every random number of a run from its one key.

A run's key is split once into three roots, each with one use, so no random bits are drawn
twice:

- ``init``: the model's initialisation;
- ``data``: the shuffles; epoch ``e`` shuffles its examples with ``fold_in(data, e)``;
- ``steps``: the training steps' own randomness (dropout); step ``s``, counted over the whole
  run, draws with ``fold_in(steps, s)``.

``train``, ``fit``, the experiments and the tests all derive their keys here. (With JAX's
partitionable threefry, ``split(k, 3)[:2] == split(k, 2)``, so the initialisation and the
shuffles are those of a plain ``init, data = split(key)``.)

>>> key = jax.random.key(0)
>>> same = lambda a, b: jax.random.key_data(a).tolist() == jax.random.key_data(b).tolist()
>>> same(shuffle_key(run_keys(key), 1), jax.random.fold_in(jax.random.split(key)[1], 1))
True
"""

from __future__ import annotations

from typing import NamedTuple

import jax


class RunKeys(NamedTuple):
    """The three roots of a run's randomness (module docstring); each a ``jax.random.key``,
    or a batch of keys ``[N]`` for N models trained at once."""

    init: jax.Array
    data: jax.Array
    steps: jax.Array


def run_keys(key: jax.Array) -> RunKeys:
    """Splits a run's key into its roots: ``init, data, steps = split(key, 3)``.

    Args:
      key: a ``jax.random.key``, or a batch of keys [N] (N models trained at once).

    Returns:
      The run's :class:`RunKeys` (each root [N] for a batch of keys).
    """
    if jax.numpy.ndim(key) == 1:
        return jax.vmap(run_keys)(key)
    return RunKeys(*jax.random.split(key, 3))


def shuffle_key(keys: RunKeys, epoch) -> jax.Array:
    """The key that shuffles epoch ``epoch`` (from 0): ``fold_in(keys.data, epoch)``."""
    return jax.random.fold_in(keys.data, epoch)


def step_key(keys: RunKeys, step) -> jax.Array:
    """The key of training step ``step`` (from 0, over the whole run): ``fold_in(keys.steps,
    step)``."""
    return jax.random.fold_in(keys.steps, step)

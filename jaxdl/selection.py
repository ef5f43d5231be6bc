"""Model selection: the masked linear model, k-fold splits, and cross-validation under ``vmap``.

The book's sections 4.4 (model selection, under- and overfitting) and its k-fold procedure.
``cross_validate`` trains the k fold models at once: each fold's training and validation rows
are gathered into arrays of one common shape (padded by at most one row, masked), and
``jax.vmap`` runs :func:`jaxdl.engine.train` over the folds as one program.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl._checks import check_data, check_int, is_traced
from jaxdl.engine import train
from jaxdl.engine.divergence import check_finite
from jaxdl.engine.epoch import Metric
from jaxdl.errors import InputError
from jaxdl.model import Model, stateless


def masked_linear(mask) -> Model:
    """A linear model without bias on the features where ``mask`` is 1: ``y = X (w * mask)``.

    ``w`` is drawn as PyTorch's ``nn.Linear`` default, ``U(-1/√k, 1/√k)`` with ``k`` the number
    of features in use (the book's polynomial network). Masks of one length give models of one
    shape, so models of every degree train together under ``jax.vmap``; masked weights get zero
    gradient and take no part in the output.

    Args:
      mask: [num_features] of 0/1, the features in use (may be traced).

    Returns:
      A Model without state (:func:`jaxdl.model.stateless`); inputs [batch, num_features],
      output [batch].
    """
    mask = jnp.asarray(mask, jnp.float32)
    config = {"name": "masked_linear", "mask": None if is_traced(mask) else mask.tolist()}

    def init(key, x):
        bound = 1.0 / jnp.sqrt(jnp.maximum(jnp.sum(mask), 1.0))
        w = jax.random.uniform(key, (x.shape[-1],), minval=-1.0, maxval=1.0) * bound
        return {"w": w * mask}

    def apply(params, x):
        return x @ (params["w"] * mask)

    return stateless(init, apply, config)


def k_fold_splits(num_examples: int, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Contiguous folds, as the book: fold i validates on the i-th block of examples.

    Unlike the book's ``get_k_fold_data`` no example is dropped: fold sizes differ by at most
    one (``np.array_split``), and each example is in exactly one validation fold.

    Args:
      num_examples: n.
      k: number of folds, 2 <= k <= n.

    Returns:
      ``k`` pairs ``(train_indices, val_indices)`` of int arrays.

    >>> [v.tolist() for _, v in k_fold_splits(5, 2)]
    [[0, 1, 2], [3, 4]]
    """
    num_examples = check_int(num_examples, "num_examples", low=2)
    k = check_int(k, "k", low=2, high=num_examples)
    blocks = np.array_split(np.arange(num_examples), k)
    return [(np.concatenate(blocks[:i] + blocks[i + 1 :]), blocks[i]) for i in range(k)]


def _stack(indices: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Pads index arrays to one length: ``(indices [k, m], valid [k, m])``."""
    m = max(len(i) for i in indices)
    stacked = np.zeros((len(indices), m), np.int32)
    valid = np.zeros((len(indices), m), bool)
    for row, i in enumerate(indices):
        stacked[row, : len(i)] = i
        valid[row, : len(i)] = True
    return stacked, valid


def fold_arrays(num_examples: int, k: int) -> tuple[np.ndarray, ...]:
    """The k folds as padded arrays, ready for ``jax.vmap``.

    Returns:
      ``(train_indices [k, m], train_valid [k, m], val_indices [k, v], val_valid [k, v])``:
      each fold's training and validation rows, padded to the longest fold and masked.
    """
    splits = k_fold_splits(num_examples, k)
    return (*_stack([t for t, _ in splits]), *_stack([v for _, v in splits]))


def make_fold_trainer(
    model: Model,
    loss,
    optimizer,
    data,
    *,
    epochs: int,
    batch_size: int,
    metrics: Mapping[str, Metric] | None = None,
    regularizer: Callable[[Any], jax.Array] | None = None,
):
    """The pure function that trains and scores the model of one fold.

    Returns:
      ``one_fold(key, train_indices, train_valid, val_indices, val_valid) -> Result``
      over rows of ``data``, for one row of :func:`fold_arrays`; ``jax.vmap`` it over folds.
    """
    x, y = data

    def one_fold(key, t_idx, t_valid, v_idx, v_valid):
        xt, yt, xv, yv = x[t_idx], y[t_idx], x[v_idx], y[v_idx]
        return train(
            model,
            loss,
            optimizer,
            (xt, yt, t_valid),
            epochs=epochs,
            batch_size=batch_size,
            key=key,
            eval_data={"train_eval": (xt, yt, t_valid), "val": (xv, yv, v_valid)},
            metrics=metrics,
            regularizer=regularizer,
        )

    return one_fold


class CrossValidation(NamedTuple):
    """Result of :func:`cross_validate`.

    Attributes:
      train_loss: [k] each fold model's final loss on its training rows.
      val_loss: [k] each fold model's final loss on its validation fold.
      history: arrays [k, epochs]: ``train_loss`` (minibatch average), ``train_eval_loss``
        (the fold's training rows after each epoch), ``val_loss`` and the metrics likewise.
      params: the k trained parameter pytrees, stacked on a leading axis.

    With candidates (:func:`cross_validate`), every array has a leading axis [c] more.
    """

    train_loss: np.ndarray
    val_loss: np.ndarray
    history: dict[str, np.ndarray]
    params: Any


def cross_validate(
    model,
    loss,
    optimizer,
    data,
    *,
    k: int,
    epochs: int,
    batch_size: int,
    key: jax.Array,
    metrics: Mapping[str, Metric] | None = None,
    regularizer: Callable[[Any], jax.Array] | None = None,
    vmap: bool = True,
    candidates=None,
) -> CrossValidation:
    """k-fold cross-validation: trains one model per fold and scores it on the held-out fold.

    With ``vmap=True`` the k models train at once, as one jitted ``jax.vmap`` of
    :func:`jaxdl.engine.train`; with ``vmap=False`` the same jitted single-fold function runs
    once per fold, one after another (same results, for comparison). With ``candidates``, every
    candidate model is cross-validated, all ``c × k`` models trained as one program (one
    compilation): the candidates are data, e.g. the feature masks of models of every degree.

    Args:
      model: the Model; with ``candidates``, a function ``candidate -> Model``.
      loss, optimizer, epochs, batch_size, metrics, regularizer: as
        :func:`jaxdl.engine.train`.
      data: ``(x [n, ...], y [n, ...])``.
      k: number of folds, 2 <= k <= n.
      key: fold ``i`` trains with ``jax.random.split(key, k)[i]`` (for every candidate).
      vmap: train the folds at once (True) or one after another (False; not with candidates).
      candidates: optional array ``[c, ...]``, one row per candidate model.

    Returns:
      A CrossValidation; with candidates, its arrays have a leading axis [c].

    Raises:
      ValueError: on bad data, k, epochs (>= 1 here) or batch size.
      FloatingPointError: when a loss of a fold turns NaN or inf.
    """
    x, y = (jnp.asarray(a) for a in data)
    folds = fold_arrays(check_data(x, y, "data"), k)
    check_int(epochs, "epochs", low=1)
    if candidates is not None and not vmap:
        raise InputError("vmap: expected True with candidates (they train as one program)")

    def one_fold(candidate, *fold):
        fold_model = model if candidates is None else model(candidate)
        trainer = make_fold_trainer(
            fold_model,
            loss,
            optimizer,
            (x, y),
            epochs=epochs,
            batch_size=batch_size,
            metrics=metrics,
            regularizer=regularizer,
        )
        return trainer(*fold)

    args = (jax.random.split(key, k), *folds)
    if candidates is not None:
        every_fold = jax.vmap(one_fold, in_axes=(None, 0, 0, 0, 0, 0))
        result = jax.jit(lambda c: jax.lax.map(lambda one: every_fold(one, *args), c))(
            jnp.asarray(candidates)
        )
    elif vmap:
        result = jax.jit(jax.vmap(functools.partial(one_fold, None)))(*args)
    else:
        single = jax.jit(functools.partial(one_fold, None))
        runs = [single(*(a[i] for a in args)) for i in range(k)]
        result = jax.tree.map(lambda *leaves: jnp.stack(leaves), *runs)
    history = check_finite(result, "cross-validation")
    return CrossValidation(
        history["train_eval_loss"][..., -1],
        history["val_loss"][..., -1],
        history,
        result.state.params,
    )

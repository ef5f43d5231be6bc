"""Model selection: polynomial features, k-fold splits, and cross-validation under ``vmap``.

The book's sections 4.4 (model selection, under- and overfitting) and its k-fold procedure.
``cross_validate`` trains the k fold models at once: each fold's training and validation rows
are gathered into arrays of one common shape (padded by at most one row, masked), and
``jax.vmap`` runs :func:`jaxdl.train.train` over the folds as one program.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.train import Metric, Model, check_data, check_finite_history, train


def polynomial_features(x, max_degree: int) -> jax.Array:
    """The book's features ``x^i / i!`` for ``i = 0 .. max_degree - 1``.

    Dividing by ``i!`` (``Γ(i + 1)``) keeps high powers of ``x ~ N(0, 1)`` from dominating the
    gradients.

    Args:
      x: inputs [n].
      max_degree: number of features, >= 1 (powers 0 .. max_degree - 1).

    Returns:
      Features [n, max_degree].

    >>> polynomial_features(jnp.array([2.0]), 4).tolist()
    [[1.0, 2.0, 2.0, 1.3333333730697632]]
    """
    x = jnp.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"x: expected a vector [n], got shape {x.shape}")
    if isinstance(max_degree, bool) or not isinstance(max_degree, int) or max_degree < 1:
        raise ValueError(f"max_degree: expected an integer >= 1, got {max_degree!r}")
    powers = jnp.arange(max_degree)
    factorials = jnp.array([math.factorial(i) for i in range(max_degree)], jnp.float32)
    return jnp.power(x[:, None], powers[None, :]) / factorials[None, :]


def masked_linear(mask) -> Model:
    """A linear model without bias on the features where ``mask`` is 1: ``y = X (w * mask)``.

    ``w`` is drawn as PyTorch's ``nn.Linear`` default, ``U(-1/√k, 1/√k)`` with ``k`` the number
    of features in use (the book's polynomial network). Masks of one length give models of one
    shape, so models of every degree train together under ``jax.vmap``; masked weights get zero
    gradient and take no part in the output.

    Args:
      mask: [num_features] of 0/1, the features in use (may be traced).

    Returns:
      A Model; ``apply(params, x [batch, num_features]) -> [batch]``.
    """
    mask = jnp.asarray(mask, jnp.float32)

    def init(key, x):
        bound = 1.0 / jnp.sqrt(jnp.maximum(jnp.sum(mask), 1.0))
        w = jax.random.uniform(key, (x.shape[-1],), minval=-1.0, maxval=1.0) * bound
        return {"w": w * mask}

    def apply(params, x):
        return x @ (params["w"] * mask)

    return Model(init, apply)


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
    for name, value in (("num_examples", num_examples), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if not 2 <= k <= num_examples:
        raise ValueError(
            f"k: expected an integer in [2, {num_examples}] (the number of examples), got {k}"
        )
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
      ``one_fold(key, train_indices, train_valid, val_indices, val_valid) -> (state, history)``
      over rows of ``data``, for one row of :func:`fold_arrays`; ``jax.vmap`` it over folds.
    """
    x, y = data

    def one_fold(key, t_idx, t_valid, v_idx, v_valid):
        xt, yt, xv, yv = x[t_idx], y[t_idx], x[v_idx], y[v_idx]
        return train(
            model,
            loss,
            optimizer,
            (xt, yt),
            epochs=epochs,
            batch_size=batch_size,
            key=key,
            eval_data={"train": (xt, yt, t_valid), "val": (xv, yv, v_valid)},
            metrics=metrics,
            regularizer=regularizer,
            valid=t_valid,
        )

    return one_fold


class CrossValidation(NamedTuple):
    """Result of :func:`cross_validate`.

    Attributes:
      train_loss: [k] each fold model's final loss on its training rows.
      val_loss: [k] each fold model's final loss on its validation fold.
      history: arrays [k, epochs]: ``train_loss`` (minibatch average), ``eval_train_loss``,
        ``eval_val_loss`` and the metrics likewise.
      params: the k trained parameter pytrees, stacked on a leading axis.
    """

    train_loss: np.ndarray
    val_loss: np.ndarray
    history: dict[str, np.ndarray]
    params: Any


def cross_validate(
    model: Model,
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
) -> CrossValidation:
    """k-fold cross-validation: trains one model per fold and scores it on the held-out fold.

    With ``vmap=True`` the k models train at once, as one jitted ``jax.vmap`` of
    :func:`jaxdl.train.train`; with ``vmap=False`` the same jitted single-fold function runs
    once per fold, one after another (same results, for comparison).

    Args:
      model, loss, optimizer, epochs, batch_size, metrics, regularizer: as
        :func:`jaxdl.train.fit`.
      data: ``(x [n, ...], y [n, ...])``.
      k: number of folds, 2 <= k <= n.
      key: fold ``i`` trains with ``jax.random.split(key, k)[i]``.
      vmap: train the folds at once (True) or one after another (False).

    Returns:
      A CrossValidation.

    Raises:
      ValueError: on bad data, k, epochs (>= 1 here) or batch size.
      FloatingPointError: when a fold's training loss turns NaN or inf.
    """
    x, y = (jnp.asarray(a) for a in data)
    folds = fold_arrays(check_data(x, y, "data"), k)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs: expected an integer >= 1, got {epochs!r}")
    one_fold = make_fold_trainer(
        model,
        loss,
        optimizer,
        (x, y),
        epochs=epochs,
        batch_size=batch_size,
        metrics=metrics,
        regularizer=regularizer,
    )
    args = (jax.random.split(key, k), *folds)
    if vmap:
        state, history = jax.jit(jax.vmap(one_fold))(*args)
    else:
        single = jax.jit(one_fold)
        runs = [single(*(a[i] for a in args)) for i in range(k)]
        state, history = jax.tree.map(lambda *leaves: jnp.stack(leaves), *runs)
    history = check_finite_history(history, "cross-validation")
    return CrossValidation(
        history["eval_train_loss"][:, -1],
        history["eval_val_loss"][:, -1],
        history,
        state.params,
    )

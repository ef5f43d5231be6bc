"""The one divergence reporter (``jaxdl.engine.divergence``): which models, sets and epochs it
names, by hand-built histories, and its messages word for word."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.engine import fit, train
from jaxdl.engine.divergence import (
    Divergence,
    check_finite,
    check_history,
    divergence_error,
    divergences,
)
from jaxdl.model import stateless
from jaxdl.optim import sgd

from references import half_squared

INF, NAN = np.inf, np.nan


def test_a_finite_history_has_no_divergence():
    assert divergences({"train_loss": np.ones(3), "train_acc": np.array([NAN, 1, 1])}) == []


def test_one_model_its_first_bad_epoch_and_value():
    h = {"train_loss": np.array([1.0, 2.0, INF, NAN]), "test_loss": np.array([1.0, NAN, 1, 1])}
    [found] = divergences(h)
    assert found[:3] == ((), "test", 2) and np.isnan(found.value)
    assert divergences({"train_loss": h["train_loss"]}) == [Divergence((), "train", 3, INF)]


def test_every_model_with_its_own_first_bad_loss_in_model_order():
    train_loss = np.array([[1, 1, 1, 1], [1, 1, INF, INF], [-INF, 1, 1, 1], [1, 1, 1, NAN]])
    test_loss = np.array([[1, 1, 1, 1], [1, INF, 1, 1], [1, 1, 1, 1], [1, 1, INF, 1]])
    found = divergences({"train_loss": train_loss, "test_loss": test_loss})
    assert [(d.model, d.set, d.epoch) for d in found] == [
        ((1,), "test", 2),
        ((2,), "train", 1),
        ((3,), "test", 3),
    ]
    assert found[1].value == -INF


def test_within_an_epoch_the_record_order_decides_not_the_keys_order():
    """A history from jit has sorted keys (test_loss before train_loss): the training set still
    comes first, then the evaluation sets in the order given."""
    h = {"a_loss": np.array([INF]), "test_loss": np.array([INF]), "train_loss": np.array([INF])}
    assert divergences(h)[0].set == "train"
    h.pop("train_loss")
    assert divergences(h, sets=["train", "test", "a"])[0].set == "test"
    assert divergences(h)[0].set == "a"  # no order given: the history's


def test_a_grid_of_models_and_an_epoch_offset():
    values = np.ones((2, 3, 1))
    values[1, 2, 0] = NAN
    found = divergences({"val_loss": values}, first_epoch=7)
    assert [(d.model, d.set, d.epoch) for d in found] == [((1, 2), "val", 7)]


def test_the_message_of_one_model():
    error = divergence_error("fitting", [Divergence((), "train", 8, INF)], learning_rate=1001.0)
    assert str(error) == (
        "fitting diverged: the train loss is inf at epoch 8 (learning rate 1001); lower the "
        "learning rate"
    )
    unknown = divergence_error("fitting", [Divergence((), "test", 1, NAN)])
    assert "(the optimizer's learning rate is unknown)" in str(unknown)


def test_the_message_of_several_names_every_one_with_its_swept_values():
    found = [Divergence((1,), "train", 3, NAN), Divergence((3,), "test", 1, INF)]
    error = divergence_error(
        "sweep",
        found,
        models=4,
        swept={"λ": np.array([0.0, 0.5, 1.0, 30.0]), "σ": 0.1},
        learning_rate=np.array([0.1, 0.2, 0.3, 0.4]),
    )
    assert str(error) == (
        "sweep: 2 of 4 models diverged: model 1 (λ = 0.5, σ = 0.1): the train loss is nan at "
        "epoch 3 (learning rate 0.2); model 3 (λ = 30, σ = 0.1): the test loss is inf at epoch 1 "
        "(learning rate 0.4); lower the learning rate"
    )


def test_a_grid_model_is_named_by_both_indices():
    error = divergence_error("cv", [Divergence((1, 2), "val", 7, NAN)], models=6)
    assert str(error).startswith("cv: 1 of 6 models diverged: model 1, 2: the val loss is nan")


def test_train_and_fit_name_the_training_loss_first_when_both_overflow_together():
    model = stateless(lambda k, x: {"w": jnp.ones(1)}, lambda p, x: x @ p["w"])
    x, y = jnp.full((4, 1), 1e30), jnp.zeros(4)
    options = dict(epochs=1, batch_size=4, key=jax.random.key(0), eval_data={"a_test": (x, y)})
    result = jax.jit(lambda: train(model, half_squared, sgd(0.1), (x, y), **options))()
    assert list(result.history) == ["a_test_loss", "train_loss"]  # sorted by jit
    assert (
        np.isinf(result.history["a_test_loss"]).all()
        and np.isinf(result.history["train_loss"]).all()
    )
    with pytest.raises(FloatingPointError, match=r"diverged: the train loss is inf at epoch 1"):
        check_finite(result)
    with pytest.raises(FloatingPointError, match=r"diverged: the train loss is inf at epoch 1"):
        fit(model, half_squared, sgd(0.1), (x, y), quiet=True, **options)


def test_swept_values_of_every_kind():
    per_layer = np.array([[0.1, 0.2], [0.04, 0.09]])  # σ of each layer, per model
    error = divergence_error(
        "sweep", [Divergence((1,), "train", 2, NAN)], models=2, swept={"σ": per_layer}
    )
    assert "model 1 (σ = [0.04, 0.09]): the train loss" in str(error)
    grid = divergence_error(  # candidates × folds, a name per candidate
        "cv", [Divergence((1, 0), "val", 2, NAN)], models=6, swept={"init": ["0.01", "xavier"]}
    )
    assert "model 1, 0 (init = xavier): the val loss" in str(grid)


def test_swept_values_of_another_length_are_refused_by_name():
    history = {"train_loss": np.array([[1.0, 1.0], [INF, 1.0]])}
    with pytest.raises(
        ValueError, match=r"^swept\['λ'\]: expected one value per model, shape \[2\]"
    ):
        check_history(history, "sweep", sets=["train"], opt_state=(), swept={"λ": [0.1]})
    with pytest.raises(FloatingPointError, match=r"model 1 \(λ = 0.3\)"):
        check_history(history, "sweep", sets=["train"], opt_state=(), swept={"λ": [0.1, 0.3]})
    with pytest.raises(FloatingPointError, match=r"model 1 \(λ = 0.5\)"):  # one for all
        check_history(history, "sweep", sets=["train"], opt_state=(), swept={"λ": 0.5})

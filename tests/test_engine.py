"""The pure engine (make_epoch, train, check_finite): against a NumPy SGD loop and hand values,
keys, vmap over seeds and learning rates, masking, and the Result and Run under jit and vmap."""

import dataclasses
import hashlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl.engine import Result, train
from jaxdl.engine.divergence import check_finite
from jaxdl.engine.epoch import make_epoch
from jaxdl.engine.keys import run_keys
from jaxdl.model import TrainState, init_state, stateless
from jaxdl.models.linear import linear_regression
from jaxdl.optim import l2_penalty, sgd, sgd_weight_decay

from references import absolute, half_squared, initial_params, numpy_eval, numpy_sgd


def _train(data, *, model=None, optimizer=None, **overrides):
    """``train`` on ``data`` with ½ squared error: by default ``linear_regression()`` by SGD at
    rate 0.03, 2 epochs of batches of 10, key 0; ``overrides`` go to ``train`` as they are."""
    options = dict(epochs=2, batch_size=10, key=jax.random.key(0)) | overrides
    model = linear_regression() if model is None else model
    optimizer = sgd(0.03) if optimizer is None else optimizer
    return train(model, half_squared, optimizer, data, **options)


def test_train_equals_numpy_sgd_loop(regression_data):
    x, y = regression_data
    key = jax.random.key(0)
    result = jax.jit(lambda: _train((x, y), epochs=3, key=key))()
    w, b, _, stats = numpy_sgd(initial_params(key, x), x, y, key, 3, 10, 0.03)
    np.testing.assert_allclose(result.state.params["w"], w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.state.params["b"], b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.history["train_loss"], stats[:, 0], rtol=1e-5)
    assert int(result.state.step) == 3 * 11  # ceil(103 / 10) steps per epoch


def test_regularizer_equals_decoupled_weight_decay_and_numpy(regression_data):
    x, y = regression_data
    key, lam = jax.random.key(1), 0.7

    def run(optimizer, regularizer=None):
        options = dict(optimizer=optimizer, batch_size=8, key=key, regularizer=regularizer)
        return jax.jit(lambda: _train((x, y), **options))().state.params

    penalised = run(sgd(0.02), lambda p: lam * l2_penalty(p["w"]))
    decoupled = run(sgd_weight_decay(0.02, lam, mask={"w": True, "b": False}))
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), penalised, decoupled
    )
    w, b, _, _ = numpy_sgd(initial_params(key, x), x, y, key, 2, 8, 0.02, wd=lam)
    np.testing.assert_allclose(penalised["w"], w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(penalised["b"], b, rtol=1e-5, atol=1e-6)
    unpenalised, _, _, _ = numpy_sgd(initial_params(key, x), x, y, key, 2, 8, 0.02)
    assert not np.allclose(w, unpenalised, rtol=1e-3)  # the penalty matters at this lam


def test_history_keys_and_eval_loss(regression_data):
    x, y = regression_data
    key = jax.random.key(0)
    test = (x[:40] + 1.0, y[:40])  # another set than the training data
    options = dict(key=key, eval_data={"test": test}, metrics={"abs": absolute})
    result = jax.jit(lambda: _train((x, y), **options))()
    h = result.history
    assert set(h) == {"train_loss", "train_abs", "test_loss", "test_abs"}
    assert all(v.shape == (2,) for v in h.values())
    _, _, trajectory, stats = numpy_sgd(initial_params(key, x), x, y, key, 2, 10, 0.03)
    expected = np.array([numpy_eval(w, b, *test) for w, b in trajectory])
    np.testing.assert_allclose(h["test_loss"], expected[:, 0], rtol=1e-5)
    np.testing.assert_allclose(h["test_abs"], expected[:, 1], rtol=1e-5)
    np.testing.assert_allclose(h["train_loss"], stats[:, 0], rtol=1e-5)
    np.testing.assert_allclose(h["train_abs"], stats[:, 1], rtol=1e-5)


@pytest.mark.parametrize(("batch_size", "eval_batch_size"), [(1, 1), (3, 2), (3, 5), (7, 9)])
def test_every_example_once_in_training_and_evaluation(batch_size, eval_batch_size):
    """The model outputs x itself and the optimizer never moves it, so the epoch's means are
    the means over the data: an example missed, repeated, or a padding slot counted, shows."""
    model = stateless(lambda k, x: {"s": jnp.zeros(())}, lambda p, x: x[:, 0] + p["s"])
    epoch = make_epoch(
        model,
        half_squared,
        optax.set_to_zero(),
        num_examples=7,
        batch_size=batch_size,
        eval_sizes={"test": 5},
        eval_batch_size=eval_batch_size,
        metrics={"value": lambda o, t: o - t},
    )
    x, y = jnp.arange(7.0)[:, None], jnp.zeros(7)
    ex, ey = jnp.arange(10.0, 15.0)[:, None], jnp.zeros(5)
    state = init_state(model, optax.set_to_zero(), jax.random.key(0), x[:1])
    keys = run_keys(jax.random.key(1))
    state, record = jax.jit(epoch)(state, keys, 0, (x, y, None), {"test": (ex, ey, None)})
    np.testing.assert_allclose(record["train_loss"], np.mean(0.5 * np.arange(7.0) ** 2), rtol=1e-6)
    np.testing.assert_allclose(record["train_value"], 3.0, rtol=1e-6)
    np.testing.assert_allclose(
        record["test_loss"], np.mean(0.5 * np.arange(10.0, 15) ** 2), rtol=1e-6
    )
    np.testing.assert_allclose(record["test_value"], 12.0, rtol=1e-6)
    assert int(state.step) == -(-7 // batch_size)


def test_same_key_same_params_other_key_other_params(regression_data):
    x, y = regression_data

    def run(seed):
        return jax.jit(lambda: _train((x, y), key=jax.random.key(seed)))().state.params

    a, b, c = run(0), run(0), run(1)
    jax.tree.map(np.testing.assert_array_equal, a, b)
    assert not np.array_equal(a["w"], c["w"])


def test_vmap_trains_three_seeds_at_once(regression_data):
    x, y = regression_data
    keys = jax.random.split(jax.random.key(9), 3)

    def run(key):
        return _train((x, y), key=key, eval_data={"test": (x[:30], y[:30])})

    batched = jax.jit(jax.vmap(run))(keys)
    assert batched.history["train_loss"].shape == (3, 2)
    assert batched.history["test_loss"].shape == (3, 2)
    for i in range(3):
        single = jax.jit(run)(keys[i])
        close = lambda a, b, i=i: np.testing.assert_allclose(a[i], b, rtol=1e-6, atol=1e-7)  # noqa: E731
        jax.tree.map(close, batched.state.params, single.state.params)
        jax.tree.map(close, batched.history, single.history)
        assert int(batched.state.step[i]) == int(single.state.step) == 2 * 11
    assert not np.allclose(batched.state.params["w"][0], batched.state.params["w"][1])


def test_vmap_over_learning_rates(regression_data):
    x, y = regression_data
    rates = [0.01, 0.03]

    def run(rate):
        return _train((x, y), optimizer=sgd(rate), eval_data={"test": (x, y)})

    batched = jax.jit(jax.vmap(run))(jnp.array(rates))
    np.testing.assert_array_equal(batched.state.opt_state.learning_rate, np.float32(rates))
    for i, rate in enumerate(rates):
        single = jax.jit(lambda rate=rate: run(rate))()
        close = lambda a, b, i=i: np.testing.assert_allclose(a[i], b, rtol=1e-5, atol=1e-7)  # noqa: E731
        jax.tree.map(close, batched.state.params, single.state.params)
        jax.tree.map(close, batched.history, single.history)
    assert not np.allclose(batched.state.params["w"][0], batched.state.params["w"][1])


@pytest.mark.parametrize("batch_size", [1, 10])
def test_masked_rows_do_not_train(regression_data, batch_size):
    """Rows marked invalid hold garbage; training equals the NumPy loop over the real rows
    (with batch_size 1, the batches of an invalid row hold padding only and take no step)."""
    x, y = regression_data
    key = jax.random.key(3)
    valid = np.arange(len(x)) % 5 != 0
    garbage_x = x.at[~valid].set(1e6)
    garbage_y = y.at[~valid].set(-1e6)

    def run(x, y):
        return jax.jit(lambda: _train((x, y, valid), batch_size=batch_size, key=key))()

    clean, dirty = run(x, y), run(garbage_x, garbage_y)
    jax.tree.map(np.testing.assert_array_equal, clean.state, dirty.state)
    np.testing.assert_array_equal(clean.history["train_loss"], dirty.history["train_loss"])
    w, b, _, stats = numpy_sgd(initial_params(key, x), x, y, key, 2, batch_size, 0.03, valid=valid)
    np.testing.assert_allclose(dirty.state.params["w"], w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dirty.state.params["b"], b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dirty.history["train_loss"], stats[:, 0], rtol=1e-5)
    if batch_size == 1:
        assert int(dirty.state.step) == 2 * int(valid.sum())


def test_batches_of_padding_only_leave_the_state_unchanged(regression_data):
    """No real example at all: nothing moves, not even through the regularizer, whose
    gradient alone would shrink the weights."""
    x, y = regression_data
    model = linear_regression(init_std=1.0)
    epoch = make_epoch(
        model,
        half_squared,
        sgd(0.5),
        num_examples=len(x),
        batch_size=10,
        regularizer=lambda p: 10.0 * l2_penalty(p["w"]),
    )
    state = init_state(model, sgd(0.5), jax.random.key(0), x[:1])
    before = jax.tree.map(np.array, state)  # copies, kept on the host
    valid = jnp.zeros(len(x), bool)
    after, _ = jax.jit(epoch)(state, run_keys(jax.random.key(1)), 0, (x, y, valid), {})
    jax.tree.map(np.testing.assert_array_equal, after, before)
    assert int(after.step) == 0


def diverging_model():
    """``output = x w`` with ``w = 1``; on ``x = 1, y = 0`` the gradient of ``½ output²`` is w,
    so each SGD step multiplies w by ``1 - lr``."""
    return stateless(lambda k, x: {"w": jnp.ones(1)}, lambda p, x: x @ p["w"])


def diverging_run(optimizer, **overrides):
    """One step per epoch (9 by default) on four identical examples. With lr 1001, w after
    epoch e is (-1000)^e: epoch e's training loss ½ 10^(6(e-1)) overflows float32 (max 3.4e38)
    first at epoch 8, the evaluation loss after it, ½ 10^(6e), at epoch 7."""
    x, y = jnp.ones((4, 1)), jnp.zeros(4)
    options = dict(epochs=9, batch_size=4) | overrides
    return _train((x, y), model=diverging_model(), optimizer=optimizer, **options)


def test_check_finite_returns_the_history_on_the_host():
    test = (jnp.full((3, 1), 2.0), jnp.zeros(3))
    result = jax.jit(lambda: diverging_run(sgd(0.5), epochs=3, eval_data={"test": test}))()
    history = check_finite(result)
    assert set(history) == {"train_loss", "test_loss"}
    assert all(isinstance(v, np.ndarray) for v in history.values())
    # w = 0.5^e after epoch e; epoch e trains with w = 0.5^(e - 1) on x = 1, then evaluates
    # ½ (2 w)² on x = 2.
    np.testing.assert_allclose(history["train_loss"], 0.5 * 0.25 ** np.arange(3), rtol=1e-6)
    np.testing.assert_allclose(history["test_loss"], 2 * 0.25 ** np.arange(1, 4), rtol=1e-6)


def test_check_finite_names_the_epoch_and_learning_rate():
    result = jax.jit(lambda: diverging_run(sgd(1001.0)))()
    losses = np.asarray(result.history["train_loss"])
    np.testing.assert_allclose(losses[:7], 0.5 * 1e6 ** np.arange(7.0), rtol=1e-6)  # the model
    with pytest.raises(
        FloatingPointError,
        match=r"^fitting diverged: the train loss is inf at epoch 8 \(learning rate 1001\)",
    ):
        check_finite(result, "fitting")


def test_check_finite_names_the_model_set_and_its_learning_rate():
    """The set "val" diverges at epoch 7, the training loss at epoch 8: the earliest is named,
    though "val_loss" comes after "train_loss" in the history."""
    rates = jnp.array([0.5, 1001.0])
    run = lambda rate: diverging_run(sgd(rate), eval_data={"val": (jnp.ones((2, 1)), jnp.zeros(2))})  # noqa: E731
    result = jax.jit(jax.vmap(run))(rates)
    assert result.history["val_loss"].shape == (2, 9)
    assert np.isfinite(result.history["val_loss"][0]).all()
    with pytest.raises(FloatingPointError) as error:
        check_finite(result, "sweep")
    message = str(error.value)
    assert message == (
        "sweep: 1 of 2 models diverged: model 1: the val loss is inf at epoch 7 (learning rate "
        "1001); lower the learning rate"
    )
    # the other order: model 0 diverges, model 1 does not
    with pytest.raises(FloatingPointError, match=r"model 0: .* at epoch 7 \(learning rate 1001\)"):
        check_finite(jax.jit(jax.vmap(run))(rates[::-1]), "sweep")


def test_check_finite_says_when_the_learning_rate_is_unknown():
    keys = jax.random.split(jax.random.key(0), 2)
    run = lambda key: diverging_run(optax.sgd(1001.0), key=key)  # noqa: E731
    with pytest.raises(FloatingPointError) as error:
        check_finite(jax.jit(jax.vmap(run))(keys))
    message = str(error.value)
    assert "the optimizer's learning rate is unknown" in message
    assert "at epoch 8" in message
    assert "learning rate None" not in message
    with pytest.raises(FloatingPointError, match="the optimizer's learning rate is unknown"):
        check_finite(jax.jit(lambda: diverging_run(optax.sgd(1001.0)))())


def test_result_and_run_under_jit_and_vmap(regression_data):
    x, y = regression_data
    key = jax.random.key(3)
    test = (x[:20], y[:20])

    def run(key=key, rate=0.03):
        return _train((x, y), optimizer=sgd(rate), key=key, eval_data={"test": test})

    eager, jitted = run(), jax.jit(run)()
    for result in (eager, jitted):
        assert isinstance(result, Result)
        assert isinstance(result.state, TrainState)
        assert result.run == eager.run
    run_ = eager.run
    assert run_.model == {"name": "linear_regression", "init_std": 0.01}
    assert run_.loss.endswith("half_squared")
    assert run_.optimizer == {"learning_rate": 0.03}
    assert (run_.config, run_.batch_size, run_.epochs) == (None, 10, 2)
    assert run_.key == np.asarray(jax.random.key_data(key)).tolist()
    digest = hashlib.sha256(np.asarray(x).tobytes() + np.asarray(y).tobytes()).hexdigest()
    assert run_.data == {
        "shapes": [[103, 2], [103]],
        "dtypes": ["float32", "float32"],
        "sha256": digest,
    }
    test_digest = hashlib.sha256(np.asarray(test[0]).tobytes() + np.asarray(test[1]).tobytes())
    assert run_.eval_data["test"]["sha256"] == test_digest.hexdigest()

    seeds = jax.jit(jax.vmap(lambda k: run(key=k)))(jax.random.split(key, 3))
    assert seeds.run == dataclasses.replace(run_, key=None)  # traced keys have no value
    np.testing.assert_array_equal(seeds.state.step, [22, 22, 22])
    rates = jax.jit(jax.vmap(lambda r: run(rate=r)))(jnp.array([0.01, 0.03]))
    assert rates.run == dataclasses.replace(run_, optimizer={"learning_rate": None})


def test_named_evaluation_sets(regression_data):
    """Several named sets, one of them with rows marked invalid (holding garbage)."""
    x, y = regression_data
    odd = np.arange(len(x)) % 2 == 1
    eval_data = {
        "train_eval": (x, y),
        "head": (x[:10], y[:10]),
        "odd": (x.at[~odd].set(1e6), y, jnp.asarray(odd)),
    }
    result = jax.jit(lambda: _train((x, y), eval_data=eval_data, eval_batch_size=16))()
    h = result.history
    assert set(h) == {"train_loss", "train_eval_loss", "head_loss", "odd_loss"}
    p = result.state.params
    w, b = np.asarray(p["w"], np.float64), float(p["b"])
    np.testing.assert_allclose(h["train_eval_loss"][-1], numpy_eval(w, b, x, y)[0], rtol=1e-5)
    np.testing.assert_allclose(h["head_loss"][-1], numpy_eval(w, b, x[:10], y[:10])[0], rtol=1e-5)
    np.testing.assert_allclose(h["odd_loss"][-1], numpy_eval(w, b, x[odd], y[odd])[0], rtol=1e-5)


def test_training_data_with_a_valid_mask_trains_on_the_real_rows_only(regression_data):
    """(x, y, valid) trains as the real rows alone would, in the same order of batches."""
    x, y = regression_data
    valid = jnp.arange(len(x)) < 50
    masked = jax.jit(lambda: _train((x, y, valid), epochs=1, batch_size=1))()
    plain = jax.jit(lambda: _train((x, y), epochs=1, batch_size=1))()
    assert int(masked.state.step) == 50 and int(plain.state.step) == len(x)
    assert not np.array_equal(masked.state.params["w"], plain.state.params["w"])


def test_every_recorded_statistic_keeps_its_own_key():
    x, y = jnp.ones((4, 2)), jnp.ones(4)
    options = dict(optimizer=sgd(0.1), epochs=1, batch_size=2)
    with pytest.raises(ValueError, match=r"names 'loss' and '\.\.\._loss' are kept for losses"):
        _train(
            (x, y),
            metrics={"eval_loss": lambda o, t: jnp.full_like(o, 100.0)},
            eval_data={"train_eval": (x, y)},
            **options,
        )
    with pytest.raises(ValueError, match=r"\['train_x_acc'\] would stand for two of them"):
        _train(
            (x, y),
            metrics={"x_acc": lambda o, t: o, "acc": lambda o, t: o},
            eval_data={"train_x": (x, y)},
            **options,
        )

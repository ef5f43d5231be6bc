"""The training engine: against a NumPy SGD loop, keys, vmap, recompilation, bad input."""

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl.data.batching import batch_schedule
from jaxdl.data.synthetic import synthetic_regression
from jaxdl.models.linear import linear_regression
from jaxdl.optim import l2_penalty, sgd, sgd_weight_decay
from jaxdl.train import (
    History,
    Model,
    check_finite_history,
    fit,
    init_state,
    make_epoch,
    make_evaluate,
    train,
)


def half_squared(y_hat, y):
    return 0.5 * (y_hat - y) ** 2


@pytest.fixture(scope="module")
def regression_data():
    return synthetic_regression(jax.random.key(42), jnp.array([2.0, -3.4]), 4.2, 103)


def numpy_sgd(params, x, y, key, epochs, batch_size, lr, wd=0.0):
    """The book's loop in float64 NumPy: same schedule, mean gradient over each real batch."""
    w, b = np.asarray(params["w"], np.float64), float(params["b"])
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    _, data_key = jax.random.split(key)
    for e in range(epochs):
        s = batch_schedule(jax.random.fold_in(data_key, e), len(x), batch_size)
        for idx, mask in zip(np.asarray(s.indices), np.asarray(s.mask), strict=True):
            xb, yb = x[idx[mask]], y[idx[mask]]
            err = xb @ w + b - yb
            grad_w, grad_b = xb.T @ err / len(xb) + wd * w, err.mean()
            w, b = w - lr * grad_w, b - lr * grad_b
    return w, b


def test_fit_equals_numpy_sgd_loop(regression_data):
    x, y = regression_data
    key = jax.random.key(0)
    result = fit(
        linear_regression(),
        half_squared,
        sgd(0.03),
        (x, y),
        epochs=3,
        batch_size=10,
        key=key,
        quiet=True,
    )
    init_params = linear_regression().init(jax.random.split(key)[0], x[:1])
    w, b = numpy_sgd(init_params, x, y, key, 3, 10, 0.03)
    np.testing.assert_allclose(result.state.params["w"], w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.state.params["b"], b, rtol=1e-5, atol=1e-6)
    assert int(result.state.step) == 3 * 11


def test_regularizer_equals_decoupled_weight_decay_and_numpy(regression_data):
    x, y = regression_data
    key, lam = jax.random.key(1), 0.7
    penalised = fit(
        linear_regression(),
        half_squared,
        sgd(0.02),
        (x, y),
        epochs=2,
        batch_size=8,
        key=key,
        regularizer=lambda p: lam * l2_penalty(p["w"]),
        quiet=True,
    )
    decoupled = fit(
        linear_regression(),
        half_squared,
        sgd_weight_decay(0.02, lam, mask={"w": True, "b": False}),
        (x, y),
        epochs=2,
        batch_size=8,
        key=key,
        quiet=True,
    )
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
        penalised.state.params,
        decoupled.state.params,
    )
    init_params = linear_regression().init(jax.random.split(key)[0], x[:1])
    w, _ = numpy_sgd(init_params, x, y, key, 2, 8, 0.02, wd=lam)
    np.testing.assert_allclose(penalised.state.params["w"], w, rtol=1e-5, atol=1e-6)


def test_history_keys_and_eval_loss(regression_data):
    x, y = regression_data
    result = fit(
        linear_regression(),
        half_squared,
        sgd(0.03),
        (x, y),
        epochs=2,
        batch_size=10,
        key=jax.random.key(0),
        eval_data=(x, y),
        metrics={"abs": lambda o, t: jnp.abs(o - t)},
        quiet=True,
    )
    h = result.history
    assert isinstance(h, History)
    assert set(h) == {"train_loss", "train_abs", "eval_loss", "eval_abs", "seconds"}
    assert all(len(v) == 2 for v in h.values())
    p = result.state.params
    expected = np.mean(0.5 * (np.asarray(x @ p["w"] + p["b"]) - np.asarray(y)) ** 2)
    np.testing.assert_allclose(h["eval_loss"][-1], expected, rtol=1e-5)
    assert h.last()["eval_loss"] == h["eval_loss"][-1]


def test_evaluate_uses_every_example_once():
    x = jnp.arange(7.0)[:, None]
    y = jnp.zeros(7)
    model = Model(lambda k, x: {}, lambda p, x: x[:, 0])
    evaluate = make_evaluate(model, half_squared, num_examples=7, batch_size=3)
    stats = jax.jit(evaluate)({}, x, y)
    np.testing.assert_allclose(stats["loss"], np.mean(0.5 * np.arange(7.0) ** 2), rtol=1e-6)


def test_train_equals_fit_bit_for_bit(regression_data):
    x, y = regression_data
    key = jax.random.key(5)
    kwargs = dict(epochs=3, batch_size=10, key=key, eval_data=(x, y))
    result = fit(linear_regression(), half_squared, sgd(0.03), (x, y), quiet=True, **kwargs)
    state, history = jax.jit(
        lambda: train(linear_regression(), half_squared, sgd(0.03), (x, y), **kwargs)
    )()
    jax.tree.map(np.testing.assert_array_equal, state.params, result.state.params)
    np.testing.assert_allclose(history["eval_loss"], result.history["eval_loss"], rtol=1e-6)


def test_same_key_same_params_other_key_other_params(regression_data):
    x, y = regression_data

    def run(seed):
        return fit(
            linear_regression(),
            half_squared,
            sgd(0.03),
            (x, y),
            epochs=2,
            batch_size=10,
            key=jax.random.key(seed),
            quiet=True,
        ).state.params

    a, b, c = run(0), run(0), run(1)
    jax.tree.map(np.testing.assert_array_equal, a, b)
    assert not np.array_equal(a["w"], c["w"])


def test_vmap_trains_three_seeds_at_once(regression_data):
    x, y = regression_data
    keys = jax.random.split(jax.random.key(9), 3)

    def run(key):
        return train(
            linear_regression(), half_squared, sgd(0.03), (x, y), epochs=2, batch_size=10, key=key
        )

    states, histories = jax.jit(jax.vmap(run))(keys)
    assert histories["train_loss"].shape == (3, 2)
    for i in range(3):
        single, _ = jax.jit(run)(keys[i])
        jax.tree.map(
            lambda a, b, i=i: np.testing.assert_allclose(a[i], b, rtol=1e-6, atol=1e-7),
            states.params,
            single.params,
        )
    assert not np.allclose(states.params["w"][0], states.params["w"][1])


def test_vmap_over_learning_rates(regression_data):
    x, y = regression_data
    rates = jnp.array([0.01, 0.03])

    def run(rate):
        return train(
            linear_regression(),
            half_squared,
            sgd(rate),
            (x, y),
            epochs=1,
            batch_size=10,
            key=jax.random.key(0),
        )[0].params

    batched = jax.vmap(run)(rates)
    for i, rate in enumerate([0.01, 0.03]):
        np.testing.assert_allclose(batched["w"][i], run(rate)["w"], rtol=1e-5, atol=1e-7)


def test_masked_rows_do_not_train(regression_data):
    x, y = regression_data
    valid = jnp.arange(len(x)) < len(x) - 1
    epoch = make_epoch(
        linear_regression(), half_squared, sgd(0.03), num_examples=len(x), batch_size=10
    )
    state = init_state(linear_regression(), sgd(0.03), jax.random.key(0), x[:1])
    garbage_x, garbage_y = x.at[-1].set(1e6), y.at[-1].set(-1e6)
    a, stats_a = jax.jit(epoch)(state, x, y, jax.random.key(1), valid)
    b, stats_b = jax.jit(epoch)(state, garbage_x, garbage_y, jax.random.key(1), valid)
    jax.tree.map(np.testing.assert_array_equal, a.params, b.params)
    np.testing.assert_array_equal(stats_a["loss"], stats_b["loss"])


@contextlib.contextmanager
def count_compiles():
    events = []

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            events.append(event)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield events
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def test_no_recompilation_after_the_first_epoch(regression_data):
    x, y = regression_data

    def run(epochs):
        fit(
            linear_regression(),
            half_squared,
            sgd(0.03),
            (x, y),
            epochs=epochs,
            batch_size=10,
            key=jax.random.key(0),
            eval_data=(x, y),
            quiet=True,
        )

    run(1)  # warms up the small helper computations shared by every run
    with count_compiles() as one_epoch:
        run(1)
    with count_compiles() as five_epochs:
        run(5)
    assert len(one_epoch) >= 1  # the epoch itself compiles once per fit
    assert len(five_epochs) == len(one_epoch)


def test_divergence_names_epoch_and_learning_rate(regression_data):
    x, y = regression_data
    with pytest.raises(FloatingPointError, match=r"at epoch \d+ \(learning rate 1000.0\)"):
        fit(
            linear_regression(),
            half_squared,
            sgd(1000.0),
            (x, y * 1e3),
            epochs=20,
            batch_size=10,
            key=jax.random.key(0),
            quiet=True,
        )


def test_check_finite_history():
    returned = check_finite_history({"train_loss": jnp.ones((2, 3))})
    assert isinstance(returned["train_loss"], np.ndarray)
    np.testing.assert_array_equal(returned["train_loss"], np.ones((2, 3)))
    with pytest.raises(FloatingPointError, match=r"at index \(1, 2\)"):
        check_finite_history({"train_loss": np.array([[1.0, 1, 1], [1, 1, np.inf]])})


def _fit(data, **kwargs):
    options = dict(epochs=1, batch_size=2, key=jax.random.key(0), quiet=True)
    options.update(kwargs)
    return fit(linear_regression(), half_squared, sgd(0.1), data, **options)


@pytest.mark.parametrize(
    ("data", "kwargs", "error", "message"),
    [
        ((np.ones((4, 2)), np.ones(3)), {}, ValueError, "same number of examples, got 4 and 3"),
        ((np.ones(4), np.ones(4)), {}, ValueError, r"x of rank >= 2 .* got shape \(4,\)"),
        ((np.ones((4, 2)), np.ones(())), {}, ValueError, r"y of rank >= 1"),
        ((np.ones((0, 2)), np.ones(0)), {}, ValueError, "at least one example, got 0"),
        ((np.ones((4, 2)), np.ones(4)), {"batch_size": 0}, ValueError, r"batch_size: .* got 0"),
        ((np.ones((4, 2)), np.ones(4)), {"batch_size": 5}, ValueError, r"\[1, 4\].*got 5"),
        (
            (np.ones((4, 2)), np.ones(4)),
            {"epochs": -1},
            ValueError,
            "epochs: expected an integer >= 0",
        ),
        (
            (np.array([[1.0, np.nan]] * 4), np.ones(4)),
            {},
            ValueError,
            "data: expected finite values in x, found NaN or inf",
        ),
        (
            (np.ones((4, 2)), np.array([1.0, np.inf, 0, 0])),
            {},
            ValueError,
            "expected finite values in y",
        ),
        (
            (np.ones((4, 2)), np.ones(4)),
            {"eval_data": (np.ones((3, 2)), np.ones(2))},
            ValueError,
            "eval_data: expected x and y with the same number of examples",
        ),
    ],
)
def test_bad_input(data, kwargs, error, message):
    with pytest.raises(error, match=message):
        _fit(data, **kwargs)


def test_labels_out_of_range_are_refused():
    model = Model(lambda k, x: {"w": jnp.zeros((x.shape[1], 3))}, lambda p, x: x @ p["w"])
    loss = lambda logits, y: optax.softmax_cross_entropy_with_integer_labels(logits, y)  # noqa: E731
    x = np.ones((4, 2), np.float32)
    for bad in (3, -1):
        y = np.array([0, 1, 2, bad], np.int32)
        with pytest.raises(ValueError, match=rf"labels in \[0, 3\) .* got label {bad}"):
            fit(
                model,
                loss,
                sgd(0.1),
                (x, y),
                epochs=1,
                batch_size=2,
                key=jax.random.key(0),
                quiet=True,
            )


def test_named_evaluation_sets(regression_data):
    x, y = regression_data
    result = _fit(
        (x, y),
        epochs=2,
        batch_size=10,
        eval_data={"train": (x, y), "head": (x[:10], y[:10])},
    )
    h = result.history
    assert {"eval_train_loss", "eval_head_loss"} <= set(h)
    p = result.state.params
    head = np.mean(0.5 * (np.asarray(x[:10] @ p["w"] + p["b"]) - np.asarray(y[:10])) ** 2)
    np.testing.assert_allclose(h["eval_head_loss"][-1], head, rtol=1e-5)


def test_bad_named_evaluation_set(regression_data):
    x, y = regression_data
    with pytest.raises(TypeError, match=r"eval_data\['test'\]: expected a tuple \(x, y\)"):
        _fit((x, y), eval_data={"test": x})

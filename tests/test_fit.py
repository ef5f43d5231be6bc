"""The host driver ``fit``: against a NumPy SGD loop and the jitted engine bit for bit, the
same Result as ``train``, one compilation, divergence stops naming set, epoch and rate, and
bad input refused (by ``fit`` and ``train`` alike) before any compute."""

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl.engine import Result, fit, train
from jaxdl.engine.divergence import check_finite
from jaxdl.engine.keys import run_keys
from jaxdl.errors import InputError
from jaxdl.model import TrainState, predict, stateless
from jaxdl.models.linear import linear_regression
from jaxdl.optim import sgd

from references import absolute, half_squared, initial_params, numpy_sgd


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
    w, b, _, stats = numpy_sgd(initial_params(key, x), x, y, key, 3, 10, 0.03)
    np.testing.assert_allclose(result.state.params["w"], w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.state.params["b"], b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.history["train_loss"], stats[:, 0], rtol=1e-5)
    assert int(result.state.step) == 3 * 11


def fit_and_jitted_train(data, **overrides):
    """The same run through ``fit`` and through ``jax.jit(train)`` (key closed over): the linear
    model, ½ squared error, SGD at rate 0.03, batches of 10 and the metric "abs" unless
    ``overrides`` say otherwise."""
    kwargs = dict(batch_size=10, metrics={"abs": absolute}) | overrides
    args = (linear_regression(), half_squared, sgd(0.03), data)
    fitted = fit(*args, quiet=True, **kwargs)
    trained = jax.jit(lambda: train(*args, **kwargs))()
    return fitted, trained


def test_fit_equals_jitted_train_bit_for_bit(regression_data):
    x, y = regression_data
    eval_data = {"test": (x, y), "head": (x[:40] + 1.0, y[:40])}
    # eval_batch_size 16: 7 and 3 evaluation batches, the last ones partial
    fitted, trained = fit_and_jitted_train(
        (x, y), epochs=3, key=jax.random.key(5), eval_data=eval_data, eval_batch_size=16
    )
    jax.tree.map(np.testing.assert_array_equal, fitted.state, trained.state)
    assert set(fitted.history) == {*trained.history, "seconds"}
    for name, values in trained.history.items():
        assert values.shape == (3,)
        np.testing.assert_array_equal(fitted.history[name], values, err_msg=name)


def test_fit_and_jitted_train_agree_to_rounding_with_one_evaluation_batch(regression_data):
    """With the whole evaluation set in one batch, XLA compiles that one-step evaluation scan
    differently at top level (fit's jitted epoch) than inside train's scan over epochs, so the
    evaluation sums may round differently: equal to float32 rounding, not bit for bit. Training
    (many steps) and so the parameters stay bit-identical."""
    x, y = regression_data
    # The default eval_batch_size 1024 > 103: one batch.
    fitted, trained = fit_and_jitted_train(
        (x, y), epochs=4, key=jax.random.key(0), eval_data={"test": (x, y)}
    )
    jax.tree.map(np.testing.assert_array_equal, fitted.state, trained.state)
    np.testing.assert_array_equal(fitted.history["train_loss"], trained.history["train_loss"])
    np.testing.assert_array_equal(fitted.history["train_abs"], trained.history["train_abs"])
    for name in ("test_loss", "test_abs"):
        np.testing.assert_allclose(
            fitted.history[name], trained.history[name], rtol=2e-7, atol=0, err_msg=name
        )


@pytest.mark.parametrize("epochs", [0, 2])
def test_fit_and_train_return_the_same_result(regression_data, epochs):
    x, y = regression_data
    fitted, trained = fit_and_jitted_train(
        (x, y), epochs=epochs, key=jax.random.key(1), eval_data={"test": (x[:30], y[:30])}
    )
    for result in (fitted, trained):
        assert type(result) is Result
        assert type(result.state) is TrainState
    assert fitted._fields == trained._fields == ("state", "history", "run")
    assert set(fitted.history) == {"train_loss", "train_abs", "test_loss", "test_abs", "seconds"}
    assert set(trained.history) == set(fitted.history) - {"seconds"}
    assert fitted.run == trained.run
    assert fitted.run.epochs == epochs
    for name, values in fitted.history.items():
        assert isinstance(values, np.ndarray), name
        assert values.shape == (epochs,), name
    assert (fitted.history["seconds"] > 0).all()
    assert int(fitted.state.step) == int(trained.state.step) == epochs * 11


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
            eval_data={"test": (x, y)},
            metrics={"abs": absolute},
            quiet=True,
        )

    run(1)  # warms up the small helper computations shared by every run
    with count_compiles() as one_epoch:
        run(1)
    with count_compiles() as five_epochs:
        run(5)
    assert len(one_epoch) >= 1  # the epoch itself compiles once per fit
    assert len(five_epochs) == len(one_epoch)


def diverging_fit(optimizer, **kwargs):
    """``output = x w``, ``w = 1``, on four examples ``x = 1, y = 0``, one step per epoch:
    each step multiplies w by ``1 - lr``. With lr 1001, w after epoch e is (-1000)^e and epoch
    e's training loss, ½ 10^(6(e-1)), overflows float32 (max 3.4e38) first at epoch 8."""
    model = stateless(lambda k, x: {"w": jnp.ones(1)}, lambda p, x: x @ p["w"])
    x, y = jnp.ones((4, 1)), jnp.zeros(4)
    options = dict(epochs=20, batch_size=4, key=jax.random.key(0), quiet=True) | kwargs
    return fit(model, half_squared, optimizer, (x, y), **options)


def test_divergence_names_epoch_and_learning_rate():
    with pytest.raises(
        FloatingPointError,
        match=r"^training \(demo\) diverged: the train loss is inf at epoch 8 "
        r"\(learning rate 1001\)",
    ):
        diverging_fit(sgd(1001.0), desc="demo")
    with pytest.raises(FloatingPointError, match=r"at epoch \d+ \(learning rate 1000\)"):
        diverging_fit(sgd(1000.0))


def test_divergence_of_an_optimizer_without_a_visible_rate():
    with pytest.raises(FloatingPointError) as error:
        diverging_fit(optax.sgd(1001.0))
    message = str(error.value)
    assert "at epoch 8 (the optimizer's learning rate is unknown)" in message
    assert "learning rate None" not in message


def test_divergence_in_an_evaluation_loss_only(regression_data):
    """Tame training data, an evaluation set of huge inputs: its loss overflows to inf after
    the first epoch (outputs ~1e30, squared beyond float32), while the training loss stays
    finite. fit stops there, naming the set; check_finite on train says the same."""
    x, y = regression_data
    huge = (x[:8] * 1e30, y[:8])
    options = dict(epochs=3, batch_size=10, key=jax.random.key(0), eval_data={"huge": huge})
    args = (linear_regression(), half_squared, sgd(0.03), (x, y))
    trained = jax.jit(lambda: train(*args, **options))()
    assert np.isfinite(trained.history["train_loss"]).all()  # training alone never diverges
    assert np.isinf(trained.history["huge_loss"]).all()
    with pytest.raises(FloatingPointError) as fitting:
        fit(*args, quiet=True, **options)
    message = str(fitting.value)
    assert message.startswith(
        "training diverged: the huge loss is inf at epoch 1 (learning rate 0.03)"
    )
    with pytest.raises(FloatingPointError) as checking:
        check_finite(trained)
    assert str(checking.value) == message


RUNNERS = pytest.mark.parametrize("runner", ["fit", "train"])


def _run(runner, data, *, model=None, loss=half_squared, **kwargs):
    options = dict(epochs=1, batch_size=2, key=jax.random.key(0)) | kwargs
    args = (model or linear_regression(), loss, sgd(0.1), data)
    if runner == "fit":
        return fit(*args, quiet=True, **options)
    return train(*args, **options)


GOOD = (np.ones((4, 2), np.float32), np.ones(4, np.float32))


@RUNNERS
@pytest.mark.parametrize(
    ("data", "kwargs", "error", "message"),
    [
        ((np.ones((4, 2)), np.ones(3)), {}, ValueError, "same number of examples, got 4 and 3"),
        ((np.ones(4), np.ones(4)), {}, ValueError, r"x of rank >= 2 .* got shape \(4,\)"),
        ((np.ones((4, 2)), np.ones(())), {}, ValueError, r"y of rank >= 1"),
        ((np.ones((0, 2)), np.ones(0)), {}, ValueError, "at least one example, got 0"),
        (GOOD, {"batch_size": 0}, ValueError, r"batch_size: .* got 0"),
        (GOOD, {"batch_size": 5}, ValueError, r"batch_size: .*\[1, 4\].* got 5"),
        (GOOD, {"batch_size": 2.0}, TypeError, "batch_size: expected an int"),
        (GOOD, {"epochs": -1}, ValueError, "epochs: expected an integer >= 0, got -1"),
        (GOOD, {"epochs": True}, TypeError, "epochs: expected an integer >= 0, got bool True"),
        (GOOD, {"epochs": 2.0}, TypeError, "epochs: expected an integer >= 0, got float 2.0"),
        (GOOD, {"eval_batch_size": 0}, ValueError, "eval_batch_size: expected an integer >= 1"),
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
            "data: expected finite values in y",
        ),
        (
            (*GOOD, np.ones(4, np.int32)),
            {},
            ValueError,
            r"data: expected valid to be bool \[4\], got int32",
        ),
        ((*GOOD, np.ones(3, bool)), {}, ValueError, r"valid to be bool \[4\], got bool"),
        ({"x": GOOD[0]}, {}, TypeError, r"data: expected a tuple \(x, y\) or \(x, y, valid\)"),
        (GOOD, {"eval_data": GOOD}, TypeError, r"eval_data: expected a mapping .* got tuple"),
        (
            GOOD,
            {"eval_data": {"test": (np.ones((3, 2)), np.ones(2))}},
            ValueError,
            r"eval_data\['test'\]: expected x and y with the same number of examples",
        ),
        (
            GOOD,
            {"eval_data": {"test": GOOD[0]}},
            TypeError,
            r"eval_data\['test'\]: expected a tuple \(x, y\)",
        ),
        (
            GOOD,
            {"eval_data": {"test": (*GOOD, np.ones(3, bool))}},
            ValueError,
            r"eval_data\['test'\]: expected valid to be bool \[4\]",
        ),
        (
            GOOD,
            {"eval_data": {"test": (GOOD[0], np.array([1.0, np.nan, 0, 0]))}},
            ValueError,
            r"eval_data\['test'\]: expected finite values in y",
        ),
        (GOOD, {"eval_data": {"train": GOOD}}, ValueError, "eval_data: the name 'train' is taken"),
        (GOOD, {"eval_data": {"my set": GOOD}}, ValueError, "identifiers, got 'my set'"),
        (
            GOOD,
            {"metrics": {"loss": absolute}},
            ValueError,
            r"metrics: names 'loss' and '\.\.\._loss' are kept for losses, got 'loss'",
        ),
    ],
)
def test_bad_input(runner, data, kwargs, error, message):
    with pytest.raises(error, match=message):
        _run(runner, data, **kwargs)


@RUNNERS
def test_numpy_integer_epochs_are_accepted(runner, regression_data):
    x, y = regression_data
    numpy_epochs = _run(runner, (x, y), epochs=np.int64(2), batch_size=10)
    python_epochs = _run(runner, (x, y), epochs=2, batch_size=10)
    assert numpy_epochs.history["train_loss"].shape == (2,)
    assert int(numpy_epochs.state.step) == 2 * 11
    assert numpy_epochs.run == python_epochs.run
    jax.tree.map(np.testing.assert_array_equal, numpy_epochs.state, python_epochs.state)


LABEL_MODEL = stateless(lambda k, x: {"w": jnp.zeros((x.shape[1], 3))}, lambda p, x: x @ p["w"])
LABEL_LOSS = optax.softmax_cross_entropy_with_integer_labels
LABEL_X = np.ones((4, 2), np.float32)
GOOD_LABELS = np.array([0, 1, 2, 2], np.int32)


def _run_labels(runner, y, **eval_labels):
    """A three-class linear classifier trained on ``(LABEL_X, y)``, evaluated on the sets
    ``{name: (LABEL_X, labels)}`` that ``eval_labels`` names."""
    eval_data = {name: (LABEL_X, labels) for name, labels in eval_labels.items()}
    return _run(runner, (LABEL_X, y), model=LABEL_MODEL, loss=LABEL_LOSS, eval_data=eval_data)


@RUNNERS
@pytest.mark.parametrize("bad", [3, -1])
def test_labels_out_of_range_are_refused(runner, bad):
    y = np.array([0, 1, 2, bad], np.int32)
    with pytest.raises(ValueError, match=rf"^data: expected labels in \[0, 3\) .* label {bad}$"):
        _run_labels(runner, y)
    with pytest.raises(ValueError, match=rf"test\W* expected labels in \[0, 3\) .* label {bad}$"):
        _run_labels(runner, GOOD_LABELS, test=y)


def test_labels_out_of_range_in_an_evaluation_set_name_the_argument():
    y = np.array([0, 1, 2, 3], np.int32)
    with pytest.raises(ValueError, match=r"^eval_data\['test'\]: expected labels in \[0, 3\)"):
        _run_labels("train", GOOD_LABELS, test=y)


def test_an_evaluation_set_named_data_does_not_hide_bad_training_labels():
    y = np.array([0, 1, 2, 7], np.int32)
    with pytest.raises(ValueError, match=r"labels in \[0, 3\) .* got label 7"):
        _run_labels("train", y, data=GOOD_LABELS)


# --- several models at once: a batch of keys (seeds) -----------------------------------------


def test_a_batch_of_keys_trains_each_model_as_it_would_alone(regression_data):
    x, y = regression_data
    keys = jax.random.split(jax.random.key(11), 3)
    options = dict(epochs=3, batch_size=10, eval_data={"test": (x[:40], y[:40])}, quiet=True)
    together = fit(linear_regression(), half_squared, sgd(0.03), (x, y), key=keys, **options)
    assert together.history["test_loss"].shape == (3, 3)  # [models, epochs], as under vmap
    assert together.history["seconds"].shape == (3,)  # one wall time per epoch
    assert together.run.key == [np.asarray(jax.random.key_data(k)).tolist() for k in keys]
    for i, key in enumerate(keys):
        alone = fit(linear_regression(), half_squared, sgd(0.03), (x, y), key=key, **options)
        jax.tree.map(
            lambda a, b, i=i: np.testing.assert_array_equal(a[i], b), together.state, alone.state
        )
        # The recorded losses are sums XLA vectorises across the batch of models: equal to
        # float32 rounding.
        for name in ("train_loss", "test_loss"):
            np.testing.assert_allclose(together.history[name][i], alone.history[name], rtol=2e-7)
    jitted = jax.jit(
        lambda: train(
            linear_regression(),
            half_squared,
            sgd(0.03),
            (x, y),
            key=keys,
            **{k: v for k, v in options.items() if k != "quiet"},
        )
    )()
    jax.tree.map(np.testing.assert_array_equal, together.state, jitted.state)
    np.testing.assert_array_equal(together.history["train_loss"], jitted.history["train_loss"])


def test_every_diverging_model_of_a_batch_is_named():
    keys = jax.random.split(jax.random.key(0), 2)  # the same model twice: w = 1 whatever the key
    with pytest.raises(FloatingPointError) as error:
        diverging_fit(sgd(1001.0), key=keys)
    one = "the train loss is inf at epoch 8 (learning rate 1001)"
    assert str(error.value) == (
        f"training: 2 of 2 models diverged: model 0: {one}; model 1: {one}; lower the learning rate"
    )


def _first_overflow(w, lr, epochs):
    """The first epoch (from 1) whose training loss ½ w² overflows float32 when each epoch's
    one SGD step multiplies w by 1 - lr (the loss ½ (x w - 0)² on one example x = 1), in
    float32 NumPy, squared before halved as ``half_squared``."""
    w, lr = np.float32(w), np.float32(lr)
    with np.errstate(over="ignore", invalid="ignore"):
        for epoch in range(1, epochs + 1):
            if not np.isfinite(np.float32(0.5) * (w * w)):
                return epoch
            w = w - lr * (w * np.float32(1.0))
    return None


def test_a_later_model_that_diverges_first_is_named_by_fit_and_train():
    """Four models whose initial w (from their keys) differ by orders of magnitude: the larger
    w0, the earlier the loss overflows. fit stops at the first epoch with a diverged model and
    names every model that diverged then (a later model of the batch, here); check_finite after
    train names every model that ever diverged, each with its own first epoch."""
    model = stateless(
        lambda k, x: {"w": 10.0 ** (12 * jax.random.uniform(k, (1,)))}, lambda p, x: x @ p["w"]
    )
    x, y = jnp.ones((1, 1)), jnp.zeros(1)
    keys = jax.random.split(jax.random.key(5), 4)
    options = dict(epochs=12, batch_size=1, key=keys)
    w0 = [float(model.init(k, x)[0]["w"][0]) for k in run_keys(keys).init]
    first = [_first_overflow(w, 1001.0, 12) for w in w0]
    assert len({f for f in first if f}) >= 3, first  # distinct epochs: the order matters
    earliest = min(f for f in first if f)
    assert first.index(earliest) > 0  # not the first model of the batch
    with pytest.raises(FloatingPointError) as fitting:
        fit(model, half_squared, sgd(1001.0), (x, y), quiet=True, **options)
    named = [f"model {i}: the train loss is inf at epoch {f}" for i, f in enumerate(first) if f]
    at_first = [
        line for line, f in zip(named, [f for f in first if f], strict=True) if f == earliest
    ]
    assert f"{len(at_first)} of 4 models diverged: " + "".join(at_first) in str(fitting.value)
    trained = jax.jit(lambda: train(model, half_squared, sgd(1001.0), (x, y), **options))()
    with pytest.raises(FloatingPointError) as checking:
        check_finite(trained, "the batch", swept={"w0": np.asarray(w0)})
    message = str(checking.value)
    assert message.startswith(f"the batch: {len(named)} of 4 models diverged: model ")
    for i, f in enumerate(first):
        if f:
            assert f"model {i} (w0 = {w0[i]:g}): the train loss is inf at epoch {f} (" in message
        else:
            assert f"model {i} " not in message


def test_a_key_array_of_another_rank_is_refused(regression_data):
    keys = jax.random.split(jax.random.key(0), 4).reshape(2, 2)
    with pytest.raises(ValueError, match=r"key: expected a key or a batch of keys \[N\]"):
        fit(
            linear_regression(),
            half_squared,
            sgd(0.1),
            regression_data,
            epochs=1,
            batch_size=10,
            key=keys,
            quiet=True,
        )


@RUNNERS
@pytest.mark.parametrize(
    ("options", "label"),
    [
        ({"loss": lambda o, t: jnp.mean((o - t) ** 2)}, "loss"),
        ({"metrics": {"mae": lambda o, t: jnp.mean(jnp.abs(o - t))}}, "metrics['mae']"),
        ({"loss": lambda o, t: (o - t)[:, None] ** 2}, "loss"),  # [batch, 1]: not [batch] either
    ],
    ids=["mean-loss", "mean-metric", "column"],
)
def test_a_loss_or_metric_that_is_not_per_example_is_refused(
    runner, regression_data, options, label
):
    """PyTorch's default reduction="mean" returns one number for the batch: the padding of the
    last batch would enter it, so the run would differ from the book's; refused before training."""
    with pytest.raises(ValueError) as error:
        _run(runner, regression_data, epochs=1, batch_size=10, **options)
    assert str(error.value).startswith(
        f"{label}: expected one value per example, shape (2,) for a batch of 2, got shape ("
    )


@RUNNERS
def test_a_key_that_is_not_a_jax_key_is_refused(runner, regression_data):
    for key in (0, np.array([0, 1], np.uint32)):  # a seed, a legacy raw key
        with pytest.raises(TypeError, match=r"^key: expected a jax.random.key\(seed\)"):
            _run(runner, regression_data, key=key)


@RUNNERS
def test_more_steps_than_the_int32_step_counter_holds_are_refused(runner, regression_data):
    with pytest.raises(ValueError, match=r"^epochs \(of 11 steps each, counted in int32\)"):
        _run(runner, regression_data, epochs=2**31, batch_size=10)


def test_predict_refuses_the_state_of_several_models_saying_to_pick_one(regression_data):
    """The state of a batch of keys would broadcast through a model and give a models axis no
    one asked for (or a shape error far inside the model): refused, naming the fix."""
    x, y = regression_data
    keys = jax.random.split(jax.random.key(0), 3)
    result = fit(
        linear_regression(),
        half_squared,
        sgd(0.03),
        (x, y),
        epochs=1,
        batch_size=10,
        key=keys,
        quiet=True,
    )
    with pytest.raises(InputError, match=r"got \(3,\) models' .*jax.tree.map\(lambda a: a\[0\]"):
        predict(linear_regression(), result.state, x)
    one = jax.tree.map(lambda a: a[0], result.state)
    assert predict(linear_regression(), one, x).shape == (x.shape[0],)

"""The sequence models of the book's 8.1: the noisy sine and its lag features, the
autoregressive MLP, and its multi-step and k-step predictions, each against a NumPy
transcription of the book's code; bad input; the section at the book's configuration (slow)."""

import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.data.synthetic import lag_features, noisy_sine
from jaxdl.errors import InputError, InputTypeError
from jaxdl.models.autoregressive import (
    autoregressive_mlp,
    feed_back,
    k_step_predictions,
    multistep_predictions,
)

from harness.reference import BOOK, within

# ---------------------------------------------------------------- the book's code, in NumPy


def book_features(x, tau):
    """The book's loop: ``features[:, i] = x[i : T - tau + i]``, ``labels = x[tau:]``."""
    T = len(x)
    features = np.zeros((T - tau, tau), np.float32)
    for i in range(tau):
        features[:, i] = x[i : T - tau + i]
    return features, x[tau:]


def numpy_net(params):
    """The book's ``get_net()`` forward pass in NumPy: Linear, ReLU, Linear, one output."""
    w1, b1 = (np.asarray(params["Dense_0"][k], np.float64) for k in ("kernel", "bias"))
    w2, b2 = (np.asarray(params["Dense_1"][k], np.float64) for k in ("kernel", "bias"))
    return lambda X: (np.maximum(np.asarray(X, np.float64) @ w1 + b1, 0.0) @ w2 + b2)[:, 0]


def book_multistep(net, x, start, tau):
    """The book's loop: ``x`` up to ``start`` (its ``n_train + tau``), then each value from
    the tau before it."""
    T = len(x)
    preds = np.zeros(T)
    preds[:start] = x[:start]
    for i in range(start, T):
        preds[i] = net(preds[i - tau : i].reshape((1, -1)))[0]
    return preds


def book_k_step(net, x, tau, max_steps):
    """The book's ``features [T - tau - max_steps + 1, tau + max_steps]``: tau observed
    columns, then column i predicted from the tau before it."""
    T = len(x)
    features = np.zeros((T - tau - max_steps + 1, tau + max_steps))
    for i in range(tau):
        features[:, i] = x[i : i + T - tau - max_steps + 1]
    for i in range(tau, tau + max_steps):
        features[:, i] = net(features[:, i - tau : i]).reshape(-1)
    return features


@pytest.fixture(scope="module")
def trained_like():
    """A network of the book's shape with weights drawn larger than its init (so the
    predictions move), its JAX predictor and its NumPy twin, and a noisy sine."""
    model = autoregressive_mlp()
    params, state = model.init(jax.random.key(0), jnp.zeros((1, 4)))
    params = jax.tree.map(lambda p: 1.5 * p, params)
    _, x = noisy_sine(jax.random.key(1), 200)

    def predict(windows):
        return model.apply(params, state, windows, train=False)[0]

    return predict, numpy_net(params), x


# --------------------------------------------------------------------------------- the data


def test_noisy_sine_is_the_sine_plus_the_keys_noise():
    time, x = noisy_sine(jax.random.key(3), 1000)
    np.testing.assert_array_equal(np.asarray(time), np.arange(1, 1001, dtype=np.float32))
    assert x.shape == (1000,) and x.dtype == jnp.float32
    noise = 0.2 * np.asarray(jax.random.normal(jax.random.key(3), (1000,)), np.float64)
    expected = np.sin(0.01 * np.arange(1, 1001)) + noise
    np.testing.assert_allclose(np.asarray(x), expected, atol=2e-6)
    residual = np.asarray(x, np.float64) - np.sin(0.01 * np.arange(1, 1001))
    assert 0.18 < residual.std() < 0.22  # the book's σ = 0.2 (1000 draws: ± 0.005)
    _, clean = noisy_sine(jax.random.key(3), 3, noise=0.0)
    np.testing.assert_allclose(np.asarray(clean), np.sin([0.01, 0.02, 0.03]), rtol=1e-6)


@pytest.mark.parametrize("T, tau", [(1000, 4), (10, 1), (10, 9), (7, 3)])
def test_lag_features_equal_the_books_loop(T, tau):
    x = np.asarray(jax.random.normal(jax.random.key(T + tau), (T,)))
    features, labels = lag_features(x, tau)
    expected_features, expected_labels = book_features(x, tau)
    assert features.shape == (T - tau, tau) and labels.shape == (T - tau,)
    np.testing.assert_array_equal(np.asarray(features), expected_features)
    np.testing.assert_array_equal(np.asarray(labels), expected_labels)
    jitted = jax.jit(lag_features, static_argnums=1)(x, tau)
    np.testing.assert_array_equal(np.asarray(jitted[0]), expected_features)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: lag_features(jnp.ones((3, 4)), 2), InputError, r"x: expected a sequence \[T\]"),
        (lambda: lag_features(jnp.ones(1), 1), InputError, "x: expected at least 2 values"),
        (lambda: lag_features(jnp.ones(5), 0), InputError, r"tau: expected an integer in \[1, 4\]"),
        (lambda: lag_features(jnp.ones(5), 5), InputError, "tau: .* got 5"),
        (lambda: lag_features(jnp.ones(5), 2.0), InputTypeError, "tau: expected an integer"),
        (lambda: noisy_sine(jax.random.key(0), 0), InputError, "num_points: expected an integer"),
        (lambda: noisy_sine(jax.random.key(0), noise=-1.0), InputError, "noise: expected"),
    ],
)
def test_bad_data_input_is_refused_naming_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------------------------------------ the network


def test_the_network_is_the_books_linear_relu_linear():
    model = autoregressive_mlp()
    X = jax.random.normal(jax.random.key(5), (7, 4))
    params, state = model.init(jax.random.key(0), X)
    shapes = jax.tree.map(jnp.shape, params)
    assert shapes == {
        "Dense_0": {"kernel": (4, 10), "bias": (10,)},
        "Dense_1": {"kernel": (10, 1), "bias": (1,)},
    }
    output, _ = model.apply(params, state, X, train=False)
    assert output.shape == (7,)
    np.testing.assert_allclose(np.asarray(output), numpy_net(params)(X), rtol=1e-5, atol=1e-6)
    assert autoregressive_mlp(3).config["num_hiddens"] == 3


def test_the_networks_initialisation_is_xavier_uniform_and_pytorchs_bias():
    """Over 2000 draws: each weight uniform in ±√(6 / (fan_in + fan_out)) (variance 2 / (fan_in
    + fan_out)), each bias uniform in ±1/√fan_in (variance 1 / (3 fan_in)), as the book's
    ``nn.init.xavier_uniform_`` and PyTorch's default ``nn.Linear`` bias."""
    model = autoregressive_mlp()
    keys = jax.random.split(jax.random.key(0), 2000)
    params = jax.vmap(lambda k: model.init(k, jnp.zeros((1, 4)))[0])(keys)
    for layer, fan_in, fan_out in (("Dense_0", 4, 10), ("Dense_1", 10, 1)):
        kernel = np.asarray(params[layer]["kernel"], np.float64)
        bias = np.asarray(params[layer]["bias"], np.float64)
        bound = math.sqrt(6 / (fan_in + fan_out))
        assert np.abs(kernel).max() <= bound and np.abs(kernel).max() > 0.99 * bound
        np.testing.assert_allclose(kernel.var(), 2 / (fan_in + fan_out), rtol=0.03)
        assert np.abs(bias).max() <= 1 / math.sqrt(fan_in)
        np.testing.assert_allclose(bias.var(), 1 / (3 * fan_in), rtol=0.05)


def test_the_network_refuses_inputs_that_are_not_windows():
    model = autoregressive_mlp()
    with pytest.raises(InputError, match=r"x: expected windows \[batch, tau\], got shape \(4,\)"):
        model.init(jax.random.key(0), jnp.zeros(4))
    with pytest.raises(InputError, match="num_hiddens: expected an integer >= 1, got 0"):
        autoregressive_mlp(0)


# -------------------------------------------------------------------------- the predictions


def test_feed_back_by_hand():
    """Each step predicts the mean of the window and moves the window on by one."""
    mean = lambda w: jnp.mean(w, axis=1)  # noqa: E731
    windows = jnp.array([[0.0, 3.0], [2.0, 2.0]])
    np.testing.assert_allclose(
        np.asarray(feed_back(mean, windows, 3)), [[1.5, 2.25, 1.875], [2.0, 2.0, 2.0]]
    )
    assert feed_back(mean, windows, 0).shape == (2, 0)


@pytest.mark.parametrize("start", [4, 5, 150, 199, 200])
def test_multistep_predictions_equal_the_books_loop(trained_like, start):
    predict, net, x = trained_like
    ours = multistep_predictions(predict, x, start=start, tau=4)
    expected = book_multistep(net, np.asarray(x, np.float64), start, 4)
    assert ours.shape == (200,)
    np.testing.assert_array_equal(np.asarray(ours[:start]), np.asarray(x[:start]))
    np.testing.assert_allclose(np.asarray(ours), expected, rtol=1e-5, atol=1e-5)
    if start < 190:  # the predictions move: a test of more than a constant
        assert np.ptp(expected[start:]) > 0.01
    jitted = jax.jit(lambda x: multistep_predictions(predict, x, start=start, tau=4))(x)
    np.testing.assert_allclose(np.asarray(jitted), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("tau, max_steps", [(4, 64), (4, 1), (1, 10), (4, 196)])
def test_k_step_predictions_equal_the_books_features(trained_like, tau, max_steps):
    predict, net, x = trained_like
    if tau != 4:  # a network of this window's width
        model = autoregressive_mlp()
        params, state = model.init(jax.random.key(2), jnp.zeros((1, tau)))
        net = numpy_net(params)

        def predict(windows):
            return model.apply(params, state, windows, train=False)[0]

    ours = k_step_predictions(predict, x, tau=tau, max_steps=max_steps)
    expected = book_k_step(net, np.asarray(x, np.float64), tau, max_steps)
    assert ours.shape == (200 - tau - max_steps + 1, max_steps)
    np.testing.assert_allclose(np.asarray(ours), expected[:, tau:], rtol=1e-5, atol=1e-5)
    # the 1-step column is the network on the lag features
    features, _ = lag_features(x, tau)
    np.testing.assert_allclose(
        np.asarray(ours[:, 0]), np.asarray(predict(features))[: ours.shape[0]], atol=1e-6
    )


def test_the_k_step_column_k_predicts_the_books_times(trained_like):
    """Row j, column k - 1 predicts x[j + tau + k - 1]: the book's ``time[tau + k - 1 : T -
    max_steps + k]`` (1-based times tau + k ... T - max_steps + k), checked with a predictor
    that knows the sequence's own rule (the next value is the last plus one)."""
    plus_one = lambda w: w[:, -1] + 1.0  # noqa: E731
    x = jnp.arange(20.0)
    ours = k_step_predictions(plus_one, x, tau=4, max_steps=8)
    for k in (1, 4, 8):
        np.testing.assert_array_equal(
            np.asarray(ours[:, k - 1]), np.asarray(x[4 + k - 1 : 20 - 8 + k])
        )


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda p: multistep_predictions(p, jnp.ones((2, 10)), start=5, tau=4),
            InputError,
            r"x: expected a sequence \[T\], got shape \(2, 10\)",
        ),
        (
            lambda p: multistep_predictions(p, jnp.ones(10), start=3, tau=4),
            InputError,
            r"start: expected an integer in \[4, 10\], got 3",
        ),
        (
            lambda p: multistep_predictions(p, jnp.ones(10), start=11, tau=4),
            InputError,
            r"start: expected an integer in \[4, 10\], got 11",
        ),
        (
            lambda p: multistep_predictions(p, jnp.ones(10), start=5.0, tau=4),
            InputTypeError,
            "start: expected an integer",
        ),
        (
            lambda p: k_step_predictions(p, jnp.ones(10), tau=4, max_steps=7),
            InputError,
            r"max_steps: expected an integer in \[1, 6\], got 7",
        ),
        (
            lambda p: k_step_predictions(p, jnp.ones(10), tau=10, max_steps=1),
            InputError,
            r"tau: expected an integer in \[1, 9\], got 10",
        ),
        (
            lambda p: k_step_predictions(p, jnp.ones(1), tau=1, max_steps=1),
            InputError,
            "x: expected at least 2 values",
        ),
        (
            lambda p: feed_back(p, jnp.ones(4), 3),
            InputError,
            r"windows: expected \[batch, tau\] with tau >= 1, got shape \(4,\)",
        ),
        (
            lambda p: feed_back(p, jnp.ones((2, 4)), -1),
            InputError,
            "num_steps: expected an integer >= 0, got -1",
        ),
        (
            lambda p: feed_back(lambda w: w, jnp.ones((2, 4)), 3),
            InputError,
            re.escape("predict: expected one prediction per window [2], got shape (2, 4)"),
        ),
    ],
)
def test_bad_prediction_input_is_refused_naming_the_argument(trained_like, call, error, message):
    predict, _, _ = trained_like
    with pytest.raises(error, match=message):
        call(predict)


# ---------------------------------------------------------------------------- the section


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--n-train", "996"], "--n-train: expected from --batch-size (16) to 995"),
        (["--n-train", "8"], "--n-train: expected from --batch-size (16) to 995"),
        (["--tau", "937"], "--tau: expected at most 936"),
    ],
)
def test_section_refuses_sizes_the_sequence_cannot_give_naming_the_flag(
    run_experiment, argv, message
):
    with pytest.raises(InputError, match="^" + re.escape(message)):
        run_experiment("sequence_models", *argv)


@pytest.mark.slow
def test_the_books_configuration_lands_in_the_books_band(run_experiment):
    """The book's configuration: the final training loss in the band (the noise's variance,
    0.04, is its floor), the book's loops equal to the library's scans, and the book's story:
    feeding predictions back makes them worse, the more steps the worse."""
    metrics, stdout, out = run_experiment("sequence_models", quick=False)
    assert metrics["flags"] | {"seed": 0} == {
        "epochs": 5,
        "lr": 0.01,
        "batch_size": 16,
        "tau": 4,
        "n_train": 600,
        "seed": 0,
        "quick": False,
    }
    assert len(metrics["train_loss_per_epoch"]) == 5
    assert within("sequence_models", "final_loss", metrics["final_loss"]), (
        metrics["final_loss"],
        BOOK["sequence_models"].bands,
    )
    assert metrics["book_loops"]["multistep_max_diff"] < 1e-5
    assert metrics["book_loops"]["k_step_max_diff"] < 1e-5
    assert metrics["run"]["data"]["shapes"] == [[600, 4], [600]]
    k_step = metrics["k_step_mse"]
    assert k_step["1"] < k_step["4"] < k_step["16"] < k_step["64"], k_step
    assert metrics["one_step_test_mse"] < 0.1 < metrics["multistep_test_mse"]
    for name in ("data.png", "predictions.png", "k_step.png"):
        assert (out / name).exists(), name
    assert "in the book's band | yes |" in stdout

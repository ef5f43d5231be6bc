"""Linear regression models, the closed form, and synthetic data."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.data.synthetic import high_dimensional_data, synthetic_regression
from jaxdl.engine import fit
from jaxdl.models.linear import (
    closed_form,
    concise_linear_regression,
    least_squares,
    linear_regression,
)
from jaxdl.optim import sgd

from references import half_squared, numpy_eval


def test_synthetic_data_follows_the_model():
    w, b = jnp.array([2.0, -3.4]), 4.2
    X, y = synthetic_regression(jax.random.key(0), w, b, 20000, noise=0.5)
    assert X.shape == (20000, 2) and y.shape == (20000,)
    np.testing.assert_allclose(np.std(np.asarray(X), axis=0), 1.0, atol=0.02)
    residual = np.asarray(y - X @ w - b)
    np.testing.assert_allclose(residual.std(), 0.5, atol=0.01)
    np.testing.assert_allclose(residual.mean(), 0.0, atol=0.01)


def test_synthetic_same_key_same_data_other_key_other_data():
    a = synthetic_regression(jax.random.key(1), jnp.ones(3), 0.0, 5)
    b = synthetic_regression(jax.random.key(1), jnp.ones(3), 0.0, 5)
    c = synthetic_regression(jax.random.key(2), jnp.ones(3), 0.0, 5)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"w": jnp.ones((2, 1))}, r"w: expected a vector \[num_features\], got shape \(2, 1\)"),
        ({"b": jnp.ones(2)}, r"b: expected a scalar, got shape \(2,\)"),
        ({"num_examples": 0}, "num_examples: expected an integer >= 1, got 0"),
        ({"noise": -1.0}, "noise: expected a finite number >= 0, got -1.0"),
    ],
)
def test_synthetic_bad_input(kwargs, message):
    args = {"w": jnp.ones(2), "b": 1.0, "num_examples": 3} | kwargs
    with pytest.raises(ValueError, match=message):
        synthetic_regression(jax.random.key(0), **args)


def test_closed_form_equals_numpy_lstsq():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4)).astype(np.float32)
    y = (X @ rng.normal(size=4) + 0.3 + rng.normal(size=50) * 0.1).astype(np.float32)
    w, b = jax.jit(closed_form)(X, y)
    design = np.hstack([X, np.ones((50, 1))]).astype(np.float64)
    theta = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)[0]
    np.testing.assert_allclose(w, theta[:-1], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b, theta[-1], rtol=1e-4, atol=1e-5)


def test_closed_form_hand_values():
    X = jnp.array([[0.0], [1.0], [2.0], [3.0]])
    w, b = closed_form(X, 3 * X[:, 0] - 1)
    np.testing.assert_allclose([float(w[0]), float(b)], [3.0, -1.0], atol=1e-5)


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.ones(3), np.ones(3), r"X: expected a matrix \[n, d\], got shape \(3,\)"),
        (np.ones((3, 2)), np.ones((3, 1)), r"y: expected shape \(3,\) to match X, got \(3, 1\)"),
    ],
)
def test_closed_form_bad_input(X, y, message):
    with pytest.raises(ValueError, match=message):
        closed_form(X, y)


@pytest.mark.parametrize("make", [linear_regression, concise_linear_regression])
def test_initialisation_is_the_books(make):
    model = make()
    params, state = model.init(jax.random.key(0), jnp.ones((1, 4000)))
    assert state == {}
    leaves = {
        "/".join(str(k) for k in path): v for path, v in jax.tree_util.tree_leaves_with_path(params)
    }
    weights = next(v for k, v in leaves.items() if "w" in k or "kernel" in k)
    bias = next(v for k, v in leaves.items() if "b" in k and "kernel" not in k)
    np.testing.assert_allclose(np.std(np.asarray(weights)), 0.01, rtol=0.05)
    np.testing.assert_array_equal(bias, 0.0)
    output, state = model.apply(params, state, jnp.ones((5, 4000)), train=False)
    assert output.shape == (5,) and state == {}


def test_concise_model_is_a_dense_layer():
    model = concise_linear_regression()
    x = jax.random.normal(jax.random.key(1), (6, 3))
    params, state = model.init(jax.random.key(0), x)
    assert set(params) == {"Dense_0"} and state == {}  # the params collection, unwrapped
    dense = params["Dense_0"]
    np.testing.assert_allclose(
        model.apply(params, state, x, train=False)[0],
        np.asarray(x) @ np.asarray(dense["kernel"])[:, 0] + dense["bias"][0],
        rtol=1e-6,
    )


def _fit(model, rate, data, **options):
    """``fit`` of ``model`` to ``data`` with ½ squared error by SGD at ``rate``, key 0, quietly."""
    return fit(model, half_squared, sgd(rate), data, key=jax.random.key(0), quiet=True, **options)


def weights_and_bias(params):
    if "Dense_0" in params:
        dense = params["Dense_0"]
        return dense["kernel"][:, 0], dense["bias"][0]
    return params["w"], params["b"]


@pytest.mark.parametrize("make", [linear_regression, concise_linear_regression])
def test_sgd_converges_to_the_closed_form(make):
    X, y = synthetic_regression(jax.random.key(3), jnp.array([2.0, -3.4]), 4.2, 200, noise=0.5)
    w, b = closed_form(X, y)
    result = _fit(make(), 0.5, (X, y), epochs=100, batch_size=200, eval_data={"test": (X, y)})
    w_sgd, b_sgd = weights_and_bias(result.state.params)
    np.testing.assert_allclose(w_sgd, w, atol=1e-4)
    np.testing.assert_allclose(b_sgd, b, atol=1e-4)
    h = result.history
    assert set(h) == {"train_loss", "test_loss", "seconds"}
    assert all(isinstance(v, np.ndarray) and v.shape == (100,) for v in h.values())
    final, _ = numpy_eval(np.asarray(w_sgd, np.float64), float(b_sgd), X, y)
    np.testing.assert_allclose(h["test_loss"][-1], final, rtol=1e-5)


def test_eval_data_must_be_named():
    X, y = synthetic_regression(jax.random.key(3), jnp.array([2.0, -3.4]), 4.2, 10)
    with pytest.raises(TypeError, match=r"eval_data: expected a mapping \{name: \(x, y\)\}"):
        _fit(linear_regression(), 0.1, (X, y), epochs=1, batch_size=5, eval_data=(X, y))


def test_least_squares_equals_numpy_lstsq_without_a_bias():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.normal(size=50)).astype(np.float32)
    expected, *_ = np.linalg.lstsq(X.astype(np.float64), y.astype(np.float64), rcond=None)
    np.testing.assert_allclose(least_squares(X, y), expected, rtol=1e-4, atol=1e-5)


def test_least_squares_takes_the_minimum_norm_solution_of_collinear_features():
    X = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]], np.float32)  # two equal columns
    np.testing.assert_allclose(least_squares(X, np.full(3, 4.0, np.float32)), [2.0, 2.0], rtol=1e-5)


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.ones(3), np.ones(3), r"X: expected a matrix \[n, d\], got shape \(3,\)"),
        (np.ones((3, 2)), np.ones(4), r"y: expected shape \(3,\) to match X, got \(4,\)"),
    ],
)
def test_least_squares_bad_input(X, y, message):
    with pytest.raises(ValueError, match=message):
        least_squares(X, y)


def test_high_dimensional_data_is_the_books_weight_decay_problem():
    """20 training and 100 test examples of y = 0.05 + Σ 0.01 x_i + N(0, 0.01²), d = 200."""
    (x, y), (xt, yt) = high_dimensional_data(jax.random.key(3))
    assert x.shape == (20, 200) and y.shape == (20,) and xt.shape == (100, 200)
    # Independently: the labels' residual from the true plane is the noise, sd 0.01.
    for features, labels in ((x, y), (xt, yt)):
        residual = np.asarray(labels, np.float64) - (
            np.asarray(features, np.float64) @ np.full(200, 0.01) + 0.05
        )
        assert 0.005 < residual.std() < 0.02 and abs(residual.mean()) < 0.01
    # The training and the test examples are different draws.
    assert not np.allclose(np.asarray(x[:20]), np.asarray(xt[:20]))


def test_high_dimensional_data_bad_input():
    with pytest.raises(ValueError, match="num_inputs: expected an integer >= 1, got 0"):
        high_dimensional_data(jax.random.key(0), num_inputs=0)
    with pytest.raises(ValueError, match="num_train: expected an integer >= 1, got 0"):
        high_dimensional_data(jax.random.key(0), num_train=0)
    with pytest.raises(TypeError, match="num_test: expected an integer >= 1, got float"):
        high_dimensional_data(jax.random.key(0), num_test=2.0)

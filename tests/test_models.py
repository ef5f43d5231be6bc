"""Softmax regression and MLP models against NumPy forward passes and flax, and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.models.mlp import concise_mlp, mlp
from jaxdl.models.softmax import concise_softmax_regression, softmax_regression


@pytest.fixture(scope="module")
def images():
    return jax.random.uniform(jax.random.key(0), (5, 28, 28))


def test_softmax_regression_forward_against_numpy(images):
    model = softmax_regression()
    params = model.init(jax.random.key(1), images[:1])
    assert params["W"].shape == (784, 10) and params["b"].shape == (10,)
    np.testing.assert_allclose(np.std(np.asarray(params["W"])), 0.01, rtol=0.05)
    np.testing.assert_array_equal(params["b"], 0.0)
    params = {"W": params["W"], "b": jnp.arange(10.0)}
    expected = np.asarray(images).reshape(5, 784) @ np.asarray(params["W"]) + np.arange(10.0)
    np.testing.assert_allclose(jax.jit(model.apply)(params, images), expected, rtol=1e-5, atol=1e-6)


def test_concise_softmax_regression_equals_scratch_with_the_same_weights(images):
    scratch, concise = softmax_regression(), concise_softmax_regression()
    params = concise.init(jax.random.key(1), images[:1])
    dense = params["params"]["Dense_0"]
    np.testing.assert_allclose(np.std(np.asarray(dense["kernel"])), 0.01, rtol=0.05)
    np.testing.assert_array_equal(dense["bias"], 0.0)
    same = {"W": dense["kernel"], "b": dense["bias"] + 0.5}
    concise_params = {"params": {"Dense_0": {"kernel": same["W"], "bias": same["b"]}}}
    np.testing.assert_allclose(
        concise.apply(concise_params, images), scratch.apply(same, images), rtol=1e-5, atol=1e-6
    )


def _numpy_mlp(x, layers, act):
    h = np.asarray(x).reshape(len(x), -1)
    for i, layer in enumerate(layers):
        h = h @ np.asarray(layer["W"]) + np.asarray(layer["b"])
        if i < len(layers) - 1:
            h = act(h)
    return h


ACTS = {
    "relu": lambda h: np.maximum(h, 0),
    "sigmoid": lambda h: 1 / (1 + np.exp(-h)),
    "tanh": np.tanh,
}


@pytest.mark.parametrize("activation", sorted(ACTS))
def test_mlp_forward_against_numpy(images, activation):
    model = mlp((32, 16), activation=activation, init_std=0.5)
    params = model.init(jax.random.key(2), images[:1])
    assert [layer["W"].shape for layer in params["layers"]] == [(784, 32), (32, 16), (16, 10)]
    layers = [{"W": p["W"], "b": p["b"] + 0.1} for p in params["layers"]]
    got = jax.jit(model.apply)({"layers": layers}, images)
    np.testing.assert_allclose(
        got, _numpy_mlp(images, layers, ACTS[activation]), rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("activation", sorted(ACTS))
def test_concise_mlp_equals_scratch_with_the_same_weights(images, activation):
    concise = concise_mlp((32,), activation=activation)
    params = concise.init(jax.random.key(3), images[:1])["params"]
    assert set(params) == {"Dense_0", "Dense_1"}
    layers = [{"W": params[k]["kernel"], "b": params[k]["bias"]} for k in ("Dense_0", "Dense_1")]
    np.testing.assert_allclose(np.std(np.asarray(layers[0]["W"])), 0.01, rtol=0.05)
    np.testing.assert_allclose(
        concise.apply({"params": params}, images),
        mlp((32,), activation=activation).apply({"layers": layers}, images),
        rtol=1e-5,
        atol=1e-6,
    )


def test_mlp_init_uses_a_key_per_layer(images):
    params = mlp((784,)).init(jax.random.key(0), images[:1])
    a, b = (np.asarray(p["W"])[:10, :10] for p in params["layers"])
    assert not np.allclose(a, b)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"num_hiddens": ()}, ValueError, "num_hiddens: expected at least one hidden layer width"),
        ({"num_hiddens": (0,)}, ValueError, "expected integers >= 1, got 0"),
        ({"num_hiddens": (8,), "num_outputs": 0}, ValueError, "expected integers >= 1, got 0"),
        (
            {"activation": "gelu"},
            ValueError,
            "activation: expected one of 'relu', 'sigmoid', 'tanh'",
        ),
    ],
)
@pytest.mark.parametrize("make", [mlp, concise_mlp])
def test_mlp_bad_input(make, kwargs, error, message):
    with pytest.raises(error, match=message):
        make(**kwargs)


@pytest.mark.parametrize("make", [softmax_regression, concise_softmax_regression])
def test_softmax_regression_bad_outputs(make):
    with pytest.raises(ValueError, match="num_outputs: expected an integer >= 1, got 0"):
        make(0)

"""Softmax regression and MLP models against NumPy forward passes and flax, their configs,
and bad input."""

import json

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.model import Model, from_flax
from jaxdl.models.linear import concise_linear_regression, linear_regression
from jaxdl.models.mlp import concise_mlp, mlp
from jaxdl.models.softmax import concise_softmax_regression, softmax_regression
from jaxdl.optim import sgd
from jaxdl.run import Run


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
        ({"num_hiddens": (0,)}, ValueError, "num_hiddens: expected an integer >= 1, got 0"),
        ({"num_hiddens": (8, -1)}, ValueError, "num_hiddens: expected an integer >= 1, got -1"),
        ({"num_hiddens": (8.0,)}, TypeError, "num_hiddens: expected an integer >= 1, got float"),
        (
            {"num_hiddens": (8,), "num_outputs": 0},
            ValueError,
            "num_outputs: expected an integer >= 1, got 0",
        ),
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


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (
            mlp((32, 16), 5, activation="tanh", init_std=0.5),
            {
                "name": "mlp",
                "num_hiddens": [32, 16],
                "num_outputs": 5,
                "activation": "tanh",
                "init_std": 0.5,
            },
        ),
        (
            concise_mlp((32,), activation="sigmoid"),
            {
                "name": "MLP",
                "num_hiddens": [32],
                "num_outputs": 10,
                "activation": "sigmoid",
                "init_std": 0.01,
            },
        ),
        (softmax_regression(7), {"name": "softmax_regression", "num_outputs": 7, "init_std": 0.01}),
        (
            concise_softmax_regression(7, init_std=0.1),
            {"name": "SoftmaxRegression", "num_outputs": 7, "init_std": 0.1},
        ),
        (linear_regression(init_std=0.2), {"name": "linear_regression", "init_std": 0.2}),
        (concise_linear_regression(), {"name": "LinearRegression", "init_std": 0.01}),
    ],
    ids=["mlp", "concise_mlp", "softmax", "concise_softmax", "linear", "concise_linear"],
)
def test_model_config_names_its_hyperparameters_as_json(model, expected):
    assert isinstance(model, Model)
    assert model.config == expected
    assert json.loads(json.dumps(model.config)) == expected


def test_configs_tell_models_apart():
    assert mlp((32,), activation="relu").config != mlp((32,), activation="tanh").config
    assert mlp((32,)).config != mlp((32, 32)).config
    assert softmax_regression(10).config != softmax_regression(5).config


def test_from_flax_config_is_the_modules_fields():
    model = from_flax(nn.Dense(3, use_bias=False))
    assert model.config["name"] == "Dense"
    assert model.config["features"] == 3 and model.config["use_bias"] is False
    assert "parent" not in model.config and "name" in model.config
    json.dumps(model.config)  # functions (initialisers) are written by name
    assert isinstance(model.config["kernel_init"], str)


def test_model_without_config():
    assert Model(lambda k, x: {}, lambda p, x: x).config is None


@pytest.mark.parametrize("make", [mlp, concise_mlp])
def test_mlp_config_of_a_numpy_integer_is_a_plain_int(make):
    config = make((8,), np.int64(5)).config
    assert json.loads(json.dumps(config))["num_outputs"] == 5


def test_numpy_scalar_hyperparameters_are_recorded_as_numbers():
    concise = concise_linear_regression(init_std=np.float32(0.5)).config
    assert concise["init_std"] == 0.5  # the value, not its type name
    scratch = linear_regression(init_std=np.float32(0.5))
    run = Run.describe(
        model=scratch.config,
        loss=lambda o, y: o,
        optimizer=sgd(0.1),
        params={"w": jax.ShapeDtypeStruct((2,), jnp.float32)},
        regularizer=None,
        metrics={},
        batch_size=1,
        epochs=1,
        key=jax.random.key(0),
        data=(np.zeros((1, 2), np.float32), np.zeros(1, np.float32)),
        eval_data={},
    )
    assert json.loads(json.dumps(run.to_dict()))["model"]["init_std"] == 0.5

"""Softmax regression and MLP models against NumPy forward passes and flax, their configs,
and bad input."""

import json

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.compilation import compile_stats
from jaxdl.engine import train
from jaxdl.initializers import xavier_normal, xavier_std
from jaxdl.losses import cross_entropy
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


# Per-layer and traced initial scales (``init_std``), as the initialization experiment sweeps them.


def test_mlp_init_std_per_layer(images):
    stds = [0.05, 0.5]
    listed = mlp((256,), init_std=stds).init(jax.random.key(4), images[:1])
    for layer, std in zip(listed["layers"], stds, strict=True):
        np.testing.assert_allclose(np.std(np.asarray(layer["W"])), std, rtol=0.05)
        np.testing.assert_array_equal(layer["b"], 0.0)
    # A sequence, a tuple and an array [layers] are the same scales: the same weights.
    for same in (tuple(stds), np.array(stds, np.float32), jnp.array(stds)):
        params = mlp((256,), init_std=same).init(jax.random.key(4), images[:1])
        jax.tree.map(np.testing.assert_array_equal, params, listed)
    assert mlp((256,), init_std=np.array(stds, np.float32)).config["init_std"] == stds


def test_mlp_one_init_std_equals_it_per_layer(images):
    """A scalar serves every layer: bit for bit the weights of the same value per layer (the
    book's MLP keeps its weights, init_std 0.01)."""
    one = mlp((32, 16)).init(jax.random.key(5), images[:1])
    per_layer = mlp((32, 16), init_std=[0.01] * 3).init(jax.random.key(5), images[:1])
    jax.tree.map(np.testing.assert_array_equal, one, per_layer)
    assert mlp((32, 16)).config["init_std"] == 0.01


def test_mlp_with_xavier_stds_draws_xavier_normal(images):
    shapes = [(784, 32), (32, 10)]
    model = mlp((32,), init_std=[xavier_std(s) for s in shapes])
    params = model.init(jax.random.key(6), images[:1])
    keys = jax.random.split(jax.random.key(6), 2)  # mlp's key per layer
    for layer, k, shape in zip(params["layers"], keys, shapes, strict=True):
        np.testing.assert_array_equal(layer["W"], xavier_normal(k, shape))


def test_mlp_init_std_traced_under_vmap(images):
    stds = jnp.array([[0.01, 0.01], [0.1, 0.2], [1.0, 0.5]])

    def init(layer_stds):
        model = mlp((16,), init_std=layer_stds)
        assert model.config["init_std"] is None  # traced: its values are unknown here
        return model.init(jax.random.key(7), images[:1])

    stacked = jax.jit(jax.vmap(init))(stds)
    for i, row in enumerate(np.asarray(stds)):
        alone = mlp((16,), init_std=[float(s) for s in row]).init(jax.random.key(7), images[:1])
        for got, want in zip(stacked["layers"], alone["layers"], strict=True):
            np.testing.assert_allclose(got["W"][i], want["W"], rtol=1e-6)


def test_concise_mlp_init_std_per_layer(images):
    model = concise_mlp((256,), init_std=[0.05, 0.5])
    assert model.config["init_std"] == [0.05, 0.5]
    params = model.init(jax.random.key(8), images[:1])["params"]
    for name, std in (("Dense_0", 0.05), ("Dense_1", 0.5)):
        np.testing.assert_allclose(np.std(np.asarray(params[name]["kernel"])), std, rtol=0.05)


def test_concise_mlp_refuses_a_traced_init_std():
    def make(std):
        concise_mlp((8,), init_std=std)
        return std

    with pytest.raises(ValueError, match="init_std: expected numbers for concise_mlp, got a tr"):
        jax.vmap(make)(jnp.array([0.1, 0.2]))


@pytest.mark.parametrize(
    ("init_std", "message"),
    [
        (-0.1, "init_std: expected a finite number >= 0, got -0.1"),
        (float("nan"), "init_std: expected a finite number >= 0, got nan"),
        ([0.1, -1.0], "init_std: expected a finite number >= 0, got -1.0"),
        ([0.1, 0.1, 0.1], r"init_std: expected a number or one per layer \(2 layers\), got 3"),
        (np.ones(3), r"init_std: expected a number or one per layer \(2 layers\), got 3"),
        (np.ones((2, 2)), r"init_std: expected a number or one per layer \[2\], got shape \(2, 2"),
        ([0.1, [0.1, 0.2]], r"init_std: expected one number per layer, got shape \(2,\)"),
    ],
)
@pytest.mark.parametrize("make", [mlp, concise_mlp])
def test_mlp_bad_init_std(make, init_std, message):
    with pytest.raises(ValueError, match=message):
        make((8,), init_std=init_std)


SCALES_X = jax.random.uniform(jax.random.key(9), (40, 6))
SCALES_Y = jnp.arange(40) % 3


def _train_one_scale(layer_stds, x=SCALES_X, y=SCALES_Y):
    """The MLP from per-layer initial standard deviations ``layer_stds``, trained 2 epochs."""
    return train(
        mlp((8,), 3, init_std=layer_stds),
        cross_entropy,
        sgd(0.1),
        (x, y),
        epochs=2,
        batch_size=16,
        key=jax.random.key(10),
        eval_data={"test": (x, y)},
    )


def _train_scales(stds):
    """The initialization experiment's sweep at a tiny size: one MLP per row of per-layer
    standard deviations, all trained in one ``jax.jit(jax.vmap(...))`` program."""
    sweep = jax.jit(jax.vmap(_train_one_scale, in_axes=(0, None, None)))
    return sweep(np.asarray(stds, np.float32), SCALES_X, SCALES_Y)


def test_init_scales_train_as_one_program_whatever_their_number():
    count = lambda s: s.compilations + s.cache_hits  # noqa: E731
    _train_scales(np.full((3, 2), 0.1))  # the small helper programs, compiled once
    before = compile_stats()
    two = _train_scales(np.full((2, 2), 0.1))
    middle = compile_stats()
    four = _train_scales(np.full((4, 2), 0.1))
    two_programs, four_programs = middle - before, compile_stats() - middle
    assert count(four_programs) == count(two_programs) == 1  # the sweep, not one per scale
    assert two.history["train_loss"].shape == (2, 2) and four.history["test_loss"].shape == (4, 2)


def test_init_scales_trained_together_equal_each_alone():
    stds = [[0.01, 0.01], [0.5, 0.2], [xavier_std((6, 8)), xavier_std((8, 3))]]
    together = _train_scales(stds)
    for i, row in enumerate(stds):
        alone = _train_one_scale(row)
        # The scale is data in one and a constant in the other: equal to float32 rounding.
        for name in ("train_loss", "test_loss"):
            np.testing.assert_allclose(together.history[name][i], alone.history[name], rtol=1e-5)

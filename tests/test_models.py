"""Softmax regression and MLP models against NumPy forward passes and flax, their configs,
and bad input."""

import json
import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.compilation import compile_stats
from jaxdl.engine import train
from jaxdl.engine.record import Run
from jaxdl.errors import InputError
from jaxdl.initializers import xavier_normal, xavier_std
from jaxdl.losses import cross_entropy
from jaxdl.model import Model, from_flax, stateless
from jaxdl.models.linear import concise_linear_regression, linear_regression
from jaxdl.models.mlp import concise_mlp, scratch_mlp
from jaxdl.models.softmax import concise_softmax_regression, softmax_regression
from jaxdl.optim import sgd


@pytest.fixture(scope="module")
def images():
    """Five images as ``jaxdl.data.fashion_mnist.to_device`` gives them, [n, 28, 28, 1]."""
    return jax.random.uniform(jax.random.key(0), (5, 28, 28, 1))


def _init(model, key, x):
    """The parameters of a model without state: its state must be empty."""
    params, state = model.init(key, x)
    assert state == {}
    return params


def _apply(model, params, x):
    """The model's output in evaluation (``train=False``), with its empty state."""
    output, state = model.apply(params, {}, x, train=False)
    assert state == {}
    return output


def test_softmax_regression_forward_against_numpy(images):
    model = softmax_regression()
    params = _init(model, jax.random.key(1), images[:1])
    assert params["W"].shape == (784, 10) and params["b"].shape == (10,)
    np.testing.assert_allclose(np.std(np.asarray(params["W"])), 0.01, rtol=0.05)
    np.testing.assert_array_equal(params["b"], 0.0)
    params = {"W": params["W"], "b": jnp.arange(10.0)}
    expected = np.asarray(images).reshape(5, 784) @ np.asarray(params["W"]) + np.arange(10.0)
    got = jax.jit(lambda p, x: _apply(model, p, x))(params, images)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # Any [batch, ...] is flattened: the same images as [n, 784] give the same logits.
    np.testing.assert_allclose(
        _apply(model, params, images.reshape(5, 784)), expected, rtol=1e-5, atol=1e-6
    )


def test_concise_softmax_regression_equals_scratch_with_the_same_weights(images):
    scratch, concise = softmax_regression(), concise_softmax_regression()
    params = _init(concise, jax.random.key(1), images[:1])
    assert set(params) == {"Dense_0"}  # the params collection itself, no {"params": ...}
    dense = params["Dense_0"]
    np.testing.assert_allclose(np.std(np.asarray(dense["kernel"])), 0.01, rtol=0.05)
    np.testing.assert_array_equal(dense["bias"], 0.0)
    same = {"W": dense["kernel"], "b": dense["bias"] + 0.5}
    concise_params = {"Dense_0": {"kernel": same["W"], "bias": same["b"]}}
    np.testing.assert_allclose(
        _apply(concise, concise_params, images),
        _apply(scratch, same, images),
        rtol=1e-5,
        atol=1e-6,
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
    model = scratch_mlp((32, 16), activation=activation, init_std=0.5)
    params = _init(model, jax.random.key(2), images[:1])
    assert [layer["W"].shape for layer in params["layers"]] == [(784, 32), (32, 16), (16, 10)]
    layers = [{"W": p["W"], "b": p["b"] + 0.1} for p in params["layers"]]
    got = jax.jit(lambda p, x: _apply(model, p, x))({"layers": layers}, images)
    np.testing.assert_allclose(
        got, _numpy_mlp(images, layers, ACTS[activation]), rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("activation", sorted(ACTS))
def test_concise_mlp_equals_scratch_with_the_same_weights(images, activation):
    concise = concise_mlp((32,), activation=activation)
    params = _init(concise, jax.random.key(3), images[:1])
    assert set(params) == {"Dense_0", "Dense_1"}
    layers = [{"W": params[k]["kernel"], "b": params[k]["bias"]} for k in ("Dense_0", "Dense_1")]
    np.testing.assert_allclose(np.std(np.asarray(layers[0]["W"])), 0.01, rtol=0.05)
    np.testing.assert_allclose(
        _apply(concise, params, images),
        _apply(scratch_mlp((32,), activation=activation), {"layers": layers}, images),
        rtol=1e-5,
        atol=1e-6,
    )


def test_mlp_init_uses_a_key_per_layer(images):
    params = _init(scratch_mlp((784,)), jax.random.key(0), images[:1])
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
@pytest.mark.parametrize("make", [scratch_mlp, concise_mlp])
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
            scratch_mlp((32, 16), 5, activation="tanh", init_std=0.5),
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
    assert (
        scratch_mlp((32,), activation="relu").config != scratch_mlp((32,), activation="tanh").config
    )
    assert scratch_mlp((32,)).config != scratch_mlp((32, 32)).config
    assert softmax_regression(10).config != softmax_regression(5).config


def test_from_flax_config_is_the_modules_fields():
    model = from_flax(nn.Dense(3, use_bias=False))
    config = model.config
    assert config["name"] == "Dense"
    assert config["features"] == 3 and config["use_bias"] is False
    assert "parent" not in config and "name" in config
    assert json.loads(json.dumps(config)) == config  # JSON-ready, functions included
    # A function field is its name with its package; an initializer's values are not read
    # (what a function closes over is not part of a run's record: a model declares the values
    # that define it as fields, as jaxdl's MLP does its init_std).
    assert config["bias_init"] == "jax.zeros"
    assert config["kernel_init"] == "jax.variance_scaling.<locals>.init"


def test_from_flax_params_are_the_params_collection():
    module = nn.Dense(3)
    x = jax.random.normal(jax.random.key(0), (4, 2))
    model = from_flax(module)
    assert model.needs == frozenset()  # Dense takes neither train nor mask, draws nothing
    params, state = model.init(jax.random.key(1), x[:1])
    variables = module.init(jax.random.key(1), x[:1])  # flax itself, the reference
    assert set(variables) == {"params"} and state == {}
    jax.tree.map(np.testing.assert_array_equal, params, variables["params"])
    output, new_state = model.apply(params, state, x, train=True)
    assert new_state == {}
    np.testing.assert_array_equal(output, module.apply(variables, x))
    assert set(params) == {"kernel", "bias"}  # a lone Dense: its own variables, no wrapper
    kernel, bias = np.asarray(params["kernel"]), np.asarray(params["bias"])
    np.testing.assert_allclose(output, np.asarray(x) @ kernel + bias, rtol=1e-6, atol=1e-6)


def test_model_without_config():
    assert stateless(lambda k, x: {}, lambda p, x: x).config is None
    bare = Model(lambda k, x: ({}, {}), lambda p, s, x, *, train, key=None, mask=None: (x, s))
    assert bare.config is None and bare.needs == frozenset()


def test_stateless_passes_what_the_model_needs_and_nothing_else():
    seen = []

    def apply(params, x, **given):
        seen.append(sorted(given))
        return x * params["w"]

    x, key, mask = jnp.ones((2, 1)), jax.random.key(0), jnp.array([True, False])
    for needs in ((), ("train",), ("key", "train"), ("key", "train", "mask")):
        model = stateless(lambda k, x: {"w": jnp.ones(())}, apply, needs=needs)
        assert model.needs == frozenset(needs)
        params, state = model.init(key, x)
        output, new_state = model.apply(params, state, x, train=True, key=key, mask=mask)
        assert state == new_state == {}
        np.testing.assert_array_equal(output, x)
    assert seen == [[], ["train"], ["key", "train"], ["key", "mask", "train"]]


def test_stateless_bad_needs():
    init, apply = (lambda k, x: {}), (lambda p, x: x)
    with pytest.raises(ValueError, match=r"^needs: expected some of \['key', 'train', 'mask'\], "):
        stateless(init, apply, needs=("dropout",))
    with pytest.raises(TypeError, match=r"^needs: expected a collection of .* the string 'key'$"):
        stateless(init, apply, needs="key")


@pytest.mark.parametrize("make", [scratch_mlp, concise_mlp])
def test_mlp_config_of_a_numpy_integer_is_a_plain_int(make):
    config = make((8,), np.int64(5)).config
    assert json.loads(json.dumps(config))["num_outputs"] == 5


def test_numpy_scalar_hyperparameters_are_recorded_as_numbers():
    concise = concise_linear_regression(init_std=np.float32(0.5)).config
    assert concise["init_std"] == 0.5  # the value, not its type name
    scratch = linear_regression(init_std=np.float32(0.5))
    run = Run.describe(
        config={"init_std": np.float32(0.5)},
        model=scratch.config,
        loss=lambda o, y: o,
        optimizer=sgd(0.1),
        params={"w": jax.ShapeDtypeStruct((2,), jnp.float32)},
        batch_size=1,
        epochs=1,
        key=jax.random.key(0),
        data=(np.zeros((1, 2), np.float32), np.zeros(1, np.float32)),
        eval_data={},
    )
    recorded = json.loads(json.dumps(run.to_dict()))
    assert recorded["model"]["init_std"] == 0.5 and recorded["config"]["init_std"] == 0.5


# Per-layer and traced initial scales (``init_std``), as the initialization experiment sweeps them.


def test_mlp_init_std_per_layer(images):
    stds = [0.05, 0.5]
    listed = _init(scratch_mlp((256,), init_std=stds), jax.random.key(4), images[:1])
    for layer, std in zip(listed["layers"], stds, strict=True):
        np.testing.assert_allclose(np.std(np.asarray(layer["W"])), std, rtol=0.05)
        np.testing.assert_array_equal(layer["b"], 0.0)
    # A sequence, a tuple and an array [layers] are the same scales: the same weights.
    for same in (tuple(stds), np.array(stds, np.float32), jnp.array(stds)):
        params = _init(scratch_mlp((256,), init_std=same), jax.random.key(4), images[:1])
        jax.tree.map(np.testing.assert_array_equal, params, listed)
    assert scratch_mlp((256,), init_std=np.array(stds, np.float32)).config["init_std"] == stds


def test_mlp_one_init_std_equals_it_per_layer(images):
    """A scalar serves every layer: bit for bit the weights of the same value per layer (the
    book's MLP keeps its weights, init_std 0.01)."""
    one = _init(scratch_mlp((32, 16)), jax.random.key(5), images[:1])
    per_layer = _init(scratch_mlp((32, 16), init_std=[0.01] * 3), jax.random.key(5), images[:1])
    jax.tree.map(np.testing.assert_array_equal, one, per_layer)
    assert scratch_mlp((32, 16)).config["init_std"] == 0.01


def test_mlp_with_xavier_stds_draws_xavier_normal(images):
    shapes = [(784, 32), (32, 10)]
    model = scratch_mlp((32,), init_std=[xavier_std(s) for s in shapes])
    params = _init(model, jax.random.key(6), images[:1])
    keys = jax.random.split(jax.random.key(6), 2)  # mlp's key per layer
    for layer, k, shape in zip(params["layers"], keys, shapes, strict=True):
        np.testing.assert_array_equal(layer["W"], xavier_normal(k, shape))


def test_mlp_init_std_traced_under_vmap(images):
    stds = jnp.array([[0.01, 0.01], [0.1, 0.2], [1.0, 0.5]])

    def init(layer_stds):
        model = scratch_mlp((16,), init_std=layer_stds)
        assert model.config["init_std"] is None  # traced: its values are unknown here
        return _init(model, jax.random.key(7), images[:1])

    stacked = jax.jit(jax.vmap(init))(stds)
    for i, row in enumerate(np.asarray(stds)):
        alone = _init(
            scratch_mlp((16,), init_std=[float(s) for s in row]), jax.random.key(7), images[:1]
        )
        for got, want in zip(stacked["layers"], alone["layers"], strict=True):
            np.testing.assert_allclose(got["W"][i], want["W"], rtol=1e-6)


def test_concise_mlp_init_std_per_layer(images):
    model = concise_mlp((256,), init_std=[0.05, 0.5])
    assert model.config["init_std"] == [0.05, 0.5]
    params = _init(model, jax.random.key(8), images[:1])
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
@pytest.mark.parametrize("make", [scratch_mlp, concise_mlp])
def test_mlp_bad_init_std(make, init_std, message):
    with pytest.raises(ValueError, match=message):
        make((8,), init_std=init_std)


SCALES_X = jax.random.uniform(jax.random.key(9), (40, 6))
SCALES_Y = jnp.arange(40) % 3


def _train_one_scale(layer_stds, x=SCALES_X, y=SCALES_Y):
    """The MLP from per-layer initial standard deviations ``layer_stds``, trained 2 epochs."""
    return train(
        scratch_mlp((8,), 3, init_std=layer_stds),
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


@pytest.mark.slow
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


class _DenseDropout(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool = False):
        return nn.Dropout(0.5, deterministic=not train)(nn.Dense(3)(x))


def test_a_flax_module_drawing_from_a_stream_not_given_to_from_flax_is_named():
    """A training pass that needs a random stream ``rngs`` does not name: one line saying
    which and how to pass it, not flax's InvalidRngError from inside the module."""
    model = from_flax(_DenseDropout())
    params, state = model.init(jax.random.key(0), jnp.ones((2, 3)))
    with pytest.raises(InputError, match=r"rngs=\[\] does not name \(Dropout_0 needs PRNG for "):
        model.apply(params, state, jnp.ones((2, 3)), train=True)
    assert model.apply(params, state, jnp.ones((2, 3)), train=False)[0].shape == (2, 3)
    fixed = from_flax(_DenseDropout(), rngs=["dropout"])
    key = jax.random.key(1)
    assert fixed.apply(params, state, jnp.ones((2, 3)), train=True, key=key)[0].shape == (2, 3)


@pytest.mark.parametrize(
    "apply, lacking",
    [
        (lambda p, x: x @ p["w"], "['key', 'train']"),
        (lambda p, x, *, train: x @ p["w"], "['key']"),
    ],
)
def test_a_stateless_apply_without_a_needed_keyword_is_refused_when_made(apply, lacking):
    """``needs`` promises keywords the engine will pass: an ``apply`` without them is refused
    where the model is made, naming them, not as a TypeError (or a shape error) in training."""
    with pytest.raises(InputError, match=re.escape(f"apply: expected the keywords {lacking}")):
        stateless(lambda key, x: {"w": jnp.ones(2)}, apply, needs=["key", "train"])
    made = stateless(lambda k, x: {}, lambda p, x, **kw: x, needs=["key", "train"])
    assert made.needs == frozenset({"key", "train"})

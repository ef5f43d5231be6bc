"""Dropout: the layer against its definition and statistics, the book's networks, and the
engine's per-step keys (the run's key schedule, :mod:`jaxdl.engine.keys`) and train/evaluate switch
for models that need a key."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl.engine import fit, train
from jaxdl.engine.keys import run_keys, shuffle_key, step_key
from jaxdl.losses import cross_entropy
from jaxdl.model import Model, stateless
from jaxdl.models.dropout import concise_dropout_mlp, dropout_layer, dropout_mlp
from jaxdl.optim import sgd

# --- the layer ---------------------------------------------------------------------------


def test_rate_0_is_the_identity_and_rate_1_zeros():
    x = jnp.arange(1.0, 7.0).reshape(2, 3)
    assert dropout_layer(jax.random.key(0), x, 0.0) is x
    np.testing.assert_array_equal(dropout_layer(jax.random.key(0), x, 1.0), np.zeros((2, 3)))


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.9])
def test_drops_each_unit_with_probability_rate_and_scales_the_rest(rate):
    n = 200_000
    x = jnp.full(n, 3.0)
    y = np.asarray(dropout_layer(jax.random.key(1), x, rate))
    dropped = np.mean(y == 0)
    # Binomial(n, rate): 5 standard deviations either side.
    assert abs(dropped - rate) < 5 * np.sqrt(rate * (1 - rate) / n), dropped
    np.testing.assert_allclose(y[y != 0], 3.0 / (1 - rate), rtol=1e-6)
    # The expectation is unchanged: the kept units make up for the dropped ones.
    assert abs(y.mean() - 3.0) < 5 * 3.0 * np.sqrt(rate / (1 - rate) / n)


def test_the_mask_is_the_books_uniform_draw_above_the_rate():
    key, x = jax.random.key(2), jnp.linspace(-1.0, 1.0, 50)
    keep = np.asarray(jax.random.uniform(key, x.shape)) > 0.3
    expected = np.where(keep, np.asarray(x) / 0.7, 0.0)
    np.testing.assert_allclose(dropout_layer(key, x, 0.3), expected, rtol=1e-6)


def test_other_keys_other_masks_same_key_same_mask():
    x = jnp.ones(1000)
    a, b = dropout_layer(jax.random.key(0), x, 0.5), dropout_layer(jax.random.key(0), x, 0.5)
    c = dropout_layer(jax.random.key(1), x, 0.5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_gradient_flows_through_the_kept_units_only():
    key, x = jax.random.key(3), jnp.arange(1.0, 11.0)
    grad = jax.grad(lambda x: jnp.sum(dropout_layer(key, x, 0.5)))(x)
    kept = np.asarray(dropout_layer(key, x, 0.5)) != 0
    np.testing.assert_allclose(grad, np.where(kept, 2.0, 0.0))


@pytest.mark.parametrize(
    ("rate", "error", "message"),
    [
        (-0.1, ValueError, r"rate: expected a finite number >= 0, got -0.1"),
        (1.5, ValueError, r"rate: expected a probability in \[0, 1\], got 1.5"),
        (float("nan"), ValueError, r"rate: expected a finite number >= 0, got nan"),
        ("0.5", TypeError, "rate: expected a real number"),
    ],
)
def test_bad_rates(rate, error, message):
    with pytest.raises(error, match=message):
        dropout_layer(jax.random.key(0), jnp.ones(3), rate)


def test_a_traced_rate_is_refused():
    with pytest.raises(TypeError, match="rate: expected a Python number, got a traced value"):
        jax.jit(lambda r: dropout_layer(jax.random.key(0), jnp.ones(3), r))(0.5)


# --- the book's networks -------------------------------------------------------------------


@pytest.mark.parametrize("make", [dropout_mlp, concise_dropout_mlp])
def test_networks_drop_in_training_only(make):
    model = make((32, 16), (0.2, 0.5))
    x = jax.random.uniform(jax.random.key(0), (4, 28, 28, 1))  # images as to_device gives them
    params, state = model.init(jax.random.key(1), x[:1])
    assert model.needs == {"key", "train"} and state == {}
    evaluation, same_state = model.apply(params, state, x, train=False)
    assert same_state == {}
    # Evaluation ignores any key: with or without one, the deterministic network.
    keyed, _ = model.apply(params, state, x, train=False, key=jax.random.key(2))
    np.testing.assert_array_equal(evaluation, keyed)
    a, _ = model.apply(params, state, x, train=True, key=jax.random.key(2))
    b, _ = model.apply(params, state, x, train=True, key=jax.random.key(3))
    again, _ = model.apply(params, state, x, train=True, key=jax.random.key(2))
    assert a.shape == evaluation.shape == (4, 10)
    assert not np.allclose(a, b) and not np.allclose(a, evaluation)
    np.testing.assert_array_equal(a, again)  # the same key, the same units dropped
    # Rates 0: training is the evaluation network.
    plain = make((32, 16), (0.0, 0.0))
    params, state = plain.init(jax.random.key(1), x[:1])
    np.testing.assert_allclose(
        plain.apply(params, state, x, train=True, key=jax.random.key(2))[0],
        plain.apply(params, state, x, train=False)[0],
    )


def test_scratch_network_is_the_books_forward_pass():
    model = dropout_mlp((8, 6), (0.2, 0.5))
    x = jax.random.uniform(jax.random.key(0), (3, 784))
    params, state = model.init(jax.random.key(1), x[:1])
    key = jax.random.key(4)
    (w1, b1), (w2, b2), (w3, b3) = ((p["W"], p["b"]) for p in params["layers"])
    k1, k2 = jax.random.split(key)
    h1 = dropout_layer(k1, jax.nn.relu(x @ w1 + b1[None, :]), 0.2)
    h2 = dropout_layer(k2, jax.nn.relu(h1 @ w2 + b2[None, :]), 0.5)
    expected = h2 @ w3 + b3[None, :]
    got, _ = model.apply(params, state, x, train=True, key=key)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_initialisations_are_the_books_code():
    x = jnp.zeros((1, 784))
    scratch = dropout_mlp().init(jax.random.key(0), x)[0]["layers"]
    for layer, fan_in in zip(scratch, (784, 256, 256), strict=True):
        bound = 1 / np.sqrt(fan_in)  # PyTorch's nn.Linear default, weights and biases
        assert bound * 0.99 < np.abs(layer["W"]).max() <= bound
        assert np.abs(layer["b"]).max() <= bound
    concise, state = concise_dropout_mlp().init(jax.random.key(0), x)
    assert state == {}  # Dropout keeps no state; the params collection is the parameters
    kernel = np.asarray(concise["Dense_0"]["kernel"])
    assert abs(kernel.std() - 0.01) < 0.0002  # N(0, 0.01²), the book's init_weights
    assert np.abs(concise["Dense_0"]["bias"]).max() <= 1 / np.sqrt(784)


def test_networks_bad_input():
    with pytest.raises(ValueError, match="one rate per hidden layer"):
        dropout_mlp((256, 256), (0.2,))
    with pytest.raises(ValueError, match=r"dropout_rates: expected probabilities in \[0, 1\]"):
        dropout_mlp((256,), (1.2,))


# --- the engine's keys ---------------------------------------------------------------------


def noise_model() -> Model:
    """A model that needs a key, whose training output is ``w · u``, u ~ U(0, 1) drawn with the
    step's key: the gradient of its mean with respect to w is the mean of u, so each step's
    update reveals which key the step was given."""

    def apply(params, x, *, key, train):
        if not train:
            return x[:, 0] * params["w"]
        return params["w"] * jax.random.uniform(key, (x.shape[0],))

    def init(key, x):
        return {"w": jnp.ones(())}

    return stateless(init, apply, {"name": "noise"}, needs=("key", "train"))


def identity_loss(output, y):
    del y
    return output


def test_each_step_draws_its_own_key_the_step_key_of_the_run():
    x, y = jnp.ones((8, 1)), jnp.zeros(8)
    key, lr = jax.random.key(7), 0.1
    result = train(noise_model(), identity_loss, sgd(lr), (x, y), epochs=2, batch_size=4, key=key)
    # The documented keys: step s (counted over the whole run, whatever its epoch) draws with
    # step_key(run_keys(key), s); the update w -= lr · mean(u) follows each draw, in NumPy.
    keys = run_keys(key)
    w, steps = np.float32(1.0), []
    for s in range(4):  # 2 epochs of 2 steps
        u = np.asarray(jax.random.uniform(step_key(keys, s), (4,)))
        steps.append(u.mean())
        w = np.float32(w - np.float32(lr) * np.float32(u.mean()))
    assert len(set(steps)) == 4  # four steps, four draws
    assert int(result.state.step) == 4
    np.testing.assert_allclose(result.state.params["w"], w, rtol=1e-6)


def test_evaluation_is_deterministic():
    x, y = jnp.arange(1.0, 9.0)[:, None], jnp.zeros(8)
    options = dict(epochs=1, batch_size=4, key=jax.random.key(0), eval_data={"test": (x, y)})
    result = train(noise_model(), identity_loss, sgd(0.1), (x, y), **options)
    # The evaluation network: x · w, no noise.
    expected = np.mean(np.arange(1.0, 9.0)) * float(result.state.params["w"])
    np.testing.assert_allclose(result.history["test_loss"][-1], expected, rtol=1e-6)


@pytest.fixture(scope="module")
def images():
    kx, ky = jax.random.split(jax.random.key(0))
    return jax.random.uniform(kx, (300, 784)), jax.random.randint(ky, (300,), 0, 10)


def _fit_dropout(images, **options):
    options = {"epochs": 2, "batch_size": 50, "key": jax.random.key(5), "quiet": True} | options
    return fit(dropout_mlp((32, 16)), cross_entropy, sgd(0.5), images, **options)


def _key_bits(key) -> tuple:
    return tuple(np.asarray(jax.random.key_data(key)).ravel().tolist())


def test_no_training_step_of_a_dropout_run_reuses_the_shuffles_bits(images):
    """Every key a dropout run draws from is a key of its own: the steps' keys and the
    per-layer keys the network splits from them, the shuffles' keys and the subkeys the
    permutation splits from them, and the initialisation's keys."""
    epochs, batch_size = 3, 50
    result = _fit_dropout(images, epochs=epochs)
    steps = int(result.state.step)
    assert steps == epochs * len(images[0]) // batch_size  # 6 steps an epoch
    keys = run_keys(jax.random.key(5))  # _fit_dropout's key
    drawn = {}

    def use(name, key):
        bits = _key_bits(key)
        assert bits not in drawn, f"{name} reuses the key of {drawn.get(bits)}"
        drawn[bits] = name

    for e in range(epochs):
        use(f"shuffle {e}", shuffle_key(keys, e))
        for i, sub in enumerate(jax.random.split(shuffle_key(keys, e))):
            use(f"shuffle {e} subkey {i}", sub)
    for i, sub in enumerate(jax.random.split(keys.init, 6)):  # 3 layers: a weight and a bias key
        use(f"init subkey {i}", sub)
    for s in range(steps):
        use(f"step {s}", step_key(keys, s))
        for i, sub in enumerate(jax.random.split(step_key(keys, s), 2)):  # 2 dropout layers
            use(f"step {s} dropout layer {i}", sub)
    assert len(drawn) == 3 * epochs + 6 + 3 * steps


def test_same_seed_same_run_and_fit_equals_jitted_train(images):
    a, b = _fit_dropout(images), _fit_dropout(images)
    jax.tree.map(np.testing.assert_array_equal, a.state, b.state)
    jitted = jax.jit(
        lambda: train(
            dropout_mlp((32, 16)),
            cross_entropy,
            sgd(0.5),
            images,
            epochs=2,
            batch_size=50,
            key=jax.random.key(5),
        )
    )()
    jax.tree.map(np.testing.assert_array_equal, a.state, jitted.state)
    np.testing.assert_array_equal(a.history["train_loss"], jitted.history["train_loss"])
    other = _fit_dropout(images, key=jax.random.key(6))
    assert not np.array_equal(
        a.state.params["layers"][0]["W"], other.state.params["layers"][0]["W"]
    )


def test_resumed_dropout_run_is_the_uninterrupted_run(images, tmp_path):
    _fit_dropout(images, epochs=1, checkpoint_dir=tmp_path)
    resumed = _fit_dropout(images, epochs=3, checkpoint_dir=tmp_path)
    straight = _fit_dropout(images, epochs=3)
    jax.tree.map(np.testing.assert_array_equal, resumed.state, straight.state)
    np.testing.assert_array_equal(resumed.history["train_loss"], straight.history["train_loss"])


def test_concise_network_trains_through_the_engine(images):
    result = fit(
        concise_dropout_mlp((32, 16)),
        optax.softmax_cross_entropy_with_integer_labels,
        optax.sgd(0.5),
        images,
        epochs=2,
        batch_size=50,
        key=jax.random.key(0),
        eval_data={"test": images},
        quiet=True,
    )
    assert np.all(np.isfinite(result.history["train_loss"]))
    assert result.run.model["name"] == "DropoutMLP"
    assert result.run.model["dropout_rates"] == [0.2, 0.5]

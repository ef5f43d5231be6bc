"""Batch normalization (the book's 7.5): the layer from scratch against NumPy's formula and
``flax.linen.BatchNorm`` over a sequence of batches (outputs and running statistics), the
mask, finite differences; BN-LeNet scratch against concise and against PyTorch's network with
the same weights; parameter counts by hand; bad input; the experiment run as a user runs it."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxdl.engine import fit
from jaxdl.errors import InputError
from jaxdl.losses import cross_entropy
from jaxdl.model import batch_mask, from_flax
from jaxdl.models.normalization import (
    BNLeNet,
    batch_norm,
    batch_norm_init,
    bn_lenet,
    concise_bn_lenet,
)
from jaxdl.optim import sgd
from jaxdl.params import num_params


def numpy_batch_norm(x, gamma, beta, mean, var, *, momentum=0.9, eps=1e-5):
    """The book's formula in float64 NumPy, channels last, train mode."""
    x = np.asarray(x, np.float64)
    axes = tuple(range(x.ndim - 1))
    mu, sigma2 = x.mean(axes), x.var(axes)  # biased
    y = gamma * (x - mu) / np.sqrt(sigma2 + eps) + beta
    return y, momentum * mean + (1 - momentum) * mu, momentum * var + (1 - momentum) * sigma2


@pytest.mark.parametrize("shape", [(16, 7), (8, 5, 5, 3)])
def test_train_and_evaluate_against_numpy_and_flax_over_several_batches(shape):
    c = shape[-1]
    key = jax.random.key(0)
    batches = [jax.random.normal(jax.random.fold_in(key, i), shape) * (1 + i) + i for i in range(4)]
    params, state = batch_norm_init(c)
    params = {"gamma": jnp.linspace(0.5, 2.0, c), "beta": jnp.linspace(-1.0, 1.0, c)}
    flax_bn = nn.BatchNorm(momentum=0.9, epsilon=1e-5, use_fast_variance=False)
    variables = flax_bn.init(key, batches[0], use_running_average=True)
    variables = {**variables, "params": {"scale": params["gamma"], "bias": params["beta"]}}
    reference = {k: np.asarray(v, np.float64) for k, v in state.items()}
    for x in batches:
        y, state = batch_norm(x, params, state, train=True)
        expected, reference["mean"], reference["var"] = numpy_batch_norm(
            x, np.asarray(params["gamma"]), np.asarray(params["beta"]), **reference
        )
        np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)
        for k in ("mean", "var"):
            np.testing.assert_allclose(state[k], reference[k], rtol=1e-5, atol=1e-6)
        y_flax, updates = flax_bn.apply(
            variables, x, use_running_average=False, mutable=["batch_stats"]
        )
        variables = {**variables, **updates}
        np.testing.assert_allclose(y, y_flax, rtol=1e-6, atol=1e-6)
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
            state,
            dict(updates["batch_stats"]),
        )
    # evaluation: the running averages, the state unchanged
    x = batches[0]
    y, same = batch_norm(x, params, state, train=False)
    assert same is state
    g, b, m, v = (np.asarray(a) for a in (params["gamma"], params["beta"], *state.values()))
    expected = g * (np.asarray(x) - m) / np.sqrt(v + 1e-5) + b
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        y, flax_bn.apply(variables, x, use_running_average=True), rtol=1e-6, atol=1e-6
    )


def test_the_mask_leaves_padding_out_exactly_as_the_real_rows_alone():
    x = jax.random.normal(jax.random.key(1), (10, 4, 4, 3)) + 2.0
    padded = x.at[7:].set(1e3)  # rows 7.. are padding
    mask = jnp.arange(10) < 7
    params, state = batch_norm_init(3)
    y, masked = batch_norm(padded, params, state, train=True, mask=mask)
    y_real, alone = batch_norm(x[:7], params, state, train=True)
    np.testing.assert_allclose(y[:7], y_real, rtol=1e-5, atol=1e-5)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), masked, alone)
    flax_bn = nn.BatchNorm(momentum=0.9, epsilon=1e-5, use_fast_variance=False)
    variables = flax_bn.init(jax.random.key(0), x, use_running_average=True)
    _, updates = flax_bn.apply(
        variables,
        padded,
        use_running_average=False,
        mask=batch_mask(mask, padded),
        mutable=["batch_stats"],
    )
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6),
        masked,
        dict(updates["batch_stats"]),
    )


def test_gradient_against_finite_differences():
    x = jax.random.normal(jax.random.key(2), (6, 3, 3, 2), jnp.float32)
    _, state = batch_norm_init(2)

    def f(x, gamma, beta):
        y, _ = batch_norm(x, {"gamma": gamma, "beta": beta}, state, train=True)
        return jnp.sin(y)

    check_grads(
        f,
        (x, jnp.array([1.5, 0.5]), jnp.array([0.1, -0.2])),
        order=1,
        modes=["rev"],
        atol=2e-2,
        rtol=2e-2,
    )


# BN-LeNet

# parameters by hand: conv 5·5·in·out + out, batch norm 2 per channel, dense in·out + out
HAND_PARAMS = (
    (5 * 5 * 1 * 6 + 6)
    + 2 * 6
    + (5 * 5 * 6 * 16 + 16)
    + 2 * 16
    + (16 * 4 * 4 * 120 + 120)
    + 2 * 120
    + (120 * 84 + 84)
    + 2 * 84
    + (84 * 10 + 10)
)
HAND_STATE = 2 * (6 + 16 + 120 + 84)


@pytest.fixture(scope="module")
def scratch():
    return bn_lenet().init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))


def as_flax(params, state):
    """The scratch parameters and state under the concise module's names."""
    layers = {"conv1": "Conv_0", "conv2": "Conv_1", "dense1": "Dense_0", "dense2": "Dense_1"}
    layers["output"] = "Dense_2"
    flax_params = {layers[k]: {"kernel": params[k]["W"], "bias": params[k]["b"]} for k in layers}
    stats = {}
    for i in range(4):
        name = f"BatchNorm_{i}"
        bn = params[f"bn{i + 1}"]
        flax_params[name] = {"scale": bn["gamma"], "bias": bn["beta"]}
        stats[name] = dict(state[f"bn{i + 1}"])
    return {"params": flax_params, "batch_stats": stats}


def test_parameter_and_state_counts_by_hand(scratch):
    params, state = scratch
    assert num_params(params) == HAND_PARAMS == 44878
    assert num_params(state) == HAND_STATE == 452
    flax_params, flax_state = concise_bn_lenet().init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
    assert num_params(flax_params) == HAND_PARAMS and num_params(flax_state) == HAND_STATE
    expected = as_flax(*scratch)
    assert jax.tree.map(jnp.shape, flax_params) == jax.tree.map(jnp.shape, expected["params"])


def test_scratch_equals_concise_in_training_and_evaluation(scratch):
    params, state = scratch
    model, variables = bn_lenet(), as_flax(params, state)
    x = jax.random.uniform(jax.random.key(3), (12, 28, 28, 1))
    mask = jnp.arange(12) < 9
    y, new = jax.jit(lambda p, s, x, m: model.apply(p, s, x, train=True, mask=m))(
        params, state, x, mask
    )
    y_flax, updates = BNLeNet().apply(variables, x, train=True, mask=mask, mutable=["batch_stats"])
    np.testing.assert_allclose(y, y_flax, rtol=1e-5, atol=1e-5)
    expected = as_flax(params, new)["batch_stats"]
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
        expected,
        jax.tree.map(np.asarray, dict(updates["batch_stats"])),
    )
    assert not jnp.allclose(new["bn1"]["mean"], state["bn1"]["mean"])  # it did move
    y_eval, same = model.apply(params, new, x, train=False)
    assert same is new
    np.testing.assert_allclose(
        y_eval, BNLeNet().apply(as_flax(params, new), x), rtol=1e-5, atol=1e-5
    )


def test_forward_pass_equals_pytorchs_in_training_and_evaluation(scratch):
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    net = tnn.Sequential(
        tnn.Conv2d(1, 6, kernel_size=5), tnn.BatchNorm2d(6), tnn.Sigmoid(),
        tnn.AvgPool2d(kernel_size=2, stride=2),
        tnn.Conv2d(6, 16, kernel_size=5), tnn.BatchNorm2d(16), tnn.Sigmoid(),
        tnn.AvgPool2d(kernel_size=2, stride=2), tnn.Flatten(),
        tnn.Linear(256, 120), tnn.BatchNorm1d(120), tnn.Sigmoid(),
        tnn.Linear(120, 84), tnn.BatchNorm1d(84), tnn.Sigmoid(),
        tnn.Linear(84, 10),
    )  # fmt: skip
    params, state = scratch
    p = jax.tree.map(np.asarray, params)
    rows = np.arange(256).reshape(4, 4, 16).transpose(2, 0, 1).ravel()  # (h, w, c) -> (c, h, w)
    weights = {
        0: (p["conv1"]["W"].transpose(3, 2, 0, 1), p["conv1"]["b"]),
        4: (p["conv2"]["W"].transpose(3, 2, 0, 1), p["conv2"]["b"]),
        9: (p["dense1"]["W"][rows].T, p["dense1"]["b"]),
        12: (p["dense2"]["W"].T, p["dense2"]["b"]),
        15: (p["output"]["W"].T, p["output"]["b"]),
    }
    with torch.no_grad():
        for i, (w, b) in weights.items():
            net[i].weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
            net[i].bias.copy_(torch.from_numpy(np.array(b)))
    x = np.asarray(jax.random.uniform(jax.random.key(4), (16, 28, 28, 1)))
    net.train()
    expected = net(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).detach().numpy()
    y, new = bn_lenet().apply(params, state, jnp.asarray(x), train=True)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)
    for i, bn in zip((1, 5, 10, 13), ("bn1", "bn2", "bn3", "bn4"), strict=True):
        # PyTorch's momentum 0.1 is our 0.9; its running variance is unbiased (× n / (n − 1))
        np.testing.assert_allclose(
            net[i].running_mean.numpy(), new[bn]["mean"], rtol=1e-5, atol=1e-7
        )
    net.eval()
    with torch.no_grad():
        for i, bn in zip((1, 5, 10, 13), ("bn1", "bn2", "bn3", "bn4"), strict=True):
            net[i].running_var.copy_(torch.from_numpy(np.array(new[bn]["var"])))  # writable
    expected = net(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).detach().numpy()
    np.testing.assert_allclose(
        bn_lenet().apply(params, new, jnp.asarray(x), train=False)[0],
        expected,
        rtol=1e-4,
        atol=1e-5,
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: batch_norm(jnp.ones((2, 3, 4)), *batch_norm_init(4), train=True), "got shape"),
        (
            lambda: batch_norm(jnp.ones((2, 5)), *batch_norm_init(4), train=True),
            "expected 4 channels",
        ),
        (lambda: batch_norm_init(0), "num_features"),
        (lambda: bn_lenet(momentum=1.5), "momentum: expected a number in \\[0, 1\\]"),
        (lambda: concise_bn_lenet(num_outputs=0), "num_outputs"),
        (lambda: bn_lenet().init(jax.random.key(0), jnp.zeros((1, 32, 32, 1))), "28, 28, 1"),
    ],
)
def test_bad_input_is_refused_with_its_name(call, message):
    with pytest.raises(InputError, match=message):
        call()


# The experiment


@pytest.mark.slow
def test_experiment_quick_trains_both_variants_and_records_the_first_layer(run_experiment):
    metrics, stdout, out = run_experiment("batch_norm", "--epochs", "2")
    assert metrics["num_params"] == HAND_PARAMS and metrics["num_state"] == HAND_STATE
    assert f"{HAND_PARAMS} parameters, {HAND_STATE} moving statistics" in stdout
    for variant in ("scratch", "concise"):
        m = metrics[variant]
        assert m["run"]["epochs"] == 2 and m["run"]["optimizer"]["learning_rate"] == 1.0
        # with batch norm the sigmoid LeNet learns from the first steps (without: chance for an
        # epoch); the test accuracy, with moving averages still 0.9^16 of their start, lags
        assert m["train_acc"] > 0.4, (variant, m["train_acc"])
        first = metrics["first_layer"][variant]
        assert {k: len(v) for k, v in first.items()} == dict.fromkeys(first, 6)
        assert first["gamma"] != [1.0] * 6  # trained
    assert (out / "curves.png").exists()


class _DenseBatchNormDropout(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.BatchNorm(use_running_average=not train)(nn.Dense(4)(x))
        return nn.Dense(10)(nn.Dropout(0.5, deterministic=not train)(x))


@pytest.mark.parametrize(
    "model, shape",
    [
        (bn_lenet(), (8, 28, 28, 1)),
        (concise_bn_lenet(), (8, 28, 28, 1)),
        (from_flax(_DenseBatchNormDropout(), rngs=["dropout"]), (8, 3)),
    ],
    ids=["scratch", "concise", "flax-dense-dropout"],
)
def test_batch_statistics_of_one_value_per_channel_are_refused_in_training(model, shape):
    """A batch of one example gives a dense layer's batch norm one value per channel: each
    normalises to 0 and the network trains to chance. Refused (as PyTorch does) for our batch
    norm and flax's, before the first step; evaluating one example stays fine."""
    x, y = jnp.ones(shape), jnp.arange(shape[0]) % 10
    with pytest.raises(
        InputError, match=r"expected more than 1 value per channel .* batch size > 1"
    ):
        fit(
            model,
            cross_entropy,
            sgd(0.1),
            (x, y),
            epochs=1,
            batch_size=1,
            key=jax.random.key(0),
            quiet=True,
        )
    params, state = model.init(jax.random.key(0), x[:1])
    assert model.apply(params, state, x[:1], train=False)[0].shape == (1, 10)


@pytest.mark.parametrize(
    "call",
    [
        lambda mask: batch_norm(jnp.ones((4, 3)), *batch_norm_init(3), train=True, mask=mask),
        lambda mask: bn_lenet().apply(
            *bn_lenet().init(jax.random.key(0), jnp.ones((4, 28, 28, 1))),
            jnp.ones((4, 28, 28, 1)),
            train=True,
            mask=mask,
        ),
        lambda mask: concise_bn_lenet().apply(
            *concise_bn_lenet().init(jax.random.key(0), jnp.ones((4, 28, 28, 1))),
            jnp.ones((4, 28, 28, 1)),
            train=True,
            mask=mask,
        ),
    ],
    ids=["batch_norm", "scratch", "concise"],
)
@pytest.mark.parametrize("mask", [jnp.array([True, False]), jnp.ones((4, 1), bool)])
def test_a_mask_that_is_not_one_flag_per_example_is_refused_naming_it(call, mask):
    """A mask of another length (or rank) than the batch: one line naming the mask and both
    shapes, not a broadcasting error from inside a layer."""
    with pytest.raises(InputError, match=r"^mask: expected one flag per example, shape \(4,\)"):
        call(mask)

"""Forward and backward propagation by hand (the book's 4.7) against hand values and jax.grad."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxdl.propagation import (
    DERIVATIVES,
    ForwardPass,
    Params,
    backward,
    forward,
    init_params,
    objective,
)

OPTIONS = [
    {"activation": activation, "loss": loss}
    for activation in DERIVATIVES
    for loss in ("cross_entropy", "squared")
]


@pytest.fixture(autouse=True)
def _full_float32_matmuls():
    """Float32 matrix products in full precision (GPUs use TensorFloat-32 by default, TPUs
    bfloat16): the tolerances below are float32's."""
    with jax.default_matmul_precision("highest"):
        yield


@pytest.fixture
def x64():
    """Float64 for tight comparisons and finite differences; the flag is restored afterwards."""
    with jax.enable_x64(True):
        yield


def problem(loss: str, *, batch=8, num_inputs=6, num_hiddens=5, num_outputs=4, seed=0):
    """Random params (std 0.5, so the hidden units are not all near 0), x and y for ``loss``."""
    k_params, k_x, k_y = jax.random.split(jax.random.key(seed), 3)
    params = init_params(k_params, num_inputs, num_hiddens, num_outputs, init_std=0.5)
    x = jax.random.normal(k_x, (batch, num_inputs))
    if loss == "cross_entropy":
        y = jax.random.randint(k_y, (batch,), 0, num_outputs)
    else:
        y = jax.random.normal(k_y, (batch, num_outputs))
    return params, x, y


def hand_and_autodiff(params, x, y, lam, **options):
    hand = backward(params, forward(params, x, y, lam, **options), y, lam, **options)
    auto = jax.grad(objective)(params, x, y, lam, **options)
    return hand, auto


# Hand-computed values ------------------------------------------------------------------------


def test_tiny_network_squared_loss_by_hand():
    # x = 3, W1 = 0.5, W2 = 2, y = 1, λ = 0.1, squared loss ½ (o - y)²:
    #   z = 0.5 * 3 = 1.5, h = relu(1.5) = 1.5, o = 2 * 1.5 = 3, L = ½ (3 - 1)² = 2,
    #   s = 0.1 / 2 * (0.5² + 2²) = 0.05 * 4.25 = 0.2125, J = 2.2125;
    #   ∂J/∂o = o - y = 2, ∂J/∂W2 = 2 * 1.5 + 0.1 * 2 = 3.2, ∂J/∂h = 2 * 2 = 4,
    #   ∂J/∂z = 4 * relu'(1.5) = 4, ∂J/∂W1 = 4 * 3 + 0.1 * 0.5 = 12.05.
    params = Params(w1=jnp.array([[0.5]]), w2=jnp.array([[2.0]]))
    x, y = jnp.array([[3.0]]), jnp.array([[1.0]])
    fp = forward(params, x, y, 0.1, loss="squared")
    got = [fp.z, fp.h, fp.o, fp.L, fp.s, fp.J]
    np.testing.assert_allclose(
        [float(jnp.squeeze(v)) for v in got], [1.5, 1.5, 3.0, 2.0, 0.2125, 2.2125], rtol=1e-6
    )
    grads = backward(params, fp, y, 0.1, loss="squared")
    np.testing.assert_allclose(grads.w1, [[12.05]], rtol=1e-6)
    np.testing.assert_allclose(grads.w2, [[3.2]], rtol=1e-6)


def test_tiny_network_cross_entropy_by_hand():
    # x = 1, W1 = 2, W2 = [1, -1]ᵀ, label 0, λ = 0: z = h = 2, o = [2, -2],
    #   L = -log(e² / (e² + e⁻²)) = log(1 + e⁻⁴); with p = σ(-4) = e⁻⁴ / (1 + e⁻⁴),
    #   ∂J/∂o = softmax(o) - onehot(0) = [-p, p], ∂J/∂W2 = [-p, p]ᵀ * 2,
    #   ∂J/∂h = 1 * (-p) + (-1) * p = -2p = ∂J/∂z, ∂J/∂W1 = -2p * 1.
    params = Params(w1=jnp.array([[2.0]]), w2=jnp.array([[1.0], [-1.0]]))
    x, y = jnp.array([[1.0]]), jnp.array([0])
    fp = forward(params, x, y, 0.0)
    p = math.exp(-4) / (1 + math.exp(-4))
    np.testing.assert_allclose(fp.o, [[2.0, -2.0]])
    np.testing.assert_allclose(fp.L, math.log1p(math.exp(-4)), rtol=1e-5)  # float32 log-sum-exp
    assert float(fp.s) == 0.0 and float(fp.J) == float(fp.L)
    grads = backward(params, fp, y, 0.0)
    np.testing.assert_allclose(grads.w2, [[-2 * p], [2 * p]], rtol=1e-5)
    np.testing.assert_allclose(grads.w1, [[-2 * p]], rtol=1e-5)


def test_relu_kink_passes_no_gradient_as_jax_grad():
    # x = 0 gives z = 0, where relu'(0) = 0 (the book's convention): ∂J/∂W1 = λ W1 alone.
    params = Params(w1=jnp.array([[0.5]]), w2=jnp.array([[2.0]]))
    x, y = jnp.array([[0.0]]), jnp.array([[1.0]])
    hand, auto = hand_and_autodiff(params, x, y, 0.1, loss="squared")
    np.testing.assert_allclose(hand.w1, [[0.05]], rtol=1e-7)  # λ W1 = 0.1 * 0.5 in float32
    np.testing.assert_array_equal(auto.w1, hand.w1)


# Against jax.grad ----------------------------------------------------------------------------


@pytest.mark.parametrize("lam", [0.0, 0.1])
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: f"{o['activation']}-{o['loss']}")
def test_backward_equals_jax_grad_float32(options, lam):
    params, x, y = problem(options["loss"])
    hand, auto = hand_and_autodiff(params, x, y, lam, **options)
    assert hand.w1.dtype == auto.w1.dtype == jnp.float32
    for h, a in zip(hand, auto, strict=True):
        np.testing.assert_allclose(h, a, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: f"{o['activation']}-{o['loss']}")
def test_backward_equals_jax_grad_float64(x64, options):
    params, x, y = problem(options["loss"])
    hand, auto = hand_and_autodiff(params, x, y, 0.1, **options)
    assert hand.w1.dtype == jnp.float64
    for h, a in zip(hand, auto, strict=True):
        np.testing.assert_allclose(h, a, rtol=1e-12, atol=1e-14)


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["cross_entropy", "squared"])
def test_check_grads_on_the_objective(x64, loss):
    params, x, y = problem(loss)
    check_grads(lambda p: objective(p, x, y, 0.1, loss=loss), (params,), order=2)


def test_activation_given_with_its_derivative():
    softplus = (jax.nn.softplus, jax.nn.sigmoid)
    params, x, y = problem("cross_entropy")
    hand, auto = hand_and_autodiff(params, x, y, 0.1, activation=softplus)
    for h, a in zip(hand, auto, strict=True):
        np.testing.assert_allclose(h, a, rtol=1e-5, atol=1e-6)


def test_weight_decay_adds_lambda_w_to_the_gradient_and_s_to_the_objective():
    params, x, y = problem("cross_entropy")
    plain, decayed = forward(params, x, y, 0.0), forward(params, x, y, 0.3)
    assert float(plain.s) == 0.0 and float(plain.J) == float(plain.L)
    np.testing.assert_allclose(decayed.L, plain.L, rtol=0)
    squares = float(jnp.sum(params.w1**2) + jnp.sum(params.w2**2))
    np.testing.assert_allclose(decayed.s, 0.15 * squares, rtol=1e-6)
    g0, g3 = backward(params, plain, y, 0.0), backward(params, decayed, y, 0.3)
    for a, b, w in zip(g0, g3, params, strict=True):
        np.testing.assert_allclose(b - a, 0.3 * w, rtol=1e-5, atol=1e-7)


def test_forward_values_and_shapes():
    params, x, y = problem("cross_entropy", batch=3)
    fp = forward(params, x, y, 0.1)
    assert isinstance(fp, ForwardPass)
    assert (fp.z.shape, fp.h.shape, fp.o.shape) == ((3, 5), (3, 5), (3, 4))
    assert fp.L.shape == fp.s.shape == fp.J.shape == ()
    np.testing.assert_allclose(fp.z, x @ params.w1.T, rtol=1e-6)
    np.testing.assert_array_equal(fp.h, jnp.maximum(fp.z, 0))
    np.testing.assert_allclose(fp.J, fp.L + fp.s, rtol=1e-7)


def test_jit_matches_eager():
    params, x, y = problem("squared")
    options = {"activation": "tanh", "loss": "squared"}
    fp = forward(params, x, y, 0.1, **options)
    eager = backward(params, fp, y, 0.1, **options)
    jitted = jax.jit(backward, static_argnames=("activation", "loss"))(
        params, fp, y, 0.1, **options
    )
    for e, j in zip(eager, jitted, strict=True):
        np.testing.assert_allclose(j, e, rtol=1e-6, atol=1e-7)


def test_each_value_is_a_named_scope_in_the_jaxpr():
    params, x, y = problem("cross_entropy")
    jaxpr = jax.make_jaxpr(objective)(params, x, y, 0.1)
    scopes = [str(e.source_info.name_stack) for e in jaxpr.eqns]
    assert list(dict.fromkeys(scopes)) == ["z", "h", "o", "L", "s", "J"]


def test_init_params_shapes_and_checks():
    params = init_params(jax.random.key(0), 784, 256, 10)
    assert (params.w1.shape, params.w2.shape) == ((256, 784), (10, 256))
    assert 0.009 < float(jnp.std(params.w1)) < 0.011
    with pytest.raises(ValueError, match=r"num_hiddens: expected an integer >= 1, got 0"):
        init_params(jax.random.key(0), 784, 0, 10)
    with pytest.raises(ValueError, match=r"init_std: expected a finite number > 0, got 0.0"):
        init_params(jax.random.key(0), 784, 256, 10, init_std=0.0)


# Wrong inputs --------------------------------------------------------------------------------

W1, W2, X, Y = jnp.ones((5, 6)), jnp.ones((4, 5)), jnp.ones((8, 6)), jnp.zeros(8, jnp.int32)
BAD = {  # name: (arguments changed from (Params(W1, W2), X, Y, 0.1), error, message)
    "w1 rank 1": (
        {"params": Params(jnp.ones(5), W2)},
        ValueError,
        r"params.w1: expected shape \[num_hiddens, num_inputs\], got \(5,\)",
    ),
    "w2 columns": (
        {"params": Params(W1, jnp.ones((4, 3)))},
        ValueError,
        r"params.w2: expected shape \[num_outputs, num_hiddens=5\] for w1 \(5, 6\), got \(4, 3\)",
    ),
    "params dict": (
        {"params": {"w1": W1, "w2": W2}},
        TypeError,
        r"params: expected Params\(w1, w2\), got dict",
    ),
    "x features": (
        {"x": jnp.ones((8, 7))},
        ValueError,
        r"x: expected shape \[batch >= 1, num_inputs=6\] for w1 \(5, 6\), got \(8, 7\)",
    ),
    "x empty": ({"x": jnp.ones((0, 6)), "y": Y[:0]}, ValueError, r"x: expected .*got \(0, 6\)"),
    "y shape": (
        {"y": jnp.zeros(7, jnp.int32)},
        ValueError,
        r"y: expected labels of shape \[batch\] = \(8,\), got \(7,\)",
    ),
    "y float labels": (
        {"y": jnp.zeros(8)},
        TypeError,
        r"y: expected integer class labels, got dtype float32",
    ),
    "y out of range": (
        {"y": Y.at[3].set(4)},
        ValueError,
        r"y: expected labels in \[0, 4\), got label 4",
    ),
    "y squared shape": (
        {"y": jnp.zeros((8, 3)), "loss": "squared"},
        ValueError,
        r"y: expected targets of shape \[batch, num_outputs\] = \(8, 4\), got \(8, 3\)",
    ),
    "lam negative": ({"lam": -0.1}, ValueError, r"lam: expected a finite number >= 0, got -0.1"),
    "lam nan": ({"lam": float("nan")}, ValueError, r"lam: expected a finite number >= 0, got nan"),
    "lam vector": ({"lam": jnp.ones(2)}, ValueError, r"lam: expected a scalar, got shape \(2,\)"),
    "loss": (
        {"loss": "hinge"},
        ValueError,
        r"loss: expected one of 'cross_entropy', 'squared', got 'hinge'",
    ),
    "activation name": (
        {"activation": "gelu"},
        ValueError,
        r"activation: expected one of 'relu', 'sigmoid', 'tanh', got 'gelu'",
    ),
    "activation alone": (
        {"activation": jax.nn.relu},
        TypeError,
        r"activation: expected a name \('relu', 'sigmoid', 'tanh'\) or a pair \(phi, phi_prime\)",
    ),
}


@pytest.mark.parametrize("case", BAD.values(), ids=BAD.keys())
def test_wrong_inputs_raise_naming_the_argument(case):
    changes, error, message = case
    args = {"params": Params(W1, W2), "x": X, "y": Y, "lam": 0.1, **changes}
    with pytest.raises(error, match=message):
        forward(**args)


@pytest.mark.parametrize("name", ["w2 columns", "y shape", "y out of range", "lam negative"])
def test_backward_checks_its_arguments_as_forward(name):
    changes, error, message = BAD[name]
    cache = forward(Params(W1, W2), X, Y, 0.1)
    args = {"params": Params(W1, W2), "cache": cache, "y": Y, "lam": 0.1, **changes}
    with pytest.raises(error, match=message):
        backward(**args)


# The section's experiment --------------------------------------------------------------------


@pytest.mark.slow
def test_experiment_quick(run_experiment):
    metrics, stdout, out = run_experiment("propagation")
    assert metrics["config"]["batch_size"] == 8 and metrics["config"]["lambd"] == 0.01
    np.testing.assert_allclose(metrics["J"], metrics["L"] + metrics["s"], rtol=1e-6)
    # Weights N(0, 0.01²): outputs near 0, so L is near log 10; s = λ/2 ‖W‖² ≈ 0.005 * 20.3.
    assert abs(metrics["L"] - math.log(10)) < 0.05 and 0.09 < metrics["s"] < 0.11
    assert metrics["max_rel_diff"] < 1e-5 and metrics["max_rel_diff_float64"] < 1e-13
    nodes = ["z", "h", "o", "L", "s", "J"]
    assert list(metrics["eqns_by_node"]["forward"]) == nodes
    assert sum(metrics["eqns_by_node"]["forward"].values()) == metrics["num_eqns_forward"]
    assert metrics["backward_order"] == ["s", "L", "o", "h", "z"]
    assert "the backward pass visits: s → L → o → h → z" in stdout
    assert "# [transpose(jvp(z))]" in (out / "grad_jaxpr.txt").read_text()
    assert "# [L]" in (out / "forward_jaxpr.txt").read_text()
    assert (out / "graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

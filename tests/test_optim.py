"""The from-scratch optimizers against optax, and the L2 penalty."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl.optim import l2_penalty, optimizer_hyperparams, sgd, sgd_weight_decay


def _params(key):
    k1, k2 = jax.random.split(key)
    return {"w": jax.random.normal(k1, (3, 2)), "b": jax.random.normal(k2, (2,))}


def test_sgd_equals_optax_sgd_over_steps():
    ours, ref = sgd(0.05), optax.sgd(0.05)
    p_ours = p_ref = _params(jax.random.key(0))
    s_ours, s_ref = ours.init(p_ours), ref.init(p_ref)
    for step in range(4):
        grads = _params(jax.random.key(step + 1))
        u_ours, s_ours = ours.update(grads, s_ours, p_ours)
        u_ref, s_ref = ref.update(grads, s_ref, p_ref)
        p_ours, p_ref = optax.apply_updates(p_ours, u_ours), optax.apply_updates(p_ref, u_ref)
    jax.tree.map(np.testing.assert_array_equal, p_ours, p_ref)


def test_sgd_hand_value_and_jit():
    opt = sgd(0.5)
    update = jax.jit(opt.update)
    updates, _ = update({"w": jnp.array([2.0, -4.0])}, opt.init({"w": jnp.zeros(2)}))
    np.testing.assert_array_equal(updates["w"], [-1.0, 2.0])


def test_sgd_weight_decay_formula():
    lr, wd = 0.1, 0.3
    params = _params(jax.random.key(0))
    grads = _params(jax.random.key(1))
    opt = sgd_weight_decay(lr, wd)
    updates, _ = opt.update(grads, opt.init(params), params)
    expected = jax.tree.map(lambda p, g: p - lr * (g + wd * p), params, grads)
    got = optax.apply_updates(params, updates)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), got, expected)


def test_sgd_weight_decay_mask_leaves_bias_alone():
    params = {"w": jnp.ones(2), "b": jnp.ones(())}
    zeros = jax.tree.map(jnp.zeros_like, params)
    opt = sgd_weight_decay(1.0, 0.5, mask={"w": True, "b": False})
    updates, _ = opt.update(zeros, opt.init(params), params)
    np.testing.assert_allclose(updates["w"], [-0.5, -0.5])
    np.testing.assert_allclose(updates["b"], 0.0)


def test_sgd_weight_decay_mask_as_a_function_of_the_params():
    """optax's masks may be functions of the params; the decay held in the state must not take
    it for a schedule of the step count."""
    params = {"w": jnp.ones(2), "b": jnp.ones(())}
    zeros = jax.tree.map(jnp.zeros_like, params)
    opt = sgd_weight_decay(1.0, 0.5, mask=lambda p: {"w": True, "b": False})
    state = opt.init(params)
    updates, _ = jax.jit(opt.update)(zeros, state, params)
    np.testing.assert_allclose(updates["w"], [-0.5, -0.5])
    np.testing.assert_allclose(updates["b"], 0.0)
    assert set(optimizer_hyperparams(state)) == {"weight_decay", "learning_rate"}


def test_sgd_weight_decay_equals_optax_add_decayed_weights_bit_for_bit():
    params, grads = _params(jax.random.key(0)), _params(jax.random.key(1))
    ours = sgd_weight_decay(0.1, 0.3, mask={"w": True, "b": False})
    theirs = optax.chain(optax.add_decayed_weights(0.3, {"w": True, "b": False}), optax.sgd(0.1))
    a, _ = ours.update(grads, ours.init(params), params)
    b, _ = theirs.update(grads, theirs.init(params), params)
    jax.tree.map(np.testing.assert_array_equal, a, b)


def test_l2_penalty_hand_and_numpy():
    assert float(l2_penalty(jnp.array([3.0, 4.0]))) == 12.5
    p = _params(jax.random.key(2))
    expected = sum(np.sum(np.asarray(v, np.float64) ** 2) for v in p.values()) / 2
    np.testing.assert_allclose(float(jax.jit(l2_penalty)(p)), expected, rtol=1e-6)


def test_l2_penalty_gradient_is_w():
    w = jnp.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(jax.grad(l2_penalty)(w), w)


@pytest.mark.parametrize("rate", [0.0, -0.1, float("nan"), float("inf")])
def test_bad_learning_rate(rate):
    with pytest.raises(ValueError, match=r"learning_rate: expected a finite number > 0, got"):
        sgd(rate)


def test_bad_weight_decay():
    with pytest.raises(ValueError, match=r"weight_decay: expected a finite number >= 0, got -1.0"):
        sgd_weight_decay(0.1, -1.0)


def test_empty_params_penalty():
    with pytest.raises(ValueError, match="params: expected at least one array"):
        l2_penalty({})


def test_optimizer_hyperparams_of_sgd():
    p = _params(jax.random.key(0))
    found = optimizer_hyperparams(sgd(0.25).init(p))
    assert set(found) == {"learning_rate"}
    assert found["learning_rate"].dtype == jnp.float32 and float(found["learning_rate"]) == 0.25


def test_optimizer_hyperparams_of_sgd_weight_decay():
    p = _params(jax.random.key(0))
    found = optimizer_hyperparams(sgd_weight_decay(0.5, 1.0).init(p))
    assert set(found) == {"learning_rate", "weight_decay"}  # both held in the state
    assert float(found["learning_rate"]) == 0.5 and float(found["weight_decay"]) == 1.0


def test_optimizer_hyperparams_of_inject_hyperparams():
    p = _params(jax.random.key(0))
    injected = optax.inject_hyperparams(optax.sgd)(learning_rate=0.125, momentum=0.75)
    found = optimizer_hyperparams(injected.init(p))
    assert float(found["learning_rate"]) == 0.125
    assert float(found["momentum"]) == 0.75
    adamw = optax.inject_hyperparams(optax.adamw)(learning_rate=0.5, weight_decay=0.25)
    found = optimizer_hyperparams(adamw.init(p))
    assert float(found["learning_rate"]) == 0.5 and float(found["weight_decay"]) == 0.25


def test_optimizer_hyperparams_first_found_wins_in_a_chain():
    opt = optax.chain(sgd(0.5), optax.inject_hyperparams(optax.sgd)(learning_rate=0.25))
    assert float(optimizer_hyperparams(opt.init({"w": jnp.zeros(2)}))["learning_rate"]) == 0.5


def test_optimizer_hyperparams_of_optax_without_injection_is_empty():
    p = _params(jax.random.key(0))
    assert optimizer_hyperparams(optax.sgd(0.1).init(p)) == {}
    assert optimizer_hyperparams(optax.adam(1e-3).init(p)) == {}


def test_optimizer_hyperparams_stacked_under_vmap():
    rates = jnp.array([0.1, 0.2, 0.4])
    states = jax.vmap(lambda r: sgd(r).init({"w": jnp.zeros(2)}))(rates)
    np.testing.assert_array_equal(optimizer_hyperparams(states)["learning_rate"], rates)


def test_learning_rate_can_be_traced_under_vmap():
    rates = jnp.array([0.1, 0.2])

    def step(rate):
        opt = sgd(rate)
        updates, _ = opt.update(jnp.ones(2), opt.init(jnp.zeros(2)))
        return updates

    np.testing.assert_allclose(jax.vmap(step)(rates), [[-0.1, -0.1], [-0.2, -0.2]], rtol=1e-6)

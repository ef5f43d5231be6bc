"""Models with state (engine v3): a flax CNN with batch norm trains through ``fit`` and
``jax.jit(train)`` with running statistics equal to flax's own updates on the same batches,
padding and rows marked invalid left out of the statistics, evaluation with the running
averages, resume bit-identical, and several seeds at once."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl.engine import fit, train
from jaxdl.engine.divergence import check_finite
from jaxdl.engine.keys import run_keys, shuffle_key
from jaxdl.model import Model, batch_mask, from_flax, init_state, predict

N, BATCH, EPOCHS, LR = 23, 5, 2, 0.1  # 5 batches an epoch, the last with 3 real examples


class ConvBN(nn.Module):
    """Conv -> BatchNorm -> ReLU -> Dense, the batch norm's statistics over the real examples."""

    momentum: float = 0.9

    @nn.compact
    def __call__(self, x, train: bool, mask=None):
        x = nn.Conv(4, (3, 3))(x)
        norm = nn.BatchNorm(use_running_average=not train, momentum=self.momentum)
        x = norm(x, mask=batch_mask(mask, x))
        return nn.Dense(3)(nn.relu(x).reshape(x.shape[0], -1))


def loss_fn(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels)


@pytest.fixture(scope="module")
def data():
    kx, ky = jax.random.split(jax.random.key(0))
    x = jax.random.normal(kx, (N, 6, 6, 1)) * 2.0 + 0.5
    return x, jax.random.randint(ky, (N,), 0, 3)


def flax_loop(module, data, key, *, epochs, optimizer, test):
    """The reference: flax's own training loop (imagenet example style: params and
    batch_stats, ``mutable=["batch_stats"]``), over the batches of the run's key schedule
    (``jax.random.permutation`` of each epoch's shuffle key; a short last batch, no padding),
    with ``optimizer`` on the params; the test loss after each epoch with the running averages."""
    x, y = data
    keys = run_keys(key)
    variables = module.init(keys.init, x[:1], train=False)
    params, stats = variables["params"], variables["batch_stats"]
    opt_state = optimizer.init(params)
    test_losses = []
    for e in range(epochs):
        order = np.asarray(jax.random.permutation(shuffle_key(keys, e), N))
        for start in range(0, N, BATCH):
            idx = order[start : start + BATCH]

            def objective(p, idx=idx, stats=stats):
                out, new = module.apply(
                    {"params": p, "batch_stats": stats}, x[idx], train=True, mutable=["batch_stats"]
                )
                return loss_fn(out, y[idx]).mean(), new["batch_stats"]

            (_, stats), grads = jax.value_and_grad(objective, has_aux=True)(params)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
        logits = module.apply({"params": params, "batch_stats": stats}, test[0], train=False)
        test_losses.append(float(loss_fn(logits, test[1]).mean()))
    return params, stats, np.array(test_losses)


def _options(data, **overrides):
    x, y = data
    return (
        dict(
            epochs=EPOCHS,
            batch_size=BATCH,
            key=jax.random.key(3),
            eval_data={"test": (x[:9], y[:9])},
        )
        | overrides
    )


def _close(a, b):
    jax.tree.map(lambda u, v: np.testing.assert_allclose(u, v, rtol=2e-5, atol=1e-6), a, b)


def test_from_flax_splits_params_and_state_and_says_what_the_module_takes():
    model = from_flax(ConvBN())
    assert model.needs == {"train", "mask"}
    params, state = model.init(jax.random.key(0), jnp.ones((1, 6, 6, 1)))
    assert set(params) == {"Conv_0", "BatchNorm_0", "Dense_0"}
    assert set(state) == {"batch_stats"}
    assert set(state["batch_stats"]["BatchNorm_0"]) == {"mean", "var"}
    assert "mean" not in params["BatchNorm_0"]  # scale and bias only: what gradients see
    assert model.config == {"name": "ConvBN", "momentum": 0.9}


@pytest.mark.slow
def test_running_statistics_equal_flaxs_own_updates_on_the_same_batches(data):
    model = from_flax(ConvBN())
    opts = _options(data)
    result = fit(model, loss_fn, optax.sgd(LR), data, quiet=True, **opts)
    params, stats, test_losses = flax_loop(
        ConvBN(),
        data,
        opts["key"],
        epochs=EPOCHS,
        optimizer=optax.sgd(LR),
        test=opts["eval_data"]["test"],
    )
    _close(result.state.params, params)
    _close(result.state.model_state["batch_stats"], stats)
    np.testing.assert_allclose(result.history["test_loss"], test_losses, rtol=2e-5)
    # The statistics moved: momentum 0.9 over 10 steps, from mean 0 and variance 1.
    assert float(jnp.max(jnp.abs(stats["BatchNorm_0"]["mean"]))) > 0.05
    assert int(result.state.step) == EPOCHS * 5


def test_jitted_train_equals_fit_bit_for_bit(data):
    model = from_flax(ConvBN())
    opts = _options(data)
    hosted = fit(model, loss_fn, optax.sgd(LR), data, quiet=True, **opts)
    traced = jax.jit(lambda: train(model, loss_fn, optax.sgd(LR), data, **opts))()
    jax.tree.map(np.testing.assert_array_equal, hosted.state, traced.state)
    for name in ("train_loss", "test_loss"):
        np.testing.assert_array_equal(hosted.history[name], traced.history[name])


def test_the_padding_of_the_last_batch_is_left_out_of_the_statistics(data):
    """The engine pads the last batch (3 real examples) to 5 slots with copies of example 0;
    with the statistics over all 5 slots, they would differ from flax's over the 3."""
    x, _ = data
    model = from_flax(ConvBN())
    one_epoch = _options(data, epochs=1)
    keys = run_keys(one_epoch["key"])
    result = fit(model, loss_fn, optax.set_to_zero(), data, quiet=True, **one_epoch)
    # With the parameters fixed (set_to_zero), the running mean after the epoch is a
    # momentum-weighted average of the batches' means of the conv output, over real rows only.
    variables = ConvBN().init(keys.init, x[:1], train=False)
    conv = lambda xb: nn.Conv(4, (3, 3)).apply({"params": variables["params"]["Conv_0"]}, xb)  # noqa: E731
    order = np.asarray(jax.random.permutation(shuffle_key(keys, 0), N))
    mean, padded_mean = np.zeros(4), np.zeros(4)
    for start in range(0, N, BATCH):
        real = order[start : start + BATCH]
        slots = np.concatenate([real, np.zeros(BATCH - len(real), int)])  # the engine's padding
        mean = 0.9 * mean + 0.1 * np.asarray(conv(x[real])).mean(axis=(0, 1, 2))
        padded_mean = 0.9 * padded_mean + 0.1 * np.asarray(conv(x[slots])).mean(axis=(0, 1, 2))
    got = np.asarray(result.state.model_state["batch_stats"]["BatchNorm_0"]["mean"])
    np.testing.assert_allclose(got, mean, rtol=1e-5, atol=1e-6)
    assert not np.allclose(got, padded_mean, rtol=1e-3)
    jax.tree.map(np.testing.assert_array_equal, result.state.params, variables["params"])


def test_rows_marked_invalid_never_enter_the_statistics(data):
    """Invalid rows hold garbage: the run equals the one with clean values there, bit for bit."""
    x, y = data
    valid = jnp.arange(N) % 4 != 1
    garbage = x.at[~valid].set(1e4)
    model = from_flax(ConvBN())
    clean = fit(model, loss_fn, optax.sgd(LR), (x, y, valid), quiet=True, **_options(data))
    dirty = fit(model, loss_fn, optax.sgd(LR), (garbage, y, valid), quiet=True, **_options(data))
    jax.tree.map(np.testing.assert_array_equal, clean.state, dirty.state)
    assert np.isfinite(check_finite(dirty)["train_loss"]).all()


def test_evaluation_and_predict_use_the_running_averages(data):
    x, y = data
    model = from_flax(ConvBN())
    result = fit(model, loss_fn, optax.sgd(LR), data, quiet=True, **_options(data))
    variables = {"params": result.state.params, **result.state.model_state}
    expected = ConvBN().apply(variables, x[:9], train=False)
    np.testing.assert_allclose(predict(model, result.state, x[:9]), expected, rtol=1e-6)
    batch_statistics, _ = ConvBN().apply(variables, x[:9], train=True, mutable=["batch_stats"])
    assert not np.allclose(expected, batch_statistics, rtol=1e-3)  # the two modes differ here
    np.testing.assert_allclose(
        result.history["test_loss"][-1], loss_fn(expected, y[:9]).mean(), rtol=1e-5
    )


def test_the_optimizer_and_weight_decay_never_see_the_state(data):
    """Weight decay on every parameter: the run equals flax's loop, whose optimizer holds the
    params alone; decayed running statistics would differ (and shrink the variance)."""
    model = from_flax(ConvBN())
    decay = optax.chain(optax.add_decayed_weights(0.5), optax.sgd(LR))
    state = init_state(model, decay, jax.random.key(0), data[0][:1])
    assert jax.tree.structure(state.opt_state) == jax.tree.structure(decay.init(state.params))
    opts = _options(data)
    result = fit(model, loss_fn, decay, data, quiet=True, **opts)
    params, stats, _ = flax_loop(
        ConvBN(), data, opts["key"], epochs=EPOCHS, optimizer=decay, test=opts["eval_data"]["test"]
    )
    _close(result.state.params, params)
    _close(result.state.model_state["batch_stats"], stats)


def test_resume_is_bit_identical(data, tmp_path, capsys):
    model = from_flax(ConvBN())

    def run(epochs, **checkpoints):
        opts = _options(data, epochs=epochs)
        return fit(model, loss_fn, optax.sgd(LR), data, **checkpoints, **opts)

    run(1, checkpoint_dir=tmp_path / "a", quiet=True)
    capsys.readouterr()
    resumed = run(3, checkpoint_dir=tmp_path / "a", quiet=False)
    assert "training: resumed after epoch 1 of 3" in capsys.readouterr().out
    straight = run(3, quiet=True)
    jax.tree.map(np.testing.assert_array_equal, resumed.state, straight.state)
    for name in ("train_loss", "test_loss"):
        np.testing.assert_array_equal(resumed.history[name], straight.history[name])


@pytest.mark.slow
def test_several_seeds_at_once_each_as_it_would_alone(data):
    model = from_flax(ConvBN())
    keys = jax.random.split(jax.random.key(9), 3)
    together = fit(model, loss_fn, optax.sgd(LR), data, quiet=True, **_options(data, key=keys))
    assert together.history["test_loss"].shape == (3, EPOCHS)
    for i, key in enumerate(keys):
        alone = fit(model, loss_fn, optax.sgd(LR), data, quiet=True, **_options(data, key=key))
        jax.tree.map(lambda a, b, i=i: _close(a[i], b), together.state, alone.state)
    means = together.state.model_state["batch_stats"]["BatchNorm_0"]["mean"]
    assert not np.allclose(means[0], means[1])  # other keys, other initial weights and batches


def test_a_batch_transform_runs_inside_the_scan(data):
    """``transform`` scales each batch as it is used: uint8-like data in, the same run as with
    the data scaled beforehand."""
    x, y = data
    scaled_first = fit(
        from_flax(ConvBN()),
        loss_fn,
        optax.sgd(LR),
        (x * 0.5, y),
        quiet=True,
        **_options((x * 0.5, y)),
    )
    inside = fit(
        from_flax(ConvBN()),
        loss_fn,
        optax.sgd(LR),
        (x, y),
        quiet=True,
        transform=lambda xb: xb * 0.5,
        **_options(data),
    )
    _close(inside.state, scaled_first.state)
    np.testing.assert_allclose(
        inside.history["test_loss"], scaled_first.history["test_loss"], rtol=1e-5
    )


class NoMaskBN(nn.Module):
    """Batch norm that cannot be told which rows are padding."""

    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.BatchNorm(use_running_average=not train)(nn.Conv(2, (3, 3))(x))
        return nn.Dense(3)(x.reshape(x.shape[0], -1))


def test_a_model_with_state_that_cannot_take_the_mask_is_refused_when_batches_hold_padding(data):
    x, y = data
    model = from_flax(NoMaskBN())
    assert model.needs == {"train"}
    with pytest.raises(ValueError, match=r"^model: it has state .* lacks 'mask'\), or use a batch"):
        fit(model, loss_fn, optax.sgd(LR), data, quiet=True, **_options(data))  # 23 rows, 5 a batch
    with pytest.raises(ValueError, match=r"^model: it has state"):  # rows marked invalid
        fit(
            model,
            loss_fn,
            optax.sgd(LR),
            (x[:20], y[:20], jnp.arange(20) > 0),
            quiet=True,
            **_options(data),
        )
    result = fit(model, loss_fn, optax.sgd(LR), (x[:20], y[:20]), quiet=True, **_options(data))
    assert int(result.state.step) == EPOCHS * 4  # no padding anywhere: trained


class RequiredMask(nn.Module):
    """A module whose ``mask`` has no default: initialised with ``mask=None``."""

    @nn.compact
    def __call__(self, x, train: bool, mask):
        return nn.BatchNorm(use_running_average=not train)(nn.Dense(3)(x), mask=batch_mask(mask, x))


def test_a_required_mask_argument_is_given_none_at_initialisation():
    model = from_flax(RequiredMask())
    params, state = model.init(jax.random.key(0), jnp.ones((1, 4)))
    assert set(params) == {"Dense_0", "BatchNorm_0"} and set(state) == {"batch_stats"}


def test_batch_mask_broadcasts_over_all_but_the_batch_axis():
    """A [batch] mask alone lines up with flax's last axis: with 4 examples of 4 features the
    statistics come out wrong, silently; batch_mask gives the right ones."""
    x = jnp.arange(16.0).reshape(4, 4)
    mask = jnp.array([True, True, True, False])
    norm = nn.BatchNorm(use_running_average=False)
    variables = norm.init(jax.random.key(0), x)
    _, right = norm.apply(variables, x, mask=batch_mask(mask, x), mutable=["batch_stats"])
    _, wrong = norm.apply(variables, x, mask=mask, mutable=["batch_stats"])
    expected = 0.01 * np.asarray(x[:3]).mean(axis=0)  # momentum 0.99: 0.01 of the batch mean
    np.testing.assert_allclose(right["batch_stats"]["mean"], expected, rtol=1e-6)
    assert not np.allclose(wrong["batch_stats"]["mean"], expected, equal_nan=True)
    assert batch_mask(None, x) is None
    assert batch_mask(mask, jnp.zeros((4, 2, 2, 3))).shape == (4, 1, 1, 1)


def test_an_init_that_puts_one_array_in_the_params_and_the_state_trains(data):
    """Donation refuses one buffer passed twice: fit hands the epoch distinct buffers, and the
    run equals one whose init makes two arrays."""

    def model(shared):
        def init(key, x):
            ones = jnp.ones(x.shape[1:])
            w = jax.random.normal(key, (x[0].size, 3))
            return {"scale": ones, "w": w}, {"count": ones if shared else jnp.ones(x.shape[1:])}

        def apply(params, state, x, *, train, key=None, mask=None):
            out = (x * params["scale"][None]).reshape(x.shape[0], -1) @ params["w"]
            return out, {"count": state["count"] + 1} if train else state

        return Model(init, apply, {"name": "shared"}, frozenset({"train", "mask"}))

    runs = [
        fit(model(s), loss_fn, optax.sgd(LR), data, quiet=True, **_options(data))
        for s in (True, False)
    ]
    jax.tree.map(np.testing.assert_array_equal, runs[0].state, runs[1].state)
    np.testing.assert_array_equal(runs[0].state.model_state["count"], 1 + EPOCHS * 5)

"""A run's record is what the run declares: a checkpoint is refused by a run that differs in a
setting of its declared configuration (a regularizer's λ), a partial's keyword (huber's delta),
the decoupled weight decay, the ``valid`` mask or a flax module's field (batch norm's momentum,
also as a ``functools.partial`` field); it is not refused by the same run after an optimizer
library renames its state classes. Each through ``fit`` with a checkpoint folder."""

import collections
import functools
import hashlib
import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl.engine import fit
from jaxdl.losses import huber_loss
from jaxdl.model import batch_mask, from_flax
from jaxdl.models.linear import linear_regression
from jaxdl.optim import l2_penalty, sgd, sgd_weight_decay

from references import half_squared


@pytest.fixture(scope="module")
def data():
    x = jax.random.normal(jax.random.key(0), (30, 3))
    return x, x @ jnp.array([1.0, -2.0, 0.5]) + 0.3


def _fit(
    folder, data, *, epochs=2, model=None, loss=half_squared, optimizer=None, quiet=True, **options
):
    return fit(
        linear_regression() if model is None else model,
        loss,
        sgd(0.05) if optimizer is None else optimizer,
        data,
        epochs=epochs,
        batch_size=8,
        key=jax.random.key(1),
        quiet=quiet,
        checkpoint_dir=folder,
        **options,
    )


def _refused(error) -> list[str]:
    message = str(error.value)
    assert re.match(r"checkpoint \S+ was written by another run", message), message
    return [line.strip() for line in message.splitlines() if line.startswith("  ")]


def test_a_changed_huber_delta_is_refused(data, tmp_path):
    _fit(tmp_path, data, loss=functools.partial(huber_loss, delta=1.0))
    with pytest.raises(ValueError) as error:
        _fit(tmp_path, data, loss=functools.partial(huber_loss, delta=2.0))
    assert _refused(error) == ["loss.keywords.delta: 1.0 in the checkpoint, 2.0 in this run"]


def penalty(lam):
    """The scratch weight decay's regularizer: λ closed over."""
    return lambda params: lam * l2_penalty(params["w"])


def test_a_changed_setting_of_the_declared_configuration_is_refused(data, tmp_path):
    """What a function closes over is not read: the run declares its λ, and the record holds
    the declaration."""
    _fit(tmp_path, data, regularizer=penalty(0.1), config={"lambd": 0.1, "batch_size": 8})
    with pytest.raises(ValueError) as error:
        _fit(tmp_path, data, regularizer=penalty(0.3), config={"lambd": 0.3, "batch_size": 8})
    assert _refused(error) == ["config.lambd: 0.1 in the checkpoint, 0.3 in this run"]
    resumed = _fit(
        tmp_path, data, epochs=3, regularizer=penalty(0.1), config={"lambd": 0.1, "batch_size": 8}
    )
    assert resumed.run.config == {"lambd": 0.1, "batch_size": 8}


def test_a_changed_decoupled_weight_decay_is_refused(data, tmp_path):
    mask = {"w": True, "b": False}
    _fit(tmp_path, data, optimizer=sgd_weight_decay(0.05, 0.1, mask=mask))
    with pytest.raises(ValueError) as error:
        _fit(tmp_path, data, optimizer=sgd_weight_decay(0.05, 0.3, mask=mask))
    assert _refused(error) == ["optimizer.weight_decay: 0.1 in the checkpoint, 0.3 in this run"]


def test_a_changed_valid_mask_is_refused(data, tmp_path):
    x, y = data
    first, second = jnp.arange(30) % 3 != 0, jnp.arange(30) % 3 != 1
    _fit(tmp_path, (x, y, first))
    with pytest.raises(ValueError) as error:
        _fit(tmp_path, (x, y, second))

    def digest(*arrays):
        return hashlib.sha256(b"".join(np.asarray(a).tobytes() for a in arrays)).hexdigest()

    assert _refused(error) == [
        f"data.sha256: {digest(x, y, first)!r} in the checkpoint, {digest(x, y, second)!r} in "
        "this run"
    ]


class Normed(nn.Module):
    """Dense -> BatchNorm -> Dense, the batch norm's momentum a field, or a partial field."""

    momentum: float = 0.9
    norm: object = functools.partial(nn.BatchNorm, epsilon=1e-5)

    @nn.compact
    def __call__(self, x, train: bool, mask=None):
        h = nn.Dense(4)(x)
        h = self.norm(use_running_average=not train, momentum=self.momentum)(
            h, mask=batch_mask(mask, h)
        )
        return nn.Dense(1)(nn.relu(h))[:, 0]


@pytest.mark.parametrize(
    ("first", "second", "line"),
    [
        (
            Normed(momentum=0.9),
            Normed(momentum=0.8),
            "model.momentum: 0.9 in the checkpoint, 0.8 in this run",
        ),
        (
            Normed(norm=functools.partial(nn.BatchNorm, epsilon=1e-5)),
            Normed(norm=functools.partial(nn.BatchNorm, epsilon=1e-3)),
            "model.norm.keywords.epsilon: 1e-05 in the checkpoint, 0.001 in this run",
        ),
    ],
    ids=["field", "partial-field"],
)
def test_a_changed_batch_norm_setting_is_refused(data, tmp_path, first, second, line):
    _fit(tmp_path, data, model=from_flax(first))
    with pytest.raises(ValueError) as error:
        _fit(tmp_path, data, model=from_flax(second))
    assert _refused(error) == [line]


def renamed_state_classes(optimizer):
    """``optimizer`` with its state's class renamed (same fields, same values), as an upgrade of
    the optimizer library might rename it."""
    original = type(optimizer.init({"w": jnp.zeros(1)}))
    renamed = collections.namedtuple(f"{original.__name__}V2", original._fields)

    def init(params):
        return renamed(*optimizer.init(params))

    def update(updates, state, params=None):
        updates, state = optimizer.update(updates, original(*state), params)
        return updates, renamed(*state)

    return optax.GradientTransformation(init, update)


def test_an_optimizer_library_that_renames_its_state_classes_still_resumes(data, tmp_path, capsys):
    injected = optax.inject_hyperparams(optax.sgd)(learning_rate=0.05)
    _fit(tmp_path / "run", data, optimizer=injected, epochs=2)
    upgraded = renamed_state_classes(injected)
    assert type(upgraded.init({"w": jnp.zeros(1)})).__name__ != type(injected.init({})).__name__
    capsys.readouterr()
    resumed = _fit(tmp_path / "run", data, optimizer=upgraded, epochs=3, quiet=False)
    assert "training: resumed after epoch 2 of 3" in capsys.readouterr().out
    straight = _fit(tmp_path / "straight", data, optimizer=injected, epochs=3)
    jax.tree.map(np.testing.assert_array_equal, resumed.state.params, straight.state.params)
    np.testing.assert_array_equal(resumed.history["train_loss"], straight.history["train_loss"])
    assert int(resumed.state.step) == int(straight.state.step)

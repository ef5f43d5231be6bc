"""A run's record: function names, data fingerprints, optimizer descriptions, Run."""

import dataclasses
import functools
import hashlib
import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdl
from jaxdl.engine import fit, train
from jaxdl.engine.record import Run, describe_optimizer, fingerprint, function_name
from jaxdl.losses import cross_entropy
from jaxdl.metrics import correct
from jaxdl.models.linear import linear_regression
from jaxdl.models.mlp import scratch_mlp
from jaxdl.optim import l2_penalty, sgd, sgd_weight_decay

# ---------------------------------------------------------------------------- function_name


def test_function_name_of_library_functions():
    assert function_name(cross_entropy) == "jaxdl.cross_entropy"
    assert function_name(jaxdl.losses.squared_loss) == "jaxdl.squared_loss"
    assert function_name(correct) == "jaxdl.correct"
    assert function_name(optax.squared_error) == "optax.squared_error"
    assert function_name(optax.softmax_cross_entropy_with_integer_labels) == (
        "optax.softmax_cross_entropy_with_integer_labels"
    )
    assert function_name(np.mean) == "numpy.mean"
    assert function_name(None) is None


def test_function_name_of_a_partial_is_its_function():
    assert function_name(functools.partial(l2_penalty)) == "jaxdl.l2_penalty"
    nested = functools.partial(functools.partial(optax.huber_loss, delta=2.0))
    assert function_name(nested) == "optax.huber_loss"


def test_function_name_of_a_lambda():
    fn = lambda o, t: o - t  # noqa: E731
    package = __name__.split(".")[0]  # this test module's top-level package
    expected = f"{package}.test_function_name_of_a_lambda.<locals>.<lambda>"
    assert function_name(fn) == expected


# ---------------------------------------------------------------------------- fingerprint


def test_fingerprint_shapes_dtypes_and_digest():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    y = np.array([2, 0, 1], np.int32)
    got = fingerprint((jnp.asarray(x), y))
    assert got["shapes"] == [[3, 4], [3]]
    assert got["dtypes"] == ["float32", "int32"]
    expected = hashlib.sha256(x.tobytes(order="C") + y.tobytes(order="C")).hexdigest()
    assert got["sha256"] == expected
    assert json.loads(json.dumps(got)) == got


def test_fingerprint_reads_non_contiguous_arrays_in_row_order():
    x = np.arange(12, dtype=np.float64).reshape(3, 4)
    transposed = x.T  # a Fortran-ordered view
    expected = hashlib.sha256(np.array(transposed, order="C").tobytes()).hexdigest()
    assert fingerprint([transposed])["sha256"] == expected
    assert fingerprint([transposed])["shapes"] == [[4, 3]]


def test_fingerprint_changes_with_one_element():
    x = np.zeros((5, 3), np.float32)
    y = np.zeros(5, np.int32)
    base = fingerprint((x, y))["sha256"]
    changed_x = x.copy()
    changed_x[4, 2] = 1e-7
    changed_y = y.copy()
    changed_y[0] = 1
    assert fingerprint((changed_x, y))["sha256"] != base
    assert fingerprint((x, changed_y))["sha256"] != base
    assert fingerprint((x.copy(), y.copy()))["sha256"] == base


def test_fingerprint_of_traced_arrays_has_no_digest():
    seen = []

    def one(row):
        seen.append(fingerprint((row, jnp.ones(2))))
        return row

    jax.vmap(one)(jnp.zeros((4, 3)))
    assert seen == [{"shapes": [[3], [2]], "dtypes": ["float32", "float32"], "sha256": None}]


# ---------------------------------------------------------------------------- describe_optimizer


@pytest.fixture(scope="module")
def params():
    return {"w": jnp.zeros((3, 2)), "b": jnp.zeros(2)}


def test_describe_optimizer_sgd_shows_the_rate_as_written(params):
    got = describe_optimizer(sgd(0.1).init(params))
    assert got == {"learning_rate": 0.1}
    assert repr(got["learning_rate"]) == "0.1"  # not 0.10000000149011612, the float32's value
    assert np.float32(got["learning_rate"]) == np.float32(0.1)
    assert json.dumps(got) == '{"learning_rate": 0.1}'


@pytest.mark.parametrize("rate", [0.1, 0.03, 1e-3, 0.2, 3.0])
def test_describe_optimizer_rate_is_the_shortest_same_float32(rate):
    got = describe_optimizer(sgd(rate).init({}))["learning_rate"]
    assert got == rate


def test_describe_optimizer_inject_hyperparams(params):
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    got = describe_optimizer(opt.init(params))
    assert got == {"learning_rate": 0.1}


def test_describe_optimizer_plain_optax_sgd_has_no_rate(params):
    assert describe_optimizer(optax.sgd(0.1).init(params)) == {}


def test_describe_optimizer_injected_adam_holds_all_its_hyperparameters(params):
    state = optax.inject_hyperparams(optax.adam)(learning_rate=1e-3, b1=0.8).init(params)
    assert describe_optimizer(state) == {
        "learning_rate": 1e-3,
        "b1": 0.8,
        "b2": 0.999,
        "eps": 1e-8,
        "eps_root": 0.0,
    }


def test_describe_optimizer_records_the_decoupled_weight_decay(params):
    got = describe_optimizer(sgd_weight_decay(0.1, 3.0, mask={"w": True, "b": False}).init(params))
    assert got == {"weight_decay": 3.0, "learning_rate": 0.1}


def test_describe_optimizer_names_no_class_of_the_optimizer_library(params):
    """The identity holds values, not optax's state classes, which an upgrade may rename."""
    text = json.dumps(describe_optimizer(optax.inject_hyperparams(optax.sgd)(0.1).init(params)))
    assert "State" not in text


def test_describe_optimizer_traced_rate_is_none(params):
    seen = []

    def one(rate):
        seen.append(describe_optimizer(sgd(rate).init(params)))
        return rate

    jax.vmap(one)(jnp.array([0.1, 0.2]))
    assert seen == [{"learning_rate": None}]


# ---------------------------------------------------------------------------- Run


def _data(seed=0, n=12):
    kx, ky = jax.random.split(jax.random.key(seed))
    return jax.random.normal(kx, (n, 4)), jax.random.randint(ky, (n,), 0, 3)


def _describe(**changes):
    x, y = _data()
    options = dict(
        config={"epochs": 3, "lr": 0.1, "num_hiddens": [5]},
        model=scratch_mlp((5,), 3).config,
        loss=cross_entropy,
        optimizer=sgd(0.1),
        params={"w": jax.ShapeDtypeStruct((4, 3), jnp.float32)},
        batch_size=4,
        epochs=3,
        key=jax.random.key(7),
        data=(x, y),
        eval_data={"test": (x[:6], y[:6])},
    )
    options.update(changes)
    return Run.describe(**options)


def _digest(*arrays):
    return hashlib.sha256(b"".join(np.asarray(a).tobytes() for a in arrays)).hexdigest()


def test_describe_records_every_setting():
    x, y = _data()
    run = _describe()
    assert run.model == {
        "name": "mlp",
        "num_hiddens": [5],
        "num_outputs": 3,
        "activation": "relu",
        "init_std": 0.01,
    }
    assert run.config == {"epochs": 3, "lr": 0.1, "num_hiddens": [5]}
    assert run.loss == "jaxdl.cross_entropy"
    assert run.optimizer == {"learning_rate": 0.1}
    assert (run.batch_size, run.epochs) == (4, 3)
    assert run.key == np.asarray(jax.random.key_data(jax.random.key(7))).tolist()
    assert run.data == {
        "shapes": [[12, 4], [12]],
        "dtypes": ["float32", "int32"],
        "sha256": _digest(x, y),
    }
    assert run.eval_data["test"]["sha256"] == _digest(x[:6], y[:6])


def test_a_digest_taken_at_load_stands_for_every_sets_and_no_array_is_hashed(monkeypatch):
    import jaxdl.engine.record as record

    def no_hashing(arrays):
        raise AssertionError("the arrays were hashed")

    monkeypatch.setattr(record, "array_digest", no_hashing)
    run = _describe(data_digest="f" * 64)
    assert run.data["sha256"] == run.eval_data["test"]["sha256"] == "f" * 64
    assert run.data["shapes"] == [[12, 4], [12]]


def test_a_partial_loss_is_recorded_with_its_bound_arguments():
    run = _describe(loss=functools.partial(optax.huber_loss, delta=2.0))
    assert run.loss == {"function": "optax.huber_loss", "keywords": {"delta": 2.0}}


def test_to_dict_from_dict_round_trip_through_json():
    run = _describe()
    text = json.dumps(run.to_dict())
    again = Run.from_dict(json.loads(text))
    assert again == run
    assert again.differences(run) == []
    assert json.loads(text)["config"]["num_hiddens"] == [5]
    assert set(json.loads(text)) == {f.name for f in dataclasses.fields(Run)}


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.pop("epochs"),
        lambda d: d.update(extra=1),
        lambda d: (d.pop("key"), d.update(seed=0)),
    ],
)
def test_from_dict_refuses_other_fields(change):
    values = _describe().to_dict()
    change(values)
    expected = r"^run: expected the fields \['batch_size', 'config', 'data'"
    with pytest.raises(ValueError, match=expected):
        Run.from_dict(values)


def test_from_dict_refuses_a_non_mapping():
    with pytest.raises(ValueError, match=r"run: expected the fields .*, got list"):
        Run.from_dict([1, 2])


def test_differences_name_nested_fields_with_both_values():
    saved = _describe()
    x, y = _data(seed=1)
    other = _describe(
        model=scratch_mlp((5,), 3, activation="tanh").config,
        optimizer=sgd(0.2),
        batch_size=6,
        data=(x, y),
    )
    x0, y0 = _data()
    assert other.differences(saved) == [
        ("model.activation", "relu", "tanh"),
        ("optimizer.learning_rate", 0.1, 0.2),
        ("batch_size", 4, 6),
        ("data.sha256", _digest(x0, y0), _digest(x, y)),
    ]
    assert saved.differences(saved) == []


def test_differences_of_fields_present_on_one_side_only():
    a = Run(None, {"name": "m", "width": 3}, "l", {}, 10, 3, None, {}, {})
    b = dataclasses.replace(a, model={"name": "m", "depth": 2}, loss="k")
    assert b.differences(a) == [
        ("model.depth", None, 2),
        ("model.width", 3, None),
        ("loss", "l", "k"),
    ]


def test_differences_of_lists_compare_whole():
    a = Run(None, {"num_hiddens": [256]}, "l", {}, 10, 3, [0, 1], {}, {})
    b = dataclasses.replace(a, model={"num_hiddens": [256, 128]}, key=[0, 2])
    assert b.differences(a) == [("model.num_hiddens", [256], [256, 128]), ("key", [0, 1], [0, 2])]


# ---------------------------------------------------------------------------- check_resume


def test_check_resume_more_or_as_many_epochs_passes():
    saved = _describe(epochs=3)
    for epochs in (3, 4, 100):
        assert _describe(epochs=epochs).check_resume(saved, epochs_done=3, where="/ckpt") is None
    # Fewer epochs than the checkpoint asked for, but not fewer than it has done: fine too.
    assert _describe(epochs=2).check_resume(saved, epochs_done=2, where="/ckpt") is None


def test_check_resume_fewer_epochs_than_done_is_refused():
    saved = _describe(epochs=5)
    with pytest.raises(ValueError) as info:
        _describe(epochs=2).check_resume(saved, epochs_done=3, where="/ckpt")
    assert str(info.value) == (
        "epochs: expected at least the 3 epochs already done in the checkpoint at /ckpt, got 2"
    )


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        (
            {"model": scratch_mlp((5,), 3, activation="tanh").config},
            "  model.activation: 'relu' in the checkpoint, 'tanh' in this run",
        ),
        (
            {"optimizer": sgd(0.05)},
            "  optimizer.learning_rate: 0.1 in the checkpoint, 0.05 in this run",
        ),
        ({"batch_size": 6}, "  batch_size: 4 in the checkpoint, 6 in this run"),
        (
            {"loss": optax.softmax_cross_entropy_with_integer_labels},
            "  loss: 'jaxdl.cross_entropy' in the checkpoint, "
            "'optax.softmax_cross_entropy_with_integer_labels' in this run",
        ),
        ({"key": jax.random.key(8)}, "  key: [0, 7] in the checkpoint, [0, 8] in this run"),
        (
            {"config": {"epochs": 3, "lr": 0.3, "num_hiddens": [5]}},
            "  config.lr: 0.1 in the checkpoint, 0.3 in this run",
        ),
    ],
)
def test_check_resume_refuses_one_other_setting(changes, line):
    saved = _describe()
    with pytest.raises(ValueError) as info:
        _describe(epochs=10, **changes).check_resume(saved, epochs_done=3, where="/ckpt")
    message = str(info.value)
    assert message.startswith("checkpoint /ckpt was written by another run;")
    lines = message.splitlines()[1:]
    assert len(lines) == 1 and lines[0].startswith(line)


def test_check_resume_lists_every_difference_in_one_message():
    saved = _describe()
    x, y = _data(seed=1)
    x0, y0 = _data()
    mine = _describe(
        model=scratch_mlp((5,), 3, activation="sigmoid").config,
        optimizer=sgd(0.3),
        batch_size=2,
        data=(x, y),
        epochs=1,  # fewer than done, but the other differences are reported first
    )
    with pytest.raises(ValueError) as info:
        mine.check_resume(saved, epochs_done=3, where="runs/mlp/checkpoints")
    assert str(info.value).splitlines() == [
        "checkpoint runs/mlp/checkpoints was written by another run; resume with the same "
        "settings (more epochs are fine) or use another checkpoint folder:",
        "  model.activation: 'relu' in the checkpoint, 'sigmoid' in this run",
        "  optimizer.learning_rate: 0.1 in the checkpoint, 0.3 in this run",
        "  batch_size: 4 in the checkpoint, 2 in this run",
        f"  data.sha256: {_digest(x0, y0)!r} in the checkpoint, {_digest(x, y)!r} in this run",
    ]


def test_check_resume_of_a_run_read_back_from_json():
    saved = Run.from_dict(json.loads(json.dumps(_describe().to_dict())))
    assert _describe(epochs=4).check_resume(saved, epochs_done=3, where="/ckpt") is None


# ---------------------------------------------------------------------------- Result.run


@pytest.fixture(scope="module")
def regression():
    x = jax.random.normal(jax.random.key(0), (20, 2))
    return x, x @ jnp.array([1.0, -2.0]) + 0.5


def test_train_under_jit_and_fit_describe_the_same_run(regression):
    x, y = regression
    key = jax.random.key(3)
    kwargs = dict(epochs=2, batch_size=5, key=key, eval_data={"test": (x[:8], y[:8])})
    model = linear_regression()
    traced = jax.jit(lambda: train(model, optax.squared_error, sgd(0.1), (x, y), **kwargs))()
    hosted = fit(model, optax.squared_error, sgd(0.1), (x, y), quiet=True, **kwargs)
    assert isinstance(traced.run, Run)
    assert traced.run == hosted.run
    assert traced.run.differences(hosted.run) == []
    assert hosted.run.key == np.asarray(jax.random.key_data(key)).tolist()
    assert hosted.run.data["sha256"] == _digest(x, y)
    assert hosted.run.eval_data == {
        "test": {
            "shapes": [[8, 2], [8]],
            "dtypes": ["float32", "float32"],
            "sha256": _digest(x[:8], y[:8]),
        }
    }
    assert hosted.run.optimizer == {"learning_rate": 0.1}
    assert hosted.run.model == {"name": "linear_regression", "init_std": 0.01}


def test_train_under_vmap_over_keys_has_no_key(regression):
    x, y = regression

    def one(key):
        return train(
            linear_regression(),
            optax.squared_error,
            sgd(0.1),
            (x, y),
            epochs=1,
            batch_size=5,
            key=key,
        )

    result = jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(0), 3))
    assert result.history["train_loss"].shape == (3, 1)
    assert result.run.key is None
    assert result.run.data["sha256"] == _digest(x, y)  # the data are not traced
    assert result.run.epochs == 1 and result.run.batch_size == 5


def test_fingerprint_of_bfloat16_data():
    x = jnp.arange(6, dtype=jnp.bfloat16).reshape(3, 2)
    got = fingerprint((x,))
    assert got["dtypes"] == ["bfloat16"]
    assert got["sha256"] == hashlib.sha256(np.asarray(x).view(np.uint16).tobytes()).hexdigest()

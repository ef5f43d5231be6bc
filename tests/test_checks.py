"""The shared input checks: integers, numbers, data pairs and class labels."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl._checks import check_data, check_int, check_labels, check_number, is_traced
from jaxdl.model import init_state, predict, stateless

# ---------------------------------------------------------------------------- is_traced


def test_is_traced_only_inside_transformations():
    seen = []

    def record(x):
        seen.append(is_traced(x))
        return x

    assert not is_traced(jnp.ones(2)) and not is_traced(np.ones(2)) and not is_traced(1.0)
    jax.jit(record)(jnp.ones(2))
    jax.vmap(record)(jnp.ones(2))
    jax.grad(lambda x: record(x) * 2.0)(1.0)
    assert seen == [True, True, True]


# ---------------------------------------------------------------------------- check_int


@pytest.mark.parametrize(
    "value", [3, np.int8(3), np.int32(3), np.int64(3), np.uint16(3), np.array(3)[()]]
)
def test_check_int_accepts_python_and_numpy_integers(value):
    got = check_int(value, "epochs", low=0)
    assert got == 3 and type(got) is int


def test_check_int_bounds_are_inclusive():
    assert check_int(2, "k", low=2, high=5) == 2
    assert check_int(5, "k", low=2, high=5) == 5
    assert check_int(-7, "offset") == -7
    assert check_int(10**20, "big", low=0) == 10**20


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (True, "bool True"),
        (False, "bool False"),
        (np.bool_(True), r"bool np\.True_"),
        (2.0, "float 2.0"),
        (np.float32(2.0), r"float32 np\.float32\(2\.0\)"),
        ("3", "str '3'"),
        (None, "NoneType None"),
        (np.array([1, 2]), r"ndarray array\(\[1, 2\]\)"),
    ],
)
def test_check_int_refuses_other_types_naming_the_argument(value, kind):
    with pytest.raises(TypeError, match=rf"^batch_size: expected an integer >= 1, got {kind}$"):
        check_int(value, "batch_size", low=1)


@pytest.mark.parametrize(
    ("value", "bounds", "message"),
    [
        (0, {"low": 1}, "batch_size: expected an integer >= 1, got 0"),
        (-1, {"low": 0}, "batch_size: expected an integer >= 0, got -1"),
        (7, {"low": 2, "high": 5}, "batch_size: expected an integer in [2, 5], got 7"),
        (1, {"low": 2, "high": 5}, "batch_size: expected an integer in [2, 5], got 1"),
        (6, {"high": 5}, "batch_size: expected an integer <= 5, got 6"),
        (np.int64(0), {"low": 1}, "batch_size: expected an integer >= 1, got 0"),
    ],
)
def test_check_int_out_of_range_exact_message(value, bounds, message):
    with pytest.raises(ValueError) as info:
        check_int(value, "batch_size", **bounds)
    assert str(info.value) == message


def test_check_int_message_uses_the_given_name():
    with pytest.raises(ValueError) as info:
        check_int(7, "k", low=2, high=5)
    assert str(info.value) == "k: expected an integer in [2, 5], got 7"


# ---------------------------------------------------------------------------- check_number


@pytest.mark.parametrize(
    ("value", "bounds"),
    [
        (0.1, {"low": 0, "strict": True}),
        (0.0, {"low": 0}),
        (-3.5, {}),
        (2, {"low": 1}),
        (np.float32(1e-30), {"low": 0, "strict": True}),
        (np.int64(0), {"low": 0}),
        (jnp.float32(0.5), {"low": 0, "strict": True}),
        (np.array(1.5), {"low": 1.5}),
    ],
)
def test_check_number_accepts_finite_numbers_within_bounds(value, bounds):
    assert check_number(value, "x", **bounds) is None


@pytest.mark.parametrize(
    ("value", "bounds", "message"),
    [
        (0.0, {"low": 0, "strict": True}, "learning_rate: expected a finite number > 0, got 0.0"),
        (-0.1, {"low": 0}, "learning_rate: expected a finite number >= 0, got -0.1"),
        (-1, {"low": 0}, "learning_rate: expected a finite number >= 0, got -1.0"),
        (0.5, {"low": 1, "strict": True}, "learning_rate: expected a finite number > 1, got 0.5"),
        (float("nan"), {}, "learning_rate: expected a finite number, got nan"),
        (float("inf"), {"low": 0}, "learning_rate: expected a finite number >= 0, got inf"),
        (-np.inf, {}, "learning_rate: expected a finite number, got -inf"),
        (np.float32("nan"), {"low": 0}, "learning_rate: expected a finite number >= 0, got nan"),
    ],
)
def test_check_number_refuses_out_of_range_nan_and_inf(value, bounds, message):
    with pytest.raises(ValueError) as info:
        check_number(value, "learning_rate", **bounds)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (True, "bool True"),
        (np.bool_(False), r"bool np\.False_"),
        ("0.1", "str '0.1'"),
        (None, "NoneType None"),
        (1 + 2j, r"complex \(1\+2j\)"),
    ],
)
def test_check_number_refuses_non_real_values(value, kind):
    with pytest.raises(TypeError, match=rf"^noise: expected a real number, got {kind}$"):
        check_number(value, "noise", low=0)


def test_check_number_lets_traced_values_through():
    # A negative rate that would be refused eagerly passes when traced (its value is unknown).
    with pytest.raises(ValueError):
        check_number(-1.0, "learning_rate", low=0, strict=True)

    def f(rate):
        check_number(rate, "learning_rate", low=0, strict=True)
        return rate * 2

    assert float(jax.jit(f)(-1.0)) == -2.0
    np.testing.assert_array_equal(jax.vmap(f)(jnp.array([-1.0, jnp.nan]))[0], -2.0)


def test_check_number_leaves_arrays_of_several_values_to_the_caller():
    assert check_number(np.array([-1.0, np.nan]), "rates", low=0) is None


# ---------------------------------------------------------------------------- check_data


@pytest.mark.parametrize(
    ("x", "y"),
    [
        (np.ones((4, 2)), np.ones(4)),
        (np.ones((3, 28, 28), np.float32), np.arange(3)),
        (jnp.ones((1, 1)), jnp.ones((1, 5))),
    ],
)
def test_check_data_returns_the_number_of_examples(x, y):
    assert check_data(x, y) == len(x)


@pytest.mark.parametrize(
    ("x", "y", "error", "message"),
    [
        ([[1.0], [2.0]], np.ones(2), TypeError, "train: expected x to be an array, got list"),
        (np.ones((2, 1)), (1.0, 2.0), TypeError, "train: expected y to be an array, got tuple"),
        (
            np.ones(4),
            np.ones(4),
            ValueError,
            r"train: expected x of rank >= 2 \[n, features...\], got shape \(4,\)",
        ),
        (
            np.ones((4, 2)),
            np.ones(()),
            ValueError,
            r"train: expected y of rank >= 1 \[n, ...\], got shape \(\)",
        ),
        (
            np.ones((4, 2)),
            np.ones(3),
            ValueError,
            "train: expected x and y with the same number of examples, got 4 and 3",
        ),
        (np.ones((0, 2)), np.ones(0), ValueError, "train: expected at least one example, got 0"),
        (
            np.array([[1.0, np.nan]] * 4),
            np.ones(4),
            ValueError,
            "train: expected finite values in x, found NaN or inf",
        ),
        (
            np.ones((4, 2)),
            np.array([1.0, np.inf, 0, 0]),
            ValueError,
            "train: expected finite values in y, found NaN or inf",
        ),
        (
            jnp.ones((4, 2)).at[3, 1].set(-jnp.inf),
            jnp.ones(4),
            ValueError,
            "train: expected finite values in x, found NaN or inf",
        ),
    ],
)
def test_check_data_bad_input(x, y, error, message):
    with pytest.raises(error, match=f"^{message}$"):
        check_data(x, y, "train")


def test_check_data_default_name():
    with pytest.raises(ValueError, match=r"^data: expected at least one example"):
        check_data(np.ones((0, 2)), np.ones(0))


def test_check_data_integer_arrays_skip_the_finite_check():
    assert check_data(np.full((2, 2), 7, np.int32), np.array([0, 1], np.uint8)) == 2


def test_check_data_under_jit_checks_shapes_and_concrete_values():
    nan_x = jnp.ones((4, 2)).at[0, 0].set(jnp.nan)

    def closed_over():  # concrete arrays inside jit are still inspected
        check_data(nan_x, jnp.ones(4), "test")
        return jnp.zeros(())

    with pytest.raises(ValueError, match="test: expected finite values in x"):
        jax.jit(closed_over)()

    # Traced values cannot be inspected: a NaN passes, the shapes are still checked.
    assert jax.jit(lambda x, y: check_data(x, y, "test"))(nan_x, jnp.ones(4)) == 4
    with pytest.raises(ValueError, match="test: expected x and y with the same number"):
        jax.jit(lambda x, y: check_data(x, y, "test"))(nan_x, jnp.ones(3))


# ---------------------------------------------------------------------------- check_labels


def _linear(num_classes):
    """A linear model's prediction ``x @ w`` with ``w`` [2, num_classes], as a function of x
    (what ``check_labels`` takes: ``jaxdl.model.predict`` of a model and its state)."""
    w = jnp.zeros((2, num_classes))
    return lambda x: x @ w


EXAMPLE = jnp.ones((1, 2))  # one input [1, features]


def test_check_labels_accepts_labels_in_range():
    assert check_labels(_linear(3), EXAMPLE, jnp.array([0, 1, 2, 2]), "test") is None


@pytest.mark.parametrize(("labels", "bad"), [([0, 1, 2, 3], 3), ([-1, 0, 1, 2], -1), ([9], 9)])
def test_check_labels_names_the_set_and_the_bad_label(labels, bad):
    y = jnp.asarray(labels, jnp.int32)
    with pytest.raises(ValueError) as info:
        check_labels(_linear(3), EXAMPLE, y, "eval_data['test']")
    assert str(info.value) == (
        f"eval_data['test']: expected labels in [0, 3) for a model with 3 outputs, got label {bad}"
    )


def test_check_labels_with_both_ends_out_of_range_names_the_negative_one():
    with pytest.raises(ValueError, match=r"got label -2$"):
        check_labels(_linear(3), EXAMPLE, jnp.array([-2, 5]), "data")


def test_check_labels_does_not_run_the_model():
    calls = []
    w = jnp.zeros((2, 3))

    def forward(x):
        calls.append((is_traced(x), x.shape))
        return x @ w

    with pytest.raises(ValueError):
        check_labels(forward, EXAMPLE, jnp.array([0, 0, 0, 3]), "data")
    assert calls == [(True, (1, 2))]  # shapes only (jax.eval_shape), on the one example


def test_check_labels_with_a_model_and_its_state():
    """The caller's form (``jaxdl.engine.setup``): ``predict`` of a Model and its TrainState."""
    model = stateless(lambda k, x: {"w": jnp.zeros((x.shape[1], 4))}, lambda p, x: x @ p["w"])
    state = init_state(model, optax.sgd(0.1), jax.random.key(0), EXAMPLE)

    def forward(x):
        return predict(model, state, x)

    assert check_labels(forward, EXAMPLE, jnp.array([0, 3]), "data") is None
    with pytest.raises(ValueError, match=r"^data: expected labels in \[0, 4\) for a model with 4 "):
        check_labels(forward, EXAMPLE, jnp.array([0, 4]), "data")


@pytest.mark.parametrize(
    ("forward", "y"),
    [
        (_linear(3), jnp.array([0.0, 7.0])),  # float targets: regression
        (_linear(3), jnp.array([[0, 7], [1, 1]])),  # labels not [n]
        (lambda x: _linear(3)(x)[:, 0], jnp.array([5, 7])),  # outputs not [n, C]
    ],
)
def test_check_labels_ignores_what_is_not_classification(forward, y):
    assert check_labels(forward, EXAMPLE, y, "data") is None


def test_check_labels_lets_traced_labels_through():
    forward = _linear(3)

    def f(y):
        check_labels(forward, EXAMPLE, y, "data")
        return y

    np.testing.assert_array_equal(jax.jit(f)(jnp.array([0, 7])), [0, 7])

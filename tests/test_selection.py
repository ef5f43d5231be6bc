"""Polynomial features and data, k-fold splits and vmapped cross-validation."""

import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl.data.synthetic import polynomial_data, polynomial_features
from jaxdl.engine import fit
from jaxdl.optim import sgd
from jaxdl.selection import (
    cross_validate,
    fold_arrays,
    k_fold_splits,
    make_fold_trainer,
    masked_linear,
)


def test_polynomial_features_hand_and_numpy():
    np.testing.assert_allclose(
        polynomial_features(jnp.array([2.0, -1.0]), 4),
        [[1, 2, 2, 8 / 6], [1, -1, 0.5, -1 / 6]],
        rtol=1e-6,
    )
    x = np.random.default_rng(0).normal(size=7)
    expected = np.stack([x**i / math.gamma(i + 1) for i in range(20)], axis=1)
    np.testing.assert_allclose(
        jax.jit(polynomial_features, static_argnums=1)(x, 20), expected, rtol=1e-5, atol=1e-12
    )


@pytest.mark.parametrize(
    ("x", "degree", "message"),
    [
        (np.ones((2, 1)), 3, r"x: expected a vector \[n\], got shape \(2, 1\)"),
        (np.ones(2), 0, "max_degree: expected an integer >= 1, got 0"),
    ],
)
def test_polynomial_features_bad_input(x, degree, message):
    with pytest.raises(ValueError, match=message):
        polynomial_features(x, degree)


def _numpy_polynomial_data(key, true_w, max_degree, num_train, num_test, noise):
    """The book's recipe in float64 NumPy, from the same normal draws."""
    key_x, key_noise = jax.random.split(key)
    n = num_train + num_test
    x = np.asarray(jax.random.normal(key_x, (n,)), np.float64)
    eps = np.asarray(jax.random.normal(key_noise, (n,)), np.float64)
    features = np.stack([x**i / math.factorial(i) for i in range(max_degree)], axis=1)
    labels = features[:, : len(true_w)] @ np.asarray(true_w, np.float64) + noise * eps
    return features, labels


def test_polynomial_data_is_the_books_formula():
    key, true_w = jax.random.key(4), [5.0, 1.2, -3.4, 5.6]
    (x_train, y_train), (x_test, y_test) = polynomial_data(
        key, true_w, max_degree=20, num_train=30, num_test=20, noise=0.1
    )
    assert x_train.shape == (30, 20) and y_train.shape == (30,)
    assert x_test.shape == (20, 20) and y_test.shape == (20,)
    features, labels = _numpy_polynomial_data(key, true_w, 20, 30, 20, 0.1)
    np.testing.assert_allclose(x_train, features[:30], rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(x_test, features[30:], rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(y_train, labels[:30], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(y_test, labels[30:], rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(x_train[:, 0], 1.0)  # x^0 / 0!


def test_polynomial_data_without_noise_is_exact_in_the_features():
    (x, y), _ = polynomial_data(jax.random.key(0), [1.0, -2.0], max_degree=3, noise=0.0)
    x64 = np.asarray(x, np.float64)
    np.testing.assert_allclose(y, x64[:, 0] - 2.0 * x64[:, 1], rtol=1e-6, atol=1e-6)
    assert len(x) == 100  # the book's defaults: 100 training and 100 test examples


def test_polynomial_data_same_key_same_data():
    a = polynomial_data(jax.random.key(1), [1.0], max_degree=2, num_train=3, num_test=2)
    b = polynomial_data(jax.random.key(1), [1.0], max_degree=2, num_train=3, num_test=2)
    c = polynomial_data(jax.random.key(2), [1.0], max_degree=2, num_train=3, num_test=2)
    jax.tree.map(np.testing.assert_array_equal, a, b)
    assert not np.array_equal(a[0][0], c[0][0])


@pytest.mark.parametrize(
    ("true_w", "kwargs", "error", "message"),
    [
        (
            [[1.0, 2.0]],
            {},
            ValueError,
            r"true_w: expected a vector of 1 to max_degree \(20\) weights, got shape \(1, 2\)",
        ),
        (
            [1.0, 2.0, 3.0],
            {"max_degree": 2},
            ValueError,
            r"true_w: expected a vector of 1 to max_degree \(2\) weights, got shape \(3,\)",
        ),
        ([], {}, ValueError, r"true_w: expected a vector of 1 to max_degree .* shape \(0,\)"),
        ([1.0], {"max_degree": 0}, ValueError, "max_degree: expected an integer >= 1, got 0"),
        ([1.0], {"num_train": 0}, ValueError, "num_train: expected an integer >= 1, got 0"),
        ([1.0], {"num_test": 0}, ValueError, "num_test: expected an integer >= 1, got 0"),
        ([1.0], {"num_train": 10.0}, TypeError, "num_train: expected an integer >= 1, got float"),
        ([1.0], {"noise": -0.1}, ValueError, "noise: expected a finite number >= 0, got -0.1"),
        ([1.0], {"noise": float("nan")}, ValueError, "noise: expected a finite number >= 0"),
    ],
)
def test_polynomial_data_bad_input(true_w, kwargs, error, message):
    with pytest.raises(error, match=message):
        polynomial_data(jax.random.key(0), true_w, **kwargs)


@pytest.mark.parametrize(("n", "k"), [(2, 2), (5, 2), (10, 5), (103, 5), (7, 7), (100, 3)])
def test_every_example_in_exactly_one_validation_fold(n, k):
    splits = k_fold_splits(n, k)
    assert len(splits) == k
    validation = np.concatenate([v for _, v in splits])
    np.testing.assert_array_equal(validation, np.arange(n))  # contiguous, in order
    sizes = [len(v) for _, v in splits]
    assert max(sizes) - min(sizes) <= 1
    for t, v in splits:
        np.testing.assert_array_equal(np.sort(np.concatenate([t, v])), np.arange(n))


def test_k_fold_hand_values():
    splits = k_fold_splits(5, 2)
    assert [t.tolist() for t, _ in splits] == [[3, 4], [0, 1, 2]]
    assert [v.tolist() for _, v in splits] == [[0, 1, 2], [3, 4]]


@pytest.mark.parametrize(("n", "k"), [(10, 1), (10, 11), (3, 0)])
def test_bad_k(n, k):
    with pytest.raises(ValueError, match=rf"k: expected an integer in \[2, {n}\].*got {k}"):
        k_fold_splits(n, k)


def test_masked_linear_ignores_masked_features():
    mask = jnp.array([1.0, 1.0, 0.0])
    model = masked_linear(mask)
    assert model.needs == frozenset()
    params, state = model.init(jax.random.key(0), jnp.ones((1, 3)))
    assert state == {}
    assert float(params["w"][2]) == 0.0
    bound = 1 / math.sqrt(2)
    assert np.all(np.abs(params["w"][:2]) <= bound)
    x = jnp.array([[1.0, 2.0, 1e6]])

    def output(p):
        return model.apply(p, state, x, train=True)[0]

    np.testing.assert_allclose(output(params), x[:, :2] @ params["w"][:2], rtol=1e-6)
    grad = jax.grad(lambda p: jnp.sum(output(p)))(params)
    assert float(grad["w"][2]) == 0.0


@pytest.fixture(scope="module")
def poly_data():
    x = jax.random.normal(jax.random.key(0), (53,))
    X = polynomial_features(x, 6)
    y = X @ jnp.array([5.0, 1.2, -3.4, 5.6, 0, 0]) + 0.1 * jax.random.normal(
        jax.random.key(1), (53,)
    )
    return X, y


def _cv(data, **kwargs):
    options = dict(k=4, epochs=8, batch_size=10, key=jax.random.key(2))
    options.update(kwargs)
    return cross_validate(
        masked_linear(jnp.ones(6)), optax.squared_error, sgd(0.01), data, **options
    )


def test_vmapped_folds_equal_a_sequential_loop(poly_data):
    together = _cv(poly_data)
    one_by_one = _cv(poly_data, vmap=False)
    np.testing.assert_allclose(together.val_loss, one_by_one.val_loss, rtol=1e-6)
    np.testing.assert_allclose(together.train_loss, one_by_one.train_loss, rtol=1e-6)
    np.testing.assert_allclose(together.params["w"], one_by_one.params["w"], rtol=1e-6, atol=1e-7)
    assert set(together.history) == {"train_loss", "train_eval_loss", "val_loss"}
    for values in together.history.values():
        assert isinstance(values, np.ndarray) and values.shape == (4, 8)
    np.testing.assert_array_equal(together.val_loss, together.history["val_loss"][:, -1])


def test_each_fold_equals_fit_on_its_own_rows(poly_data):
    X, y = poly_data
    cv = _cv(poly_data)
    keys = jax.random.split(jax.random.key(2), 4)
    for i, (t, v) in enumerate(k_fold_splits(len(X), 4)):
        result = fit(
            masked_linear(jnp.ones(6)),
            optax.squared_error,
            sgd(0.01),
            (X[t], y[t]),
            epochs=8,
            batch_size=10,
            key=keys[i],
            eval_data={"val": (X[v], y[v])},
            quiet=True,
        )
        # Folds whose training rows needed a padding row shuffle a padded schedule; the others
        # follow exactly the schedule fit uses.
        if len(t) == max(len(tt) for tt, _ in k_fold_splits(len(X), 4)):
            np.testing.assert_allclose(
                cv.params["w"][i], result.state.params["w"], rtol=1e-6, atol=1e-7
            )
            np.testing.assert_allclose(
                cv.history["val_loss"][i], result.history["val_loss"], rtol=1e-5
            )
        w = np.asarray(cv.params["w"][i], np.float64)
        X64, y64 = np.asarray(X, np.float64), np.asarray(y, np.float64)
        expected_val = np.mean((X64[v] @ w - y64[v]) ** 2)
        np.testing.assert_allclose(cv.val_loss[i], expected_val, rtol=1e-5)
        expected_train = np.mean((X64[t] @ w - y64[t]) ** 2)
        np.testing.assert_allclose(cv.train_loss[i], expected_train, rtol=1e-5)
        np.testing.assert_allclose(cv.history["train_eval_loss"][i, -1], expected_train, rtol=1e-5)


def test_cross_validate_accepts_numpy_integer_epochs(poly_data):
    numpy_epochs = _cv(poly_data, epochs=np.int64(5))
    python_epochs = _cv(poly_data, epochs=5)
    assert numpy_epochs.history["val_loss"].shape == (4, 5)
    np.testing.assert_array_equal(numpy_epochs.val_loss, python_epochs.val_loss)
    np.testing.assert_array_equal(numpy_epochs.params["w"], python_epochs.params["w"])


def test_cross_validate_bad_input(poly_data):
    with pytest.raises(ValueError, match=r"k: expected an integer in \[2, 53\]"):
        _cv(poly_data, k=1)
    with pytest.raises(ValueError, match="epochs: expected an integer >= 1, got 0"):
        _cv(poly_data, epochs=0)


def _first_bad_loss(history, fold):
    """Fold ``fold``'s first NaN or inf loss, by hand: the earliest epoch, and within it the
    first set of the record (train, train_eval, val); None when it has none."""
    for epoch in range(history["train_loss"].shape[1]):
        for name in ("train", "train_eval", "val"):
            value = float(history[f"{name}_loss"][fold, epoch])
            if not np.isfinite(value):
                return name, value, epoch + 1
    return None


def test_cross_validate_reports_divergence(poly_data):
    X, y = poly_data
    data, k, epochs = (X * 100, y), 2, 5
    options = dict(epochs=epochs, batch_size=10)
    model, loss, optimizer = masked_linear(jnp.ones(6)), optax.squared_error, sgd(10.0)
    # The fold models' histories, trained as cross_validate trains them, without its check.
    trainer = make_fold_trainer(model, loss, optimizer, data, **options)
    folds = fold_arrays(len(X), k)
    keys = jax.random.split(jax.random.key(0), k)
    history = jax.tree.map(np.asarray, jax.jit(jax.vmap(trainer))(keys, *folds).history)
    first = [_first_bad_loss(history, i) for i in range(k)]
    assert all(f is not None for f in first)  # at rate 10 both folds diverge
    clauses = "; ".join(
        f"model {i}: the {name} loss is {value} at epoch {epoch} (learning rate 10)"
        for i, (name, value, epoch) in enumerate(first)
    )
    message = f"cross-validation: 2 of 2 models diverged: {clauses}; lower the learning rate"
    # The format: every fold model, in order, with its set, loss, epoch and learning rate.
    clause = r"model (\d): the (train|train_eval|val) loss is (nan|inf|-inf) at epoch \d+ "
    pattern = rf"^cross-validation: 2 of 2 models diverged: {clause}\(learning rate 10\); "
    pattern += rf"{clause}\(learning rate 10\); lower the learning rate$"
    for vmap in (True, False):  # the folds at once, and one after another
        with pytest.raises(FloatingPointError) as info:
            cross_validate(
                model, loss, optimizer, data, k=k, key=jax.random.key(0), vmap=vmap, **options
            )
        found = re.match(pattern, str(info.value))
        assert found is not None and found.group(1, 4) == ("0", "1"), str(info.value)
        # Each fold's first bad loss as computed by hand above.
        assert str(info.value) == message

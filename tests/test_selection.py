"""Polynomial features, k-fold splits and vmapped cross-validation."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl.optim import sgd
from jaxdl.selection import (
    cross_validate,
    k_fold_splits,
    masked_linear,
    polynomial_features,
)
from jaxdl.train import fit


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
    params = model.init(jax.random.key(0), jnp.ones((1, 3)))
    assert float(params["w"][2]) == 0.0
    bound = 1 / math.sqrt(2)
    assert np.all(np.abs(params["w"][:2]) <= bound)
    x = jnp.array([[1.0, 2.0, 1e6]])
    np.testing.assert_allclose(model.apply(params, x), x[:, :2] @ params["w"][:2], rtol=1e-6)
    grad = jax.grad(lambda p: jnp.sum(model.apply(p, x)))(params)
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
    assert together.history["eval_val_loss"].shape == (4, 8)


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
            eval_data=(X[v], y[v]),
            quiet=True,
        )
        # Folds whose training rows needed a padding row shuffle a padded schedule; the others
        # follow exactly the schedule fit uses.
        if len(t) == max(len(tt) for tt, _ in k_fold_splits(len(X), 4)):
            np.testing.assert_allclose(
                cv.params["w"][i], result.state.params["w"], rtol=1e-6, atol=1e-7
            )
        expected_val = np.mean(
            (np.asarray(X[v]) @ np.asarray(cv.params["w"][i]) - np.asarray(y[v])) ** 2
        )
        np.testing.assert_allclose(cv.val_loss[i], expected_val, rtol=1e-5)


def test_cross_validate_bad_input(poly_data):
    with pytest.raises(ValueError, match=r"k: expected an integer in \[2, 53\]"):
        _cv(poly_data, k=1)
    with pytest.raises(ValueError, match="epochs: expected an integer >= 1, got 0"):
        _cv(poly_data, epochs=0)


def test_cross_validate_reports_divergence(poly_data):
    X, y = poly_data
    with pytest.raises(FloatingPointError, match="cross-validation diverged"):
        cross_validate(
            masked_linear(jnp.ones(6)),
            optax.squared_error,
            sgd(10.0),
            (X * 100, y),
            k=2,
            epochs=5,
            batch_size=10,
            key=jax.random.key(0),
        )

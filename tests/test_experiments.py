"""Each training experiment runs as a user runs it; its metrics land in the book's band.

Expected figures come from the book (REFERENCE.md); bands are wide enough for another random
stream than PyTorch's, and narrow enough to catch a wrong loss, learning rate or update.
"""

import numpy as np
import pytest


def test_linear_regression_recovers_w_and_b(run_experiment):
    metrics, stdout, out = run_experiment("linear_regression", quick=False)
    for name in ("scratch", "concise", "closed_form"):
        m = metrics[name]
        # The book: errors in w ~ [3e-4, 5e-4], in b ~ 3e-4 after 3 epochs.
        assert np.max(np.abs(m["w_error"])) < 1e-3, name
        assert abs(m["b_error"]) < 1e-3, name
        np.testing.assert_allclose(np.array([2, -3.4]) - m["w"], m["w_error"], atol=1e-9)
    losses = metrics["scratch"]["train_loss_per_epoch"]
    assert len(losses) == 3
    # The book's epoch losses: 0.033, 1.2e-4, 4.9e-5 (½ squared error).
    assert 1e-3 < losses[0] < 0.2 and losses[2] < 1e-4 < losses[0]
    assert "error in estimating w" in stdout
    assert (out / "loss.png").stat().st_size > 0 and (out / "fit.png").stat().st_size > 0


def test_polynomial_regression_book_configuration(run_experiment):
    metrics, _, out = run_experiment("polynomial_regression", quick=False)
    # The book: degree 3 learns w ~ [4.95, 1.37, -3.29, 5.06]; train/test loss ~ 0.023 / 0.048.
    np.testing.assert_allclose(metrics["degree3"]["w"], [5.0, 1.2, -3.4, 5.6], atol=1.0)
    assert metrics["degree3"]["train_loss"] < 0.1 and metrics["degree3"]["test_loss"] < 0.2
    # Linear underfits: w ~ [3.67, 2.82], losses far above the noise level.
    assert len(metrics["linear"]["w"]) == 2
    assert metrics["linear"]["train_loss"] > 1.0 and metrics["linear"]["test_loss"] > 1.0
    # All 20 features: first four weights near the truth, train loss below test loss.
    np.testing.assert_allclose(metrics["all20"]["w"][:4], [5.0, 1.2, -3.4, 5.6], atol=1.0)
    assert metrics["all20"]["train_loss"] < metrics["all20"]["test_loss"]
    sweep = metrics["sweep"]
    assert sweep["num_features"] == list(range(1, 21)) and sweep["degree"] == list(range(20))
    # Underfitting falls away once degree 3 is reachable.
    assert sweep["test_loss"][0] > sweep["test_loss"][1] > sweep["test_loss"][3]
    # The sweep's 20-feature model is the all20 fit itself (same key, same epochs).
    assert sweep["train_loss"][-1] == pytest.approx(metrics["all20"]["train_loss"], rel=1e-5)
    assert (out / "fits.png").exists() and (out / "complexity.png").exists()


def test_weight_decay_book_configuration(run_experiment):
    metrics, stdout, out = run_experiment("weight_decay", quick=False)
    # The book: ||w||: lambda 0 -> 13.5 (test loss ~73), lambda 3 -> 0.35 (test loss ~0.09);
    # concise 14.2 and 0.44.
    for name in ("scratch", "concise"):
        none, decayed = metrics[name]["0"], metrics[name]["3"]
        assert 10 < none["w_norm"] < 17, name
        assert 0.1 < decayed["w_norm"] < 1.0, name
        assert decayed["test_loss"] < 1.0 < none["test_loss"], name
        assert none["train_loss"] < 1e-3, name  # 20 examples, 200 features: memorised
    sweep = metrics["sweep"]
    assert len(sweep["lambda"]) == len(sweep["w_norm"]) == len(sweep["test_loss"]) == 16
    assert np.all(np.diff(sweep["w_norm"]) < 0)  # more decay, smaller weights
    assert "L2 norm of w" in stdout
    assert (out / "curves.png").exists() and (out / "sweep.png").exists()


def test_kfold_quick(run_experiment):
    metrics, _, out = run_experiment("kfold")
    assert metrics["candidates"] == [2, 4, 8] and metrics["folds"] == 5
    assert len(metrics["mean_val_loss"]) == len(metrics["std_val_loss"]) == 3
    assert metrics["chosen"] == metrics["candidates"][int(np.argmin(metrics["mean_val_loss"]))]
    # Two features cannot fit a cubic: it is never the choice.
    assert metrics["chosen"] != 2
    assert (out / "kfold.png").exists()


@pytest.mark.parametrize("name", ["softmax_regression", "mlp"])
def test_fashion_mnist_classifiers_quick(run_experiment, name):
    metrics, stdout, out = run_experiment(name)  # 10 epochs on 2000 images
    for variant in ("scratch", "concise"):
        m = metrics[variant]
        assert len(m["history"]["test_acc"]) == 10
        assert m["test_acc"] == m["history"]["test_acc"][-1]
        assert 0.6 < m["test_acc"] <= 1.0, (variant, m["test_acc"])  # 10 classes: chance is 0.1
        assert m["history"]["train_loss"][-1] < m["history"]["train_loss"][0]
        assert m["seconds_per_epoch"] > 0
    assert "test acc" in stdout
    assert (out / "curves.png").exists() and (out / "predictions.png").exists()


def test_mlp_flags(run_experiment):
    metrics, stdout, _ = run_experiment(
        "mlp", "--epochs", "1", "--num-hiddens", "64", "32", "--activation", "tanh"
    )
    assert metrics["config"] == {"num_hiddens": [64, 32], "activation": "tanh"}
    assert "784-64-32-10, tanh" in stdout

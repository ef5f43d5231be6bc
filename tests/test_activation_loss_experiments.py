"""The loss-function and activation experiments, run as a user would, checked by hand."""

import math

import numpy as np
import pytest

# The slow tier (pytest -m slow): each section's runs; the default tier runs each once on
# tiny data (test_sections.py).
pytestmark = pytest.mark.slow

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC


def test_loss_functions(run_experiment):
    metrics, stdout, out = run_experiment("loss_functions")
    x = [-2.0, -0.5, 0.0, 0.5, 2.0]
    assert metrics["points"] == x and metrics["huber_delta"] == 1.0
    by_hand = {
        "l2": [0.5 * v * v for v in x],
        "l1": [abs(v) for v in x],
        "huber": [0.5 * v * v if abs(v) <= 1 else abs(v) - 0.5 for v in x],
    }
    gradient = {
        "l2": x,
        "l1": [float(np.sign(v)) for v in x],
        "huber": [max(-1.0, min(1.0, v)) for v in x],
    }
    for name in ("l2", "l1", "huber"):
        np.testing.assert_allclose(metrics["loss"][name], by_hand[name], rtol=1e-6)
        np.testing.assert_allclose(
            metrics["likelihood"][name], [math.exp(-v) for v in by_hand[name]], rtol=1e-6
        )
        np.testing.assert_allclose(metrics["gradient"][name], gradient[name], rtol=1e-6)

    big, pair = metrics["overflow"]
    assert big["logits"] == [1e4, 0.0, -1e4] and pair["logits"] == [100.0, 1000.0]
    for case in (big, pair):
        assert case["naive_softmax_finite"] is False
        assert case["naive_cross_entropy_finite"] is False
        assert case["softmax_finite"] is True
        assert case["cross_entropy_finite"] is True
    np.testing.assert_allclose(big["softmax"], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(pair["softmax"], [0.0, 1.0])
    # -log softmax_k = max - x_k (the other terms underflow): by hand.
    np.testing.assert_allclose(big["cross_entropy"], [0.0, 1e4, 2e4], atol=1e-6)
    np.testing.assert_allclose(pair["cross_entropy"], [900.0, 0.0], atol=1e-6)
    assert "nan" in stdout and "softmax" in stdout
    assert _is_png(out / "loss_functions.png")


def test_activations(run_experiment):
    metrics, stdout, out = run_experiment("activations")
    assert metrics["x"] == {"start": -8.0, "stop": 8.0, "step": 0.1, "num_points": 160}
    relu, sigmoid, tanh = metrics["relu"], metrics["sigmoid"], metrics["tanh"]
    for m in (relu, sigmoid, tanh):
        assert m["max_abs_diff_value"] < 1e-6
        assert m["max_abs_diff_grad"] < 1e-6
    # ReLU: value 0 and derivative 0 at 0 (the book's convention), slope 1 on the right.
    assert relu["value_at_0"] == 0.0 and relu["grad_at_0"] == 0.0
    assert relu["grad_max"] == 1.0 and relu["grad_at_-8"] == 0.0 and relu["grad_at_7.9"] == 1.0
    # sigmoid' = s (1 - s): 1/4 at 0, its maximum.
    assert sigmoid["value_at_0"] == pytest.approx(0.5, abs=1e-7)
    assert sigmoid["grad_at_0"] == pytest.approx(0.25, abs=1e-7)
    assert sigmoid["grad_max"] == pytest.approx(0.25, abs=1e-7)
    assert sigmoid["grad_argmax_x"] == pytest.approx(0.0, abs=1e-6)
    s = 1 / (1 + math.exp(8.0))
    assert sigmoid["grad_at_-8"] == pytest.approx(s * (1 - s), rel=1e-4)
    # tanh' = 1 - tanh²: 1 at 0, its maximum.
    assert tanh["value_at_0"] == 0.0
    assert tanh["grad_at_0"] == pytest.approx(1.0, abs=1e-7)
    assert tanh["grad_max"] == pytest.approx(1.0, abs=1e-7)
    assert tanh["grad_argmax_x"] == pytest.approx(0.0, abs=1e-6)
    assert tanh["grad_at_-8"] == pytest.approx(1 - math.tanh(8.0) ** 2, abs=1e-7)
    for name in ("relu", "sigmoid", "tanh"):
        assert _is_png(out / f"{name}.png") and _is_png(out / f"{name}_grad.png")
        assert name in stdout

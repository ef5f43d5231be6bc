"""The initialization experiment (the book's 4.8), run as a user runs it (``--quick``), its
figures checked by hand: the sigmoid's derivative, the exploding matrix product, Xavier's
variances, and the initial scales trained at once, a diverged one recorded, not fatal."""

import math

import numpy as np
import pytest

from jaxdl.initializers import xavier_std

# The slow tier (pytest -m slow): each section's runs; the default tier runs each once on
# tiny data (test_sections.py).
pytestmark = pytest.mark.slow

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = ("sigmoid.png", "matrix_product.png", "xavier.png", "training.png")


def test_initialization_quick(run_experiment):
    metrics, stdout, out = run_experiment("initialization")
    s = metrics["sigmoid"]
    assert s["x"] == {"start": -8.0, "stop": 8.0, "step": 0.1, "num_points": 160}
    assert s["grad_max"] == pytest.approx(0.25, abs=1e-7) and s["grad_argmax_x"] == 0.0
    assert s["grad_at_0"] == pytest.approx(0.25, abs=1e-7)
    e = 1 / (1 + math.exp(8.0))  # sigmoid(-8); sigmoid'(±8) = e (1 - e)
    assert s["grad_at_-8"] == pytest.approx(e * (1 - e), rel=1e-4)
    assert s["grad_at_8"] == pytest.approx(e * (1 - e), rel=1e-4)

    p = metrics["matrix_product"]
    assert p["size"] == 4 and p["num_multiplications"] == 100
    norms = np.array(p["frobenius_norms"])
    assert norms.shape == (101,)
    assert norms[0] == pytest.approx(np.linalg.norm(np.array(p["first_matrix"])), rel=1e-6)
    assert norms[-1] == pytest.approx(np.linalg.norm(np.array(p["product"])), rel=1e-6)
    assert (p["initial_norm"], p["final_norm"]) == (norms[0], norms[-1])
    # Explodes: about 0.24 decades per product (the top Lyapunov exponent of 4×4 N(0, 1)
    # matrices, 0.558 / ln 10), and the float32 sum of squares overflows.
    assert 0.15 < p["log10_growth_per_multiplication"] < 0.35
    assert p["log10_growth_per_multiplication"] == pytest.approx(
        math.log10(norms[-1] / norms[0]) / 100
    )
    assert p["float32_norm_finite"] is False and norms[-1] > math.sqrt(np.finfo(np.float32).max)

    x = metrics["xavier"]
    assert x["shape"] == [784, 256]
    assert x["variance"] == pytest.approx(2 / 1040) and x["bound"] == pytest.approx(
        math.sqrt(6 / 1040)
    )
    draws = x["draws"]
    assert set(draws) == {"xavier_normal", "glorot_normal", "xavier_uniform", "glorot_uniform"}
    for name, d in draws.items():
        assert d["variance_ratio"] == pytest.approx(1.0, abs=0.01), name
        assert d["variance"] == pytest.approx(d["variance_ratio"] * x["variance"], rel=1e-9)
        assert abs(d["mean"]) < 1e-3, name
    sigma = math.sqrt(x["variance"])
    assert draws["glorot_normal"]["max_abs"] <= 2.28 * sigma < draws["xavier_normal"]["max_abs"]
    for name in ("xavier_uniform", "glorot_uniform"):
        assert draws[name]["max_abs"] <= x["bound"] * (1 + 1e-6)
    assert x["uniform_max_abs_diff"] <= 1e-9
    assert "glorot_normal" in stdout and "after multiplying 100 matrices" in stdout

    t = metrics["training"]
    assert (t["epochs"], t["lr"], t["batch_size"]) == (3, 0.1, 256)  # --quick: 3 epochs
    models = t["models"]
    assert list(models) == ["0.001", "0.01", "0.1", "1", "xavier"]
    assert models["0.1"]["init_std"] == [0.1, 0.1]
    np.testing.assert_allclose(
        models["xavier"]["init_std"], [xavier_std((784, 256)), xavier_std((256, 10))], rtol=1e-6
    )
    for name, m in models.items():
        assert m["diverged"] is None, name
        assert len(m["history"]["test_acc"]) == 3
        assert m["test_acc"] == m["history"]["test_acc"][-1]
        assert m["train_loss"] == m["history"]["train_loss"][-1] < m["history"]["train_loss"][0]
    assert models["xavier"]["test_acc"] > 0.6  # 2000 images, 3 epochs; chance is 0.1
    assert (
        models["1"]["history"]["train_loss"][0] > 10 * models["xavier"]["history"]["train_loss"][0]
    )

    run = metrics["runs"]["sweep"]
    assert run["model"]["name"] == "mlp" and run["model"]["init_std"] is None  # traced
    assert run["optimizer"]["learning_rate"] == pytest.approx(0.1)
    assert run["data"]["shapes"] == [[2000, 28, 28, 1], [2000]] and len(run["data"]["sha256"]) == 64
    assert run["eval_data"]["test"]["shapes"] == [[500, 28, 28, 1], [500]]
    for name in FIGURES:
        assert (out / name).read_bytes()[:8] == PNG_MAGIC, name


def test_initialization_records_a_diverged_scale(run_experiment):
    """σ = 1e20 overflows float32 (NaN losses): recorded as diverged with the divergence
    message, left out of the figure; the other models are reported as usual."""
    metrics, stdout, out = run_experiment(
        "initialization", "--init-stds", "0.1", "1e20", "--epochs", "2"
    )
    models = metrics["training"]["models"]
    assert list(models) == ["0.1", "1e+20", "xavier"]
    bad = models["1e+20"]
    assert "diverged" in bad["diverged"] and "loss is nan at epoch 1" in bad["diverged"]
    assert bad["train_loss"] is None and bad["test_acc"] is None
    assert bad["history"]["train_loss"] == [None, None]  # metrics.json holds no NaN
    for name in ("0.1", "xavier"):
        assert models[name]["diverged"] is None and models[name]["test_acc"] > 0.3
    assert "DIVERGED" in stdout
    assert (out / "training.png").read_bytes()[:8] == PNG_MAGIC


def test_initialization_refuses_repeated_scales(run_experiment):
    from jaxdl.errors import InputError

    with pytest.raises(
        InputError, match=r"init_stds: expected distinct values, got \[0\.1, 0\.1\]"
    ):
        run_experiment("initialization", "--init-stds", "0.1", "0.1")

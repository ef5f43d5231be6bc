"""Each training experiment runs as a user runs it; its metrics land in the book's band, and
its metrics.json names the run (settings and data) each result came from.

Expected figures come from the book: the bands our metrics must lie in are
``BOOK[name].bands`` in experiments/harness/reference.py, wide enough for another random stream than
PyTorch's, and narrow enough to catch a wrong loss, learning rate or update.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.data.synthetic import polynomial_data, synthetic_regression
from jaxdl.engine.keys import run_keys

from harness.reference import BOOK, within
from harness.section import run_script
from references import initial_params, numpy_eval, numpy_sgd

# The slow tier (pytest -m slow): each section's runs; the default tier runs each once on
# tiny data (test_sections.py).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SHA256 = re.compile(r"[0-9a-f]{64}")


def assert_in_band(name: str, band: str, value: float, *where) -> None:
    """``value`` lies in the book's open band ``BOOK[name].bands[band]``."""
    assert within(name, band, value), (*where, band, value, BOOK[name].bands[band])


def shapes(num_examples: int, *features: int) -> list:
    """The recorded shapes of ``(x [num_examples, *features], y [num_examples])``."""
    return [[num_examples, *features], [num_examples]]


def check_run(run, *, epochs, batch_size, lr, data, **eval_shapes):
    """The parts of a run's identity that the experiment's documented configuration fixes:
    ``data``, the training data's shapes, and ``eval_shapes``, each evaluation set's."""
    assert run["epochs"] == epochs
    assert run["batch_size"] == batch_size
    assert run["optimizer"]["learning_rate"] == pytest.approx(lr, rel=1e-7)
    assert run["data"]["shapes"] == data
    assert SHA256.fullmatch(run["data"]["sha256"])
    assert {name: d["shapes"] for name, d in run["eval_data"].items()} == eval_shapes


def snapshot(folder: Path) -> dict:
    """Every file under ``folder`` (hidden ones too): ``{relative path: (bytes, mtime_ns)}``."""
    files = {}
    for parent, _, names in os.walk(folder):
        for name in names:
            path = Path(parent) / name
            files[str(path.relative_to(folder))] = (path.read_bytes(), path.stat().st_mtime_ns)
    return files


def test_metrics_hold_the_seed_as_a_number(run_experiment):
    assert run_experiment("calculus")[0]["seed"] == 0
    metrics, _, _ = run_experiment("linear_regression", "--seed", "4294967295")
    assert metrics["seed"] == 2**32 - 1 and isinstance(metrics["seed"], int)
    keys = [metrics["runs"][name]["key"] for name in ("scratch", "concise")]
    assert keys[0] != keys[1]  # each variant's own key, from that one seed


def test_linear_regression_recovers_w_and_b(run_experiment):
    metrics, stdout, out = run_experiment("linear_regression", quick=False)
    timing = metrics["timing"]  # what the run took and compiled
    assert set(timing) == {"seconds", "compile_seconds", "compilations", "cache_hits"}
    assert timing["compilations"] + timing["cache_hits"] > 0  # two variants trained
    assert timing["seconds"] > timing["compile_seconds"] > 0
    for name in ("scratch", "concise", "closed_form"):
        m = metrics[name]
        # The book: errors in w ~ [3e-4, 5e-4], in b ~ 3e-4 after 3 epochs.
        for i, error in enumerate(m["w_error"]):
            assert_in_band("linear_regression", "abs_error", abs(error), name, f"w[{i}]")
        assert_in_band("linear_regression", "abs_error", abs(m["b_error"]), name, "b")
        np.testing.assert_allclose(np.array([2, -3.4]) - m["w"], m["w_error"], atol=1e-9)
    # Independent references on the run's own data (the book's synthetic_data, seed 0): NumPy
    # least squares on [X 1] for closed_form, the book's loop in float64 NumPy for scratch.
    key_data, key_scratch, _ = jax.random.split(jax.random.key(0), 3)
    x, y = synthetic_regression(key_data, jnp.array([2.0, -3.4]), 4.2, 1000, 0.01)
    x64, y64 = np.asarray(x, np.float64), np.asarray(y, np.float64)
    exact = np.linalg.lstsq(np.c_[x64, np.ones(1000)], y64, rcond=None)[0]
    closed = metrics["closed_form"]
    np.testing.assert_allclose([*closed["w"], closed["b"]], exact, rtol=1e-5)
    w, b, trajectory, _ = numpy_sgd(initial_params(key_scratch, x), x, y, key_scratch, 3, 10, 0.03)
    scratch = metrics["scratch"]
    np.testing.assert_allclose([*scratch["w"], scratch["b"]], [*w, b], rtol=1e-5)
    np.testing.assert_allclose(
        scratch["train_loss_per_epoch"],
        [numpy_eval(w_e, b_e, x, y)[0] for w_e, b_e in trajectory],
        rtol=1e-3,
    )
    losses = metrics["scratch"]["train_loss_per_epoch"]
    assert len(losses) == 3
    # The book's epoch losses: 0.033, 1.2e-4, 4.9e-5 (½ squared error).
    assert_in_band("linear_regression", "loss_epoch1", losses[0])
    assert_in_band("linear_regression", "loss_epoch3", losses[2])
    assert "error in estimating w" in stdout
    assert (out / "loss.png").stat().st_size > 0 and (out / "fit.png").stat().st_size > 0

    # The book's configuration: 1000 examples of 2 features, batch 10, rate 0.03, 3 epochs;
    # the loss per epoch is over the whole training set, so that set is the evaluation set.
    runs = metrics["runs"]
    assert set(runs) == {"scratch", "concise"}
    train = shapes(1000, 2)
    for name, run in runs.items():
        check_run(run, epochs=3, batch_size=10, lr=0.03, data=train, train_eval=train)
        assert run["eval_data"]["train_eval"] == run["data"], name
    assert runs["scratch"]["data"] == runs["concise"]["data"]  # both fit the same data
    assert runs["scratch"]["key"] != runs["concise"]["key"]  # each its own key
    assert runs["scratch"]["model"] == {"name": "linear_regression", "init_std": 0.01}
    assert runs["scratch"]["loss"] == "jaxdl.squared_loss"
    assert runs["concise"]["loss"] == "optax.squared_error"


def test_polynomial_regression_book_configuration(run_experiment):
    metrics, _, out = run_experiment("polynomial_regression", quick=False)
    true_w = [5.0, 1.2, -3.4, 5.6]  # the polynomial's true weights
    poly = "polynomial_regression"
    # The book: degree 3 learns w ~ [4.95, 1.37, -3.29, 5.06]; train/test loss ~ 0.023 / 0.048.
    # All 20 features: w[:4] ~ [4.98, 1.23, -3.34, 5.35]; the first four weights near the truth.
    assert len(metrics["degree3"]["w"]) == 4
    for name in ("degree3", "all20"):
        for i, (w, true) in enumerate(zip(metrics[name]["w"][:4], true_w, strict=True)):
            assert_in_band(poly, "abs_weight_error", abs(w - true), name, f"w[{i}]")
    assert_in_band(poly, "degree3_train_loss", metrics["degree3"]["train_loss"])
    assert_in_band(poly, "degree3_test_loss", metrics["degree3"]["test_loss"])
    # Linear underfits: w ~ [3.67, 2.82], losses far above the noise level.
    assert len(metrics["linear"]["w"]) == 2
    for loss in ("train_loss", "test_loss"):
        assert_in_band(poly, "linear_loss", metrics["linear"][loss], "linear", loss)
    # All 20 features: train loss below test loss.
    assert metrics["all20"]["train_loss"] < metrics["all20"]["test_loss"]
    assert metrics["degree3"]["epochs"] == 400 and metrics["all20"]["epochs"] == 1500
    sweep = metrics["sweep"]
    assert sweep["num_features"] == list(range(1, 21)) and sweep["degree"] == list(range(20))
    # Underfitting falls away once degree 3 is reachable.
    assert sweep["test_loss"][0] > sweep["test_loss"][1] > sweep["test_loss"][3]
    # The sweep's 20-feature model is the all20 fit itself (same key, same epochs).
    assert sweep["train_loss"][-1] == pytest.approx(metrics["all20"]["train_loss"], rel=1e-5)
    assert (out / "fits.png").exists() and (out / "complexity.png").exists()

    # The book's configuration: 100 training and 100 test examples of 20 features, batch 10,
    # rate 0.01; 400 epochs for the first fits, 1500 for the sweep.
    runs = metrics["runs"]
    assert set(runs) == {"first_fits", "sweep"}
    train, test = shapes(100, 20), shapes(100, 20)
    for name, epochs in (("first_fits", 400), ("sweep", 1500)):
        run = runs[name]
        check_run(
            run, epochs=epochs, batch_size=10, lr=0.01, data=train, train_eval=train, test=test
        )
        assert run["eval_data"]["train_eval"] == run["data"], name
        assert run["eval_data"]["test"]["sha256"] != run["data"]["sha256"], name
        assert run["loss"] == "optax.squared_error", name
    assert runs["first_fits"]["data"] == runs["sweep"]["data"]


def test_weight_decay_book_configuration(run_experiment):
    metrics, stdout, out = run_experiment("weight_decay", quick=False)
    # The book: ||w||: lambda 0 -> 13.5 (test loss ~73), lambda 3 -> 0.35 (test loss ~0.09);
    # concise 14.2 and 0.44.
    for name in ("scratch", "concise"):
        none, decayed = metrics[name]["0"], metrics[name]["3"]
        for band, value in [
            ("w_norm_no_decay", none["w_norm"]),
            ("w_norm_decay_3", decayed["w_norm"]),
            ("test_loss_decay_3", decayed["test_loss"]),
            ("test_loss_no_decay", none["test_loss"]),
            ("train_loss_no_decay", none["train_loss"]),  # 20 examples, 200 features: memorised
        ]:
            assert_in_band("weight_decay", band, value, name)
    sweep = metrics["sweep"]
    assert len(sweep["lambda"]) == len(sweep["w_norm"]) == len(sweep["test_loss"]) == 16
    assert np.all(np.diff(sweep["w_norm"]) < 0)  # more decay, smaller weights
    assert "L2 norm of w" in stdout
    assert (out / "curves.png").exists() and (out / "sweep.png").exists()

    # The book's configuration: 20 training and 100 test examples of 200 features, batch 5,
    # rate 0.003, 100 epochs, w ~ N(0, 1); the scratch variant's penalty is a regularizer,
    # the concise variant's decay is in its optimizer.
    runs = metrics["runs"]
    assert set(runs) == {"scratch", "concise", "sweep"}
    train, test = shapes(20, 200), shapes(100, 200)
    for name, run in runs.items():
        check_run(run, epochs=100, batch_size=5, lr=0.003, data=train, train_eval=train, test=test)
        assert run["eval_data"]["train_eval"] == run["data"], name
        assert run["model"]["init_std"] == 1.0, name
    # Each run's record holds its declared configuration, the λ it swept among it.
    for name in ("scratch", "concise"):
        assert runs[name]["config"] == metrics["flags"] | {"variant": name, "lambdas": [0.0, 3.0]}
    assert runs["sweep"]["config"]["lambdas"] == sweep["lambda"]
    assert runs["scratch"]["loss"] == "jaxdl.squared_loss"
    assert runs["concise"]["loss"] == "optax.squared_error"


def test_kfold_quick(run_experiment):
    metrics, _, out = run_experiment("kfold")
    assert metrics["candidates"] == [2, 4, 8] and metrics["folds"] == 5
    assert len(metrics["mean_val_loss"]) == len(metrics["std_val_loss"]) == 3
    # An independent 5-fold cross-validation in float64 NumPy: fold i validates on rows
    # 20i..20i+19 and trains on the other 80 with key split(key_cv, 5)[i] (selection's
    # documented schedule), from PyTorch's nn.Linear init U(-1/sqrt(k), 1/sqrt(k)), on
    # (y_hat - y)^2, whose gradient is twice the reference's half square: rate 2 x 0.01.
    key_data, key_cv, _ = jax.random.split(jax.random.key(0), 3)
    (x, y), _ = polynomial_data(key_data)
    x, y, fold_keys = (
        np.asarray(x, np.float64),
        np.asarray(y, np.float64),
        jax.random.split(key_cv, 5),
    )
    mean_val = []
    for k in metrics["candidates"]:
        mask, losses = np.arange(20) < k, []
        for i, fold_key in enumerate(fold_keys):
            rows = np.arange(100)
            val, train = rows[20 * i : 20 * (i + 1)], np.delete(rows, np.s_[20 * i : 20 * (i + 1)])
            u = jax.random.uniform(run_keys(fold_key).init, (20,), minval=-1.0, maxval=1.0)
            w0 = np.asarray(u, np.float64) / np.sqrt(k) * mask
            w, *_ = numpy_sgd(
                {"w": w0, "b": 0.0}, x[train] * mask, y[train], fold_key, 30, 10, 0.02, bias=False
            )
            losses.append(np.mean((x[val] @ (w * mask) - y[val]) ** 2))
        mean_val.append(np.mean(losses))
    np.testing.assert_allclose(metrics["mean_val_loss"], mean_val, rtol=1e-4)
    assert metrics["chosen"] == metrics["candidates"][int(np.argmin(mean_val))]
    # Two features cannot fit a cubic: it is never the choice.
    assert metrics["chosen"] != 2
    assert (out / "kfold.png").exists()

    # The chosen model retrains on the 100 training examples, scored on the 100 test ones;
    # --quick caps the epochs at 30; batch 10 and rate 0.01 as the polynomial experiment.
    run = metrics["runs"]["chosen"]
    check_run(run, epochs=30, batch_size=10, lr=0.01, data=shapes(100, 20), test=shapes(100, 20))
    chosen = metrics["chosen"]
    assert run["model"] == {"name": "masked_linear", "mask": [1.0] * chosen + [0.0] * (20 - chosen)}


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
        # The book's configuration (batch 256, rate 0.1, 10 epochs) on --quick's 2000 training
        # and 500 test images of 28 x 28 pixels, with accuracy as the metric.
        run = m["run"]
        train, test = shapes(2000, 28, 28, 1), shapes(500, 28, 28, 1)
        check_run(run, epochs=10, batch_size=256, lr=0.1, data=train, test=test)
        assert run["config"] == metrics["flags"]  # the declared configuration
    assert metrics["scratch"]["run"]["model"]["name"] == name
    assert metrics["scratch"]["run"]["loss"] == "jaxdl.cross_entropy"
    assert metrics["concise"]["run"]["loss"] == "optax.softmax_cross_entropy_with_integer_labels"
    assert metrics["scratch"]["run"]["data"] == metrics["concise"]["run"]["data"]
    assert "test acc" in stdout
    assert (out / "curves.png").exists() and (out / "predictions.png").exists()


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        ("softmax_regression", []),
        pytest.param("mlp", [], marks=pytest.mark.slow),
        pytest.param("dropout", ["--seeds", "5"], marks=pytest.mark.slow),
    ],
    ids=["softmax_regression", "mlp", "dropout-5-seeds"],
)
def test_fashion_mnist_classifiers_land_in_the_books_bands(run_experiment, name, argv):
    """The book's configuration on all of Fashion-MNIST (60000 training, 10000 test images):
    test accuracy and training loss in the bands of experiments/harness/reference.py. Dropout's
    single seeds scatter by ±0.02 (README), so its band holds for the mean of five seeds."""
    metrics, _, _ = run_experiment(name, *argv, quick=False)
    for variant in ("scratch", "concise"):
        m = metrics[variant]
        assert m["run"]["data"]["shapes"] == shapes(60000, 28, 28, 1)
        assert m["run"]["epochs"] == 10
        for stat in ("test_acc", "train_loss"):
            assert_in_band(name, stat, m[stat], variant)


def test_mlp_flags(run_experiment):
    metrics, stdout, _ = run_experiment(
        "mlp", "--epochs", "1", "--num-hiddens", "64", "32", "--activation", "tanh"
    )
    assert metrics["flags"]["num_hiddens"] == [64, 32] and metrics["flags"]["activation"] == "tanh"
    assert "784-64-32-10, tanh" in stdout
    for variant in ("scratch", "concise"):
        model = metrics[variant]["run"]["model"]
        assert model["activation"] == "tanh", variant
        assert model["num_hiddens"] == [64, 32], variant
        assert model["num_outputs"] == 10, variant
        assert metrics[variant]["run"]["epochs"] == 1, variant


def run_command(name: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "experiments" / f"{name}.py"), *args]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


def test_mlp_resume_refuses_another_activation_then_resumes(tmp_path, capsys):
    """The user's flow, the refusal as a command (its exit status and message), the rest
    in-process."""
    flags = ["--quick", "--batch-size", "500", "--checkpoint-dir", str(tmp_path / "ckpt")]
    flags += ["--out", str(tmp_path / "out")]
    run_script("mlp", [*flags, "--epochs", "1"])
    assert "resumed" not in capsys.readouterr().out
    one_epoch = (tmp_path / "out" / "metrics.json").read_text()

    other = run_command("mlp", *flags, "--epochs", "2", "--activation", "sigmoid")
    assert other.returncode == 1, other.stdout
    assert other.stderr.startswith("mlp.py: error: checkpoint ")  # a message, no traceback
    assert "written by another run" in other.stderr
    assert "model.activation: 'relu' in the checkpoint, 'sigmoid' in this run" in other.stderr
    assert (tmp_path / "out" / "metrics.json").read_text() == one_epoch  # untouched

    run_script("mlp", [*flags, "--epochs", "2"])
    again = capsys.readouterr().out
    for variant in ("scratch", "concise"):
        assert f"{variant}: resumed after epoch 1 of 2" in again
    before = json.loads(one_epoch)
    after = json.loads((tmp_path / "out" / "metrics.json").read_text())
    for variant in ("scratch", "concise"):
        h0, h1 = before[variant]["history"], after[variant]["history"]
        assert len(h1["test_acc"]) == 2
        for key in h0:  # the first epoch is the checkpoint's, not trained again
            assert h1[key][0] == h0[key][0], (variant, key)
        assert after[variant]["run"]["epochs"] == 2


def test_a_diverging_run_leaves_the_previous_results_untouched(tmp_path):
    out = tmp_path / "out"
    run_script("linear_regression", ["--out", str(out)])
    before = snapshot(out)
    assert {"metrics.json", "loss.png", "fit.png"} <= set(before)

    # The concise variant's loss (ŷ - y)² has no ½: at rate 0.965 its steps are 1.93 / λ for
    # features of variance λ ≈ 1, near the stability limit 2 / λ, and some batches pass it.
    with pytest.raises(FloatingPointError) as error:
        run_script("linear_regression", ["--out", str(out), "--lr", "0.965"])
    assert re.search(
        r"training \(concise\) diverged: the (train|train_eval) loss is (inf|-inf|nan) at "
        r"epoch [123] \(learning rate 0\.965\)",
        str(error.value),
    ), str(error.value)
    assert snapshot(out) == before  # same files, same bytes, not even rewritten


@pytest.mark.parametrize("below", [False, True])
def test_out_that_is_a_file_is_refused_before_training(tmp_path, capsys, below):
    file = tmp_path / "results"
    file.write_text("not a folder")
    out = file / "linear_regression" if below else file
    with pytest.raises(SystemExit) as exit_:
        run_script("linear_regression", ["--out", str(out)])
    assert exit_.value.code == 2  # argparse's status for a bad argument
    captured = capsys.readouterr()
    assert f"--out: expected a folder, got the file {file}" in captured.err
    assert "epoch" not in captured.out  # nothing trained
    assert file.read_text() == "not a folder"


def test_seeds_train_at_once_and_report_their_spread(run_experiment):
    one, _, _ = run_experiment("mlp", "--epochs", "2", "--seed", "3")
    three, stdout, _ = run_experiment("mlp", "--epochs", "2", "--seed", "3", "--seeds", "3")
    for variant in ("scratch", "concise"):
        m = three[variant]
        per_seed = np.array(m["per_seed"]["test_acc"])
        assert len(per_seed) == 3 and len(m["run"]["key"]) == 3
        # The first of the seeds 3, 4, 5 is the seed-3 run on its own.
        assert per_seed[0] == pytest.approx(one[variant]["test_acc"], abs=1e-6)
        assert m["test_acc"] == pytest.approx(per_seed.mean(), rel=1e-6)
        assert m["std"]["test_acc"] == pytest.approx(per_seed.std(ddof=1), rel=1e-6)
        assert len(set(per_seed.tolist())) > 1  # other seeds, other models
    assert "(3 seeds: mean ± standard deviation)" in stdout


def test_dropout_quick_learns_and_records_its_network(run_experiment):
    # 2000 images make 8 steps an epoch: at the book's rate 0.5 its network needs ~30 epochs
    # to get going on them (10 epochs of the full data are 2350 steps).
    metrics, _, out = run_experiment("dropout", "--epochs", "30")
    for variant in ("scratch", "concise"):
        m = metrics[variant]
        assert 0.6 < m["test_acc"] <= 1.0, (variant, m["test_acc"])
        assert m["history"]["train_loss"][-1] < m["history"]["train_loss"][0]
        model = m["run"]["model"]
        assert model["num_hiddens"] == [256, 256] and model["dropout_rates"] == [0.2, 0.5]
        assert m["run"]["optimizer"]["learning_rate"] == 0.5
    assert metrics["flags"]["dropout"] == [0.2, 0.5]
    assert (out / "curves.png").exists() and (out / "predictions.png").exists()

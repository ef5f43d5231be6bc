"""Every section runs in-process on tiny data, as ``python experiments/NAME.py --quick`` with a
few settings smaller still (tests/sizes.py): it writes its ``metrics.json`` with the settings it
ran with, and
where it writes the book's code (a loop, a layer, a network) that code agrees with the
library's. This is the default tier's one run of each section; their detailed checks at
``--quick`` and at the book's configuration are in the other test files, many in the slow
tier."""

import re

import pytest
from sizes import TINY

from jaxdl.errors import InputError

from harness.report import EXPERIMENTS


def _flag_values(argv: list[str]) -> dict:
    """``{setting: value as given}`` of ``--name value`` pairs (one value each)."""
    pairs = zip(argv[::2], argv[1::2], strict=True)
    return {flag.removeprefix("--").replace("-", "_"): value for flag, value in pairs}


@pytest.mark.parametrize("name", [entry.name for entry in EXPERIMENTS])
def test_each_section_runs_on_tiny_data(run_experiment, name):
    argv = TINY.get(name, [])
    metrics, stdout, out = run_experiment(name, *argv)
    assert (out / "metrics.json").exists()
    flags = metrics["flags"]
    assert flags["quick"] is True and flags["seed"] == 0
    for setting, value in _flag_values(argv).items():
        given = flags[setting]
        assert str(given[0] if isinstance(given, list) else given) == value, (setting, given)
    # The book's code, written in the section, against the library's.
    if name == "lenet":
        assert metrics["book_network"]["max_abs_diff_output"] < 1e-5
        assert metrics["book_network"]["max_abs_diff_step"] < 1e-5
    if name == "batch_norm":
        assert metrics["book_batch_norm"]["max_abs_diff"] < 1e-5
    if name == "modern_cnns":
        assert set(metrics["book_residual"]["max_abs_diff"]) == {"(4, 6, 6, 3)", "(4, 3, 3, 6)"}
        assert max(metrics["book_residual"]["max_abs_diff"].values()) < 1e-5
    if name == "conv_layer":
        assert metrics["corr2d"]["loop_equals_vectorised"] is True
        assert "the same as the library's jaxdl.conv.corr2d_loop\nTrue" in stdout
    if name == "pooling":
        assert "the book's pool2d, the same as the library's jaxdl.conv.pool2d_loop\nTrue" in stdout
        assert metrics["pool2d"]["max_abs_error_vs_book"] == 0
    if name == "dropout":
        assert "the same as the library's jaxdl.models.dropout.dropout_layer: True" in stdout
    if name in ("softmax_regression", "mlp"):
        found = re.search(r"the book's loop against the engine: (\S+)", stdout)
        assert found and float(found.group(1)) < 1e-6, stdout
    if name == "sequence_models":
        assert max(metrics["book_loops"].values()) < 1e-5
        assert "the same as the library's multistep_predictions\nTrue" in stdout


@pytest.mark.parametrize(
    "name, argv, message",
    [
        ("mlp", ["--train-size", "1000000"], "--train-size: expected at most 60000"),
        ("softmax_regression", ["--test-size", "10001"], "--test-size: expected at most 10000"),
        (
            "lenet",
            ["--train-size", "100"],
            "scratch: a batch of 256 images is more than the 100 training images; raise "
            "--train-size or lower --batch-size",
        ),
        (
            "modern_cnns",
            ["--train-size", "1", "--models", "resnet18"],
            "resnet18: a batch of 256 images is more than the 1 training images; raise "
            "--train-size",
        ),
        (
            "modern_cnns",
            ["--models", "resnet18", "--width", "1e5"],
            "resnet18: its parameters and their gradients would take 8.31e+08 GiB, more than "
            "this machine's",
        ),
        (
            "mlp",
            ["--num-hiddens", "10000000000"],
            "scratch: its parameters and their gradients would take 5.92e+04 GiB",
        ),
    ],
)
def test_sizes_the_data_cannot_give_are_refused_naming_the_flag(
    run_experiment, name, argv, message
):
    """A size larger than the data set, a training set smaller than a batch, or a network
    larger than the machine's memory is refused before any training (the network's size from
    its shapes alone), naming the flags to change (not the library's argument names)."""
    with pytest.raises(InputError, match="^" + re.escape(message)):
        run_experiment(name, *argv)


@pytest.mark.parametrize(
    "name",
    ["conv_layer", "linear_regression", "polynomial_regression", "weight_decay", "mlp"],
)
def test_a_diverging_section_stops_naming_the_epoch_and_rate(run_experiment, tmp_path, name):
    """Each way a section trains (its own loop, ``fit``, ``train`` swept under ``vmap``, the
    classifiers' door) stops on a NaN or inf loss with the engine's message, and writes no
    results (was: "value: expected a finite number, got inf" while writing metrics.json)."""
    with pytest.raises(FloatingPointError, match=r"diverged: .*learning rate 1e\+30.*; lower the"):
        run_experiment(name, *TINY.get(name, []), "--lr", "1e30")
    assert not (tmp_path / name / "metrics.json").exists()

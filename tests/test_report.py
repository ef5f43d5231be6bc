"""The comparison with the book: a run is held to the book's bands only in the book's
configuration (its flags, recorded in metrics.json), a learner's own variant is reported
beside the book's, and the book's configuration in ``reference.py`` is each script's defaults."""

import argparse

import pytest

from harness import common
from harness.reference import BOOK
from harness.report import BY_NAME, band_check, comparison

BOOK_FLAGS = {"epochs": 10, "lr": 0.1, "batch_size": 256, "num_hiddens": [256]}


def mlp_metrics(test_acc=0.84, flags=BOOK_FLAGS, **extra):
    variant = {"test_acc": test_acc, "train_acc": 0.85, "train_loss": 0.4}
    flags = {"seed": 0, "quick": False, "activation": "relu"} | flags
    return {"scratch": variant, "concise": variant, "flags": flags} | extra


def test_in_the_books_configuration_the_bands_hold():
    assert band_check(BY_NAME["mlp"], mlp_metrics()) == "yes"
    assert band_check(BY_NAME["mlp"], mlp_metrics(test_acc=0.5)).startswith(
        "**no**: test_acc 0.5 not in (0.8, 0.87)"
    )


def test_another_configuration_is_not_held_to_the_books_bands():
    metrics = mlp_metrics(test_acc=0.5, flags=BOOK_FLAGS | {"epochs": 3, "lr": 0.5})
    assert band_check(BY_NAME["mlp"], metrics) == (
        "not compared: your configuration differs: epochs 3 vs 10, lr 0.5 vs 0.1"
    )
    # Another seed is the book's configuration still; --quick is no configuration at all.
    assert band_check(BY_NAME["mlp"], mlp_metrics(flags=BOOK_FLAGS | {"seed": 7})) == "yes"
    assert band_check(BY_NAME["mlp"], mlp_metrics(flags=BOOK_FLAGS | {"quick": True})) == "—"


def test_a_learners_own_variant_is_shown_and_not_held_to_a_band():
    mine = {"test_acc": 0.5, "train_acc": 0.5, "train_loss": 1.5}
    table = comparison("mlp", mlp_metrics(mine=mine))
    assert "mine: test acc 0.500, train loss 1.500" in table
    assert "| in the book's band | yes |" in table  # scratch and concise only
    alone = {"mine": mine, "flags": mlp_metrics()["flags"]}
    assert "| in the book's band | — |" in comparison("mlp", alone)


class Parsed(Exception):
    """Stops a script right after its flags are parsed, carrying them."""


@pytest.mark.parametrize("name", [name for name, ref in BOOK.items() if ref.flags])
def test_the_books_configuration_is_the_scripts_defaults(name, monkeypatch):
    def parse_only(p, argv=None):
        raise Parsed(vars(p.parse_args([])))

    monkeypatch.setattr(common, "start", parse_only)
    with pytest.raises(Parsed) as parsed:
        common.run_script(name, [])
    defaults = parsed.value.args[0]
    assert {k: defaults[k] for k in BOOK[name].flags} == BOOK[name].flags


@pytest.fixture
def notebook(monkeypatch, tmp_path):
    monkeypatch.setattr(common, "in_notebook", lambda: True)
    monkeypatch.delenv(common.NOTEBOOK_ARGS, raising=False)
    p = common.parser("mlp", epochs=10, lr=0.1)
    return p, ["--out", str(tmp_path / "out"), "--compilation-cache", "off"]


def test_help_in_a_notebook_prints_the_flags_and_goes_on(notebook, capsys):
    p, argv = notebook
    args, results = common.start(p, ["--help", *argv, "--epochs", "3"])
    assert "--epochs EPOCHS" in capsys.readouterr().out
    assert args.epochs == 3 and results.flags["epochs"] == 3
    assert "out" not in results.flags and "compilation_cache" not in results.flags


def test_a_bad_flag_in_a_notebook_raises_an_input_error_naming_it(notebook):
    p, argv = notebook
    with pytest.raises(common.errors.InputError, match="argument --epochs: expected an integer"):
        common.start(p, [*argv, "--epochs", "0"])
    with pytest.raises(common.errors.InputError, match="unrecognized arguments: --epohcs"):
        common.start(p, [*argv, "--epohcs", "3"])


def test_a_bad_flag_on_the_command_line_still_exits_with_status_2(tmp_path, capsys):
    p = common.parser("mlp", epochs=10)
    with pytest.raises(SystemExit) as exited:
        common.start(p, ["--epochs", "0", "--out", str(tmp_path)])
    assert exited.value.code == 2 and "--epochs" in capsys.readouterr().err
    assert isinstance(p, argparse.ArgumentParser)


def test_the_notebooks_show_the_librarys_code_without_its_documentation():
    from jaxdl.initializers import xavier_std

    assert common.book_source(common.positive_int) == (
        "def positive_int(text: str) -> int:\n"
        '    """argparse type: an integer >= 1."""\n'
        "    value = int(text)\n"
        "    if value < 1:\n"
        '        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")\n'
        "    return value\n"
    )
    # A docstring of several paragraphs and doctests: its first sentence, on one line.
    shown = common.book_source(xavier_std).splitlines()
    assert shown[1] == (
        '    """The standard deviation of Xavier initialization, '
        '``σ = √(2 / (fan_in + fan_out))``."""'
    )
    assert shown[2:] == [
        "    fan_in, fan_out = _fans(shape)",
        "    return math.sqrt(2.0 / (fan_in + fan_out))",
    ]

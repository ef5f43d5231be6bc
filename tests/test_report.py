"""A section's declared configuration and the comparison with the book: the flags, ``--help``,
``metrics.json``'s ``"flags"`` and the band check all come from the one declaration in the
section's configuration cell; a run is held to the book's bands only in the book's
configuration as the section's file declares it, and a learner's own variant is reported
beside the book's."""

import argparse

import pytest

import harness
from harness import config, section
from harness.config import Config, Declaration, Setting, configure, declared, differences
from harness.report import BY_NAME, EXPERIMENTS, band_check, comparison

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


@pytest.mark.parametrize(
    "book, flags, label",
    [
        (True, {}, "the book's configuration"),
        (True, {"quick": True, "epochs": 1, "width": 0.25}, "the book's sizes (--quick, epochs "),
        (True, {"epochs": 3}, "the book's sizes (epochs 3 vs 10)"),
        (False, {"epochs": 3, "width": 0.25}, "CPU-sized"),
    ],
)
def test_the_modern_networks_are_called_the_books_run_only_when_they_are(book, flags, label):
    """``--book`` sets the book's image sizes; with ``--quick`` or edited settings, the run is
    not the book's configuration, and the headline says how it differs."""
    declaration = declared("modern_cnns")
    metrics = {
        "config": {"book": book},
        "flags": {"quick": False, "seed": 0, **declaration.book, **flags},
        "num_params": {"alexnet": 1},
        "alexnet": {"test_acc": 0.5},
    }
    headline = BY_NAME["modern_cnns"].headline(metrics)
    assert headline.startswith(label) and headline.endswith(": alexnet: test acc 0.500")


def dropout_metrics(test_acc, seeds=None):
    variant = {"test_acc": test_acc, "train_acc": 0.85, "train_loss": 0.3}
    flags = {"seed": 0, "quick": False} | declared("dropout").book
    flags |= {} if seeds is None else {"seeds": seeds}
    return {"scratch": variant, "concise": variant | {"test_acc": 0.85}, "flags": flags}


def test_a_single_seed_within_the_seeds_spread_is_not_called_a_miss():
    """Dropout's single seeds spread by ± 0.020 over a band 0.04 wide: seed 0's 0.829 is
    within that spread (the band holds for the mean of seeds), not a failed reproduction; a
    mean over seeds, or a figure beyond twice the spread, still misses."""
    entry = BY_NAME["dropout"]
    assert band_check(entry, dropout_metrics(0.829)) == (
        "within one seed's spread (test_acc ± 0.020): test_acc 0.829 not in (0.84, 0.88); the "
        "band holds for the mean of seeds (--seeds 5)"
    )
    assert band_check(entry, dropout_metrics(0.829, seeds=5)).startswith("**no**: test_acc 0.829")
    assert band_check(entry, dropout_metrics(0.79)).startswith("**no**: test_acc 0.79 not in")
    assert band_check(entry, dropout_metrics(0.85)) == "yes"
    # A band without a measured seed spread keeps its plain verdict.
    assert band_check(BY_NAME["mlp"], mlp_metrics(test_acc=0.79)).startswith("**no**")


def test_a_learners_own_variant_is_shown_and_not_held_to_a_band():
    mine = {"test_acc": 0.5, "train_acc": 0.5, "train_loss": 1.5}
    table = comparison("mlp", mlp_metrics(mine=mine))
    assert "mine: test acc 0.500, train loss 1.500" in table
    assert "| in the book's band | yes |" in table  # scratch and concise only
    alone = {"mine": mine, "flags": mlp_metrics()["flags"]}
    assert "| in the book's band | — |" in comparison("mlp", alone)


def test_differences_name_each_setting_with_both_values():
    book = {"epochs": 10, "num_hiddens": [256], "activation": "relu"}
    run = {"epochs": 3, "num_hiddens": [256, 128], "activation": "relu", "seed": 4}
    assert differences(book, run) == ["epochs 3 vs 10", "num_hiddens 256 128 vs 256"]


class Declared(Exception):
    """Stops a section at its start, carrying what it declared."""


@pytest.mark.parametrize("name", [entry.name for entry in EXPERIMENTS])
def test_each_section_declares_its_configuration_once_in_its_file(name, monkeypatch):
    """What a section passes to ``harness.start`` at run time is what its file declares as
    literal values (``BOOK``, and ``QUICK`` and ``CPU`` where it has them): the one source
    of its flags' defaults and of the configuration its comparison holds runs to; every
    section with bands in the reference declares the settings they hold for."""

    def declared_at_run_time(name, book, *, quick=None, cpu=None, **_):
        raise Declared(Declaration(name, book, quick or {}, cpu))

    monkeypatch.setattr(harness, "start", declared_at_run_time)  # first: its lazy name loads
    monkeypatch.setattr(section, "start", declared_at_run_time)
    with pytest.raises(Declared) as stopped:
        section.run_script(name, [])
    at_run_time, in_file = stopped.value.args[0], declared(name)
    assert (at_run_time.book, at_run_time.quick, at_run_time.cpu) == (
        in_file.book,
        in_file.quick,
        in_file.cpu,
    )


def test_the_comparison_reads_the_declaration_from_the_file_not_the_edited_cell(tmp_path):
    (tmp_path / "mine.py").write_text(
        "# %% [markdown]\n# # Mine\n\n# %%\nBOOK = dict(epochs=10, lr=0.1, sizes=[1, 2])\n"
        "QUICK = {'epochs': 1}\nBOOK = dict(epochs=3)  # a learner's later edit is not BOOK's\n"
    )
    got = declared("mine", tmp_path)
    assert got.book == {"epochs": 10, "lr": 0.1, "sizes": [1, 2]} and got.quick == {"epochs": 1}
    (tmp_path / "bad.py").write_text("BOOK = dict(epochs=EPOCHS)\n")
    with pytest.raises(ValueError, match=r"bad\.py: BOOK: expected literal values"):
        declared("bad", tmp_path)


def declaration(**settings):
    return Declaration(
        "mine",
        {"epochs": 10, "lr": 0.1, "hidden": [256], "act": "relu", "synthetic": False},
        quick={"epochs": 1, "train_size": 100},
        cpu={"epochs": 3},
        settings={"act": Setting(choices=["relu", "tanh"])} | settings,
    )


def parse(d: Declaration, argv: list[str]) -> Config:
    p = d.parser("Mine")
    config.add_run_options(p, "mine", data_dir=None, training=False, sized=d.cpu is not None)
    return configure(d, p.parse_args(argv))


def test_flags_come_from_the_declaration_with_its_defaults():
    d = declaration()
    cpu = parse(d, [])
    assert cpu.settings == {
        "epochs": 3,
        "lr": 0.1,
        "hidden": [256],
        "act": "relu",
        "synthetic": False,
        "train_size": None,
    }
    assert not cpu.book and cpu.epochs == 3 and cpu.hidden == [256]
    book = parse(d, ["--book"])
    assert book.book and book.epochs == 10
    quick = parse(d, ["--quick", "--book"])
    assert quick.epochs == 1 and quick.train_size == 100 and quick.quick
    given = parse(d, ["--quick", "--epochs", "7", "--hidden", "64", "32", "--act", "tanh"])
    assert (given.epochs, given.hidden, given.act, given.train_size) == (7, [64, 32], "tanh", 100)
    assert parse(d, ["--synthetic"]).synthetic is True
    assert given.flags == given.settings | {"seed": 0, "quick": True}
    with pytest.raises(AttributeError, match="the configuration has no setting 'epoch'"):
        _ = given.epoch


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epochs", "0"], "argument --epochs: expected an integer >= 1, got 0"),
        (["--lr", "-1"], "argument --lr: expected a number > 0"),
        (["--act", "gelu"], "argument --act: invalid choice: 'gelu'"),
        (["--hidden", "0"], "argument --hidden: expected an integer >= 1, got 0"),
    ],
)
def test_a_bad_value_is_refused_naming_the_flag(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        parse(declaration(), argv)
    assert exited.value.code == 2 and message in capsys.readouterr().err


def test_a_setting_without_a_type_to_read_is_refused_when_declared():
    with pytest.raises(TypeError, match="setting 'table': declare its type"):
        Declaration("mine", {"table": {"a": 1}}).parser(None)
    with pytest.raises(TypeError, match=r"quick: \['epoch'\] are not settings"):
        Declaration("mine", {"epochs": 10}, quick={"epoch": 1})
    with pytest.raises(TypeError, match=r"BOOK: \['devices'\] name how a run goes"):
        Declaration("mine", {"devices": "all"})


def test_help_lists_each_setting_with_the_books_value(capsys):
    with pytest.raises(SystemExit):
        parse(declaration(), ["--help"])
    shown = capsys.readouterr().out
    assert "--epochs EPOCHS" in shown and "training epochs (book: 10)" in shown
    assert "--hidden HIDDEN [HIDDEN ...]" in shown and "(book: 256)" in shown
    assert "--train-size TRAIN_SIZE" in shown and "training examples (book: all)" in shown


@pytest.fixture
def notebook(monkeypatch, tmp_path):
    monkeypatch.setattr(section, "in_notebook", lambda: True)
    monkeypatch.setenv(section.NOTEBOOK_ARGS, f"--out {tmp_path / 'out'} --compilation-cache off")
    return monkeypatch


def test_help_in_a_notebook_prints_the_flags_and_goes_on(notebook, capsys, tmp_path):
    notebook.setenv(
        section.NOTEBOOK_ARGS, f"--help --out {tmp_path} --compilation-cache off --epochs 3"
    )
    config, results = section.start("mlp", {"epochs": 10, "lr": 0.1})
    shown = capsys.readouterr().out
    assert "--epochs EPOCHS" in shown
    assert "mlp: epochs 3, lr 0.1 (not the book's: epochs 3 vs 10)" in shown
    assert config.epochs == 3 and results.config.flags["epochs"] == 3
    assert "out" not in config.flags and "compilation_cache" not in config.flags


def test_a_bad_flag_in_a_notebook_raises_an_input_error_naming_it(notebook, tmp_path):
    for flags, message in (
        ("--epochs 0", "argument --epochs: expected an integer"),
        ("--epohcs 3", "unrecognized arguments: --epohcs"),
    ):
        notebook.setenv(section.NOTEBOOK_ARGS, f"--out {tmp_path} {flags}")
        with pytest.raises(section.errors.InputError, match=message):
            section.start("mlp", {"epochs": 10})


def test_a_bad_flag_on_the_command_line_still_exits_with_status_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.argv", ["mlp.py", "--epochs", "0", "--out", str(tmp_path)])
    with pytest.raises(SystemExit) as exited:
        section.start("mlp", {"epochs": 10})
    assert exited.value.code == 2 and "--epochs" in capsys.readouterr().err
    assert isinstance(declaration().parser(None), argparse.ArgumentParser)


def test_the_notebooks_show_the_librarys_code_without_its_documentation():
    from jaxdl.initializers import xavier_std

    assert section.book_source(config.positive_int) == (
        "def positive_int(text: str) -> int:\n"
        '    """argparse type: an integer >= 1."""\n'
        "    value = int(text)\n"
        "    if value < 1:\n"
        '        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")\n'
        "    return value\n"
    )
    # A docstring of several paragraphs and doctests: its first sentence, on one line.
    shown = section.book_source(xavier_std).splitlines()
    assert shown[1] == (
        '    """The standard deviation of Xavier initialization, '
        '``σ = √(2 / (fan_in + fan_out))``."""'
    )
    assert shown[2:] == [
        "    fan_in, fan_out = _fans(shape)",
        "    return math.sqrt(2.0 / (fan_in + fan_out))",
    ]

"""The per-epoch progress: ``on_epoch`` of ``train`` (from inside the compiled program, under
``jax.vmap`` too) and of ``fit``, and the ``ProgressBoard`` that draws or prints it. The values a
callback sees are checked against the run's own history; the results with a callback are the
results without one, bit for bit."""

import io

import jax
import numpy as np
import pytest

from jaxdl.engine import estimate_epoch_seconds, fit, train
from jaxdl.engine.progress import ProgressBoard
from jaxdl.errors import InputError
from jaxdl.models.linear import linear_regression
from jaxdl.optim import sgd

from references import absolute, half_squared


def run(data, on_epoch=None, key=None, epochs=3, driver=train, quiet=False):
    return driver(
        linear_regression(),
        half_squared,
        sgd(0.03),
        data,
        epochs=epochs,
        batch_size=10,
        key=jax.random.key(3) if key is None else key,
        eval_data={"test": data},
        metrics={"abs": absolute},
        on_epoch=on_epoch,
        **({"quiet": quiet} if driver is fit else {}),
    )


def test_train_reports_each_epoch_from_inside_the_program(regression_data):
    calls = []
    reported = jax.jit(lambda: run(regression_data, lambda e, r: calls.append((e, r))))()
    plain = jax.jit(lambda: run(regression_data))()
    jax.tree.map(np.testing.assert_array_equal, reported.state, plain.state)
    jax.tree.map(np.testing.assert_array_equal, reported.history, plain.history)
    assert [int(e) for e, _ in calls] == [1, 2, 3]
    for e, record in calls:
        assert set(record) == set(plain.history)
        for name, value in record.items():
            np.testing.assert_array_equal(value, plain.history[name][int(e) - 1], err_msg=name)


def test_quiet_fit_still_calls_the_callers_on_epoch(regression_data, capsys):
    calls = []
    run(regression_data, lambda *call: calls.append(call), epochs=2, driver=fit, quiet=True)
    calls = [(e, record["train_loss"]) for e, record in calls]
    assert [e for e, _ in calls] == [1, 2] and calls[1][1] < calls[0][1]
    assert capsys.readouterr() == ("", "")


def test_vmapped_train_reports_each_model_in_order(regression_data):
    """Under jax.vmap the callback runs once per model and epoch, the models in their order:
    the board files each call under its model, and its histories are each model's rows."""
    keys = jax.random.split(jax.random.key(0), 3)
    board = ProgressBoard(3, models=["a", "b", "c"], notebook=False, out=io.StringIO())
    result = jax.jit(jax.vmap(lambda k: run(regression_data, board, key=k)))(keys)
    assert not np.array_equal(result.history["train_loss"][0], result.history["train_loss"][1])
    for i, name in enumerate("abc"):
        for series in ("train_loss", "test_loss", "test_abs"):
            np.testing.assert_array_equal(
                np.float32(board.histories[name][series]), result.history[series][i]
            )
    lines = board.out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == [
        f"{m} epoch {e}/3" for e in (1, 2, 3) for m in "abc"
    ]


@pytest.mark.parametrize("driver", [train, fit])
def test_a_batch_of_keys_reports_each_model_under_its_name(regression_data, driver):
    """The class of problem: a callback that holds several models' values in one call (a batch
    of keys), not one call per model (jax.vmap). The board files each row under its model."""
    keys = jax.random.split(jax.random.key(0), 3)
    board = ProgressBoard(3, models=["a", "b", "c"], notebook=False, out=io.StringIO())
    result = run(regression_data, board, key=keys, driver=driver, quiet=True)
    for i, name in enumerate("abc"):
        for series in ("train_loss", "test_loss", "test_abs"):
            np.testing.assert_array_equal(
                np.float32(board.histories[name][series]), result.history[series][i]
            )
    lines = board.out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == [
        f"{m} epoch {e}/3" for e in (1, 2, 3) for m in "abc"
    ]
    with pytest.raises(InputError, match=r"^models: expected one name per model of the batch, "):
        ProgressBoard(3, models=["a", "b"], notebook=False)(1, {"train_loss": [1.0, 2.0, 3.0]})


def test_a_resumed_fit_shows_the_restored_epochs_first(regression_data, tmp_path):
    """After a resume, the board's curves go on from the restored epochs (not from epoch 1)."""
    folder = tmp_path / "checkpoints"
    first = fit_with_checkpoints(regression_data, folder, epochs=2)
    board = ProgressBoard(4, notebook=False, out=io.StringIO())
    resumed = fit_with_checkpoints(regression_data, folder, epochs=4, on_epoch=board)
    assert [line.split(":")[0] for line in board.out.getvalue().splitlines()] == [
        f"training epoch {e}/4" for e in (1, 2, 3, 4)
    ]
    np.testing.assert_array_equal(
        np.float32(board.histories["training"]["train_loss"]), resumed.history["train_loss"]
    )
    np.testing.assert_array_equal(resumed.history["train_loss"][:2], first.history["train_loss"])
    gap = ProgressBoard(4, notebook=False, out=io.StringIO())  # a board fed epoch 3 alone
    gap(3, {"train_loss": 1.0})
    assert np.isnan(gap.histories["training"]["train_loss"][:2]).all()
    assert gap.histories["training"]["train_loss"][2] == 1.0


def fit_with_checkpoints(data, folder, *, epochs, on_epoch=None):
    return fit(
        linear_regression(),
        half_squared,
        sgd(0.03),
        data,
        epochs=epochs,
        batch_size=10,
        key=jax.random.key(3),
        quiet=True,
        on_epoch=on_epoch,
        checkpoint_dir=folder,
        config={"epochs": epochs},
    )


def test_an_epochs_seconds_leave_out_compilation(regression_data, tmp_path, monkeypatch):
    """The class of problem: a wall time that counts compiling as training (the first epoch of
    a process, a resumed run's first epoch too). A clock that jumps by an hour whenever JAX
    lowers a program: every epoch's seconds stay under it."""
    from jaxdl.engine import drivers

    clock = {"now": 0.0, "on": True}

    def jump(event, duration, **kwargs):
        if clock["on"] and event == "/jax/core/compile/jaxpr_to_mlir_module_duration":
            clock["now"] += 3600.0

    jax.monitoring.register_event_duration_secs_listener(jump)
    monkeypatch.setattr(drivers, "time", type("Clock", (), {"perf_counter": lambda: clock["now"]}))
    try:
        folder = tmp_path / "checkpoints"
        fit_with_checkpoints(regression_data, folder, epochs=2)
        seconds = fit_with_checkpoints(regression_data, folder, epochs=3).history["seconds"]
    finally:
        clock["on"] = False
    assert clock["now"] >= 2 * 3600  # the fake clock saw both processes' compilations
    assert (seconds < 3600).all(), seconds


def test_fit_calls_on_epoch_in_place_of_the_bar(regression_data, capsys):
    calls = []
    fitted = run(regression_data, lambda e, r: calls.append((e, r)), driver=fit)
    plain = jax.jit(lambda: run(regression_data))()
    jax.tree.map(np.testing.assert_array_equal, fitted.state, plain.state)
    assert [e for e, _ in calls] == [1, 2, 3]
    for e, record in calls:
        assert record["seconds"] > 0
        np.testing.assert_array_equal(record["train_loss"], plain.history["train_loss"][e - 1])
    assert capsys.readouterr().err == ""  # no progress bar beside the callback


def test_board_prints_a_line_per_epoch_with_the_mean_of_several_seeds():
    out = io.StringIO()
    board = ProgressBoard(10, runs=["scratch", "concise"], notebook=False, out=out)
    board.run("concise")(1, {"test_acc": np.array([0.5, 0.7]), "train_loss": np.float32(2)})
    board.run("scratch")(1, {"train_loss": 1.0, "seconds": 0.5})
    assert out.getvalue().splitlines() == [
        "concise epoch 1/10: train_loss 2, test_acc 0.6",  # the training loss first, as the book
        "scratch epoch 1/10: train_loss 1, 0.50 s",
    ]
    assert board.histories == {
        "scratch": {"train_loss": [1.0]},
        "concise": {"test_acc": [pytest.approx(0.6)], "train_loss": [2.0]},
    }


def test_board_draws_one_display_updated_in_place(monkeypatch):
    """In a notebook the first epoch makes the display and each later one updates it."""
    import IPython.display

    shown = []

    class Handle:
        def update(self, image):
            shown.append(("update", image))

    def display(image, display_id):
        shown.append(("display", image))
        return Handle()

    monkeypatch.setattr(IPython.display, "display", display)
    drawn = []
    board = ProgressBoard(3, notebook=True, draw=lambda h, e: drawn.append(h) or new_figure())
    for e in (1, 2, 3):
        board(e, {"train_loss": 1.0 / e})
    assert [kind for kind, _ in shown] == ["display", "update", "update"]
    assert all(isinstance(image, IPython.display.Image) for _, image in shown)
    assert drawn[-1] == {"training": {"train_loss": [1.0, 0.5, 1 / 3]}}


def new_figure():
    from jaxdl.plotting import new_figure

    return new_figure((2.0, 2.0))[0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0}, "epochs"),
        ({"epochs": 2, "runs": []}, "runs: expected at least one run name"),
        ({"epochs": 2, "runs": ["a", "b"], "models": ["x"]}, "models: expected the names"),
        ({"epochs": 2, "models": []}, "models: expected the names"),
    ],
)
def test_board_refuses_bad_input(kwargs, message):
    with pytest.raises(InputError, match=message):
        ProgressBoard(**kwargs)


def test_board_refuses_an_unknown_run():
    with pytest.raises(InputError, match="name: expected one of the board's runs"):
        ProgressBoard(2, runs=["scratch"]).run("mine")


def test_board_lines_reach_a_file_or_pipe_as_each_epoch_ends():
    """Progress held back in a buffer: printed into a pipe or file (``| tee``, ``nohup``), the
    board's lines came all at once when the run ended, hours of silence on a long run. Each
    line is flushed as its epoch ends."""

    class Pipe(io.StringIO):
        def __init__(self):
            super().__init__()
            self.flushed = []

        def flush(self):
            self.flushed.append(self.getvalue())

    out = Pipe()
    board = ProgressBoard(2, notebook=False, out=out)
    board(1, {"train_loss": 0.5, "seconds": 0.25})
    assert out.flushed[-1] == "training epoch 1/2: train_loss 0.5, 0.25 s\n"


def tiny_classifiers(seed: int = 0):
    """Fashion-MNIST-shaped data (64 training, 16 test images) and two softmax regressions."""
    import optax

    from jaxdl.models.softmax import concise_softmax_regression, softmax_regression

    from harness import classifiers

    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (80, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 80).astype(np.int32)
    data = classifiers.ClassifierData.of((images[:64], labels[:64]), (images[64:], labels[64:]))
    loss = optax.softmax_cross_entropy_with_integer_labels
    variants = {
        name: (model, loss, optax.sgd(0.1))
        for name, model in (("a", softmax_regression()), ("b", concise_softmax_regression()))
    }
    return variants, data


def test_a_gpu_sized_run_on_a_cpu_says_so_and_how_long_before_it_trains(monkeypatch, capsys):
    """A run hours long that says nothing before its first epoch: the book's configuration of
    a section sized for a GPU (``modern_cnns.py --book``), on a CPU, first says in one line
    that it is a GPU's, how long an epoch of each network takes here (its first minibatch
    timed; here on a fake clock: 30 s and 45 s a minibatch, 2 minibatches an epoch) and the
    whole run, and how to run quicker."""
    import functools

    from harness import classifiers
    from harness.config import Config

    ticks = iter([0.0, 30.0, 100.0, 145.0])  # each variant's short epoch: begin, end
    fake = functools.partial(estimate_epoch_seconds, clock=lambda: next(ticks))
    monkeypatch.setattr(classifiers, "estimate_epoch_seconds", fake)
    variants, data = tiny_classifiers()
    classifiers.train(variants, data, Config({"epochs": 2, "batch_size": 32}, gpu_sized=True))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "warning: the book's configuration (--book) is sized for a GPU; on this CPU an epoch "
        "takes about 60 s (a), 2 min (b); 2 epochs: about 5 min in all (--quick: a "
        "seconds-long run; without --book: the CPU-sized one)"
    )
    assert lines[1].startswith("a epoch 1/2: ")  # then the epochs, one line each
    assert next(ticks, None) is None  # each variant timed once


def test_an_epochs_estimate_changes_nothing_of_the_run(regression_data):
    """The estimate runs a short epoch beside the run (its first minibatch; here 2 of the 11
    minibatches, timed on a fake clock at 3 s): the run that follows has the keys, state,
    history and record it has without the estimate, bit for bit."""
    plain = run(regression_data, driver=fit, quiet=True)
    ticks = iter([5.0, 8.0])
    seconds = estimate_epoch_seconds(
        linear_regression(),
        half_squared,
        sgd(0.03),
        regression_data,
        batch_size=10,
        key=jax.random.key(3),
        eval_data={"test": regression_data},
        metrics={"abs": absolute},
        steps=2,
        clock=lambda: next(ticks),
    )
    assert seconds == 3.0 * 11 / 2
    after = run(regression_data, driver=fit, quiet=True)
    jax.tree.map(np.testing.assert_array_equal, after.state, plain.state)
    for k, v in plain.history.items():
        if k != "seconds":
            np.testing.assert_array_equal(after.history[k], v, err_msg=k)
    assert after.run == plain.run


def test_only_the_books_run_of_a_cpu_sized_section_is_a_gpus():
    """``--book`` in a section that runs CPU-sized by default is a GPU's configuration, not
    its default nor ``--book --quick``, nor any run of a section without a CPU-sized run."""
    import argparse

    from harness.config import Declaration, configure

    sized = Declaration("modern_cnns", {"epochs": 10}, {"epochs": 1}, cpu={"epochs": 3})
    plain = Declaration("lenet", {"epochs": 10}, {"epochs": 1})

    def gpu_sized(declaration, **flags):
        args = argparse.Namespace(**{"epochs": None, "quick": False, "seed": 0, **flags})
        return configure(declaration, args).gpu_sized

    assert gpu_sized(sized, book=True)
    assert not gpu_sized(sized, book=False)
    assert not gpu_sized(sized, book=True, quick=True)
    assert not gpu_sized(plain) and not gpu_sized(plain, quick=True)

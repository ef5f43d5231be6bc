"""The plot helpers, the classifier figures, atomic PNG and JSON writing, and Outputs."""

import errno
import io
import json
import math
import os
import stat
import subprocess
import sys

import matplotlib
import matplotlib.image
import numpy as np
import pytest
from matplotlib.figure import Figure

from jaxdl.plotting import (
    classifier_curves,
    figure_png,
    loss_panels,
    new_figure,
    plot,
    predictions_figure,
    save_figure,
)
from jaxdl.results import Outputs, to_plain, write_bytes, write_json, write_text

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_plot_several_series_share_x():
    x = np.arange(0, 3, 0.1)
    fig = plot(x, [x**2, 2 * x - 3], "x", "f(x)", legend=["f(x)", "tangent"], xlim=(0, 3))
    ax = fig.axes[0]
    assert isinstance(fig, Figure)
    assert [line.get_linestyle() for line in ax.lines] == ["-", "--"]  # fmts '-', 'm--'
    np.testing.assert_allclose(ax.lines[1].get_ydata(), 2 * x - 3)
    np.testing.assert_allclose(ax.lines[0].get_xdata(), x)
    assert ax.get_xlabel() == "x" and ax.get_ylabel() == "f(x)"
    assert ax.get_xlim() == (0.0, 3.0)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["f(x)", "tangent"]


def test_plot_y_only_uses_the_index_and_log_scale():
    fig = plot([1.0, 10.0, 100.0], yscale="log")
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [0, 1, 2])
    assert ax.get_yscale() == "log"


def test_plot_into_given_axes():
    fig, axes = new_figure((6, 2), ncols=2)
    assert plot([1, 2], [3, 4], axes=axes[1]) is fig
    assert len(axes[1].lines) == 1 and len(axes[0].lines) == 0


def test_plot_is_headless():
    plot([0, 1], [0, 1])
    assert matplotlib.get_backend().lower() == "agg" or "MPLBACKEND" in os.environ


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"X": [[0, 1], [0, 1]], "Y": [[1, 2], [1, 2], [3, 4]]},
            "expected one X or as many X as Y",
        ),
        ({"X": [0, 1], "Y": [1, 2], "legend": ["a", "b"]}, "legend: expected 1 names"),
        ({"X": [0, 1], "Y": [1, 2], "fmts": ()}, "fmts: expected at least one format string"),
    ],
)
def test_plot_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot(**kwargs)


def test_save_figure_writes_a_png_atomically(tmp_path):
    path = save_figure(plot([0, 1], [1, 0]), tmp_path / "sub" / "f.png")
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert [p.name for p in path.parent.iterdir()] == ["f.png"]  # no temporary left behind


def test_save_figure_refuses_other_suffixes(tmp_path):
    with pytest.raises(ValueError, match=r"path: expected a file name ending in .png, got .*f.jpg"):
        save_figure(plot([0, 1]), tmp_path / "f.jpg")


def test_write_json_converts_arrays(tmp_path):
    import jax.numpy as jnp

    path = write_json(
        tmp_path / "m.json", {"w": jnp.array([1.0, 2.5]), "n": np.int64(3), "t": (1, 2)}
    )
    assert json.loads(path.read_text()) == {"w": [1.0, 2.5], "n": 3, "t": [1, 2]}


def test_write_json_refuses_nan_and_keeps_the_old_file(tmp_path):
    path = write_text(tmp_path / "m.json", "old")
    with pytest.raises(ValueError, match="value: expected a finite number, got nan"):
        write_json(path, {"loss": float("nan")})
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_a_full_disk_names_the_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    """A full disk (ENOSPC) is reported by the write that hits it, naming no file, so the
    command line could not say where: the error names the file, the old one stays whole and
    no temporary file is left."""
    path = write_text(tmp_path / "m.json", "old")

    class FullDisk(io.BytesIO):
        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    def fdopen(fd, mode):
        os.close(fd)
        return FullDisk()

    monkeypatch.setattr(os, "fdopen", fdopen)
    with pytest.raises(OSError) as error:
        write_text(path, "new")
    assert (error.value.errno, error.value.filename) == (errno.ENOSPC, str(path))
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_to_plain_nested():
    assert to_plain({"a": [np.float32(0.5), {"b": np.array(2)}]}) == {"a": [0.5, {"b": 2}]}


def test_loss_panels_one_panel_per_run():
    curves = {"a": ([4.0, 2.0, 1.0], [5.0, 3.0, 2.0]), "b": ([1.0], [2.0]), "c": ([3.0], [1.0])}
    fig = loss_panels(curves, ncols=2)
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in titled] == ["a", "b", "c"]
    np.testing.assert_allclose(titled[0].lines[1].get_ydata(), [5.0, 3.0, 2.0])
    np.testing.assert_allclose(titled[0].lines[0].get_xdata(), [1, 2, 3])
    assert titled[0].get_yscale() == "log"
    assert len(fig.axes) == 4  # a 2 x 2 grid for three runs


def test_loss_panels_needs_a_run():
    with pytest.raises(ValueError, match="curves: expected at least one run, got none"):
        loss_panels({}, ncols=2)


# ---------------------------------------------------------------------------- legends


def test_legend_names_the_artist_that_carries_the_label():
    x = np.arange(5.0)
    _, ax = new_figure()
    ax.axvline(2.0, color="k")  # an unlabelled artist drawn first
    plot(x, [x**2, 10 - x], legend=["square", "falling"], axes=ax)
    handles, labels = ax.get_legend_handles_labels()
    assert labels == ["square", "falling"]
    np.testing.assert_allclose(handles[0].get_ydata(), x**2)
    np.testing.assert_allclose(handles[1].get_ydata(), 10 - x)
    assert handles[0] is ax.lines[1] and handles[1] is ax.lines[2]  # not the vertical line
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["square", "falling"]
    assert [h.get_linestyle() for h in legend.legend_handles] == ["-", "--"]
    assert legend.legend_handles[1].get_color() == "m"  # fmt 'm--' of the second series


def test_legend_keeps_labelled_artists_added_before_the_plot():
    x = np.arange(4.0)
    _, ax = new_figure()
    ax.axvline(1.5, color="k", label="best epoch")
    plot(x, [x, -x], legend=["train", "test"], axes=ax)
    handles, labels = ax.get_legend_handles_labels()
    assert labels == ["best epoch", "train", "test"]
    np.testing.assert_allclose(handles[0].get_xdata(), [1.5, 1.5])
    np.testing.assert_allclose(handles[2].get_ydata(), -x)


def test_no_legend_unless_asked():
    fig = plot(np.arange(3.0), [np.ones(3), np.zeros(3)])
    assert fig.axes[0].get_legend() is None
    assert fig.axes[0].get_legend_handles_labels() == ([], [])


# ---------------------------------------------------------------------------- classifier figures


def _history(offset):
    return {
        "train_loss": [1.0 + offset, 0.6, 0.4],
        "train_acc": [0.5, 0.7, 0.8 + offset],
        "test_acc": [0.45, 0.65, 0.75],
    }


def test_classifier_curves_one_panel_per_model_with_three_labelled_lines():
    histories = {"scratch": _history(0.0), "concise": _history(0.05)}
    fig = classifier_curves(histories)
    assert [ax.get_title() for ax in fig.axes] == ["scratch", "concise"]
    for ax, h in zip(fig.axes, histories.values(), strict=True):
        handles, labels = ax.get_legend_handles_labels()
        assert labels == ["train loss", "train acc", "test acc"]
        assert len(ax.lines) == 3
        for handle, key in zip(handles, ("train_loss", "train_acc", "test_acc"), strict=True):
            np.testing.assert_allclose(handle.get_xdata(), [1, 2, 3])
            np.testing.assert_allclose(handle.get_ydata(), h[key])
        assert ax.get_xlabel() == "epoch"
        assert ax.get_xlim() == (1.0, 3.0)


def test_classifier_curves_one_epoch_keeps_a_visible_x_range():
    h = {"train_loss": [0.9], "train_acc": [0.6], "test_acc": [0.55]}
    ax = classifier_curves({"m": h}).axes[0]
    assert ax.get_xlim() == (1.0, 2.0)


def test_classifier_curves_refuses_a_missing_key():
    bad = _history(0.0)
    del bad["test_acc"]
    with pytest.raises(ValueError) as info:
        classifier_curves({"scratch": _history(0.0), "concise": bad})
    assert str(info.value) == (
        "histories['concise']: expected the keys ['train_loss', 'train_acc', 'test_acc'], "
        "missing ['test_acc']"
    )
    with pytest.raises(ValueError, match="histories: expected at least one model, got none"):
        classifier_curves({})


def test_predictions_figure_titles_and_rows():
    images = np.arange(3 * 4 * 4, dtype=np.float32).reshape(3, 4, 4)
    true = ["bag", "coat", "shirt"]
    predicted = {"scratch": ["bag", "shirt", "shirt"], "concise": ["coat", "coat", "dress"]}
    fig = predictions_figure(images, true, predicted)
    assert len(fig.axes) == 6
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [
        "bag\nbag",
        "coat\nshirt",
        "shirt\nshirt",
        "bag\ncoat",
        "coat\ncoat",
        "shirt\ndress",
    ]
    for i, ax in enumerate(fig.axes):  # each row shows the same images
        np.testing.assert_array_equal(ax.images[0].get_array(), images[i % 3])
    assert fig._suptitle.get_text() == "true / predicted label; rows: scratch, concise"


@pytest.mark.parametrize(
    ("true", "predicted", "message"),
    [
        (["a"], {"m": ["a", "b"]}, "true_labels: expected 2 labels, one per image, got 1"),
        (["a", "b"], {"m": ["a", "b"], "n": ["a"]}, "n: expected 2 labels, one per image, got 1"),
        (["a", "b"], {"m": ["a", "b", "c"]}, "m: expected 2 labels, one per image, got 3"),
        (["a", "b"], {}, "predicted: expected at least one model, got none"),
    ],
)
def test_predictions_figure_refuses_mismatched_labels(true, predicted, message):
    with pytest.raises(ValueError) as info:
        predictions_figure(np.zeros((2, 4, 4)), true, predicted)
    assert str(info.value) == message


def test_figure_png_is_a_png_of_the_figure_size():
    data = figure_png(plot([0, 1], [1, 0], figsize=(3.5, 2.5)), dpi=100)
    assert isinstance(data, bytes) and data[:8] == PNG_MAGIC
    pixels = matplotlib.image.imread(io.BytesIO(data), format="png")
    assert pixels.shape[:2] == (250, 350)  # 2.5 x 3.5 inches at 100 dpi


# ---------------------------------------------------------------------------- file modes


@pytest.fixture(params=[(0o022, 0o644), (0o077, 0o600)], ids=["umask022", "umask077"])
def umask(request):
    """Sets the process umask for one test and restores the previous one afterwards."""
    mask, expected_mode = request.param
    previous = os.umask(mask)
    try:
        yield expected_mode
    finally:
        os.umask(previous)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_written_files_get_the_umask_mode(tmp_path, umask):
    assert _mode(write_json(tmp_path / "m.json", {"a": 1})) == umask
    assert _mode(write_bytes(tmp_path / "b.bin", b"\x00\x01")) == umask
    assert _mode(write_text(tmp_path / "t.txt", "hi")) == umask
    assert _mode(save_figure(plot([0, 1]), tmp_path / "f.png")) == umask


def test_overwritten_file_gets_the_umask_mode(tmp_path, umask):
    path = tmp_path / "m.json"
    path.write_text("old")
    os.chmod(path, 0o640)
    write_json(path, {"a": 1})
    assert _mode(path) == umask
    assert json.loads(path.read_text()) == {"a": 1}


def test_outputs_files_get_the_umask_mode(tmp_path, umask):
    out = Outputs(tmp_path / "run")
    out.add("a.txt", b"a")
    out.add_json("sub/m.json", {"x": 1})
    for path in out.write():
        assert _mode(path) == umask


# ---------------------------------------------------------------------------- Outputs


def test_outputs_write_nothing_before_write(tmp_path):
    folder = tmp_path / "runs" / "mlp"
    out = Outputs(folder, name="--out")
    out.add_json("metrics.json", {"loss": 0.25})
    out.add("figure.png", figure_png(plot([0, 1])))
    assert not folder.exists() and list(tmp_path.iterdir()) == []
    paths = out.write()
    assert paths == [folder / "metrics.json", folder / "figure.png"]
    assert json.loads((folder / "metrics.json").read_text()) == {"loss": 0.25}
    assert (folder / "figure.png").read_bytes()[:8] == PNG_MAGIC
    assert sorted(p.name for p in folder.iterdir()) == ["figure.png", "metrics.json"]


def test_outputs_write_nested_names_and_leave_no_staging(tmp_path):
    out = Outputs(tmp_path)
    out.add("a/b/c.txt", b"deep")
    out.add("top.txt", b"top")
    assert out.write() == [tmp_path / "a" / "b" / "c.txt", tmp_path / "top.txt"]
    assert (tmp_path / "a" / "b" / "c.txt").read_bytes() == b"deep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "top.txt"]


def test_outputs_keep_files_of_an_earlier_write(tmp_path):
    first = Outputs(tmp_path)
    first.add("old.txt", b"old")
    first.add("shared.txt", b"first")
    first.write()
    second = Outputs(tmp_path)
    second.add("shared.txt", b"second")
    second.add("new.txt", b"new")
    assert second.write() == [tmp_path / "shared.txt", tmp_path / "new.txt"]
    assert (tmp_path / "old.txt").read_bytes() == b"old"
    assert (tmp_path / "shared.txt").read_bytes() == b"second"
    assert (tmp_path / "new.txt").read_bytes() == b"new"


def test_outputs_added_again_keeps_the_last(tmp_path):
    out = Outputs(tmp_path)
    out.add("a.txt", b"1")
    out.add("a.txt", b"2")
    assert out.write() == [tmp_path / "a.txt"]
    assert (tmp_path / "a.txt").read_bytes() == b"2"


@pytest.mark.parametrize("below", ["", "sub"])
def test_outputs_on_a_file_are_refused(tmp_path, below):
    file = tmp_path / "taken"
    file.write_text("x")
    with pytest.raises(ValueError) as info:
        Outputs(file / below if below else file, name="--out")
    assert str(info.value) == f"--out: expected a folder, got the file {file}"
    assert file.read_text() == "x"


# A read-only folder is refused through the scripts, as an unprivileged user:
# tests/test_faults.py::test_out_that_cannot_be_written_is_refused_before_training.


def test_outputs_add_json_with_nan_raises_at_once(tmp_path):
    (tmp_path / "metrics.json").write_text("old")
    out = Outputs(tmp_path)
    out.add("figure.png", b"png")
    with pytest.raises(ValueError, match="value: expected a finite number, got nan"):
        out.add_json("metrics.json", {"loss": math.nan})
    with pytest.raises(ValueError, match="value: expected a finite number, got inf"):
        out.add_json("other.json", [1.0, np.float32(np.inf)])
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
    assert (tmp_path / "metrics.json").read_text() == "old"


def _dead_pid() -> int:
    """The pid of a process that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_killed_writers_staging_folder_is_removed_by_the_next_write(tmp_path):
    """A run killed (SIGKILL) while writing its results leaves `.incoming-PID-...`; the next
    write removes it, and leaves a live process's staging alone."""
    killed = tmp_path / f".incoming-{_dead_pid()}-abc"
    killed.mkdir()
    (killed / "metrics.json").write_text("{")  # half written
    live = tmp_path / f".incoming-{os.getppid()}-xyz"
    live.mkdir()
    out = Outputs(tmp_path)
    out.add_json("metrics.json", {"a": 1})
    out.write()
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "metrics.json"]

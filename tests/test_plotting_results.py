"""The plot helper, atomic PNG and JSON writing."""

import json
import os

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from jaxdl.plotting import loss_panels, new_figure, plot, save_figure
from jaxdl.results import to_plain, write_json, write_text


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
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
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

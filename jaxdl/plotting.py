"""The book's plotting helpers, headless: every function returns a matplotlib Figure.

Nothing here calls ``plt.show()``. Figures are drawn with the object-oriented API on the Agg
canvas, so the library works on machines without a display; ``save_figure`` writes a PNG
atomically (temporary name, then rename), so a figure on disk is never half-written.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from jaxdl._checks import check_int
from jaxdl.errors import InputError
from jaxdl.results import write_bytes

DEFAULT_FMTS = ("-", "m--", "g-.", "r:")


def new_figure(figsize: tuple[float, float] = (3.5, 2.5), nrows: int = 1, ncols: int = 1):
    """Creates a headless Figure and its axes.

    Args:
      figsize: width and height in inches.
      nrows: rows of subplots.
      ncols: columns of subplots.

    Returns:
      ``(figure, axes)``; ``axes`` is one Axes for a 1x1 grid, else an array of them.

    >>> fig, ax = new_figure()
    >>> type(ax).__name__
    'Axes'
    """
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=True)
    return fig, axes


def _has_one_axis(x) -> bool:
    """True when ``x`` is one series (a 1-D array or a flat list of numbers)."""
    if hasattr(x, "ndim"):
        return x.ndim == 1
    return isinstance(x, Sequence) and not isinstance(x[0], Sequence) and not hasattr(x[0], "ndim")


def plot(
    X,
    Y=None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    legend: Sequence[str] | None = None,
    xlim=None,
    ylim=None,
    xscale: str = "linear",
    yscale: str = "linear",
    fmts: Sequence[str] = DEFAULT_FMTS,
    figsize: tuple[float, float] = (3.5, 2.5),
    axes: Axes | None = None,
) -> Figure:
    """Plots one or several series, as the book's ``d2l.plot``.

    ``X`` and ``Y`` are each one series or a list of series. With ``Y`` omitted, ``X`` holds the
    values and the index is the x axis. With one ``X`` and several ``Y``, the ``X`` is shared.

    Args:
      X: x values: an array [n], or a list of them.
      Y: y values: an array [n], or a list of them; ``None`` plots ``X`` against its index.
      xlabel: label of the x axis.
      ylabel: label of the y axis.
      legend: one name per series.
      xlim: ``(left, right)`` limits of the x axis.
      ylim: ``(bottom, top)`` limits of the y axis.
      xscale: ``"linear"`` or ``"log"``.
      yscale: ``"linear"`` or ``"log"``.
      fmts: matplotlib format strings, used in turn for the series.
      figsize: width and height in inches, when a new figure is made.
      axes: draw into these axes instead of a new figure.

    Returns:
      The Figure that holds the axes.

    Raises:
      ValueError: when X and Y hold different numbers of series, or ``fmts`` is empty.

    >>> import numpy as np
    >>> x = np.arange(0.0, 3.0, 0.1)
    >>> fig = plot(x, [x**2, 2 * x - 1], "x", "f(x)", legend=["f(x)", "tangent"])
    >>> len(fig.axes[0].lines)
    2
    """
    if not fmts:
        raise InputError("fmts: expected at least one format string, got an empty sequence")
    if Y is None:
        X, Y = [[]], X
    if _has_one_axis(X):
        X = [X]
    if _has_one_axis(Y):
        Y = [Y]
    if len(X) != len(Y):
        if len(X) != 1:
            raise InputError(
                f"X and Y: expected one X or as many X as Y series, got {len(X)} X and "
                f"{len(Y)} Y series"
            )
        X = X * len(Y)
    if legend is not None and len(legend) != len(Y):
        raise InputError(f"legend: expected {len(Y)} names, one per series, got {len(legend)}")
    if axes is None:
        fig, axes = new_figure(figsize)
    else:
        fig = axes.figure
    for i, (x, y) in enumerate(zip(X, Y, strict=True)):
        fmt = fmts[i % len(fmts)]
        label = None if legend is None else legend[i]
        y = np.asarray(y)
        if len(x):
            axes.plot(np.asarray(x), y, fmt, label=label)
        else:
            axes.plot(y, fmt, label=label)
    set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend is not None)
    return fig


def loss_panels(
    curves: dict[str, tuple], ncols: int, *, panel_size: tuple[float, float] = (4.0, 3.0)
) -> Figure:
    """One panel per run, each with its training and test loss against epoch, log scale.

    Args:
      curves: ``{title: (train_losses [epochs], test_losses [epochs])}``.
      ncols: panels per row; rows follow from the number of runs.
      panel_size: width and height of one panel in inches.

    Returns:
      The Figure.

    >>> fig = loss_panels({"a": ([1.0, 0.5], [1.2, 0.9]), "b": ([2.0, 1.0], [2.5, 2.0])}, 2)
    >>> [ax.get_title() for ax in fig.axes]
    ['a', 'b']
    """
    if not curves:
        raise InputError("curves: expected at least one run, got none")
    nrows = -(-len(curves) // ncols)
    fig, axes = new_figure((panel_size[0] * ncols, panel_size[1] * nrows), nrows, ncols)
    for ax, (title, (train_curve, test_curve)) in zip(np.ravel(axes), curves.items(), strict=False):
        epochs = np.arange(1, len(train_curve) + 1)
        plot(
            epochs,
            [train_curve, test_curve],
            "epoch",
            "loss",
            legend=["train", "test"],
            yscale="log",
            axes=ax,
        )
        ax.set_title(title)
    return fig


def show_images(
    images,
    num_rows: int,
    num_cols: int,
    titles: Sequence[str] | None = None,
    scale: float = 1.5,
    cmap: str | None = None,
) -> Figure:
    """Draws images in a grid, as the book's ``show_images``; axis ticks hidden.

    Args:
      images: [n, height, width] (or [n, height, width, 3 or 4] for colour), n at most
        ``num_rows * num_cols``; NumPy or JAX arrays, or a list of images.
      num_rows: rows of the grid.
      num_cols: columns of the grid.
      titles: one title per image, or None.
      scale: inches per image.
      cmap: matplotlib colour map of 2-D images; ``None`` is matplotlib's default, as the book.

    Returns:
      The Figure, with ``num_rows * num_cols`` axes (those without an image are blank).

    Raises:
      ValueError: on a grid size below 1, ``scale <= 0``, images of the wrong rank, more
        images than cells, or titles not one per image.

    >>> fig = show_images(np.zeros((3, 28, 28), np.uint8), 1, 3, titles=["a", "b", "c"])
    >>> len(fig.axes), fig.axes[2].get_title()
    (3, 'c')
    """
    check_int(num_rows, "num_rows", low=1)
    check_int(num_cols, "num_cols", low=1)
    if not scale > 0:
        raise InputError(f"scale: expected a number > 0, got {scale!r}")
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise InputError(
            f"images: expected [n, height, width] or [n, height, width, channels], "
            f"got shape {images.shape}"
        )
    if len(images) > num_rows * num_cols:
        raise InputError(
            f"images: expected at most num_rows * num_cols = {num_rows * num_cols} images, "
            f"got {len(images)}"
        )
    if titles is not None and len(titles) != len(images):
        raise InputError(f"titles: expected {len(images)} titles, one per image, got {len(titles)}")
    fig, axes = new_figure((num_cols * scale, num_rows * scale), num_rows, num_cols)
    axes = np.asarray(axes, dtype=object).reshape(-1)
    for i, ax in enumerate(axes):
        if i >= len(images):
            ax.axis("off")
            continue
        ax.imshow(images[i], cmap=cmap)
        ax.get_xaxis().set_visible(False)
        ax.get_yaxis().set_visible(False)
        if titles is not None:
            ax.set_title(titles[i])
    return fig


def classifier_curves(
    histories: Mapping[str, Mapping[str, Sequence[float]]], epochs: int | None = None
) -> Figure:
    """One panel per model: training loss, training accuracy and test accuracy against epoch,
    as the book's ``train_ch3`` animator.

    Args:
      histories: ``{model name: {"train_loss", "train_acc", "test_acc": per-epoch values}}``;
        a model with an empty history (``{}``, not trained yet) gets an empty panel.
      epochs: the x axis' width (default: the longest history's).

    Returns:
      The Figure.

    >>> h = {"train_loss": [0.8, 0.5], "train_acc": [0.7, 0.8], "test_acc": [0.75, 0.8]}
    >>> fig = classifier_curves({"scratch": h, "concise": {}}, epochs=10)
    >>> [ax.get_title() for ax in fig.axes], [float(x) for x in fig.axes[1].get_xlim()]
    (['scratch', 'concise'], [1.0, 10.0])
    """
    if not histories:
        raise InputError("histories: expected at least one model, got none")
    keys = ("train_loss", "train_acc", "test_acc")
    if epochs is None:
        epochs = max(len(h.get("train_loss", ())) for h in histories.values())
    fig, axes = new_figure((4.0 * len(histories), 3.0), ncols=len(histories))
    for ax, (name, h) in zip(np.atleast_1d(axes), histories.items(), strict=True):
        missing = [k for k in keys if k not in h]
        if h and missing:
            raise InputError(
                f"histories[{name!r}]: expected the keys {list(keys)}, missing {missing}"
            )
        values = [np.asarray(h.get(k, ()), np.float64) for k in keys]
        plot(
            np.arange(1, len(values[0]) + 1),
            values,
            "epoch",
            legend=["train loss", "train acc", "test acc"],
            xlim=(1, max(epochs, 2)),
            axes=ax,
        )
        ax.set_title(name)
    return fig


def predictions_figure(images, true_labels: Sequence[str], predicted: Mapping[str, Sequence[str]]):
    """Images titled with their true and predicted labels, one row per model, as the book's
    ``predict_ch3``.

    Args:
      images: [n, height, width], the same n images for every row.
      true_labels: n names.
      predicted: ``{model name: n predicted names}``.

    Returns:
      The Figure; its title says which row is which model.

    >>> fig = predictions_figure(np.zeros((2, 4, 4)), ["bag", "coat"], {"a": ["bag", "shirt"]})
    >>> fig.axes[1].get_title().splitlines()
    ['coat', 'shirt']
    """
    if not predicted:
        raise InputError("predicted: expected at least one model, got none")
    images = np.asarray(images)
    for name, labels in {"true_labels": true_labels, **predicted}.items():
        if len(labels) != len(images):
            raise InputError(
                f"{name}: expected {len(images)} labels, one per image, got {len(labels)}"
            )
    titles = [
        f"{t}\n{p}"
        for labels in predicted.values()
        for t, p in zip(true_labels, labels, strict=True)
    ]
    fig = show_images(
        np.concatenate([images] * len(predicted)), len(predicted), len(images), titles=titles
    )
    fig.suptitle(f"true / predicted label; rows: {', '.join(predicted)}")
    return fig


def set_axes(axes: Axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend: bool) -> None:
    """Sets labels, limits, scales, legend and grid of ``axes``, as the book's ``set_axes``.

    Unlike the book's, ``legend`` is a switch: the legend names the artists by their own
    ``label=``, so a label cannot land on the wrong line (as it does when labels are matched
    to artists by position and an error bar adds artists of its own).
    """
    if xlabel:
        axes.set_xlabel(xlabel)
    if ylabel:
        axes.set_ylabel(ylabel)
    axes.set_xscale(xscale)
    axes.set_yscale(yscale)
    if xlim is not None:
        axes.set_xlim(xlim)
    if ylim is not None:
        axes.set_ylim(ylim)
    if legend:
        axes.legend()
    axes.grid(True)


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Writes ``fig`` as a PNG at ``path`` atomically (rendered in memory, then written through
    :func:`jaxdl.results.write_bytes`); makes the parent folder.

    Args:
      fig: the figure.
      path: destination file name, ending in ``.png``.
      dpi: resolution.

    Returns:
      The path written.

    Raises:
      ValueError: when ``path`` does not end in ``.png``.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise InputError(f"path: expected a file name ending in .png, got {str(path)!r}")
    return write_bytes(path, figure_png(fig, dpi))


def figure_png(fig: Figure, dpi: int = 120) -> bytes:
    """``fig`` rendered as PNG bytes, in memory (laid out tight).

    >>> figure_png(plot([0, 1]))[:4]
    b'\\x89PNG'
    """
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()

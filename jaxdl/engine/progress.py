"""Training progress while it happens, as the book's ``ProgressBoard`` (``Animator``).

A :class:`ProgressBoard` is the ``on_epoch`` callback of :func:`jaxdl.engine.fit` and
:func:`jaxdl.engine.train`: after every epoch it redraws the training curves in a notebook, one
figure updated in place, and prints one line in a terminal (flushed: it shows as the epoch
ends in a file or pipe too). ``train`` calls it from inside the
compiled program (``jax.debug.callback``), so even a vmapped sweep of many models reports each
epoch as it ends.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import numpy as np

from jaxdl._checks import check_int
from jaxdl.errors import InputError


def in_notebook() -> bool:
    """True when this runs in a Jupyter kernel (a notebook), where figures can be shown.

    >>> in_notebook()
    False
    """
    ipython = sys.modules.get("IPython")
    return ipython is not None and type(ipython.get_ipython()).__name__ == "ZMQInteractiveShell"


def curves(histories: dict, epochs: int):
    """The default drawing: one panel per run, every recorded series against the epoch."""
    from jaxdl.plotting import new_figure, plot

    fig, axes = new_figure((4.0 * len(histories), 3.0), ncols=len(histories))
    for ax, (name, h) in zip(np.atleast_1d(axes), histories.items(), strict=True):
        series = {k: np.asarray(v) for k, v in h.items() if k != "seconds"}
        if series:
            x = np.arange(1, len(next(iter(series.values()))) + 1)
            plot(x, list(series.values()), "epoch", legend=list(series), axes=ax)
        ax.set_xlim(1, max(epochs, 2))
        ax.set_title(name)
    return fig


def _book_order(series: str):
    """The book's order of the series: the training loss, the training metrics, the rest."""
    return (series != "train_loss", not series.startswith("train_"), series)


class ProgressBoard:
    """The training curves, redrawn after every epoch; a callback ``board(epoch, record)``.

    ``record`` is one epoch's ``{series: value}`` (``train_loss``, ``test_acc``, ``seconds``...);
    a value holding several models' (a batch of keys: seeds) counts as their mean.

    Args:
      epochs: the epochs of the run, the width of the x axis (each run's ``epochs`` when the
        board is shared by several).
      draw: ``draw(histories, epochs) -> Figure`` with ``histories`` ``{run: {series: [values
        per epoch]}}``; by default one panel per run with all its series.
      runs: the names of the runs the board will show, each fed through :meth:`run`, in the
        order of their panels (by default the board's own run, ``"training"``).
      models: the names of the models a run trains at once, in their order: under
        ``jax.vmap``, which makes one callback per model each epoch (the k-th call of an epoch
        is the k-th model's), or a batch of keys, whose one callback per epoch holds a value
        per model.
      notebook: draw (True) or print (False); by default, draw in a notebook.
      out: where the lines are printed (default standard output).

    >>> import io
    >>> out = io.StringIO()
    >>> board = ProgressBoard(2, notebook=False, out=out)
    >>> board(1, {"train_loss": 0.5, "seconds": 0.25})
    >>> board(2, {"train_loss": [0.25, 0.35], "seconds": 0.25})
    >>> print(out.getvalue().strip())
    training epoch 1/2: train_loss 0.5, 0.25 s
    training epoch 2/2: train_loss 0.3, 0.25 s
    >>> board.histories
    {'training': {'train_loss': [0.5, 0.3]}}
    """

    def __init__(
        self,
        epochs: int,
        *,
        draw: Callable | None = None,
        runs: Sequence[str] = ("training",),
        models: Sequence[str] | None = None,
        notebook: bool | None = None,
        out=None,
    ):
        check_int(epochs, "epochs", low=1)
        if not runs:
            raise InputError("runs: expected at least one run name, got none")
        if models is not None and (len(runs) != 1 or not models):
            raise InputError(
                "models: expected the names of the vmapped models of one run, got "
                f"{len(models)} models and the runs {list(runs)}"
            )
        self.epochs = epochs
        self.draw = draw or curves
        self.models = None if models is None else list(models)
        names = self.models or list(runs)
        self.histories = {name: {} for name in names}
        self.notebook = in_notebook() if notebook is None else notebook
        self.out = out
        self.figure = None  # the last drawing
        self._display = None  # the notebook's display handle, made by the first drawing
        self._calls = 0
        self._default = runs[0]

    def run(self, name: str) -> Callable:
        """The callback of the run ``name`` on this board (a variant: ``"scratch"``)."""
        if name not in self.histories:
            raise InputError(f"name: expected one of the board's runs {list(self.histories)}")
        return lambda epoch, record: self._record(name, epoch, record)

    def __call__(self, epoch, record) -> None:
        if self.models is None:
            return self._record(self._default, epoch, record)
        sizes = {np.size(v) for k, v in record.items() if k != "seconds"}
        if sizes != {1}:  # a batch of keys: one call for all its models, each a value's row
            if sizes != {len(self.models)}:
                raise InputError(
                    f"models: expected one name per model of the batch, {sorted(sizes)} models, "
                    f"got {len(self.models)} names"
                )
            for i, name in enumerate(self.models):
                row = {k: v if k == "seconds" else np.asarray(v)[i] for k, v in record.items()}
                self._record(name, epoch, row, last=i == len(self.models) - 1)
            return None
        name = self.models[self._calls % len(self.models)]
        self._calls += 1
        self._record(name, epoch, record, last=self._calls % len(self.models) == 0)

    def _record(self, name, epoch, record, *, last: bool = True) -> None:
        epoch = int(epoch)
        values = {k: float(np.mean(record[k])) for k in sorted(record, key=_book_order)}
        history = self.histories[name]
        for k, v in values.items():
            if k != "seconds":  # at its epoch: a rerun epoch replaces, a gap is NaN
                series = history.setdefault(k, [])
                series[epoch - 1 :] = [np.nan] * (epoch - 1 - len(series)) + [v]
        if not self.notebook:
            shown = [f"{k} {v:.4g}" for k, v in values.items() if k != "seconds"]
            if "seconds" in values:
                shown.append(f"{values['seconds']:.2f} s")
            line = f"{name} epoch {epoch}/{self.epochs}: {', '.join(shown)}"
            print(line, file=self.out, flush=True)  # now, not when the run ends, into a pipe
        elif last:  # a sweep draws once its last model has reported the epoch
            self.show()

    def show(self, figure=None) -> None:
        """Draws the histories so far, or shows ``figure`` (a final version), in the board's
        one display of the notebook; nothing in a terminal."""
        if not self.notebook:
            return
        from IPython.display import Image, display

        from jaxdl.plotting import figure_png

        self.figure = self.draw(self.histories, self.epochs) if figure is None else figure
        image = Image(figure_png(self.figure))
        if self._display is None:
            self._display = display(image, display_id=True)
        else:
            self._display.update(image)

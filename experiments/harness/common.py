"""What every experiment script shares: the standard flags, the results folder, and the
notebook view (figures inline, the library's source, the book's figures next to ours).

Every script is also its book section's notebook (jupytext's percent format: ``# %%`` cells):
``python experiments/NAME.py [flags]`` runs it top to bottom; opened as a notebook it runs cell
by cell, with the book's configuration (the flags' defaults, which the configuration cell can
change, or flags from ``$JAXDL_NOTEBOOK_ARGS``). Scripts import this module as ``common``
(``python experiments/NAME.py`` and the notebook's folder put it on the path).
"""

from __future__ import annotations

import argparse
import ast
import errno
import inspect
import os
import runpy
import shlex
import sys
import textwrap
import time
from pathlib import Path

import jax
import numpy as np

from jaxdl import errors
from jaxdl.compilation import cache_dir, compile_stats, default_cache_dir, is_off, use_cache
from jaxdl.engine.progress import in_notebook
from jaxdl.parallel import join_processes
from jaxdl.plotting import figure_png
from jaxdl.results import Outputs, folder_problem, to_plain

from harness import RESULTS_ROOT, SECTIONS


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def device_count(text: str) -> int | str:
    """argparse type: ``all`` or an integer >= 1."""
    return text if text == "all" else positive_int(text)


def probability(text: str) -> float:
    """argparse type: a number in [0, 1]."""
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1], got {text}")
    return value


def coordinator(text: str) -> str:
    """argparse type: ``auto``, or ``host:port`` with a port in [1, 65535]."""
    host, _, port = text.rpartition(":")
    if text != "auto" and not (host and port.isdigit() and 1 <= int(port) <= 65535):
        raise argparse.ArgumentTypeError(
            f"expected 'host:port' with a port in [1, 65535], or 'auto', got {text!r}"
        )
    return text


def positive_float(text: str) -> float:
    """argparse type: a number > 0 that float32, the training dtype, holds as a finite number
    > 0 (1e-300 rounds to 0 there, and nothing would train)."""
    value = float(text)
    with np.errstate(over="ignore"):  # too large for float32: inf, refused
        value32 = np.float32(value)
    if not 0 < value < float("inf") or not 0 < value32 < np.inf:
        raise argparse.ArgumentTypeError(
            f"expected a number > 0 that is finite and not 0 in float32 (from "
            f"{np.finfo(np.float32).smallest_subnormal:.3g} to {np.finfo(np.float32).max:.3g}), "
            f"got {text}"
        )
    return value


SEEDS = 2**32  # jax.random.key(seed) uses seed mod 2**32: larger seeds repeat smaller ones


def seed(text: str) -> int:
    """argparse type: an integer in [0, 2**32 - 1], the seeds that give distinct keys."""
    value = int(text)
    if not 0 <= value < SEEDS:
        raise argparse.ArgumentTypeError(
            f"expected an integer in [0, {SEEDS - 1}] (larger seeds give the keys of smaller "
            f"ones), got {value}"
        )
    return value


def folder(text: str) -> Path:
    """argparse type: a path that is a folder or does not exist yet (not a file, not a loop of
    symbolic links, not empty: an empty path would be the current folder)."""
    return _folder(text, writable=False)


def writable_folder(text: str) -> Path:
    """argparse type: a :func:`folder` that this process can make or write in."""
    return _folder(text, writable=True)


def _folder(text: str, *, writable: bool) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder, got an empty path")
    path = Path(text)
    problem = folder_problem(path, writable=writable)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return path


def cache_setting(text: str) -> str | Path:
    """argparse type: ``off`` (or ``0``, ``no``, ``false``, ``none``), or a folder."""
    return "off" if is_off(text) else folder(text)


def parser(
    name: str,
    *,
    epochs: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    data_dir: bool = False,
    classifiers: bool = False,
) -> argparse.ArgumentParser:
    """An ArgumentParser with the flags shared by every experiment.

    Its description is the docstring of ``experiments/NAME.py`` (read from the file: a
    notebook's working copy holds it in its last cell, not as its first statement).
    Flags whose default is None here are left out: a script without training has no --epochs.
    ``data_dir`` adds ``--data-dir`` (Fashion-MNIST); ``classifiers`` adds it and the flags of
    :func:`classifiers` (devices, processes, seeds, checkpoints).
    """
    p = argparse.ArgumentParser(
        prog=f"{name}.py",
        description=ast.get_docstring(ast.parse((SECTIONS / f"{name}.py").read_text())),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if epochs is not None:
        p.add_argument("--epochs", type=positive_int, default=epochs, help="training epochs")
    if lr is not None:
        p.add_argument("--lr", type=positive_float, default=lr, help="learning rate")
    if batch_size is not None:
        p.add_argument("--batch-size", type=positive_int, default=batch_size, help="minibatch size")
    if data_dir or classifiers:
        p.add_argument(
            "--data-dir", type=folder, default=None, help="folder of the Fashion-MNIST IDX files"
        )
    if classifiers:
        p.add_argument(
            "--devices",
            type=device_count,
            default=1,
            help="train data-parallel over N local devices, or 'all' (default 1)",
        )
        p.add_argument(
            "--coordinator",
            type=coordinator,
            default=None,
            help="multi-process: host:port of process 0 (or 'auto')",
        )
        p.add_argument("--num-processes", type=positive_int, default=None)
        p.add_argument("--process-id", type=int, default=None)
        p.add_argument(
            "--distributed-timeout",
            type=positive_float,
            default=300.0,
            metavar="SECONDS",
            help="multi-process: seconds to wait for process 0's coordinator, then for all "
            "processes to join, before stopping with an error (default 300)",
        )
        p.add_argument(
            "--seeds",
            type=positive_int,
            default=1,
            help="train the seeds SEED .. SEED+N-1 at once and report mean ± std (default 1)",
        )
        p.add_argument(
            "--checkpoint-dir",
            type=writable_folder,
            default=None,
            help="save a checkpoint per epoch in DIR/VARIANT and resume from it when present",
        )
    p.add_argument("--seed", type=seed, default=0, help="root of every random key")
    p.add_argument(
        "--out", type=folder, default=RESULTS_ROOT / name, help="folder for metrics.json and PNGs"
    )
    p.add_argument("--quick", action="store_true", help="a seconds-long run on small data")
    p.add_argument(
        "--compilation-cache",
        metavar="DIR|off",
        type=cache_setting,
        default=None,
        help="JAX's persistent compilation cache (default $JAXDL_COMPILATION_CACHE, else "
        f"{default_cache_dir()}); 'off' compiles everything afresh",
    )
    return p


# Flags that say where and how a run goes (folders, devices, processes, the cache), not what
# it computes: left out of metrics.json's "flags".
PLACEMENT_FLAGS = frozenset(
    {
        "out",
        "data_dir",
        "checkpoint_dir",
        "compilation_cache",
        "devices",
        "coordinator",
        "num_processes",
        "process_id",
        "distributed_timeout",
    }
)


class Results:
    """An experiment's results: its files, held until :func:`finish` writes them (so a run that
    fails leaves ``--out`` as it was), its seed (``--seed``), the flags it ran with (those of
    the computation: :data:`PLACEMENT_FLAGS` aside), and its clock and compilations since the
    start."""

    def __init__(self, outputs: Outputs, args: argparse.Namespace):
        self.outputs = outputs
        self.seed = args.seed
        self.flags = {k: v for k, v in vars(args).items() if k not in PLACEMENT_FLAGS}
        self.began = time.perf_counter()
        self.compiled = compile_stats()

    def timing(self) -> dict:
        """Wall seconds since the start, and what was compiled meanwhile (seconds, programs
        compiled, programs read from the persistent compilation cache)."""
        compiled = compile_stats() - self.compiled
        return {
            "seconds": time.perf_counter() - self.began,
            "compile_seconds": compiled.seconds,
            "compilations": compiled.compilations,
            "cache_hits": compiled.cache_hits,
        }


def start(p: argparse.ArgumentParser, argv=None) -> tuple[argparse.Namespace, Results]:
    """Parses the flags, checks ``--out`` before any training (a folder this process can
    write), turns on the persistent compilation cache (``--compilation-cache``), and joins the
    processes of a multi-process run (``--coordinator``), before the script uses JAX.

    In a notebook, ``--help`` prints the flags and the run goes on with the others, and a bad
    flag raises :class:`jaxdl.errors.InputError` naming it (argparse would end the kernel's
    cell with ``SystemExit``).

    Args:
      p: the script's parser.
      argv: the flags; by default the command line's, or in a notebook
        ``$JAXDL_NOTEBOOK_ARGS`` (unset: the book's configuration). In a notebook, pass them
        here: ``common.start(p, ["--epochs", "3"])``.
    """
    notebook = in_notebook()
    if argv is None and notebook:
        value = os.environ.get(NOTEBOOK_ARGS, "")
        try:
            argv = shlex.split(value)
        except ValueError as error:  # an unbalanced quote
            raise errors.InputError(
                f"${NOTEBOOK_ARGS}: cannot split {value!r} into flags ({error}); quote as in a "
                "shell, e.g. JAXDL_NOTEBOOK_ARGS='--quick --out \"my results\"'"
            ) from error
    elif argv is None:
        sys.excepthook = _short_errors
    if notebook:
        if any(a in ("-h", "--help") for a in argv):
            p.print_help()
            argv = [a for a in argv if a not in ("-h", "--help")]
        p.error = _raise_input_error  # argparse's error() exits; a notebook's cell raises
    args = p.parse_args(argv)
    try:
        outputs = Outputs(args.out, name="--out")
    except errors.InputError as error:
        p.error(str(error))
    use_cache(cache_dir(args.compilation_cache))
    if hasattr(args, "coordinator"):  # before the script's first use of JAX
        join_processes(
            args.coordinator, args.num_processes, args.process_id, timeout=args.distributed_timeout
        )
    return args, Results(outputs, args)


def _raise_input_error(message: str):
    raise errors.InputError(message)


NOTEBOOK_ARGS = "JAXDL_NOTEBOOK_ARGS"
# What a script refuses (jaxdl's refusals: a checkpoint of another run, bad data; data not
# found) or a run that diverges: on the command line these end with their message alone and
# exit status 1. Anything else, a genuine bug too, keeps its traceback.
REFUSALS = (*errors.REFUSALS, FloatingPointError, FileNotFoundError)


# Errors of the machine, not of the code: a full disk or quota, a read-only disk, a refused
# permission. One line too.
DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


def _short_errors(exc_type, exc, traceback) -> None:
    """The command line's excepthook: one line for a refusal, a diverged run, a full disk or
    Ctrl-C (status 130); a traceback for anything else."""
    name = Path(sys.argv[0]).name
    if issubclass(exc_type, KeyboardInterrupt):
        sys.stderr.write(
            f"{name}: interrupted; nothing half-written is kept (results are "
            "written whole, a checkpoint being saved is removed by the next run)\n"
        )
        sys.exit(130)
    if issubclass(exc_type, OSError) and exc.errno in DISK_ERRORS:
        where = f": {exc.filename}" if exc.filename else ""
        sys.stderr.write(f"{name}: error: {exc.strerror}{where}\n")
        sys.exit(1)
    if issubclass(exc_type, REFUSALS):
        sys.stderr.write(f"{name}: error: {exc}\n")
        sys.exit(1)
    sys.__excepthook__(exc_type, exc, traceback)


def run_script(name: str, argv: list[str], folder: Path = SECTIONS) -> dict:
    """Runs ``folder/NAME.py`` (an experiment) in this process as ``python NAME.py ARGV`` does
    (the test suite, ``run_all.py`` and ``device_check.py`` use it) and returns its
    ``metrics``."""
    saved = sys.argv
    sys.argv = [str(folder / f"{name}.py"), *argv]
    try:
        return runpy.run_path(sys.argv[0], run_name="__main__")["metrics"]
    finally:
        sys.argv = saved


def print_value(label: str, value) -> None:
    """Prints ``label`` then ``value`` on the next line, as the book's cell outputs."""
    print(f"{label}\n{value!r}")


def show(fig) -> None:
    """Shows a figure in the notebook (on the command line, figures go to ``--out`` only)."""
    if in_notebook():
        from IPython.display import Image, display

        display(Image(figure_png(fig)))


def show_source(*functions) -> None:
    """Shows the library's source of ``functions`` in the notebook, where the section uses
    them, as the book shows code (:func:`book_source`: no docstring beyond its first line);
    nothing on the command line."""
    if in_notebook():
        from IPython.display import Markdown, display

        for fn in functions:
            display(Markdown(f"```python\n{book_source(fn)}```"))


def book_source(fn) -> str:
    """The source of ``fn`` with its docstring cut to its first sentence: the code, as the book
    shows it, without the documentation and doctests that the library's pages carry."""
    lines = inspect.getsource(fn).splitlines(keepends=True)
    node = ast.parse(textwrap.dedent("".join(lines))).body[0]
    doc = ast.get_docstring(node)
    if doc is None:
        return "".join(lines)
    first = lines[node.body[0].lineno - 1]
    indent = first[: len(first) - len(first.lstrip())]
    paragraph = " ".join(doc.split("\n\n")[0].split())
    sentence = paragraph.split(". ")[0].rstrip(".") + "."
    start, end = node.body[0].lineno - 1, node.body[0].end_lineno
    return "".join([*lines[:start], f'{indent}"""{sentence}"""\n', *lines[end:]])


def compare_with_book(name: str, metrics: dict, results: Results, *, quick: bool = False) -> None:
    """Our headline figures next to the book's, and whether they lie in its bands (from the
    metrics as ``metrics.json`` will hold them: arrays as lists, and the run's flags, which
    say whether this was the book's configuration; ``quick``: hold them to no band)."""
    from harness.report import comparison

    table = comparison(name, to_plain(metrics | {"flags": results.flags}), quick=quick)
    if in_notebook():
        from IPython.display import Markdown, display

        display(Markdown(table))
    else:
        print(table)


def writes_results() -> bool:
    """True in a single-process run and in process 0 of a multi-process run: the one process
    that writes results, so processes sharing a folder do not write the same files."""
    return jax.process_index() == 0


def finish(results: Results, metrics: dict, figures: dict) -> dict:
    """Adds the run's ``"seed"`` (``--seed``, the number every key of the run comes from), its
    ``"flags"`` (``{flag: value}`` of the computation, which the report holds to the book's
    configuration) and ``"timing"`` to ``metrics``, writes ``figures`` (``{file name: Figure}``) and
    ``metrics.json`` together (process 0 only), says where, and returns the metrics."""
    metrics["seed"] = results.seed
    metrics["flags"] = results.flags
    metrics["timing"] = results.timing()
    if not writes_results():
        print(f"process {jax.process_index()}: results are written by process 0")
        return metrics
    for name, fig in figures.items():
        results.outputs.add(name, figure_png(fig))
    results.outputs.add_json("metrics.json", metrics)
    for path in results.outputs.write():
        print(f"wrote {path}")
    return metrics

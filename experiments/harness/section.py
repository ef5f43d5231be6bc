"""What every section does around the book's code: its start (the declared configuration read
with the command line's flags, the results folder checked and locked, the compilation cache
on, the processes of a multi-process run joined), the notebook view (figures inline, the library's
source, the book's figures next to ours) and its finish (``metrics.json`` and the figures
written together).

Every section is also its notebook (jupytext's percent format: ``# %%`` cells): ``python
experiments/NAME.py [flags]`` runs it top to bottom; opened as a notebook it runs cell by cell
with the configuration of its configuration cell (or flags from ``$JAXDL_NOTEBOOK_ARGS``).
"""

from __future__ import annotations

import ast
import atexit
import errno
import inspect
import os
import runpy
import shlex
import sys
import textwrap
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax

from jaxdl import errors
from jaxdl.compilation import cache_dir, compile_stats, use_cache
from jaxdl.engine.progress import in_notebook
from jaxdl.parallel import join_processes
from jaxdl.plotting import figure_png
from jaxdl.results import FolderLock, Outputs, to_plain

from harness import NOTEBOOK_ARGS, SECTIONS
from harness.config import (
    Config,
    Declaration,
    Setting,
    add_run_options,
    configure,
    declared,
    differences,
    shown,
)


class Results:
    """A section's results: its files, held until :func:`finish` writes them (so a run that
    fails leaves ``--out`` as it was), its configuration, and its clock and compilations since
    the start."""

    def __init__(self, outputs: Outputs, config: Config):
        self.outputs = outputs
        self.config = config
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


def start(
    name: str,
    book: Mapping[str, Any],
    *,
    quick: Mapping[str, Any] | None = None,
    cpu: Mapping[str, Any] | None = None,
    settings: Mapping[str, Setting] | None = None,
    data_dir: str | None = None,
    training: bool = False,
) -> tuple[Config, Results]:
    """Starts section ``name`` with the configuration its configuration cell declares: reads
    the flags (the command line's; in a notebook, ``$JAXDL_NOTEBOOK_ARGS``, by default none),
    checks ``--out`` before any training (a folder this process can write), turns on the
    persistent compilation cache and joins the processes of a multi-process run, before the
    section uses JAX; takes ``--out``'s lock until :func:`finish` has written the results
    (refused while another run writes there, or in a folder holding it, as ``run_all`` does
    ``results/``); prints the configuration.

    Args:
      name: the section (``experiments/NAME.py``).
      book: the book's settings, ``{setting: value}``: each a flag (``--batch-size``) whose
        default is the book's value.
      quick: the settings ``--quick`` changes (a seconds-long run).
      cpu: the settings of a CPU-sized run, the default of a section whose book configuration
        is a GPU's (``--book`` runs the book's).
      settings: how a setting reads as a flag where its value does not say
        (:class:`~harness.config.Setting`: a type, choices, a list's length, help).
      data_dir: the help of ``--data-dir``, for a section that loads a data set.
      training: the flags of the sections that train classifiers: ``--seeds``,
        ``--checkpoint-dir``, ``--devices`` and the multi-process ones.

    Returns:
      ``(config, out)``: the run's :class:`~harness.config.Config` and its
      :class:`Results`, for :func:`finish`.

    In a notebook, ``--help`` prints the flags and the run goes on with the others, and a bad
    flag raises :class:`jaxdl.errors.InputError` naming it (argparse would end the kernel's
    cell with ``SystemExit``).
    """
    declaration = Declaration(name, book, quick or {}, cpu, settings or {})
    p = declaration.parser(_title(name))
    add_run_options(p, name, data_dir=data_dir, training=training, sized=cpu is not None)
    notebook = in_notebook()
    if notebook:
        value = os.environ.get(NOTEBOOK_ARGS, "")
        try:
            argv = shlex.split(value)
        except ValueError as error:  # an unbalanced quote
            raise errors.InputError(
                f"${NOTEBOOK_ARGS}: cannot split {value!r} into flags ({error}); quote as in a "
                "shell, e.g. JAXDL_NOTEBOOK_ARGS='--quick --out \"my results\"'"
            ) from error
        if any(a in ("-h", "--help") for a in argv):
            p.print_help()
            argv = [a for a in argv if a not in ("-h", "--help")]
        p.error = _raise_input_error  # argparse's error() exits; a notebook's cell raises
    else:
        argv = None
        sys.excepthook = _short_errors
    args = p.parse_args(argv)
    config = configure(declaration, args)
    try:
        outputs = Outputs(config.out, name="--out")
    except errors.InputError as error:
        p.error(str(error))
    use_cache(cache_dir(config.compilation_cache))
    if training:  # before the section's first use of JAX
        join_processes(
            config.coordinator,
            config.num_processes,
            config.process_id,
            timeout=config.distributed_timeout,
        )
    _lock_results(config.out)
    if config.settings:
        differ = differences(declared(name).book, config.flags)
        kind = "the quick run" if config.quick else "not the book's: " + ", ".join(differ)
        print(
            f"{name}: {', '.join(f'{k} {shown(v)}' for k, v in config.settings.items())} "
            f"({kind if config.quick or differ else 'the book' + chr(39) + 's'})"
        )
    return config, Results(outputs, config)


# The lock on the results folder of the section this process runs, held from its start until
# its results are written. A process runs one section at a time (a script, a notebook's kernel
# that may run it again, run_all's worker, the tests): a section's start releases what an
# earlier one, stopped before it wrote, still holds; so do run_script and the process's exit.
_LOCKS: list[FolderLock] = []


def _lock_results(folder: Path) -> None:
    """Takes the lock of the results folder ``folder`` in the process that writes results
    (:class:`jaxdl.results.FolderLock`: refused while another run writes it, or a folder
    holding it, or one inside it)."""
    _release_results()
    if jax.distributed.is_initialized() and jax.process_index() != 0:
        return
    _LOCKS.append(FolderLock(folder, "--out", tidy=True))


def _release_results() -> None:
    while _LOCKS:
        _LOCKS.pop().release()


atexit.register(_release_results)


def _title(name: str) -> str:
    """The section's title: the first line of its notebook, ``# # Title``."""
    first = (SECTIONS / f"{name}.py").read_text().split("\n# # ", 1)[1]
    return first.split("\n", 1)[0]


def _raise_input_error(message: str):
    raise errors.InputError(message)


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
        sys.stderr.write(f"{name}: error: {exc.strerror}{where}{_room(exc)}\n")
        sys.exit(1)
    if issubclass(exc_type, REFUSALS):
        sys.stderr.write(f"{name}: error: {exc}\n")
        sys.exit(1)
    sys.__excepthook__(exc_type, exc, traceback)


def _room(error: OSError) -> str:
    """The fix of a full disk or quota (free space, or write on another disk); nothing for
    the other disk errors."""
    if error.errno not in (errno.ENOSPC, errno.EDQUOT):
        return ""
    there = " there" if error.filename else ""
    elsewhere = "--out, --checkpoint-dir; TMPDIR for temporary files"
    return f"; free space{there} or write on another disk ({elsewhere})"


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
        _release_results()  # a section that failed leaves its folder as it was


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

    table = comparison(name, to_plain(metrics | {"flags": results.config.flags}), quick=quick)
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
    metrics["seed"] = results.config.seed
    metrics["flags"] = results.config.flags
    metrics["timing"] = results.timing()
    if not writes_results():
        print(f"process {jax.process_index()}: results are written by process 0")
        return metrics
    for name, fig in figures.items():
        results.outputs.add(name, figure_png(fig))
    results.outputs.add_json("metrics.json", metrics)
    for path in results.outputs.write():
        print(f"wrote {path}")
    _release_results()
    return metrics


def time_machine_text(data_dir: Path | None) -> tuple[Path, dict]:
    """The Time Machine's file for a section (``--data-dir``, else the library's order), and
    whether it is the book's, printed and as the section's metrics record it: ``(path,
    {"path", "books_text", "sha1"})``. Only the book's text is held to the book's figures."""
    from jaxdl.data.time_machine import EXPECTED_SHA1, find_time_machine, sha1

    if data_dir is not None and not (data_dir / "timemachine.txt").is_file():
        raise FileNotFoundError(
            f"--data-dir: expected a folder holding timemachine.txt, got {str(data_dir)!r}"
        )
    path = find_time_machine(data_dir)
    digest = sha1(path)
    books_text = digest == EXPECTED_SHA1
    print(f"{path}:", "the book's text" if books_text else "not the book's text: not its figures")
    return path, {"path": str(path), "books_text": books_text, "sha1": digest}

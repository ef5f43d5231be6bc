"""A section's configuration, declared once, as data, in its configuration cell.

A section writes the book's settings as literal values and the few its quick run changes::

    BOOK = dict(epochs=10, lr=0.9, batch_size=256, activation="sigmoid", pool="avg")
    QUICK = dict(train_size=2000, test_size=500)
    config, out = harness.start("lenet", BOOK, quick=QUICK, settings={"activation": ...})

Everything else is derived from that one declaration: each setting is a flag (``--batch-size``)
with the book's value as its default, ``--help`` lists them, ``metrics.json``'s ``"flags"`` and
the run record hold the values a run had, and the comparison with the book holds a run to the
book's bands only when its values are the book's (read from the section's file, so that a
learner's edit of the cell in a notebook is seen as a change, not as the book's).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxdl.compilation import default_cache_dir, is_off
from jaxdl.results import folder_problem

from harness import RESULTS_ROOT, SECTIONS

# ------------------------------------------------------------------------ values of the flags


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def fold_count(text: str) -> int:
    """argparse type: an integer >= 2, the number of folds k of a cross-validation."""
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected an integer >= 2, got {value}")
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


def non_negative_float(text: str) -> float:
    """argparse type: a number >= 0 that float32, the training dtype, holds as finite."""
    value = float(text)
    if not 0 <= value <= np.finfo(np.float32).max:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text}")
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


def add_cache_flag(p) -> None:
    """``--compilation-cache DIR|off``, a section's and ``run_all``'s."""
    p.add_argument(
        "--compilation-cache",
        metavar="DIR|off",
        type=cache_setting,
        default=None,
        help="JAX's persistent compilation cache (default $JAXDL_COMPILATION_CACHE, else "
        f"{default_cache_dir()}); 'off' compiles everything afresh",
    )


# ------------------------------------------------------------------------------- the settings


@dataclasses.dataclass(frozen=True)
class Setting:
    """How a setting reads from the command line: its type (an argparse type), its help, and
    for a list its length (``nargs``) or for a string its choices."""

    type: Callable[[str], Any] | None = None
    help: str | None = None
    nargs: int | str | None = None
    choices: Sequence[str] | None = None


# Settings that several sections share, by name. A section's own settings take their type from
# their value (an int a count >= 1, a float >= 0, a list of them, a bool a switch) or from the
# ``settings`` it declares.
KNOWN = {
    "epochs": Setting(positive_int, "training epochs"),
    "lr": Setting(positive_float, "learning rate"),
    "batch_size": Setting(positive_int, "minibatch size"),
    "train_size": Setting(positive_int, "training examples"),
    "test_size": Setting(positive_int, "test examples"),
    "num_hiddens": Setting(positive_int, "hidden units"),
    "weight_decay": Setting(non_negative_float, "weight decay"),
    "folds": Setting(fold_count, "number of folds k"),
}


def _setting(name: str, value, declared: Mapping[str, Setting]) -> Setting:
    """The Setting of ``name``: declared by the section, else a known one, else from the type
    of its value; a list's ``nargs`` from its length where not declared."""
    if name in declared:
        setting = declared[name]
    elif name in KNOWN:
        setting = KNOWN[name]
    else:
        element = value[0] if isinstance(value, list | tuple) and value else value
        kind = {bool: None, int: positive_int, float: non_negative_float, str: str}
        if type(element) not in kind:
            raise TypeError(
                f"setting {name!r}: declare its type (settings={{{name!r}: Setting(...)}}); "
                f"its value {value!r} does not say it"
            )
        setting = Setting(kind[type(element)])
    if isinstance(value, list | tuple) and setting.nargs is None:
        setting = dataclasses.replace(setting, nargs="+")
    return setting


@dataclasses.dataclass(frozen=True)
class Config:
    """A run's configuration: the section's settings as this run has them (read as attributes,
    ``config.epochs``), and how the run goes (seed, quick, folders, devices).

    ``Config({"epochs": 2, "batch_size": 64})`` is a whole configuration: what the harness's
    helpers take, in a test or a notebook as on the command line.
    """

    settings: Mapping[str, Any]
    seed: int = 0
    quick: bool = False
    book: bool = True
    gpu_sized: bool = False  # --book (not --quick) in a section whose default run is CPU-sized
    seeds: int | None = None  # None: a section without --seeds, one seed
    out: Path | None = None
    data_dir: Path | None = None
    checkpoint_dir: Path | None = None
    devices: int | str = 1
    coordinator: str | None = None
    num_processes: int | None = None
    process_id: int | None = None
    distributed_timeout: float = 300.0
    compilation_cache: str | Path | None = None

    def __getattr__(self, name: str):
        settings = self.__dict__.get("settings", {})
        if name in settings:
            return settings[name]
        raise AttributeError(f"the configuration has no setting {name!r}")

    @property
    def flags(self) -> dict:
        """What ``metrics.json`` records as ``"flags"``: the settings with the seed (and the
        number of seeds, in a section that trains several at once) and whether this was the
        quick run; not where and on what it ran."""
        seeds = {} if self.seeds is None else {"seeds": self.seeds}
        return {**self.settings, "seed": self.seed, **seeds, "quick": self.quick}


def add_run_options(p: argparse.ArgumentParser, name: str, *, data_dir, training, sized) -> None:
    """The flags of how a run goes: those every section has (seed, results folder, quick run,
    compilation cache), ``--book`` where the default run is CPU-sized (``sized``), ``--data-dir``
    (its help ``data_dir``) and, for the sections that train classifiers (``training``), seeds,
    checkpoints, devices and processes."""
    if sized:
        p.add_argument(
            "--book", action="store_true", help="the book's configuration, not the CPU-sized one"
        )
    if data_dir:
        p.add_argument("--data-dir", type=folder, default=None, help=data_dir)
    if training:
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
    p.add_argument("--seed", type=seed, default=0, help="root of every random key")
    p.add_argument(
        "--out", type=folder, default=RESULTS_ROOT / name, help="folder for metrics.json and PNGs"
    )
    p.add_argument("--quick", action="store_true", help="a seconds-long run on small data")
    add_cache_flag(p)


@dataclasses.dataclass(frozen=True)
class Declaration:
    """A section's configuration as declared: the book's settings, the overrides of its quick
    run and, for a section that runs CPU-sized by default, of that run."""

    name: str
    book: Mapping[str, Any]
    quick: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    cpu: Mapping[str, Any] | None = None
    settings: Mapping[str, Setting] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        taken = sorted(set(self.book) & {f.name for f in dataclasses.fields(Config)})
        if taken:
            raise TypeError(f"BOOK: {taken} name how a run goes (--seed, --devices, ...); rename")
        for label, overrides in (("quick", self.quick), ("cpu", self.cpu or {})):
            unknown = sorted(set(overrides) - set(self.book) - set(KNOWN))
            if unknown:
                raise TypeError(f"{label}: {unknown} are not settings of BOOK nor known ones")

    def names(self) -> list[str]:
        """Every setting: the book's, then those only the quick or CPU-sized run sets."""
        extra = [*self.quick, *(self.cpu or {})]
        return [*self.book, *dict.fromkeys(k for k in extra if k not in self.book)]

    def defaults(self, *, quick: bool, book: bool) -> dict:
        """The settings of a run without flags: the book's (None where the book does not set
        one, e.g. ``train_size``: all), then the CPU-sized run's unless ``book``, then the quick
        run's."""
        values = {name: self.book.get(name) for name in self.names()}
        if self.cpu is not None and not book:
            values |= self.cpu
        if quick:
            values |= self.quick
        return values

    def parser(self, description: str | None) -> argparse.ArgumentParser:
        """The section's flags: one per setting (default: from the run's kind, applied after
        parsing), then the run options."""
        p = argparse.ArgumentParser(
            prog=f"{self.name}.py",
            description=description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        group = p.add_argument_group("settings (default: the book's, or as --quick sets them)")
        for name in self.names():
            value = self.book.get(name, (self.cpu or {}).get(name, self.quick.get(name)))
            setting = _setting(name, value, self.settings)
            flag = "--" + name.replace("_", "-")
            book_value = self.book.get(name, "all" if name in KNOWN else None)
            help_text = f"{setting.help or name.replace('_', ' ')} (book: {shown(book_value)})"
            if isinstance(value, bool):
                group.add_argument(
                    flag, action=argparse.BooleanOptionalAction, default=None, help=help_text
                )
                continue
            group.add_argument(
                flag,
                type=setting.type,
                nargs=setting.nargs,
                choices=setting.choices,
                default=None,
                help=help_text,
            )
        return p


def shown(value) -> str:
    """A setting's value as a flag takes it: a list as its items, space-separated; a size of
    None (no limit) as ``all``."""
    if value is None:
        return "all"
    if isinstance(value, list | tuple):
        return " ".join(map(str, value))
    return str(value)


def configure(declaration: Declaration, args: argparse.Namespace) -> Config:
    """The Config of parsed flags: the run's defaults (book, CPU-sized or quick), then each
    flag given."""
    options = {f.name for f in dataclasses.fields(Config)} - {"settings"}
    given = vars(args)
    book = declaration.cpu is None or bool(given.get("book"))
    settings = declaration.defaults(quick=given["quick"], book=book)
    for name in settings:
        value = given.get(name)
        if value is not None:
            settings[name] = list(value) if isinstance(value, tuple) else value
    run = {k: v for k, v in given.items() if k in options and k != "book"}
    gpu_sized = declaration.cpu is not None and book and not given["quick"]
    return Config(settings, book=book, gpu_sized=gpu_sized, **run)


def declared(name: str, folder: Path = SECTIONS) -> Declaration:
    """Section ``name``'s declaration as its file states it (its first ``BOOK = dict(...)``, and
    ``QUICK`` and ``CPU``: literal values, at the top level of ``folder/NAME.py``): the book's
    configuration that its comparison with the book holds runs to, whatever a notebook's cell
    was edited to."""
    tree = ast.parse((folder / f"{name}.py").read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in ("BOOK", "QUICK", "CPU"):
                found.setdefault(target.id, _literal_dict(node.value, f"{name}.py: {target.id}"))
    if "BOOK" not in found:
        raise ValueError(f"{name}.py: no BOOK = dict(...) declaration")
    return Declaration(name, found["BOOK"], found.get("QUICK", {}), found.get("CPU"))


def _literal_dict(node: ast.expr, where: str) -> dict:
    """``dict(k=literal, ...)`` or ``{"k": literal, ...}`` as a dict."""
    try:
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "dict":
            if node.args:
                raise ValueError("dict(...) with keywords only")
            return {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords}
        value = ast.literal_eval(node)
    except ValueError as error:
        raise ValueError(f"{where}: expected literal values ({error})") from error
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected a dict, got {type(value).__name__}")
    return value


def differences(book: Mapping[str, Any], flags: Mapping[str, Any]) -> list[str]:
    """The settings of a run (``metrics.json``'s ``"flags"``) that differ from the book's, as
    ``"epochs 3 vs 10"``.

    >>> differences({"epochs": 10, "lr": 0.1}, {"epochs": 3, "lr": 0.1, "seed": 4})
    ['epochs 3 vs 10']
    """
    return [
        f"{k} {shown(flags[k])} vs {shown(v)}"
        for k, v in book.items()
        if k in flags and flags[k] != v
    ]

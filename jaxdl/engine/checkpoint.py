"""Checkpoints of a training run, written with orbax-checkpoint after every epoch.

A checkpoint holds the TrainState (parameters, model state, optimizer state, step) and its
metadata: the number of epochs done, the run's identity (:class:`jaxdl.engine.record.Run`), its
history,
the state's signature, a SHA-256 digest of the state's bytes, and a SHA-256 digest of all of the
metadata. What is promised:

- **Killed during a save**: orbax writes each checkpoint to a temporary folder and renames it
  when complete, so the previous checkpoint stays intact. The temporary folder left behind is
  not data: the next run removes it, says so, and resumes (or starts) normally. A full disk
  during a save removes it at once and raises one ``OSError`` (ENOSPC) naming the folder.
- **Damaged checkpoint**: every restored checkpoint's metadata (epochs done, history, run,
  signature) is checked against its digest before it is used, and its state against its own. A
  damaged newest checkpoint (unreadable, incomplete, edited) is set aside (renamed
  ``damaged-N``) with a message naming it and why, and the newest intact one that is kept is
  used; when none is intact, a ValueError names the folder. Errors that are not damage (a
  permission refused, an input/output error, memory) are raised as they are and set nothing
  aside.
- **Two runs on one folder**: the first holds a lock on ``DIR/.lock`` while it runs; a second
  is refused at once, naming the folder and the first run's process. A lock left by a killed
  run does not block the next one (the operating system releases it with the process).
- **Changed settings**: a checkpoint is resumed only by the same run (any setting but more
  epochs differing is refused, naming each field with both values).

Only the last few checkpoints are kept. A run started again with the same folder resumes after
the last complete epoch.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import thread as pool_thread
from pathlib import Path

import jax
import numpy as np

from jaxdl._checks import check_int
from jaxdl._describe import array_bytes
from jaxdl.engine.record import Run
from jaxdl.errors import InputError
from jaxdl.results import LOCK, FolderLock

FORMAT = "jaxdl-checkpoint-4"  # 4: TrainState with model_state; signature by paths; meta digest
META = {  # what the metadata holds, and of which kind
    "format": str,
    "epochs_done": int,
    "run": dict,
    "signature": list,
    "digest": str,
    "history": dict,
}
# What reading a damaged checkpoint raises (orbax: ValueError for unparsable files, a missing
# file, entries missing): damage. Anything else (PermissionError, other OSErrors, MemoryError)
# is not, and propagates.
DAMAGE = (ValueError, KeyError, TypeError, FileNotFoundError)
UNFINISHED = ".orbax-checkpoint-tmp"  # in the name of the folder of a save in progress
DAMAGED = "damaged-"


FULL = (errno.ENOSPC, errno.EDQUOT)  # a full disk, a full quota


def _full_disk(error: BaseException | None) -> int | None:
    """The error code (ENOSPC, EDQUOT) when ``error`` reports a full disk or quota: an
    ``OSError`` with that code, tensorstore's ``ValueError`` naming it
    (``os_error_code='28'``), or NumPy's short write (``OSError('N requested and M
    written')``, without a code: a disk with no room left); None otherwise."""
    if isinstance(error, OSError) and error.errno is None:
        short = re.fullmatch(r"\d+ requested and \d+ written", str(error))
        return errno.ENOSPC if short else None
    if isinstance(error, OSError):
        return error.errno if error.errno in FULL else None
    code = re.search(r"os_error_code='(\d+)'", str(error)) if error is not None else None
    return int(code[1]) if code and int(code[1]) in FULL else None


@contextlib.contextmanager
def full_disk_reported(folder: str | os.PathLike) -> Iterator[None]:
    """Runs writes into ``folder`` (orbax saves, NumPy files) so that a full disk is one error.

    orbax reports a failed write from each of its threads (a log record with a traceback
    each) before its save raises tensorstore's ``ValueError``; NumPy reports a full disk
    without the disk's error code. In this block a full disk or quota is one ``OSError``
    (ENOSPC, EDQUOT) naming ``folder``, raised once the unfinished orbax saves in ``folder``
    are removed (their space given back at once) and the threads' reports dropped. Other
    errors pass unchanged, with the threads' reports.

    Args:
      folder: the folder written in.

    Raises:
      OSError: on a full disk or quota, with ``filename`` the folder.

    >>> import tempfile
    >>> with full_disk_reported(tempfile.gettempdir()):
    ...     pass
    """
    folder = Path(folder)
    try:
        with _HeldReports():
            yield
    except (OSError, ValueError) as error:
        code = _full_disk(error)
        if code is None:
            raise
        _remove_unfinished(folder, settle=SETTLE)
        raise OSError(code, os.strerror(code), str(folder)) from None


def _remove_unfinished(folder: Path, *, settle: float = 0.0) -> list[Path]:
    """Removes the folders of orbax saves in ``folder`` that did not finish; returns them.

    After a failed save, writes that tensorstore had under way may still land and make a
    folder again: with ``settle``, each is removed until it has stayed away that many seconds
    (at most 20 times as long).
    """
    unfinished = [p for p in sorted(folder.iterdir()) if UNFINISHED in p.name]
    for path in unfinished:
        end, gone = time.monotonic() + 20 * settle, None
        while True:
            shutil.rmtree(path, ignore_errors=True)
            if path.exists():
                gone = None
            elif gone is None:
                gone = time.monotonic()
            if gone is not None and time.monotonic() - gone >= settle:
                break
            if time.monotonic() > end:
                shutil.rmtree(path)  # the error, if any, this time
                break
            time.sleep(min(settle / 4, 0.05))
    return unfinished


class _HeldReports(logging.Filter):
    """Holds back what orbax's threads report on their own while a save runs.

    A failed write is reported by each thread: an absl log record with a traceback per writer,
    and an unraisable ``RuntimeError('Event loop is closed')`` per tensorstore callback that
    lands after the writers' event loop has closed (130 lines for one full disk). The save's
    own exception says the same once. Held back during the save, they are let through after it
    unless the caller drops them: a full disk, reported in one line, or Ctrl-C. The threads of
    a save cut short by Ctrl-C run on while the interrupt unwinds and report, with tracebacks,
    that the interpreter is going down; their records stay dropped. After a full disk the
    save's threads still writing are waited for first (the save raises at the first failed
    write), and what its abandoned writes report later is dropped (:func:`_drop_late_reports`).
    """

    def __enter__(self) -> _HeldReports:
        self.records: list[logging.LogRecord] = []
        self.unraisable: list = []
        self._cut_short: set[threading.Thread] = set()  # the threads of an interrupted save
        self._before = set(threading.enumerate())
        self._hook = sys.unraisablehook
        sys.unraisablehook = self.unraisable.append
        logging.getLogger("absl").addFilter(self)
        return self

    def filter(self, record: logging.LogRecord) -> bool:
        if self._cut_short:
            return threading.current_thread() not in self._cut_short
        self.records.append(record)
        return False

    def __exit__(self, exc_type, exc, traceback) -> None:
        full = _full_disk(exc) is not None
        if full:  # the save's other writers may still run: their reports are dropped too
            deadline = time.monotonic() + THREADS_WAIT
            for thread in set(threading.enumerate()) - self._before:
                if getattr(thread, "_target", None) is not pool_thread._worker:  # not idle
                    thread.join(max(deadline - time.monotonic(), 0))
        sys.unraisablehook = self._hook
        if isinstance(exc, KeyboardInterrupt):
            self._cut_short = set(threading.enumerate()) - self._before
            if self._cut_short:
                return  # the filter stays, for those threads only
        logging.getLogger("absl").removeFilter(self)
        if isinstance(exc, KeyboardInterrupt) or full:
            _drop_late_reports()
            return
        for record in self.records:
            logging.getLogger(record.name).handle(record)
        hook = getattr(self._hook, "hook", self._hook)
        for report in self.unraisable:
            hook(report)


SETTLE = 0.2  # seconds an unfinished save must stay removed after a full disk
THREADS_WAIT = 10.0  # seconds a failed save's threads (not a pool's idle workers) get to end


def _drop_late_reports() -> None:
    """Drops, from now on, what the writes of an abandoned save report when they land later:
    tensorstore's callbacks after the writers' event loop has closed (an unraisable
    ``RuntimeError('Event loop is closed')``) and asyncio's "exception was never retrieved"
    for a full-disk error (a log record with a traceback, when its task is collected)."""
    if not isinstance(sys.unraisablehook, _LateCallbacksDropped):
        sys.unraisablehook = _LateCallbacksDropped(sys.unraisablehook)
    asyncio_log = logging.getLogger("asyncio")
    if _late_full_disk not in asyncio_log.filters:
        asyncio_log.addFilter(_late_full_disk)


def _late_full_disk(record: logging.LogRecord) -> bool:
    return not (record.exc_info and _full_disk(record.exc_info[1]) is not None)


class _LateCallbacksDropped:
    """An unraisable hook that drops ``RuntimeError('Event loop is closed')`` and passes
    anything else to ``hook``."""

    def __init__(self, hook):
        self.hook = hook

    def __call__(self, report) -> None:
        if not (report.exc_type is RuntimeError and str(report.exc_value) == LOOP_CLOSED):
            self.hook(report)


LOOP_CLOSED = "Event loop is closed"


def _signature(state) -> list[str]:
    """The path, shape and dtype of every array of a TrainState (``.params['w']:(2,):float32``):
    what a resumed run must match. Not the classes of its nodes: an optimizer's state classes
    are its library's internals, which an upgrade may rename."""
    return [
        f"{jax.tree_util.keystr(path)}:{tuple(a.shape)}:{a.dtype}"
        for path, a in jax.tree_util.tree_leaves_with_path(state)
    ]


def meta_digest(meta: dict) -> str:
    """SHA-256 of the metadata's fields (``META``), as canonical JSON: what a checkpoint's
    ``meta_digest`` must equal."""
    fields = {name: meta[name] for name in META}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def state_digest(state) -> str:
    """SHA-256 of the shapes, dtypes and bytes of every array of ``state``, in tree order.

    >>> state_digest({"w": np.zeros(2, np.float32)}) == state_digest({"w": np.zeros(2)})
    False
    """
    h = hashlib.sha256()
    for leaf in jax.tree.leaves(state):
        a = np.asarray(leaf)
        h.update(f"{a.shape}:{a.dtype};".encode())
        h.update(array_bytes(a))
    return h.hexdigest()


class Checkpointer:
    """Saves and restores one run's checkpoints in ``directory`` (kept: the last ``keep``).

    Making one takes the folder's lock (in a multi-process run, process 0 does) and removes
    the temporary folders of saves that never finished; :attr:`messages` says what was removed
    or set aside, for the caller to show.

    Args:
      directory: folder of the run's checkpoints; made when missing.
      keep: how many of the most recent checkpoints to keep, >= 1.

    Raises:
      ValueError: when ``directory`` is a file, or another run holds its lock.
    """

    def __init__(self, directory: str | os.PathLike, *, keep: int = 3):
        import orbax.checkpoint as ocp  # imported on use: it is slow to import

        check_int(keep, "keep", low=1)
        self.directory = Path(directory).absolute()
        if self.directory.exists() and not self.directory.is_dir():
            raise InputError(f"checkpoint_dir: expected a folder, got the file {self.directory}")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock = (
                FolderLock(self.directory, "checkpoint_dir") if jax.process_index() == 0 else None
            )
        except OSError as error:  # read-only, no permission, a loop of links, a full disk
            raise InputError(
                f"checkpoint_dir: cannot make or write {self.directory} ({error.strerror or error})"
            ) from error
        self.messages = [
            f"removed {path}: the unfinished save of a run that stopped during it"
            for path in _remove_unfinished(self.directory)
        ]
        self._ocp = ocp
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep, create=True, enable_async_checkpointing=False
        )
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def save(self, epochs_done: int, state, run: Run, history: dict) -> None:
        """Writes the checkpoint after ``epochs_done`` epochs and waits until it is complete.

        Args:
          epochs_done: epochs trained so far.
          state: the TrainState after them.
          run: the run's identity.
          history: ``{key: [one float per epoch done]}``.
        """
        ocp = self._ocp
        meta = {
            "format": FORMAT,
            "epochs_done": epochs_done,
            "run": run.to_dict(),
            "signature": _signature(state),
            "digest": state_digest(state),
            "history": history,
        }
        meta["meta_digest"] = meta_digest(meta)
        with full_disk_reported(self.directory):
            self._manager.save(
                epochs_done,
                args=ocp.args.Composite(
                    state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)
                ),
            )
            self._manager.wait_until_finished()

    def _read(self, step: int, template, run: Run):
        """Checkpoint ``step`` as ``(meta, state)``, or the reason it is damaged (a str).

        Raises:
          ValueError: for a checkpoint of another run, model or optimizer (not damage).
        """
        ocp, where = self._ocp, self.directory / str(step)
        try:
            meta = self._manager.restore(
                step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())
            )["meta"]
        except DAMAGE:
            return "cannot read its metadata"
        if not isinstance(meta, dict):
            return "its metadata is not a mapping"
        if meta.get("format") != FORMAT:
            raise InputError(
                f"checkpoint {where} is not one this jaxdl reads: expected format {FORMAT!r}, "
                f"got {meta.get('format')!r}; use another checkpoint folder"
            )
        missing = [
            k
            for k, kind in {**META, "meta_digest": str}.items()
            if not isinstance(meta.get(k), kind)
        ]
        if missing:
            return f"its metadata lacks {', '.join(missing)}"
        if meta_digest(meta) != meta["meta_digest"]:
            return "its metadata does not match the digest written with it"
        try:
            saved = Run.from_dict(meta["run"])
        except (KeyError, TypeError, ValueError):
            return "cannot read its run"
        run.check_resume(saved, meta["epochs_done"], str(where))
        if meta["signature"] != _signature(template):
            raise InputError(
                f"checkpoint {where} was written for another model or optimizer: its parameter "
                "and state shapes differ from this run's"
            )
        try:
            state = self._manager.restore(
                step, args=ocp.args.Composite(state=ocp.args.StandardRestore(template))
            )["state"]
        except DAMAGE:
            return "cannot read its arrays"
        if jax.tree.structure(state) != jax.tree.structure(template):
            return "its state has another structure"
        if state_digest(state) != meta["digest"]:
            return "its arrays do not match the digest written with them"
        return meta, state

    def restore(self, template, run: Run):
        """The newest intact checkpoint as ``(epochs_done, state, history)``, or None when the
        folder holds none. Damaged newer ones are set aside (:attr:`messages` says which).

        Args:
          template: a TrainState of the run (gives structure, shapes, dtypes and placement).
          run: the identity of the run that resumes; the checkpoint's must be the same but for
            the number of epochs, which must be at least the epochs done.

        Raises:
          ValueError: when no checkpoint is intact, or for one of another run.
        """
        steps = sorted(self._manager.all_steps(), reverse=True)
        if not steps:
            names = [p.name for p in self.directory.iterdir()]
            if any(name != LOCK and not name.startswith(DAMAGED) for name in names):
                raise InputError(
                    f"checkpoint_dir: {self.directory} holds files but no complete checkpoint; "
                    "point to an empty folder or to one written by this training"
                )
            return None
        damaged = []
        for step in steps:
            found = self._read(step, template, run)
            if not isinstance(found, str):
                self._set_aside(damaged)
                meta, state = found
                return meta["epochs_done"], state, meta["history"]
            damaged.append((step, found))
        reasons = "; ".join(f"{self.directory / str(s)}: {why}" for s, why in damaged)
        raise InputError(
            f"checkpoint_dir: no intact checkpoint in {self.directory} ({reasons}); move them "
            "away to start again"
        )

    def _set_aside(self, damaged: list[tuple[int, str]]) -> None:
        """Renames damaged checkpoints ``N`` to ``damaged-N``, out of the way of new saves."""
        for step, why in damaged:
            where = self.directory / str(step)
            where.rename(self.directory / f"{DAMAGED}{step}")
            self.messages.append(f"skipped checkpoint {where}: {why}; set aside as {DAMAGED}{step}")
        if damaged:
            self._manager.reload()

    def close(self) -> None:
        """Releases the manager's resources and the folder's lock."""
        self._manager.close()
        if self._lock is not None:
            self._lock.release()

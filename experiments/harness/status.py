"""The main job's status while a section runs (:class:`Status`): which section, for how long, its
latest epoch (the last epoch line of its log) and about how long the job has left (each
section's time in its last run at the same settings, and the running network's epochs to go).
``run_all`` shows it on standard error; it imports no JAX.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import threading
import time
from pathlib import Path

from harness.config import declared
from harness.report import duration

# A section's epoch line, as a terminal shows it (jaxdl.engine.ProgressBoard): "alexnet epoch
# 2/10: train_loss 1.2, train_acc 0.55, test_acc 0.61, test_loss 1.0, 41.20 s".
EPOCH_LINE = re.compile(r"^(.+? epoch (\d+)/(\d+)): .*?(?:, (\d+\.\d+) s)?$", re.MULTILINE)


def latest_epoch(log: Path, since: float) -> tuple[str, int, int, float | None] | None:
    """The last epoch line of a section's log written after ``since`` (a time, as
    ``time.time()``: an earlier run's log is not this one's), as ``("alexnet epoch 2/10", 2,
    10, seconds of that epoch or None)``; None before the first."""
    try:
        if log.stat().st_mtime < since - 2:  # some disks keep whole seconds
            return None
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 16384))
            tail = f.read().decode(errors="replace")
    except OSError:
        return None
    found = EPOCH_LINE.findall(tail)
    if not found:
        return None
    what, epoch, epochs, seconds = found[-1]
    return what, int(epoch), int(epochs), float(seconds) if seconds else None


def last_seconds(name: str, out: Path, quick: bool) -> float | None:
    """The seconds section ``name`` took in its last run into ``out/NAME`` (its
    ``metrics.json``), where that run had the settings it has here (each section's defaults,
    quick or not); None when unknown."""
    try:
        metrics = json.loads((out / name / "metrics.json").read_text())
        flags, seconds = metrics["flags"], float(metrics["timing"]["seconds"])
        defaults = declared(name).defaults(quick=quick, book=False)
    except (OSError, KeyError, TypeError, ValueError, SyntaxError):
        return None
    ours = {**defaults, "seed": 0, "quick": quick}
    same = all(flags.get(k) == v for k, v in ours.items()) and flags.get("seeds", 1) == 1
    return seconds if same else None


class Status:
    """The job's status while a section runs, on standard error: which section, for how long,
    its latest epoch (its log's last epoch line) and about how long the job has left (each
    section's time in its last run with these settings, :func:`last_seconds`, and the running
    network's epochs to go). In a terminal one line, redrawn each second; else a line a minute
    once a section has run for a minute.

    Args:
      names: the sections, in the order they run.
      out: the results folder (``OUT/NAME/log.txt``, ``OUT/NAME/metrics.json``).
      quick: whether the sections run ``--quick``.
      stream: where the status goes (default standard error).
      clock: seconds, monotonic (default ``time.monotonic``).
      tty: redraw one line (default: whether ``stream`` is a terminal).
    """

    REDRAW = 1.0  # seconds between two looks at the running section
    EVERY = 60.0  # seconds between two lines, outside a terminal

    def __init__(self, names, out: Path, quick: bool, *, stream=None, clock=None, tty=None):
        self.names, self.out = list(names), out
        self.last = {name: last_seconds(name, out, quick) for name in self.names}
        self.stream = sys.stderr if stream is None else stream
        self.tty = self.stream.isatty() if tty is None else tty
        self.clock = clock or time.monotonic
        self.lock = threading.Lock()  # one writer at a time: the redrawing thread, the job
        self.drawn = False
        self.begin(0)

    def begin(self, index: int) -> None:
        """Section ``names[index]`` starts (none when ``index`` is past the last)."""
        with self.lock:
            self.index = index if index < len(self.names) else None
            self.began = self.printed = self.clock()
            self.began_at = time.time()  # the log's clock

    def line(self) -> str:
        """The status of the running section, as shown."""
        name, elapsed = self.names[self.index], self.clock() - self.began
        shown = f"[{self.index + 1}/{len(self.names)}] {name}, {duration(elapsed)}"
        last = self.last[name]
        here = None if last is None else max(last - elapsed, 0.0)  # this section's time left
        epoch = latest_epoch(self.out / name / "log.txt", self.began_at)
        if epoch is not None:
            what, done, epochs, seconds = epoch
            shown += f": {what}"
            if seconds is not None:  # at least this network's epochs to go
                here = max(here or 0.0, (epochs - done) * seconds)
        rest = [self.last[n] for n in self.names[self.index + 1 :]]
        known = [s for s in (here, *rest) if s is not None]
        if not known:
            return shown + "; time left unknown (no earlier run)"
        untimed = (last is None) + sum(s is None for s in rest)
        more = f" + {untimed} section{'s' * (untimed > 1)} not timed before" if untimed else ""
        return shown + f"; about {duration(sum(known))} left{more}"

    def show(self) -> None:
        """Shows the status: redrawn in a terminal, else a line when a minute has passed."""
        with self.lock:
            if self.index is None:
                return
            if self.tty:
                width = shutil.get_terminal_size().columns - 1  # a wrapped line stays
                self.stream.write("\r" + self.line()[:width] + "\x1b[K")
                self.drawn = True
            elif self.clock() - self.printed >= self.EVERY:
                self.stream.write(self.line() + "\n")
                self.printed = self.clock()
            self.stream.flush()

    def _clear(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn = False

    @contextlib.contextmanager
    def paused(self):
        """The status line cleared, and not redrawn, while the job prints."""
        with self.lock:
            self._clear()
            yield

    @contextlib.contextmanager
    def shown(self):
        """Shows the status (from a thread, every ``REDRAW`` seconds) until the block ends, by
        any exit (Ctrl-C, ``kill``): then the line is cleared."""
        stop = threading.Event()

        def redraw():
            while not stop.wait(self.REDRAW):
                self.show()

        thread = threading.Thread(target=redraw, name="run_all status", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()
            with self.paused():
                pass

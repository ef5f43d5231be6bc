"""Compilation: JAX's persistent compilation cache, and what a run compiles.

With the cache on, a program compiled once is read back from disk by every later process that
compiles the same program, so a second run of an experiment compiles nothing.
:func:`compile_stats` counts, for this process, the programs XLA compiled, those read from the
cache, and the seconds spent lowering and compiling (from ``jax.monitoring``'s events; tracing
is left out, as its events nest: a traced function's inner jitted functions report their own);
the difference of two readings is what ran in between.
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path
from typing import NamedTuple

import jax

ENV_VAR = "JAXDL_COMPILATION_CACHE"
OFF = ("off", "0", "no", "false", "none")  # settings that turn the cache off (any case)
_LOWER = "/jax/core/compile/jaxpr_to_mlir_module_duration"
_COMPILE = "/jax/core/compile/backend_compile_duration"
_CACHE_HIT = "/jax/compilation_cache/cache_hits"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/jaxdl/jax`` (``~/.cache/jaxdl/jax`` when the variable is unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jaxdl" / "jax"


def is_off(setting) -> bool:
    """True for a setting that turns the cache off: ``off``, ``0``, ``no``, ``false``, ``none``."""
    return str(setting).strip().lower() in OFF


def cache_dir(setting: str | os.PathLike | None = None) -> Path | None:
    """Where the compilation cache goes: ``setting`` (a folder, or ``"off"``, ``"false"``...),
    else ``$JAXDL_COMPILATION_CACHE`` (the same), else :func:`default_cache_dir`. None means off.

    >>> cache_dir("off") is None, cache_dir("False") is None, cache_dir("/tmp/c")
    (True, True, PosixPath('/tmp/c'))
    """
    if setting is None:
        setting = os.environ.get(ENV_VAR) or default_cache_dir()
    return None if is_off(setting) else Path(setting)


def use_cache(folder: str | os.PathLike | None) -> Path | None:
    """Turns JAX's persistent compilation cache on in ``folder`` (made when missing), for every
    program however fast it compiles; None turns it off (whatever JAX's own settings say).
    Call it before the first compilation of the process.

    The cache only saves time: a folder that cannot be made or written (under a file, on a
    read-only disk, without permission) gives one warning, and the cache stays off.

    Returns:
      The folder in use, or None when the cache is off.
    """
    if folder is not None:
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
            if not os.access(folder, os.W_OK | os.X_OK):
                raise PermissionError(13, "Permission denied", str(folder))
        except OSError as error:
            warnings.warn(
                f"compilation cache: cannot use {folder} ({error.strerror or error}); compiling "
                "without the cache",
                stacklevel=2,
            )
            folder = None
    jax.config.update("jax_enable_compilation_cache", folder is not None)
    if folder is None:
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return Path(folder)


class CompileStats(NamedTuple):
    """Compilation in a process: programs compiled by XLA, programs read from the persistent
    cache, and seconds spent lowering and compiling (reading from the cache included)."""

    compilations: int
    cache_hits: int
    seconds: float

    def __sub__(self, earlier: CompileStats) -> CompileStats:
        return CompileStats(*(a - b for a, b in zip(self, earlier, strict=True)))


_totals = {"programs": 0, "cache_hits": 0, "seconds": 0.0}
_lock = threading.Lock()
_listening = False


def _on_duration(event: str, duration: float, **kwargs) -> None:
    if event in (_LOWER, _COMPILE):
        with _lock:
            _totals["seconds"] += duration
            _totals["programs"] += event == _COMPILE


def _on_event(event: str, **kwargs) -> None:
    if event == _CACHE_HIT:
        with _lock:
            _totals["cache_hits"] += 1


def compile_stats() -> CompileStats:
    """This process's compilation so far, counted from the first call (which starts listening to
    JAX's events, once per process).

    >>> before = compile_stats()
    >>> _ = jax.jit(lambda x: x * 3.0)(1.0)
    >>> (compile_stats() - before).compilations + (compile_stats() - before).cache_hits
    1
    """
    global _listening
    with _lock:
        if not _listening:
            jax.monitoring.register_event_duration_secs_listener(_on_duration)
            jax.monitoring.register_event_listener(_on_event)
            _listening = True
        programs, hits = _totals["programs"], _totals["cache_hits"]
        return CompileStats(programs - hits, hits, _totals["seconds"])

"""Writing results: files written atomically, a run's files all at once, and JAX and NumPy
values made plain for JSON.

A file is written under a temporary name in its folder, then renamed into place, so a reader
never sees half a file; it gets the permissions any new file gets (the user's umask decides).
A run's files are held in memory by :class:`Outputs` until the run is complete, then written
together: a run that fails leaves its folder as it was.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
import socket
import tempfile
from pathlib import Path

import numpy as np

from jaxdl.errors import InputError


def to_plain(value):
    """Converts arrays, NumPy scalars, tuples and mappings to JSON-ready Python values.

    Raises:
      ValueError: on a NaN or infinite number; results files never hold them.

    >>> import jax.numpy as jnp
    >>> to_plain({"w": jnp.array([1.0, 2.0]), "n": np.int32(3)})
    {'w': [1.0, 2.0], 'n': 3}
    """
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if hasattr(value, "__array__") and not isinstance(value, str | bytes):
        value = np.asarray(value)
        return to_plain(value.tolist()) if value.ndim else to_plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"value: expected a finite number, got {value}")
    return value


def write_json(path: str | os.PathLike, obj) -> Path:
    """Writes ``obj`` as indented JSON at ``path``, atomically (see :func:`write_text`).

    Args:
      path: destination; its parent folder is made when missing.
      obj: mappings, sequences, numbers, strings, and arrays (written as nested lists).

    Returns:
      The path written.
    """
    return write_bytes(path, _json_bytes(obj))


def _json_bytes(obj) -> bytes:
    return (json.dumps(to_plain(obj), indent=2) + "\n").encode()


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Writes ``text`` at ``path`` atomically (see :func:`write_bytes`)."""
    return write_bytes(path, text.encode())


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Writes ``data`` at ``path``: a temporary file in the same folder, renamed into place,
    so a reader never sees a half-written file. Makes the parent folder when missing.

    Returns:
      The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a new file's mode is the umask's
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


LOCK = ".lock"


class FolderLock:
    """An exclusive ``flock`` on ``folder/.lock``, held until :meth:`release`; the file says
    which process holds it. The operating system drops the lock when the process dies, so a
    killed run's lock blocks nobody.

    Args:
      folder: an existing folder.
      name: what the folder is called for the user (``"checkpoint_dir"``, ``"--out"``).

    Raises:
      InputError: when another process holds the lock, naming the folder and that process.
    """

    def __init__(self, folder: Path, name: str):
        self.path = Path(folder) / LOCK
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 200, 0).decode(errors="replace").strip() or "unknown"
            os.close(self._fd)
            raise InputError(
                f"{name}: {folder} is in use by another run ({holder}); wait for it to "
                "finish or use another folder"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"process {os.getpid()} on {socket.gethostname()}".encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None


def temporary_folder(parent: Path, prefix: str) -> Path:
    """A new temporary folder in ``parent``, named ``{prefix}{pid}-...`` after this process,
    first removing those of the same prefix whose process is gone (killed before it could
    remove its own)."""
    for path in parent.glob(f"{prefix}*"):
        pid = path.name.removeprefix(prefix).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
    return Path(tempfile.mkdtemp(dir=parent, prefix=f"{prefix}{os.getpid()}-"))


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it (another thread
    creating a file meanwhile would otherwise get mode 0666)."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(
            next(line.split()[1] for line in status.splitlines() if line.startswith("Umask:")), 8
        )
    except (OSError, StopIteration, ValueError, IndexError):
        mask = os.umask(0)
        os.umask(mask)
        return mask


def folder_problem(folder: Path, *, writable: bool = True) -> str | None:
    """What keeps ``folder`` from being made or written as a folder; None when nothing does.

    ``folder`` must be a folder or not exist yet, its nearest existing parent a folder that can
    be looked into (and, with ``writable``, written by this process).
    """
    for existing in (folder, *folder.parents):
        try:
            os.stat(existing)
        except (FileNotFoundError, NotADirectoryError):  # not there (under a file, maybe)
            continue
        except OSError as error:  # a parent that cannot be looked into, a loop of links
            return f"cannot look into {error.filename}: {error.strerror}"
        if not existing.is_dir():
            return f"expected a folder, got the file {existing}"
        if writable and not os.access(existing, os.W_OK | os.X_OK):
            return f"expected a folder this process can write, got {existing}"
        return None
    return None


class Outputs:
    """A run's result files, held in memory and written together when the run is complete.

    The folder is checked when the Outputs are made, before any training: it must be a folder
    (or not exist yet, under a folder) that this process can write. :meth:`write` first writes
    every file into a temporary folder beside it, then renames them into place, so a run that
    fails before :meth:`write` leaves the folder untouched, and one that fails during it leaves
    every earlier file whole.

    Args:
      folder: where the files go.
      name: what the folder is called for the user (``"--out"``), for messages.

    Raises:
      ValueError: when ``folder`` is a file or cannot be written.

    >>> import tempfile
    >>> out = Outputs(Path(tempfile.mkdtemp()) / "run")
    >>> out.add_json("metrics.json", {"loss": 0.5})
    >>> [p.name for p in out.write()]
    ['metrics.json']
    """

    def __init__(self, folder: str | os.PathLike, *, name: str = "folder"):
        self.folder = Path(folder)
        self.name = name
        self._files: dict[str, bytes] = {}
        problem = folder_problem(self.folder)
        if problem is not None:
            raise InputError(f"{name}: {problem}")

    def add(self, name: str, data: bytes) -> None:
        """Holds the file ``name`` (relative to the folder) with ``data``."""
        self._files[name] = bytes(data)

    def add_json(self, name: str, obj) -> None:
        """Holds ``obj`` as indented JSON; raises now for a NaN or infinite number."""
        self.add(name, _json_bytes(obj))

    def write(self) -> list[Path]:
        """Writes every held file into the folder (made when missing) and returns their paths."""
        self.folder.mkdir(parents=True, exist_ok=True)
        staging = temporary_folder(self.folder, ".incoming-")
        try:
            for name, data in self._files.items():
                write_bytes(staging / name, data)
            paths = []
            for name in self._files:
                path = self.folder / name
                path.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / name, path)
                paths.append(path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return paths

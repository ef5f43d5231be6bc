"""Writing results: files written atomically, a run's files all at once, and JAX and NumPy
values made plain for JSON.

A file is written under a temporary name in its folder, then renamed into place, so a reader
never sees half a file; it gets the permissions any new file gets (the user's umask decides).
A run's files are held in memory by :class:`Outputs` until the run is complete, then written
together: a run that fails leaves its folder as it was. A run writing a folder holds its
:class:`FolderLock`, which covers the folders inside it: no two runs write one folder.
"""

from __future__ import annotations

import contextlib
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
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno and not error.filename:
            raise OSError(error.errno, error.strerror, str(path)) from error  # a full disk: where
        raise
    return path


LOCK = ".lock"


class FolderLock:
    """An exclusive ``flock`` on ``folder/.lock``, held until :meth:`release`; the file says
    which process holds it. The operating system drops the lock when the process dies, so a
    killed run's lock blocks nobody.

    A folder's lock covers what lies inside it: taking it is refused while another run holds
    the lock of a folder that contains ``folder`` (``run_all``'s ``results/`` for a section's
    ``results/NAME/``) or of one of its subfolders (a section's, for ``run_all``). The run
    that holds a containing folder's lock may write inside it through its own processes (the
    workers and notebook kernels ``run_all`` starts): the lock of a folder that contains
    ``folder`` does not count when it is held by this process or one of its ancestors.

    Args:
      folder: the folder; with ``tidy``, made when missing.
      name: what the folder is called for the user (``"checkpoint_dir"``, ``"--out"``).
      tidy: release removes the lock file, and the folder too when this lock made it and it is
        left empty (a results folder: a run that wrote nothing leaves it as it was).

    Raises:
      InputError: when another process holds the lock, or that of a folder containing
        ``folder`` or inside it, naming the folder and that process.
    """

    def __init__(self, folder: Path, name: str, *, tidy: bool = False):
        self.folder = Path(folder)
        self.path = self.folder / LOCK
        self._tidy = tidy
        self._made = []  # the folders this lock makes, innermost first
        if tidy:
            for made in (self.folder, *self.folder.parents):
                if made.exists():
                    break
                self._made.append(made)
            self.folder.mkdir(parents=True, exist_ok=True)
        self._fd = None
        for _ in range(10):  # a tidy lock may remove the file between our open and our flock
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                os.close(fd)
                self._remove_made()
                raise InputError(
                    f"{name}: {folder} is in use by another run ({holder}); {_WAIT}"
                ) from None
            if _same_file(fd, self.path):
                self._fd = fd
                break
            os.close(fd)
        if self._fd is None:
            raise InputError(f"{name}: {folder}: cannot take its lock {self.path}; try again")
        try:
            try:
                os.ftruncate(self._fd, 0)
                os.pwrite(self._fd, _me().encode(), 0)
            except OSError as error:  # a full disk: say where
                raise OSError(error.errno, error.strerror, str(self.folder)) from error
            _check_nested(self.folder, name)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        if self._fd is not None:
            if self._tidy:
                self.path.unlink(missing_ok=True)  # before closing: no one takes a removed file
            os.close(self._fd)  # closing drops the lock
            self._fd = None
            self._remove_made()

    def _remove_made(self) -> None:
        """Removes the folders this lock made that nothing else was written in."""
        with contextlib.suppress(OSError):  # one not empty: it and those around it stay
            for made in self._made:
                made.rmdir()


_WAIT = "wait for it to finish or use another folder"


def _me() -> str:
    """How this process names itself in the lock files it holds."""
    return f"process {os.getpid()} on {socket.gethostname()}"


def _holder(fd: int) -> str:
    return os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def _held(path: Path) -> str | None:
    """Who holds the lock file ``path`` (what it says), or None when there is none or nobody
    holds it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:  # no lock file: most folders
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder(fd)
    except OSError:  # not a file that can be locked
        return None
    finally:
        os.close(fd)
    return None


def _check_nested(folder: Path, name: str) -> None:
    """Refuses ``folder`` when another run holds the lock of a folder containing it (unless
    that run is this process or one of its ancestors) or of a folder right inside it."""
    folder = folder.resolve()
    ours = {f"process {pid} on {socket.gethostname()}" for pid in _ancestry()}
    for parent in folder.parents:
        holder = _held(parent / LOCK)
        if holder is not None and holder not in ours:
            raise InputError(
                f"{name}: {folder} is inside {parent}, in use by another run ({holder}); {_WAIT}"
            )
    for lock in folder.glob(f"*/{LOCK}"):
        holder = _held(lock)
        if holder is not None and holder != _me():
            raise InputError(
                f"{name}: {folder} holds {lock.parent}, in use by another run ({holder}); {_WAIT}"
            )


def _ancestry() -> list[int]:
    """This process and its ancestors (read from /proc; elsewhere this process and its
    parent)."""
    pids, pid = [os.getpid()], os.getppid()
    while pid > 1 and pid not in pids:
        pids.append(pid)
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            pid = int(next(s.split()[1] for s in status.splitlines() if s.startswith("PPid:")))
        except (OSError, StopIteration, ValueError, IndexError):
            break
    return pids


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

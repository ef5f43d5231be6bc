"""Writing results: JSON files written atomically, with JAX and NumPy values made plain."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np


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
        raise ValueError(f"value: expected a finite number, got {value}")
    return value


def write_json(path: str | os.PathLike, obj) -> Path:
    """Writes ``obj`` as indented JSON at ``path``, atomically (see :func:`write_text`).

    Args:
      path: destination; its parent folder is made when missing.
      obj: mappings, sequences, numbers, strings, and arrays (written as nested lists).

    Returns:
      The path written.
    """
    return write_text(path, json.dumps(to_plain(obj), indent=2) + "\n")


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
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

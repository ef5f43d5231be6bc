"""JSON-ready descriptions of what defines a run: numbers, arrays, functions with the arguments
bound to them, and dataclasses (flax modules) by their fields.

A run's record (:class:`jaxdl.engine.record.Run`) and a flax model's config are made of these:
a module's fields, a partial's bound arguments (``functools.partial(nn.BatchNorm,
momentum=0.9)``), a declared configuration's values.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
from collections.abc import Callable, Mapping

import jax
import numpy as np

from jaxdl._checks import is_traced

SMALL = 16  # arrays of at most this many elements are described by their values
_DEPTH = 8  # nesting followed before a value is described by its kind alone


def function_name(fn: Callable | None) -> str | None:
    """A function's name with its package: ``"jaxdl.cross_entropy"``, ``"optax.squared_error"``;
    a partial's is its function's.

    >>> import optax
    >>> function_name(optax.squared_error)
    'optax.squared_error'
    """
    if fn is None:
        return None
    if isinstance(fn, functools.partial):
        return function_name(fn.func)
    package = (getattr(fn, "__module__", None) or "").split(".")[0]
    name = getattr(fn, "__qualname__", type(fn).__name__)
    return f"{package}.{name}" if package else name


def number(x) -> float | int | bool:
    """A NumPy or Python scalar as a Python number; a float32 as the shortest decimal that is
    the same float32 (0.1, not 0.10000000149).

    >>> number(np.float32(0.1)), number(np.int64(3))
    (0.1, 3)
    """
    x = np.asarray(x)
    if x.dtype == np.float32:
        return float(str(x))
    if x.dtype.kind == "f":  # float16, bfloat16, float64, longdouble: as a Python float
        return float(x)
    return x.item()


def array_bytes(a) -> memoryview:
    """The bytes of an array in row-major order, whatever its layout and dtype (bfloat16
    too, whose buffers NumPy cannot hand out as they are)."""
    a = np.ascontiguousarray(np.asarray(a))
    return a.reshape(-1).view(np.uint8).data


def array_digest(arrays) -> str:
    """SHA-256 of the bytes of ``arrays``, in order (row-major, whatever their layout)."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(array_bytes(a))
    return h.hexdigest()


def describe(value, _path: tuple = ()):
    """A JSON-ready description of ``value``, the same for the same values in every process.

    - None, bools, ints, strings as they are; floats too, but NaN and inf as strings;
    - NumPy scalars and arrays of at most ``SMALL`` elements as numbers (lists for arrays);
      larger arrays as ``{"shape", "dtype", "sha256"}``; traced values (under ``jit`` or
      ``vmap``), whose numbers are unknown, as None; a ``jax.random.key`` as ``{"key": its
      data}``;
    - dtypes by name; mappings, lists and tuples element by element (keys that are not
      strings by their descriptions);
    - a dataclass (a flax module) as ``{"name": its class, **its fields}`` (not ``parent``
      and ``name``);
    - a ``functools.partial`` as ``{"function", "args", "keywords"}`` (the empty ones left out);
    - a function or a class as its :func:`function_name` (what it closes over is not read:
      a run declares the values that define it), anything else by its kind,
      ``"<package.Class>"``; a value met again inside itself as ``"<cycle>"``.

    >>> import functools, optax
    >>> describe(functools.partial(optax.huber_loss, delta=2.0))
    {'function': 'optax.huber_loss', 'keywords': {'delta': 2.0}}
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if is_traced(value):
        return None
    if isinstance(value, np.dtype) or (isinstance(value, type) and _is_scalar_type(value)):
        return np.dtype(value).name
    if _is_key(value):
        return {"key": describe(jax.random.key_data(value), _path)}
    if isinstance(value, np.generic):
        return describe(number(value))
    if hasattr(value, "__array__") and hasattr(value, "dtype") and hasattr(value, "shape"):
        return _describe_array(np.asarray(value))
    if id(value) in _path:
        return "<cycle>"
    if len(_path) > _DEPTH:
        return _kind(value)
    path = (*_path, id(value))

    def inner(v):
        return describe(v, path)

    if isinstance(value, Mapping):
        return {k if isinstance(k, str) else str(inner(k)): inner(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [inner(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        named = {f.name: inner(getattr(value, f.name)) for f in fields}
        named = {k: v for k, v in named.items() if k not in ("parent", "name")}
        return {"name": type(value).__name__, **named}
    if isinstance(value, functools.partial):
        described = {"function": inner(value.func)}
        if value.args:
            described["args"] = [inner(a) for a in value.args]
        if value.keywords:
            described["keywords"] = {k: inner(v) for k, v in value.keywords.items()}
        return described
    if isinstance(value, type) or callable(value):
        return function_name(value)
    return _kind(value)


def _describe_array(a: np.ndarray):
    if a.size <= SMALL and a.dtype.kind in "biuf":
        values = [describe(number(v)) for v in a.ravel()]
        return values[0] if a.ndim == 0 else np.reshape(np.array(values, object), a.shape).tolist()
    return {"shape": list(a.shape), "dtype": str(a.dtype), "sha256": array_digest([a])}


def _is_key(value) -> bool:
    dtype = getattr(value, "dtype", None)
    return dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def _is_scalar_type(cls: type) -> bool:
    """NumPy's scalar types (``np.float32``) and JAX's (``jnp.float32``, which has a dtype)."""
    return issubclass(cls, np.generic) or isinstance(getattr(cls, "dtype", None), np.dtype)


def _kind(value) -> str:
    return f"<{function_name(type(value))}>"

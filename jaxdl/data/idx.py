"""Reading and writing IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a header and a payload. The header is a magic number of four bytes — two zero
bytes, a type code, the number of dimensions ``ndim`` — followed by ``ndim`` sizes, each a
big-endian unsigned 32-bit integer. The payload is the array's elements in C order, big-endian.
Files are often gzip-compressed; the reader recognises gzip by its magic bytes ``1f 8b``, not
by the file name.

Everything is checked before an array is returned: the magic number, the type code, the header
length and that the payload holds exactly the elements the header announces. A truncated or
corrupt file (also a broken gzip stream) raises ValueError naming the file, what was expected
and what was found. ``read_idx`` can also check the SHA-256 digest of the uncompressed bytes,
so a re-compressed copy of a file passes and a damaged one fails. It reads the header first and
then no more than the payload it declares plus one byte, so a file with trailing data (say a
small header in front of a huge gzip member) is refused without decompressing it all, and a
header that declares more than the file holds allocates no more than the file's content.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import re
import zlib
from pathlib import Path

import numpy as np

from jaxdl.errors import InputError, InputTypeError
from jaxdl.results import write_bytes

# IDX type code -> element type as stored (big-endian).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# Kind and size of an element ("u1", "f4", ...) -> IDX type code.
_TYPE_CODES = {dtype.str[1:]: code for code, dtype in IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"
_SHA256 = re.compile(r"[0-9a-f]{64}")
# Bytes read at a time: the content grows with what the file holds, never by the header's claim.
_CHUNK = 1 << 20


def _codes() -> str:
    return ", ".join(f"0x{code:02X} ({dtype.name})" for code, dtype in IDX_DTYPES.items())


def decode_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decodes the uncompressed bytes of an IDX file.

    Args:
      data: the file's bytes, header and payload, not compressed.
      name: what to call the data in error messages, e.g. the file name.

    Returns:
      A new, writable array of the header's shape, in native byte order.

    Raises:
      ValueError: on a wrong magic number, an unknown type code, or a header or payload of the
        wrong length; the message names ``name``, what was expected and what was found.

    >>> decode_idx(bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 8, 9]))
    array([7, 8, 9], dtype=uint8)
    """
    dtype, shape, header = _parse_header(data, name)
    expected = math.prod(shape) * dtype.itemsize
    found = len(data) - header
    if found != expected:
        raise _length_error(name, dtype, shape, expected, found, f"{found} bytes")
    array = np.frombuffer(data, dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # a copy: native byte order, writable


def _parse_header(data, name: str) -> tuple[np.dtype, tuple[int, ...], int]:
    """Checks the header at the start of ``data`` (the payload need not follow).

    Returns:
      ``(dtype, shape, header length in bytes)``; ``dtype`` is big-endian, as stored.

    Raises:
      ValueError: on a wrong magic number, an unknown type code, no dimensions, or fewer bytes
        than the header needs.
    """
    if len(data) < 4:
        raise InputError(
            f"{name}: truncated IDX header: expected at least 4 bytes for the magic number, "
            f"found {len(data)} bytes"
        )
    if data[:2] != b"\x00\x00":
        raise InputError(
            f"{name}: not an IDX file: expected the magic number to start with bytes "
            f"0x00 0x00, found 0x{data[0]:02X} 0x{data[1]:02X}"
        )
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        raise InputError(
            f"{name}: unsupported IDX element type code: expected one of {_codes()}, "
            f"found 0x{code:02X}"
        )
    if ndim == 0:
        raise InputError(f"{name}: bad IDX header: expected at least 1 dimension, found 0")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise InputError(
            f"{name}: truncated IDX header: expected {header} bytes for {ndim} dimensions, "
            f"found {len(data)} bytes"
        )
    shape = tuple(int(n) for n in np.frombuffer(data, ">u4", count=ndim, offset=4))
    return IDX_DTYPES[code], shape, header


def _length_error(name, dtype, shape, expected: int, found: int, found_text: str) -> ValueError:
    what = "truncated IDX payload" if found < expected else "trailing bytes after IDX payload"
    return ValueError(
        f"{name}: {what}: expected {expected} bytes of {dtype.name} data for shape {shape}, "
        f"found {found_text}"
    )


def encode_idx(array) -> bytes:
    """Encodes an array as the uncompressed bytes of an IDX file.

    Args:
      array: an array of uint8, int8, int16, int32, float32 or float64 with 1 to 255
        dimensions, each smaller than 2**32.

    Returns:
      The header and the big-endian payload.

    Raises:
      TypeError: when the element type has no IDX type code.
      ValueError: when the number of dimensions or a size does not fit the header.

    >>> encode_idx(np.array([7, 8, 9], np.uint8)).hex()
    '0000080100000003070809'
    """
    array = np.asarray(array)
    code = _TYPE_CODES.get(array.dtype.str[1:])
    if code is None:
        raise InputTypeError(f"array: expected an element type among {_codes()}, got {array.dtype}")
    if not 1 <= array.ndim <= 255:
        raise InputError(f"array: expected 1 to 255 dimensions, got shape {array.shape}")
    if max(array.shape) >= 2**32:
        raise InputError(f"array: expected every size below 2**32, got shape {array.shape}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + np.ascontiguousarray(array, IDX_DTYPES[code]).tobytes()


def _read_up_to(stream, size: int) -> bytearray:
    """Reads ``size`` bytes, fewer at the end of ``stream``, a chunk at a time."""
    data = bytearray()
    while len(data) < size:
        chunk = stream.read(min(size - len(data), _CHUNK))
        if not chunk:
            break
        data += chunk
    return data


def _read_declared(stream, name: str, size: int | None) -> bytearray:
    """Reads the header, then the payload it declares and one byte more, if there is one.

    Args:
      stream: the uncompressed content, at its start.
      name: the file, for messages.
      size: the content's size when known without reading it (a raw file), else None.

    Raises:
      ValueError: on a bad header, or when the content goes on after the declared payload.
    """
    data = _read_up_to(stream, 4)
    if len(data) == 4 and data[:2] == b"\x00\x00":
        data += _read_up_to(stream, 4 * data[3])
    dtype, shape, header = _parse_header(data, name)
    expected = math.prod(shape) * dtype.itemsize
    if size is not None and size - header > expected:
        raise _length_error(name, dtype, shape, expected, size - header, f"{size - header} bytes")
    data += _read_up_to(stream, expected + 1)
    if len(data) - header > expected:  # more follows; how much is not worth reading
        found = expected + 1
        raise _length_error(name, dtype, shape, expected, found, f"{found} bytes or more")
    return data


def _read_content(path: str | os.PathLike) -> bytearray:
    """Reads an IDX file's uncompressed content: the header, then no more than the payload it
    declares plus one byte. Gzip is recognised by its magic bytes.

    Raises:
      ValueError: on a broken gzip stream, a bad header or trailing data, naming the file.
      FileNotFoundError: when there is no file at ``path``.
    """
    name = str(path)
    with open(path, "rb") as file:
        compressed = file.read(2) == _GZIP_MAGIC
        file.seek(0)
        if not compressed:
            return _read_declared(file, name, os.fstat(file.fileno()).st_size)
        try:
            with gzip.GzipFile(fileobj=file, mode="rb") as stream:
                return _read_declared(stream, name, None)
        except (OSError, EOFError, zlib.error) as err:
            raise InputError(
                f"{name}: broken gzip stream: expected a complete gzip file, found an error: {err}"
            ) from err


def read_idx(path: str | os.PathLike, *, sha256: str | None = None) -> np.ndarray:
    """Reads an IDX file, raw or gzip-compressed, and checks it.

    The header is read first, then no more of the content than the payload it declares plus
    one byte: trailing data is refused without reading (or decompressing) the rest, and before
    the digest is checked, as the digest of content not read is unknown. Its message then says
    ``found N bytes or more`` for a gzip file (a raw file's size is known without reading it).

    Args:
      path: the file; gzip is recognised by its magic bytes, whatever the name.
      sha256: when given, the expected SHA-256 digest (64 lowercase hex digits) of the
        uncompressed bytes; a re-compressed copy of a file passes, a damaged one does not.

    Returns:
      A new, writable array of the file's shape and element type, in native byte order.

    Raises:
      ValueError: on a broken gzip stream, a bad header, a payload of the wrong length or a
        digest mismatch; the message names the file, what was expected and what was found.
        The order of the checks: the header, trailing data, the digest, a truncated payload.
      FileNotFoundError: when there is no file at ``path``.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = write_idx(f"{tmp}/x-idx2-int.gz", np.arange(6, dtype=np.int32).reshape(2, 3))
    ...     read_idx(path)
    array([[0, 1, 2],
           [3, 4, 5]], dtype=int32)
    """
    if sha256 is not None and not (isinstance(sha256, str) and _SHA256.fullmatch(sha256)):
        raise InputError(f"sha256: expected 64 lowercase hex digits, got {sha256!r}")
    data = _read_content(path)
    if sha256 is not None:
        found = hashlib.sha256(data).hexdigest()
        if found != sha256:
            raise InputError(
                f"{path}: SHA-256 digest of the uncompressed content does not match: "
                f"expected {sha256}, found {found}"
            )
    return decode_idx(data, str(path))


def write_idx(path: str | os.PathLike, array, compress: bool = True) -> Path:
    """Writes ``array`` as an IDX file, atomically (temporary file, then rename).

    Args:
      path: destination; its parent folder is made when missing. By convention a compressed
        file's name ends in ``.gz``; the reader does not rely on it.
      array: an array of uint8, int8, int16, int32, float32 or float64 (see :func:`encode_idx`).
      compress: gzip the file.

    Returns:
      The path written.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     read_idx(write_idx(f"{tmp}/x-idx1-ubyte", np.array([1, 2], np.uint8), compress=False))
    array([1, 2], dtype=uint8)
    """
    data = encode_idx(array)
    if compress:
        data = gzip.compress(data, compresslevel=6, mtime=0)
    return write_bytes(path, data)

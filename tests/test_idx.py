"""IDX files: hand-written bytes, round trips for every type, and every kind of damage."""

import gzip
import hashlib
import os
import re
import tracemalloc

import numpy as np
import pytest

from jaxdl.data.idx import decode_idx, encode_idx, read_idx, write_idx

# (dtype, IDX type code, values that reach the type's extremes)
DTYPES = [
    (np.uint8, 0x08, [0, 1, 127, 255, 200, 3]),
    (np.int8, 0x09, [-128, -1, 0, 1, 127, 5]),
    (np.int16, 0x0B, [-32768, -1, 0, 1, 32767, 300]),
    (np.int32, 0x0C, [-(2**31), -1, 0, 1, 2**31 - 1, 70000]),
    (np.float32, 0x0D, [-1.5, 0.0, 1e-30, np.inf, np.nan, 3.25]),
    (np.float64, 0x0E, [-1.5, 0.0, 1e-300, -np.inf, np.nan, 1 / 3]),
]


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _named(path) -> str:
    return re.escape(str(path))


def test_reads_hand_written_int16_file(tmp_path):
    # shape [2, 3], int16 big-endian: 1, -2, 3, 256, -32768, 32767
    data = bytes([0, 0, 0x0B, 2, 0, 0, 0, 2, 0, 0, 0, 3])
    data += bytes([0, 1, 0xFF, 0xFE, 0, 3, 1, 0, 0x80, 0, 0x7F, 0xFF])
    x = read_idx(_write(tmp_path / "a-idx2-short", data))
    np.testing.assert_array_equal(x, [[1, -2, 3], [256, -32768, 32767]])
    assert x.dtype == np.int16 and x.dtype.isnative
    x[0, 0] = 5  # the array is the caller's own


def test_reads_hand_written_float32_gzip_file(tmp_path):
    data = bytes([0, 0, 0x0D, 1, 0, 0, 0, 2]) + bytes.fromhex("3f800000c0200000")  # 1.0, -2.5
    x = read_idx(_write(tmp_path / "f.gz", gzip.compress(data)))
    np.testing.assert_array_equal(x, np.array([1.0, -2.5], np.float32))
    assert x.dtype == np.float32


def test_encode_writes_the_header_and_big_endian_payload():
    got = encode_idx(np.array([[1, 2, 3]], np.int32))
    want = bytes([0, 0, 0x0C, 2, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3])
    assert got == want


@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize(
    ("dtype", "code", "values"), DTYPES, ids=lambda v: getattr(v, "__name__", "")
)
def test_round_trip_every_type(tmp_path, dtype, code, values, compress):
    x = np.array(values, dtype).reshape(2, 3, 1)
    path = write_idx(tmp_path / "sub" / "x-idx", x, compress=compress)
    raw = path.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == compress
    header = (gzip.decompress(raw) if compress else raw)[:16]
    assert header == bytes([0, 0, code, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1])
    y = read_idx(path)
    assert y.dtype == np.dtype(dtype) and y.shape == (2, 3, 1)
    np.testing.assert_array_equal(y, x)  # NaN equals NaN here


def test_round_trip_of_big_endian_input_and_empty_array(tmp_path):
    x = np.array([1, -2], ">i4")
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "b", x)), [1, -2])
    empty = np.zeros((0, 28, 28), np.uint8)
    assert read_idx(write_idx(tmp_path / "e", empty)).shape == (0, 28, 28)


def test_gzip_is_detected_by_magic_bytes_not_the_name(tmp_path):
    x = np.arange(4, dtype=np.uint8)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "plain-name", x)), x)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "x.gz", x, compress=False)), x)


def test_write_is_atomic(tmp_path, monkeypatch):
    path = write_idx(tmp_path / "x.gz", np.arange(3, dtype=np.uint8))
    assert os.listdir(tmp_path) == ["x.gz"]  # no temporary file left behind

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_idx(path, np.arange(5, dtype=np.uint8))
    assert os.listdir(tmp_path) == ["x.gz"]
    np.testing.assert_array_equal(read_idx(path), [0, 1, 2])  # the old file is intact


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "truncated IDX header: expected at least 4 bytes .* found 0 bytes"),
        (b"\x00\x00\x08", "truncated IDX header: expected at least 4 bytes .* found 3 bytes"),
        (
            bytes([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1]),
            "truncated IDX header: expected 16 bytes for 3 dimensions, found 12 bytes",
        ),
        (
            bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5]),
            r"truncated IDX payload: expected 6 bytes of uint8 data for shape \(2, 3\), "
            "found 5 bytes",
        ),
        (
            bytes([0, 0, 0x0C, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xAA]),
            r"trailing bytes after IDX payload: expected 4 bytes of int32 data for shape "
            r"\(1,\), found 5 bytes",
        ),
        (
            bytes([8, 3, 0, 0, 0, 0, 0, 1, 7]),
            "not an IDX file: expected the magic number to start with bytes 0x00 0x00, "
            "found 0x08 0x03",
        ),
        (
            bytes([0, 0, 0x0A, 1, 0, 0, 0, 1, 7]),
            r"unsupported IDX element type code: expected one of 0x08 \(uint8\).*found 0x0A",
        ),
        (bytes([0, 0, 8, 0, 7]), "bad IDX header: expected at least 1 dimension, found 0"),
    ],
    ids=[
        "empty",
        "short-magic",
        "short-dims",
        "short-payload",
        "trailing-garbage",
        "wrong-magic",
        "bad-type-code",
        "no-dimensions",
    ],
)
@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_damaged_files_raise_naming_the_file(tmp_path, data, message, compress):
    path = _write(tmp_path / "bad-idx", gzip.compress(data) if compress else data)
    with pytest.raises(ValueError, match=f"^{_named(path)}: {message}"):
        read_idx(path)


def test_decode_names_the_source():
    with pytest.raises(ValueError, match=r"^my bytes: truncated"):
        decode_idx(b"\x00", "my bytes")


@pytest.mark.parametrize("damage", ["truncated", "flipped-byte", "bad-crc", "garbage-after"])
def test_broken_gzip_stream_raises_naming_the_file(tmp_path, damage):
    payload = encode_idx(np.arange(1000, dtype=np.int32))
    gz = bytearray(gzip.compress(payload))
    if damage == "truncated":
        gz = gz[: len(gz) // 2]
    elif damage == "flipped-byte":
        gz[len(gz) // 2] ^= 0xFF
    elif damage == "bad-crc":
        gz[-8] ^= 0x01  # the CRC-32 of the trailer
    else:
        gz += b"this is not gzip"
    path = _write(tmp_path / "x-idx1-ubyte.gz", bytes(gz))
    with pytest.raises(ValueError, match=f"^{_named(path)}: broken gzip stream: expected a"):
        read_idx(path)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_idx(tmp_path / "nowhere")


def test_digest_of_uncompressed_content(tmp_path):
    payload = encode_idx(np.arange(10, dtype=np.uint8))
    digest = hashlib.sha256(payload).hexdigest()
    raw = _write(tmp_path / "raw", payload)
    recompressed = _write(tmp_path / "a.gz", gzip.compress(payload, compresslevel=1))
    for path in (raw, recompressed):  # the same content passes, however compressed
        np.testing.assert_array_equal(read_idx(path, sha256=digest), np.arange(10))
    damaged = _write(tmp_path / "damaged", payload[:-1] + b"\x63")
    found = hashlib.sha256(damaged.read_bytes()).hexdigest()
    with pytest.raises(
        ValueError,
        match=f"^{_named(damaged)}: SHA-256 digest .* expected {digest}, found {found}$",
    ):
        read_idx(damaged, sha256=digest)


@pytest.mark.parametrize("bad", ["abc", "A" * 64, 123])
def test_bad_digest_argument(tmp_path, bad):
    path = write_idx(tmp_path / "x", np.zeros(1, np.uint8))
    with pytest.raises(ValueError, match="sha256: expected 64 lowercase hex digits, got"):
        read_idx(path, sha256=bad)


@pytest.mark.parametrize("dtype", [np.int64, np.bool_, np.float16, np.uint16, np.complex64])
def test_write_rejects_types_without_idx_code(tmp_path, dtype):
    with pytest.raises(
        TypeError, match=f"array: expected an element type among .*got {np.dtype(dtype)}"
    ):
        write_idx(tmp_path / "x", np.zeros(2, dtype))
    assert not list(tmp_path.iterdir())


def test_write_rejects_scalars(tmp_path):
    with pytest.raises(ValueError, match=r"array: expected 1 to 255 dimensions, got shape \(\)"):
        write_idx(tmp_path / "x", np.uint8(3))


# A header for 10 uint8 items, then far more bytes than it declares: the reader must stop at
# the declared size (plus one byte, to see that more follows) and not decompress the rest.
SMALL_HEADER = bytes([0, 0, 0x08, 1, 0, 0, 0, 10])
BIG_TAIL = 50_000_000


def _peak_bytes(function):
    tracemalloc.start()
    try:
        function()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
def test_trailing_data_is_refused_without_reading_it_all(tmp_path, compress):
    content = SMALL_HEADER + bytes(10) + bytes(BIG_TAIL)  # zeros: compresses to ~50 KB
    path = _write(tmp_path / "big", gzip.compress(content, 1) if compress else content)
    del content
    found = "11 bytes or more" if compress else f"{10 + BIG_TAIL} bytes"

    def read():
        with pytest.raises(
            ValueError,
            match=f"^{_named(path)}: trailing bytes after IDX payload: expected 10 bytes of uint8 "
            rf"data for shape \(10,\), found {found}$",
        ):
            read_idx(path, sha256="0" * 64)  # refused before any digest of all the content

    assert _peak_bytes(read) < BIG_TAIL // 10


def test_a_huge_declared_size_is_not_allocated(tmp_path):
    # 2**32 - 1 squared float64: far beyond any memory; the file holds 3 bytes of payload.
    header = bytes([0, 0, 0x0E, 2]) + b"\xff\xff\xff\xff" * 2
    for compress in (False, True):
        data = header + b"abc"
        path = _write(tmp_path / "huge", gzip.compress(data) if compress else data)
        with pytest.raises(ValueError, match=f"^{_named(path)}: truncated IDX payload: .*found 3"):
            read_idx(path)


def test_exact_size_still_checks_the_whole_gzip_stream(tmp_path):
    content = encode_idx(np.arange(100_000, dtype=np.int32))  # spans many read chunks
    gz = bytearray(gzip.compress(content))
    np.testing.assert_array_equal(read_idx(_write(tmp_path / "ok.gz", bytes(gz))), np.arange(1e5))
    gz[-8] ^= 0x01  # the CRC-32 of the trailer, checked only at the end of the stream
    path = _write(tmp_path / "bad.gz", bytes(gz))
    with pytest.raises(ValueError, match=f"^{_named(path)}: broken gzip stream"):
        read_idx(path)
    two_members = gzip.compress(content[:1000]) + gzip.compress(content[1000:])
    np.testing.assert_array_equal(
        read_idx(_write(tmp_path / "two.gz", two_members)), np.arange(100_000)
    )

"""Fashion-MNIST's four IDX files: their names and digests, finding them in a folder, checking
and loading them, and the splits they hold.

A folder holds the four files of the original release, gzip-compressed or not. Each file's
uncompressed content is checked against the SHA-256 digest of the original file
(``EXPECTED_SHA256``); shapes, types, label range and counts are checked always, for data from
any source (:func:`_check_split`). :mod:`jaxdl.data.fashion_mnist` is the module to import.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np

from jaxdl.data.idx import read_idx
from jaxdl.data.images import NUM_CLASSES
from jaxdl.errors import InputError, InputTypeError

IMAGE_SHAPE = (28, 28)
# Split -> (images file, labels file), the names of the original release without ".gz".
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# SHA-256 of the original files' uncompressed bytes.
EXPECTED_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
_SHA256 = re.compile(r"[0-9a-f]{64}")


class Split(NamedTuple):
    """One split of Fashion-MNIST, on the host.

    Attributes:
      images: uint8 [N, 28, 28], pixel values 0..255.
      labels: int32 [N], class indices 0..9 (see :func:`text_labels`).
    """

    images: np.ndarray
    labels: np.ndarray


class FashionMNIST(NamedTuple):
    """Fashion-MNIST's training (60000 images) and test (10000 images) splits, and the data's
    fingerprint taken as they were loaded: ``{file name: SHA-256}``, the digest each file was
    checked against, or, for a file not checked (TFDS's data, ``verify=False``), of its
    decoded array's bytes."""

    train: Split
    test: Split
    digests: Mapping[str, str]


def array_digests(splits: Mapping[str, Split]) -> dict[str, str]:
    """``{file name: SHA-256 of the decoded array's bytes}`` of ``{"train"|"test": Split}``."""
    return {
        name: hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
        for split, names in FILES.items()
        for name, array in zip(names, splits[split], strict=True)
    }


def _all_names() -> list[str]:
    return [name for pair in FILES.values() for name in pair]


def _digests(verify) -> Mapping[str, str | None]:
    """File name -> expected digest (None: not checked), from ``verify``."""
    if verify is True:
        return dict(EXPECTED_SHA256)
    if verify is False:
        return dict.fromkeys(_all_names())
    if isinstance(verify, Mapping):
        missing = [name for name in _all_names() if name not in verify]
        if missing:
            raise InputError(
                f"verify: expected a digest for each of {_all_names()}, missing {missing}"
            )
        for name in _all_names():
            digest = verify[name]
            if digest is not None and not (isinstance(digest, str) and _SHA256.fullmatch(digest)):
                raise InputError(
                    f"verify[{name!r}]: expected 64 lowercase hex digits or None, got {digest!r}"
                )
        return verify
    raise InputTypeError(
        f"verify: expected True, False or a mapping of file names to digests, got {verify!r}"
    )


def _find_files(folder: Path) -> tuple[dict[str, Path], str]:
    """The four files in ``folder`` (uncompressed preferred: faster) and, when some are
    missing, a sentence saying what is missing."""
    if not folder.is_dir():
        return {}, "no such folder" if not folder.exists() else "not a folder"
    found, missing = {}, []
    for name in _all_names():
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                found[name] = candidate
                break
        else:
            missing.append(f"{name}[.gz]")
    return found, f"missing {', '.join(missing)}" if missing else ""


def _check_split(images: np.ndarray, labels: np.ndarray, images_from: str, labels_from: str):
    """Checks shapes, types and label range; returns the Split (labels as int32)."""
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise InputError(
            f"{images_from}: expected uint8 images [N, 28, 28], found {images.dtype} "
            f"{list(images.shape)}"
        )
    if labels.ndim != 1 or labels.dtype.kind not in "ui":
        raise InputError(
            f"{labels_from}: expected integer labels [N], found {labels.dtype} {list(labels.shape)}"
        )
    if len(images) != len(labels):
        raise InputError(
            f"{images_from} and {labels_from}: expected as many images as labels, "
            f"found {len(images)} images and {len(labels)} labels"
        )
    bad = np.flatnonzero((labels < 0) | (labels >= NUM_CLASSES))
    if bad.size:
        raise InputError(
            f"{labels_from}: expected labels in [0, {NUM_CLASSES}), found {bad.size} outside, "
            f"the first {labels[bad[0]]} at index {bad[0]}"
        )
    return Split(images, labels.astype(np.int32))


def _load_folder(files: Mapping[str, Path], digests: Mapping[str, str | None]) -> FashionMNIST:
    splits = {}
    for split, (images_name, labels_name) in FILES.items():
        images_path, labels_path = files[images_name], files[labels_name]
        images = read_idx(images_path, sha256=digests[images_name])
        labels = read_idx(labels_path, sha256=digests[labels_name])
        splits[split] = _check_split(images, labels, str(images_path), str(labels_path))
    unchecked = array_digests(splits) if None in digests.values() else {}
    return FashionMNIST(**splits, digests={n: digests[n] or unchecked[n] for n in _all_names()})


def _check_file(path: Path) -> None:
    """Checks one of the four files (named as in the release, ``.gz`` or not) against its
    digest in ``EXPECTED_SHA256``."""
    read_idx(path, sha256=EXPECTED_SHA256[path.name.removesuffix(".gz")])


def _check_existing(folder: Path) -> list[str]:
    """The files that ``folder`` lacks. Those it holds are checked against their digests."""
    files, _ = _find_files(folder)
    for path in files.values():
        try:
            _check_file(path)
        except ValueError as err:
            raise InputError(f"{err} (delete {path} to download it again)") from err
    return [name for name in _all_names() if name not in files]

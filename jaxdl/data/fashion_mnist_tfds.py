"""Fashion-MNIST from TensorFlow Datasets' prepared data, when they are already on disk.

TFDS is optional (``pip install 'jaxdl[tfds]'``) and imported only when this source is tried.
``tfds.data_source("fashion_mnist", download=False)`` reads array_record files without
TensorFlow and never goes online; the records are read in batches into a :class:`Split` and
checked as files are (:func:`jaxdl.data.fashion_mnist_files._check_split`).
:mod:`jaxdl.data.fashion_mnist` is the module to import.
"""

from __future__ import annotations

import logging

import numpy as np

from jaxdl.data.fashion_mnist_files import (
    IMAGE_SHAPE,
    FashionMNIST,
    Split,
    _check_split,
    array_digests,
)
from jaxdl.errors import InputError

logger = logging.getLogger(__name__)

TFDS_NAME = "fashion_mnist"
_TFDS_CHUNK = 8192  # records per batched read from a TFDS data source


def _split_from_records(source, name: str) -> Split:
    """Reads a TFDS data source of ``{'image': uint8 [28, 28, 1], 'label': int}`` records into
    a Split, in batched reads (``__getitems__``)."""
    n = len(source)
    images = np.empty((n, *IMAGE_SHAPE), np.uint8)
    labels = np.empty(n, np.int64)
    for start in range(0, n, _TFDS_CHUNK):
        stop = min(start + _TFDS_CHUNK, n)
        records = source.__getitems__(list(range(start, stop)))
        chunk = np.stack([np.asarray(r["image"]) for r in records])
        if chunk.dtype != np.uint8 or chunk.shape != (stop - start, *IMAGE_SHAPE, 1):
            raise InputError(
                f"{name}: expected uint8 images [28, 28, 1], found {chunk.dtype} "
                f"{list(chunk.shape[1:])}"
            )
        images[start:stop] = chunk[..., 0]
        labels[start:stop] = [r["label"] for r in records]
    return _check_split(images, labels, f"{name} images", f"{name} labels")


def _import_tfds():
    """TensorFlow Datasets, or None when it is not installed."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        return None
    return tfds


def _load_prepared_tfds(tried: list) -> tuple[FashionMNIST | None, Exception | None]:
    """Fashion-MNIST from TensorFlow Datasets when it is installed and its prepared data are on
    disk (never downloading), else None, with a line appended to ``tried`` and TFDS's error."""
    place = f"TensorFlow Datasets, tfds.data_source({TFDS_NAME!r}, download=False)"
    tfds = _import_tfds()
    if tfds is None:
        tried.append((place, "not installed (pip install 'jaxdl[tfds]')"))
        return None, None
    try:
        sources = tfds.data_source(TFDS_NAME, split=["train", "test"], download=False)
    except Exception as err:  # TFDS fails in many ways when its data are not prepared
        tried.append((place, f"{type(err).__name__}: {err}"))
        return None, err
    logger.info("Fashion-MNIST from %s", place)
    train, test = (
        _split_from_records(s, f"TFDS {TFDS_NAME} {n}")
        for s, n in zip(sources, ("train", "test"), strict=True)
    )
    return FashionMNIST(train, test, array_digests({"train": train, "test": test})), None

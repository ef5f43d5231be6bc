"""Fashion-MNIST: finding, checking, downloading and loading it, its text labels, and the
move of the images to the device.

``load_fashion_mnist`` takes the first source that applies:

1. ``data_dir``, when given;
2. else the folder named by ``$JAXDL_DATA_DIR``, when set and not empty;
3. else the first folder of ``DEFAULT_DIRS`` that holds the four files: the Debian package's
   ``/usr/share/datasets/fashion-mnist`` (``apt-get install -y dataset-fashion-mnist``);
4. else the download cache, :func:`default_cache_dir` (``$XDG_CACHE_HOME/jaxdl/fashion-mnist``,
   by default ``~/.cache/jaxdl/fashion-mnist``), when it holds the four files;
5. else TensorFlow Datasets, only when it is installed (``pip install 'jaxdl[tfds]'``) and its
   prepared Fashion-MNIST is already on disk: ``tfds.data_source("fashion_mnist",
   download=False)`` reads array_record files without TensorFlow and never goes online;
6. else :func:`download_fashion_mnist` fetches the four files into the download cache, unless
   ``$JAXDL_DOWNLOAD`` is ``0``, ``off``, ``no`` or ``false``. The files come from
   ``$JAXDL_FASHION_MNIST_URL`` (the base URL of a mirror) or else from the original release,
   ``DEFAULT_URL``. A request is given up when the server does not answer within
   ``DOWNLOAD_TIMEOUT`` seconds or then sends less than 64 KiB in any such span, and is not
   retried: offline, this step fails within seconds.

When none applies, ``FileNotFoundError`` lists every source tried, why each failed, and the
ways to get the data.

A source named explicitly, ``data_dir`` or ``$JAXDL_DATA_DIR``, is the only one used: when
that folder does not exist or lacks any of the four files, the loader raises
``FileNotFoundError`` naming the argument or variable and exactly which files are missing,
rather than fall back silently to other data. Only the later sources are tried one after the
other.

A folder holds the four IDX files of the original release, gzip-compressed
(``train-images-idx3-ubyte.gz``, ...) or not (the same names without ``.gz``). Each file's
uncompressed content is checked against the SHA-256 digest of the original file
(``EXPECTED_SHA256``), so a re-compressed copy such as Debian's passes and a damaged one fails.
A download is checked the same way before it enters the cache: each file is written into a
temporary folder inside the cache folder and renamed into the cache only once its content
matches its digest, so a partial or wrong download is never used, nor left behind.

The data stay NumPy arrays on the host: images uint8 [N, 28, 28], labels int32 [N].
:func:`to_device` moves images to the device once and scales them there, keeping their shape:
float32 [N, 28, 28, 1] in [0, 1], channels-last; the models flatten them.

This is the module to import. It holds the loader and re-exports the names of the modules it
draws on: :mod:`jaxdl.data.fashion_mnist_files` (the four files, their digests and checks, the
``Split`` and ``FashionMNIST`` types), :mod:`jaxdl.data.fashion_mnist_tfds`,
:mod:`jaxdl.data.fashion_mnist_download` and :mod:`jaxdl.data.images` (``text_labels``,
``to_device``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from jaxdl.data.download import _OFF, DOWNLOAD_ENV_VAR, DOWNLOAD_TIMEOUT, download_setting
from jaxdl.data.fashion_mnist_download import (
    DEFAULT_URL,
    URL_ENV_VAR,
    default_cache_dir,
    download_fashion_mnist,
)
from jaxdl.data.fashion_mnist_files import (
    EXPECTED_SHA256,
    FILES,
    IMAGE_SHAPE,
    FashionMNIST,
    Split,
    _all_names,
    _digests,
    _find_files,
    _load_folder,
)
from jaxdl.data.fashion_mnist_tfds import TFDS_NAME, _load_prepared_tfds
from jaxdl.data.images import NUM_CLASSES, TEXT_LABELS, text_labels, to_device

__all__ = [
    "DEFAULT_DIRS",
    "DEFAULT_URL",
    "DOWNLOAD_ENV_VAR",
    "DOWNLOAD_TIMEOUT",
    "ENV_VAR",
    "EXPECTED_SHA256",
    "FILES",
    "IMAGE_SHAPE",
    "NUM_CLASSES",
    "TEXT_LABELS",
    "TFDS_NAME",
    "URL_ENV_VAR",
    "FashionMNIST",
    "Split",
    "default_cache_dir",
    "download_fashion_mnist",
    "load_fashion_mnist",
    "text_labels",
    "to_device",
]

logger = logging.getLogger(__name__)

ENV_VAR = "JAXDL_DATA_DIR"
DEFAULT_DIRS: tuple[Path, ...] = (Path("/usr/share/datasets/fashion-mnist"),)


def _nothing_found(tried: list[tuple[str, str]]) -> FileNotFoundError:
    places = "\n".join(f"  - {place}: {why}" for place, why in tried)
    files = ", ".join(f"{name}.gz" for name in _all_names())
    switches = ", ".join(_OFF)
    return FileNotFoundError(
        "Fashion-MNIST not found. Looked in:\n"
        f"{places}\n"
        "Get it in one of four ways:\n"
        "  1. install the Debian/Ubuntu package: sudo apt-get install -y dataset-fashion-mnist\n"
        "  2. with pip only (macOS, Windows, Linux): let jaxdl download it when online, into "
        f"{default_cache_dir()}: load_fashion_mnist() does on first use, as does "
        f"jaxdl.data.download_fashion_mnist() (unless ${DOWNLOAD_ENV_VAR} is {switches})\n"
        f"  3. put the four IDX files ({files}) in a folder and pass it as data_dir or set "
        f"${ENV_VAR}\n"
        f"  4. behind a firewall: set ${URL_ENV_VAR} to the base URL of a mirror of these "
        "four files"
    )


def load_fashion_mnist(
    data_dir: str | os.PathLike | None = None,
    *,
    verify: bool | Mapping[str, str] = True,
    download: bool | None = None,
) -> FashionMNIST:
    """Finds, checks and loads Fashion-MNIST, downloading it when no source has it.

    Sources, the first that applies (see the module docstring): ``data_dir``; else
    ``$JAXDL_DATA_DIR`` (when set and not empty); else the first folder of ``DEFAULT_DIRS``
    holding the four files (Debian's); else the download cache (:func:`default_cache_dir`);
    else TensorFlow Datasets, when installed and its prepared data are on disk (never
    downloading); else :func:`download_fashion_mnist` into the cache, unless turned off. An
    explicit source (``data_dir`` or ``$JAXDL_DATA_DIR``) is used alone: if it lacks a file,
    that is an error, never a fall-back to the later sources.

    Args:
      data_dir: a folder of the four IDX files, ``.gz`` or not. When given, only this folder
        is used.
      verify: ``True`` checks each IDX file's uncompressed content against
        ``EXPECTED_SHA256``; ``False`` skips the digests (a small generated set); a mapping of
        the four file names (without ``.gz``) to SHA-256 digests (or None: not checked)
        checks against those. Shapes,
        types, label range and counts are checked always. Data from TFDS have no digests here
        (TFDS checks its downloads itself). A download is always checked against
        ``EXPECTED_SHA256`` before it enters the cache.
      download: whether to download when no source has the data; None: yes, unless
        ``$JAXDL_DOWNLOAD`` is ``0``, ``off``, ``no`` or ``false``.

    Returns:
      ``FashionMNIST(train, test)``, each a ``Split(images uint8 [N, 28, 28], labels int32
      [N])`` of NumPy arrays on the host.

    Raises:
      FileNotFoundError: when ``data_dir``, or else the folder of ``$JAXDL_DATA_DIR``, does not
        exist or lacks any of the four files (the message names the argument or variable and
        the missing files); or when no source has the data and the download is turned off or
        fails (the message lists every source tried, why each failed, and how to get the
        data; the download's error is the ``__cause__``).
      ValueError: on a damaged file (header, length, digest), labels outside [0, 10), or
        different numbers of images and labels; on a ``$JAXDL_DOWNLOAD`` that is neither on
        nor off.

    >>> import tempfile
    >>> import numpy as np
    >>> from jaxdl.data.idx import write_idx
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     for images, labels in FILES.values():
    ...         _ = write_idx(f"{tmp}/{images}.gz", np.zeros((3, 28, 28), np.uint8))
    ...         _ = write_idx(f"{tmp}/{labels}.gz", np.array([0, 9, 4], np.uint8))
    ...     data = load_fashion_mnist(tmp, verify=False)
    >>> data.train.images.shape, data.test.labels
    ((3, 28, 28), array([0, 9, 4], dtype=int32))
    """
    digests = _digests(verify)
    download, not_downloading = download_setting(download)
    if data_dir is not None:
        folder = Path(data_dir)
        files, missing = _find_files(folder)
        if missing:
            raise FileNotFoundError(
                f"data_dir: expected a folder with the Fashion-MNIST IDX files, "
                f"got {str(folder)!r}: {missing}"
            )
        logger.info("Fashion-MNIST from %s", folder)
        return _load_folder(files, digests)

    cache = default_cache_dir()
    env = os.environ.get(ENV_VAR)
    if env:
        folder = Path(env)
        files, missing = _find_files(folder)
        if missing:
            defaults = "".join(f"{str(d)!r}, " for d in DEFAULT_DIRS)
            then = ", then download it" if download else ""
            raise FileNotFoundError(
                f"${ENV_VAR}: expected a folder with the Fashion-MNIST IDX files, got {env!r}: "
                f"{missing} (unset {ENV_VAR} to look in {defaults}the download cache "
                f"{str(cache)!r} and TensorFlow Datasets instead{then})"
            )
        logger.info("Fashion-MNIST from %s (%s)", folder, ENV_VAR)
        return _load_folder(files, digests)

    tried = [(f"${ENV_VAR}", "not set")]
    for folder in map(Path, DEFAULT_DIRS):
        files, missing = _find_files(folder)
        if not missing:
            logger.info("Fashion-MNIST from %s", folder)
            return _load_folder(files, digests)
        tried.append((str(folder), missing))

    files, missing = _find_files(cache)
    if not missing:
        logger.info("Fashion-MNIST from the download cache %s", cache)
        return _load_folder(files, digests)
    tried.append((f"the download cache {cache}", missing))

    data, cause = _load_prepared_tfds(tried)
    if data is not None:
        return data

    place = f"download from {os.environ.get(URL_ENV_VAR) or DEFAULT_URL}"
    if not download:
        tried.append((place, not_downloading))
        raise _nothing_found(tried) from cause
    try:
        folder = download_fashion_mnist(cache)
    except (OSError, ValueError) as err:
        tried.append((place, f"{type(err).__name__}: {err}"))
        raise _nothing_found(tried) from err
    logger.info("Fashion-MNIST downloaded into %s", folder)
    files, _ = _find_files(folder)
    return _load_folder(files, digests)

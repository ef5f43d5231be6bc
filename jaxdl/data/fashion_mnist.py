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
   ``DEFAULT_URL``. A request waits at most ``DOWNLOAD_TIMEOUT`` seconds to connect and for
   each read, and is not retried: offline, this step fails within seconds.

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
:func:`to_device` moves images to the device once and scales them there.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.data.download import download_checked
from jaxdl.data.idx import read_idx

logger = logging.getLogger(__name__)

NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28)
TEXT_LABELS = (
    "t-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)
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
ENV_VAR = "JAXDL_DATA_DIR"
DEFAULT_DIRS: tuple[Path, ...] = (Path("/usr/share/datasets/fashion-mnist"),)
DOWNLOAD_ENV_VAR = "JAXDL_DOWNLOAD"  # 0, off, no or false: never download
URL_ENV_VAR = "JAXDL_FASHION_MNIST_URL"  # the base URL of a mirror
DEFAULT_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DOWNLOAD_TIMEOUT = 10.0  # seconds to connect, and to wait for each read; never retried
TFDS_NAME = "fashion_mnist"
_OFF = ("0", "off", "no", "false")
_ON = ("1", "on", "yes", "true")
_TFDS_CHUNK = 8192  # records per batched read from a TFDS data source
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
    """Fashion-MNIST's training (60000 images) and test (10000 images) splits."""

    train: Split
    test: Split


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
            raise ValueError(
                f"verify: expected a digest for each of {_all_names()}, missing {missing}"
            )
        for name in _all_names():
            digest = verify[name]
            if digest is not None and not (isinstance(digest, str) and _SHA256.fullmatch(digest)):
                raise ValueError(
                    f"verify[{name!r}]: expected 64 lowercase hex digits or None, got {digest!r}"
                )
        return verify
    raise TypeError(
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
        raise ValueError(
            f"{images_from}: expected uint8 images [N, 28, 28], found {images.dtype} "
            f"{list(images.shape)}"
        )
    if labels.ndim != 1 or labels.dtype.kind not in "ui":
        raise ValueError(
            f"{labels_from}: expected integer labels [N], found {labels.dtype} {list(labels.shape)}"
        )
    if len(images) != len(labels):
        raise ValueError(
            f"{images_from} and {labels_from}: expected as many images as labels, "
            f"found {len(images)} images and {len(labels)} labels"
        )
    bad = np.flatnonzero((labels < 0) | (labels >= NUM_CLASSES))
    if bad.size:
        raise ValueError(
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
    return FashionMNIST(**splits)


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
            raise ValueError(
                f"{name}: expected uint8 images [28, 28, 1], found {chunk.dtype} "
                f"{list(chunk.shape[1:])}"
            )
        images[start:stop] = chunk[..., 0]
        labels[start:stop] = [r["label"] for r in records]
    return _check_split(images, labels, f"{name} images", f"{name} labels")


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/jaxdl/fashion-mnist`` (``~/.cache/jaxdl/fashion-mnist`` when the
    variable is unset or empty): where :func:`download_fashion_mnist` puts the files."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jaxdl" / "fashion-mnist"


def _download_setting(download: bool | None) -> tuple[bool, str]:
    """Whether to download (the argument, else ``$JAXDL_DOWNLOAD``) and, when not, why not."""
    if download is not None:
        if not isinstance(download, bool):
            raise TypeError(f"download: expected True, False or None, got {download!r}")
        return download, "turned off by download=False"
    value = os.environ.get(DOWNLOAD_ENV_VAR, "")
    if value.strip().lower() in _OFF:
        return False, f"turned off by ${DOWNLOAD_ENV_VAR}={value}"
    if value.strip().lower() not in ("", *_ON):
        raise ValueError(
            f"${DOWNLOAD_ENV_VAR}: expected one of {', '.join(_OFF + _ON)} (or unset), "
            f"got {value!r}"
        )
    return True, ""


def _base_url(base_url: str | None) -> str:
    """The argument, else ``$JAXDL_FASHION_MNIST_URL``, else ``DEFAULT_URL``; ends in "/"."""
    name, url = "base_url", base_url
    if url is None:
        name, url = f"${URL_ENV_VAR}", os.environ.get(URL_ENV_VAR) or DEFAULT_URL
    if not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        raise ValueError(f"{name}: expected an http:// or https:// URL, got {url!r}")
    return url if url.endswith("/") else f"{url}/"


def _check_existing(folder: Path) -> list[str]:
    """The files that ``folder`` lacks. Those it holds are checked against their digests."""
    files, _ = _find_files(folder)
    for name, path in files.items():
        try:
            read_idx(path, sha256=EXPECTED_SHA256[name])
        except ValueError as err:
            raise ValueError(f"{err} (delete {path} to download it again)") from err
    return [name for name in _all_names() if name not in files]


def download_fashion_mnist(
    folder: str | os.PathLike | None = None,
    *,
    base_url: str | None = None,
    timeout: float = DOWNLOAD_TIMEOUT,
    progressbar: bool = True,
) -> Path:
    """Downloads the four Fashion-MNIST IDX files, checked, into ``folder``.

    Each missing file, ``{base_url}{name}.gz``, is written into a temporary folder inside
    ``folder``, its uncompressed content checked against ``EXPECTED_SHA256`` (with
    :func:`jaxdl.data.idx.read_idx`), and only then renamed into ``folder``. On any failure
    the temporary folder is removed: nothing partial or unchecked is left, while files that
    were checked stay, so a later call fetches only what is still missing. Files already in
    ``folder`` are checked, not downloaded again. One request per file, no retries; the first
    failure ends the call.

    Args:
      folder: where the files go; made when missing. None: :func:`default_cache_dir`.
      base_url: the URL the file names are appended to. None: ``$JAXDL_FASHION_MNIST_URL``,
        else ``DEFAULT_URL`` (the original release).
      timeout: seconds to wait for a connection, and for each read, > 0.
      progressbar: show a progress bar per file (tqdm, on stderr).

    Returns:
      ``folder``, holding the four checked files.

    Raises:
      TimeoutError: when the server does not answer within ``timeout``.
      ConnectionError: when the host is unknown or unreachable, the server refuses or answers
        with an HTTP error, or the transfer breaks off.
      ValueError: when a downloaded file is damaged or its digest does not match (it is
        deleted), a file already in ``folder`` does not match, or ``base_url``
        (``$JAXDL_FASHION_MNIST_URL``) is not an http(s) URL or ``timeout`` not > 0.
      Each message names the file's URL and why.
    """
    url = _base_url(base_url)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ValueError(f"timeout: expected a number of seconds > 0, got {timeout!r}")
    folder = default_cache_dir() if folder is None else Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    missing = _check_existing(folder)
    files = {f"{name}.gz": f"{url}{name}.gz" for name in missing}

    def check(path: Path) -> None:
        read_idx(path, sha256=EXPECTED_SHA256[path.name.removesuffix(".gz")])

    download_checked(files, folder, check, timeout=timeout, progressbar=progressbar)
    return folder


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
    return FashionMNIST(train, test), None


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
    download, not_downloading = _download_setting(download)
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


def text_labels(labels) -> list[str]:
    """The book's names of Fashion-MNIST classes.

    Args:
      labels: class indices [n], integers in [0, 10).

    Returns:
      One name per label, from ``TEXT_LABELS``.

    Raises:
      TypeError: when ``labels`` are not integers.
      ValueError: when ``labels`` is not 1-D or holds a value outside [0, 10).

    >>> text_labels([0, 9, 5])
    ['t-shirt', 'ankle boot', 'sandal']
    """
    labels = np.asarray(labels)
    if labels.dtype.kind not in "ui":
        raise TypeError(f"labels: expected integer class indices, got dtype {labels.dtype}")
    if labels.ndim != 1:
        raise ValueError(f"labels: expected a 1-D array [n], got shape {labels.shape}")
    bad = labels[(labels < 0) | (labels >= NUM_CLASSES)]
    if bad.size:
        raise ValueError(
            f"labels: expected class indices in [0, {NUM_CLASSES}), got {bad.tolist()}"
        )
    return [TEXT_LABELS[int(i)] for i in labels]


def to_device(images, device=None) -> jax.Array:
    """Moves uint8 images to the device once, then scales and flattens them there.

    Only the uint8 array crosses to the device (a quarter of the float32 bytes); the cast,
    the division by 255 and the reshape are ``jnp`` operations on the device. Labels need no
    helper: ``jnp.asarray(split.labels)`` (or ``jax.device_put``) moves them as int32.

    Args:
      images: uint8 [n, height, width] (or any [n, ...]), NumPy or JAX.
      device: a ``jax.Device`` or ``Sharding`` for ``jax.device_put``; None is the default
        device.

    Returns:
      float32 [n, height * width] in [0, 1], on the device.

    Raises:
      TypeError: when ``images`` are not uint8.
      ValueError: when ``images`` have fewer than 2 dimensions.

    >>> to_device(np.array([[[0, 255], [51, 102]]], np.uint8))
    Array([[0. , 1. , 0.2, 0.4]], dtype=float32)
    """
    if not isinstance(images, jax.Array):
        images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"images: expected uint8 pixel values, got dtype {images.dtype}")
    if images.ndim < 2:
        raise ValueError(f"images: expected [n, height, width], got shape {images.shape}")
    x = jax.device_put(images, device)
    return jnp.reshape(x, (x.shape[0], math.prod(x.shape[1:]))).astype(jnp.float32) / 255.0

"""Downloading Fashion-MNIST's four files, checked, into the download cache, and the settings
that say whether and from where.

``$JAXDL_DOWNLOAD`` (``0``, ``off``, ``no`` or ``false``) turns the download off;
``$JAXDL_FASHION_MNIST_URL`` names the base URL of a mirror, else the files come from the
original release, ``DEFAULT_URL``. A request is given up when the server does not answer
within ``DOWNLOAD_TIMEOUT`` seconds or then sends less than 64 KiB in any such span
(:mod:`jaxdl.data.download`), and is not retried. Each file is written into a temporary folder
inside the cache folder and renamed into the cache only once its content matches its digest
(:func:`jaxdl.data.download.download_checked`). :mod:`jaxdl.data.fashion_mnist` is the module
to import.
"""

from __future__ import annotations

import os
from pathlib import Path

from jaxdl.data import download
from jaxdl.data.download import DOWNLOAD_TIMEOUT, cache_folder, download_checked
from jaxdl.data.fashion_mnist_files import _check_existing, _check_file

URL_ENV_VAR = "JAXDL_FASHION_MNIST_URL"  # the base URL of a mirror
DEFAULT_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
# The most bytes each gzip file can have: its content's size (the digests fix it) and gzip's
# overhead on data it cannot compress (under 0.1%), whatever compression level made it.
_CONTENT = {
    "train-images-idx3-ubyte": 16 + 60_000 * 784,
    "train-labels-idx1-ubyte": 8 + 60_000,
    "t10k-images-idx3-ubyte": 16 + 10_000 * 784,
    "t10k-labels-idx1-ubyte": 8 + 10_000,
}
MAX_BYTES = {f"{name}.gz": size + size // 1000 + 1024 for name, size in _CONTENT.items()}


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/jaxdl/fashion-mnist`` (``~/.cache/jaxdl/fashion-mnist`` when the
    variable is unset or empty): where :func:`download_fashion_mnist` puts the files."""
    return cache_folder("fashion-mnist")


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
      timeout: seconds to wait for the server's answer, and the span in which it must then
        send at least 64 KiB, > 0.
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
    url = download.base_url(base_url, URL_ENV_VAR, DEFAULT_URL)
    timeout = download.check_timeout(timeout)
    folder = default_cache_dir() if folder is None else Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    missing = _check_existing(folder)
    files = {f"{name}.gz": f"{url}{name}.gz" for name in missing}
    download_checked(
        files,
        folder,
        _check_file,
        max_bytes=MAX_BYTES,
        timeout=timeout,
        progressbar=progressbar,
    )
    return folder

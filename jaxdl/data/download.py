"""Downloading files that are checked before they are used (pooch, one request each).

Each file is written under a temporary name in a folder beside its destination, checked, and
only then renamed into place: a partial or damaged download is never used. One request per
file, no retries, a timeout: offline, a download fails within seconds. pooch and requests are
imported only to download.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

logger = logging.getLogger(__name__)

_CHUNK = 1 << 16  # bytes written (and counted by the progress bar) at a time


class _ProgressBar:
    """A tqdm bar named after the file, for pooch's HTTPDownloader to drive (it sets ``total``,
    then calls ``update``, ``reset`` and ``close``). The bar appears when pooch sets the total,
    once the server has answered: a request that fails shows none. pooch asks ``if bar:``
    before each update, which a tqdm bar without a total cannot answer, hence this wrapper."""

    def __init__(self, name: str):
        self.name = name
        self.bar = None

    def __bool__(self) -> bool:
        return True

    @property
    def total(self):
        return None if self.bar is None else self.bar.total

    @total.setter
    def total(self, size: int):  # 0: no Content-Length, a bar without a total
        from tqdm import tqdm

        self.bar = tqdm(
            desc=self.name, total=size or None, unit="B", unit_scale=True, unit_divisor=1024
        )

    def update(self, size: int):
        self.bar.update(size)

    def reset(self):
        self.bar.reset()

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _fetch(url: str, path: Path, timeout: float, progressbar: bool) -> None:
    """Downloads ``url`` to ``path`` with pooch: one request, no retries."""
    import pooch  # here, not at the top: pooch and requests load only to download

    bar = _ProgressBar(path.name) if progressbar else False
    try:
        downloader = pooch.HTTPDownloader(progressbar=bar, timeout=timeout, chunk_size=_CHUNK)
        downloader(url, str(path), None)
    finally:
        if bar:
            bar.close()


def _why(err: Exception) -> str:
    """What went wrong in a request: urllib3's reason where requests wraps it in "Max retries
    exceeded" (there are no retries here), else the error itself."""
    reason = getattr(err.args[0], "reason", None) if err.args else None
    err = err if reason is None else reason
    return f"{type(err).__name__}: {err}"


def download_checked(
    files: Mapping[str, str],
    folder: Path,
    check: Callable[[Path], None],
    *,
    timeout: float,
    progressbar: bool = True,
) -> None:
    """Downloads ``{file name: URL}`` into ``folder``, each file checked by ``check(path)``
    (which raises ValueError for a bad file) before it is renamed into place.

    The files are written into a temporary folder inside ``folder``, removed on any failure:
    files checked before a failure stay, nothing partial or unchecked is left. The first
    failure ends the call.

    Raises:
      TimeoutError: when a server does not answer within ``timeout`` seconds.
      ConnectionError: when a host is unknown or unreachable, a server refuses or answers with
        an HTTP error, or a transfer breaks off.
      ValueError: when ``check`` refuses a file (it is deleted).
      Each message names the file's URL and why.
    """
    if not files:
        return
    import requests  # with pooch, which uses it

    tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=folder))
    try:
        for name, url in files.items():
            part = tmp / name
            logger.info("Downloading %s into %s", url, folder)
            try:
                _fetch(url, part, timeout, progressbar)
                check(part)
            except requests.Timeout as err:
                raise TimeoutError(
                    f"downloading {url}: no answer within {timeout} s ({_why(err)})"
                ) from err
            except requests.RequestException as err:
                raise ConnectionError(f"downloading {url}: {_why(err)}") from err
            except ValueError as err:
                raise ValueError(f"downloading {url}: refused and deleted: {err}") from err
            os.replace(part, folder / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

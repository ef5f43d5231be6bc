"""Downloading files that are checked before they are used (requests, one request each).

Each file is written under a temporary name in a folder beside its destination, checked, and
only then renamed into place: a partial or damaged download is never used. One request per
file, no retries, and a time limit that holds for every request: the server must answer within
``timeout`` seconds, and then send at least ``MIN_BYTES`` (64 KiB) in every ``timeout`` seconds
of the transfer, so that neither a silent nor a trickling server holds a download up for long
(offline, a download fails within seconds). requests is imported only to download.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from jaxdl.errors import InputError, InputTypeError
from jaxdl.results import temporary_folder

logger = logging.getLogger(__name__)

DOWNLOAD_ENV_VAR = "JAXDL_DOWNLOAD"  # 0, off, no or false: never download
DOWNLOAD_TIMEOUT = 10.0  # seconds to answer, and per 64 KiB of the transfer; never retried
_OFF = ("0", "off", "no", "false")
_ON = ("1", "on", "yes", "true")

_CHUNK = 1 << 16  # bytes asked for (and counted by the progress bar) at a time
MIN_BYTES = _CHUNK  # a transfer slower than this per `timeout` seconds is given up


def cache_folder(name: str) -> Path:
    """``$XDG_CACHE_HOME/jaxdl/NAME`` (``~/.cache/jaxdl/NAME`` when the variable is unset or
    empty): where a data set's downloads go."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jaxdl" / name


def download_setting(download: bool | None) -> tuple[bool, str]:
    """Whether to download (the argument, else ``$JAXDL_DOWNLOAD``) and, when not, why not."""
    if download is not None:
        if not isinstance(download, bool):
            raise InputTypeError(f"download: expected True, False or None, got {download!r}")
        return download, "turned off by download=False"
    value = os.environ.get(DOWNLOAD_ENV_VAR, "")
    if value.strip().lower() in _OFF:
        return False, f"turned off by ${DOWNLOAD_ENV_VAR}={value}"
    if value.strip().lower() not in ("", *_ON):
        raise InputError(
            f"${DOWNLOAD_ENV_VAR}: expected one of {', '.join(_OFF + _ON)} (or unset), "
            f"got {value!r}"
        )
    return True, ""


def base_url(url: str | None, env_var: str, default: str) -> str:
    """``url``, else ``$ENV_VAR``, else ``default``: an http(s) URL ending in "/"."""
    name = "base_url"
    if url is None:
        name, url = f"${env_var}", os.environ.get(env_var) or default
    if not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        raise InputError(f"{name}: expected an http:// or https:// URL, got {url!r}")
    return url if url.endswith("/") else f"{url}/"


def check_timeout(timeout) -> int | float:
    """``timeout``, a number of seconds > 0, as given."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise InputError(f"timeout: expected a number of seconds > 0, got {timeout!r}")
    return timeout


class _TooSlow(Exception):
    """A transfer that sent fewer than ``MIN_BYTES`` in ``timeout`` seconds."""


class _TooLarge(Exception):
    """A transfer that announced or sent more bytes than the file can have."""


def _fetch(url: str, path: Path, timeout: float, progressbar: bool, max_bytes: int) -> None:
    """Downloads ``url`` to ``path``: one request, no retries, the time limits of the module
    docstring, at most ``max_bytes`` bytes. A progress bar (tqdm, on stderr) appears once the
    server has answered."""
    import requests  # here, not at the top: requests loads only to download
    from tqdm import tqdm

    with requests.get(url, stream=True, timeout=timeout) as response:
        response.raise_for_status()
        size = int(response.headers.get("Content-Length") or 0) or None
        if size is not None and size > max_bytes:
            raise _TooLarge(f"the server announced {size:,} bytes")
        bar = tqdm(
            desc=path.name,
            total=size,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            disable=not progressbar,
        )
        with bar, open(path, "wb") as file:
            began, received, total = time.monotonic(), 0, 0
            # read1 returns what one read of the socket brings (each waits at most `timeout`),
            # so a trickle is seen as it comes, not once a whole chunk has arrived.
            while chunk := response.raw.read1(_CHUNK, decode_content=True):
                file.write(chunk)
                bar.update(len(chunk))
                received += len(chunk)
                total += len(chunk)
                if total > max_bytes:
                    raise _TooLarge(f"more than {max_bytes:,} bytes came")
                if time.monotonic() - began >= timeout:
                    if received < MIN_BYTES:
                        raise _TooSlow(f"{received} bytes in {timeout} s")
                    began, received = time.monotonic(), 0


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
    max_bytes: Mapping[str, int],
    timeout: float,
    progressbar: bool = True,
) -> None:
    """Downloads ``{file name: URL}`` into ``folder``, each file checked by ``check(path)``
    (which raises ValueError for a bad file) before it is renamed into place, and stopped
    once it is larger than ``max_bytes[name]``, the most its file can have (a server that
    sends without end fills no disk).

    The files are written into a temporary folder inside ``folder``, removed on any failure:
    files checked before a failure stay, nothing partial or unchecked is left. The first
    failure ends the call.

    Raises:
      TimeoutError: when a server does not answer within ``timeout`` seconds, or sends less
        than ``MIN_BYTES`` in ``timeout`` seconds.
      ConnectionError: when a host is unknown or unreachable, a server refuses or answers with
        an HTTP error, or a transfer breaks off.
      ValueError: when ``check`` refuses a file, or it is larger than ``max_bytes`` (it is
        deleted).
      Each message names the file's URL and why.
    """
    if not files:
        return
    import requests
    import urllib3

    tmp = temporary_folder(folder, ".download-")
    try:
        for name, url in files.items():
            part = tmp / name
            logger.info("Downloading %s into %s", url, folder)
            try:
                _fetch(url, part, timeout, progressbar, max_bytes[name])
                check(part)
            except (requests.Timeout, urllib3.exceptions.ReadTimeoutError) as err:
                raise TimeoutError(
                    f"downloading {url}: no answer within {timeout} s ({_why(err)})"
                ) from err
            except _TooSlow as err:
                raise TimeoutError(
                    f"downloading {url}: too slow, {err} (at least {MIN_BYTES} bytes in every "
                    f"{timeout} s expected); try again later or from a mirror"
                ) from err
            except (requests.RequestException, urllib3.exceptions.HTTPError) as err:
                raise ConnectionError(f"downloading {url}: {_why(err)}") from err
            except _TooLarge as err:
                raise InputError(
                    f"downloading {url}: refused and deleted: {err}, more than the "
                    f"{max_bytes[name]:,} bytes the file can have; is it the right address?"
                ) from err
            except ValueError as err:
                raise InputError(f"downloading {url}: refused and deleted: {err}") from err
            os.replace(part, folder / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

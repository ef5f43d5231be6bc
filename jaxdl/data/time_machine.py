"""H. G. Wells' *The Time Machine*, the book's text for language models (8.2–8.6, chapter 9).

:func:`find_time_machine` finds ``timemachine.txt`` (178,979 bytes) in the first source that
applies:

1. ``data_dir``, when given: the folder must hold the file, else ``FileNotFoundError`` names
   the argument (no fall-back to other sources). A text of one's own under that name is read
   as it is; whether it is the book's is its SHA-1 digest (``EXPECTED_SHA1``);
2. else the folder named by ``$JAXDL_TIME_MACHINE_DIR``, when set and not empty, likewise;
3. else the download cache, :func:`default_cache_dir`, when it holds the file, checked against
   the book's SHA-1 digest (a file that does not match is an error naming it);
4. else :func:`download_time_machine` fetches it from the book's data server (or
   ``$JAXDL_TIME_MACHINE_URL``, a mirror), checked before it enters the cache, unless
   ``$JAXDL_DOWNLOAD`` is off. Offline, this fails within seconds, with a message naming the
   file, its digest and where to put it.

:func:`read_time_machine` gives the book's lines (letters only, lower case),
:func:`load_corpus_time_machine` the character corpus as indices and its vocabulary.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np

from jaxdl._checks import check_int
from jaxdl.data import download as _download
from jaxdl.data.download import DOWNLOAD_TIMEOUT, cache_folder, download_checked, download_setting
from jaxdl.data.text import Vocab, tokenize
from jaxdl.errors import InputError

FILE = "timemachine.txt"
EXPECTED_SHA1 = "090b5e7e70c295757f55df93cb0a180b9691891a"  # the book's DATA_HUB digest
SIZE = 178_979  # bytes: the book's file (its digest fixes it)
DEFAULT_URL = "http://d2l-data.s3-accelerate.amazonaws.com/"  # the book's DATA_URL
URL_ENV_VAR = "JAXDL_TIME_MACHINE_URL"  # the base URL of a mirror
DIR_ENV_VAR = "JAXDL_TIME_MACHINE_DIR"  # a folder holding timemachine.txt


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/jaxdl/time-machine`` (``~/.cache/jaxdl/time-machine`` when the
    variable is unset or empty): where :func:`download_time_machine` puts the file."""
    return cache_folder("time-machine")


def sha1(path: str | os.PathLike) -> str:
    """The SHA-1 hex digest of the file's bytes (the book's ``download`` checks this one)."""
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def _check_digest(path: Path) -> None:
    """Raises InputError unless ``path`` holds the book's file."""
    found = sha1(path)
    if found != EXPECTED_SHA1:
        raise InputError(
            f"{path.name}: expected the book's file (SHA-1 {EXPECTED_SHA1}), got SHA-1 {found}"
        )


def _check_cached(path: Path) -> None:
    try:
        _check_digest(path)
    except InputError as err:
        raise InputError(
            f"{err}: the file {path} is not the book's; delete it to download it again"
        ) from err


def download_time_machine(
    folder: str | os.PathLike | None = None,
    *,
    base_url: str | None = None,
    timeout: float = DOWNLOAD_TIMEOUT,
    progressbar: bool = True,
) -> Path:
    """Downloads ``timemachine.txt``, checked against the book's SHA-1 digest, into ``folder``.

    The file ``{base_url}timemachine.txt`` is written into a temporary folder inside ``folder``
    and renamed into place only once its digest matches; a file already in ``folder`` is
    checked, not fetched again. One request, no retries, at most ``SIZE`` bytes.

    Args:
      folder: where the file goes; made when missing. None: :func:`default_cache_dir`.
      base_url: the URL the file name is appended to. None: ``$JAXDL_TIME_MACHINE_URL``, else
        ``DEFAULT_URL`` (the book's data server).
      timeout: seconds to wait for the server's answer, and the span in which it must then
        send at least 64 KiB, > 0.
      progressbar: show a progress bar (tqdm, on stderr).

    Returns:
      The path of the checked file.

    Raises:
      TimeoutError, ConnectionError: when the download fails (the message names the URL).
      InputError: when the file's digest does not match (a downloaded one is deleted), or it
        is larger than the book's.
    """
    url = _download.base_url(base_url, URL_ENV_VAR, DEFAULT_URL)
    timeout = _download.check_timeout(timeout)
    folder = default_cache_dir() if folder is None else Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILE
    if path.is_file():
        _check_cached(path)
        return path
    download_checked(
        {FILE: f"{url}{FILE}"},
        folder,
        _check_digest,
        max_bytes={FILE: SIZE},
        timeout=timeout,
        progressbar=progressbar,
    )
    return path


def find_time_machine(
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool | None = None,
    base_url: str | None = None,
    timeout: float = DOWNLOAD_TIMEOUT,
    progressbar: bool = True,
) -> Path:
    """The path of ``timemachine.txt`` from the first source that applies (module docstring).

    Args:
      data_dir: a folder holding ``timemachine.txt``; when given, only this folder is used.
      download: whether a download is allowed when the cache lacks the file; None:
        ``$JAXDL_DOWNLOAD`` (on unless ``0``, ``off``, ``no``, ``false``).
      base_url, timeout, progressbar: the download's (:func:`download_time_machine`).

    Returns:
      The file's path (``sha1(path) == EXPECTED_SHA1`` says whether it is the book's).

    Raises:
      FileNotFoundError: when ``data_dir`` or ``$JAXDL_TIME_MACHINE_DIR`` lacks the file, or
        the cache lacks it and it cannot be downloaded (the message names the file, its
        digest and where to put it).
      InputError: when a cached or downloaded file is not the book's.
    """
    timeout = _download.check_timeout(timeout)
    allowed, why_not = download_setting(download)
    if data_dir is not None:
        return _in_folder(data_dir, "data_dir")
    if os.environ.get(DIR_ENV_VAR):
        return _in_folder(os.environ[DIR_ENV_VAR], f"${DIR_ENV_VAR}")
    cache = default_cache_dir()
    path = cache / FILE
    if path.is_file():
        _check_cached(path)
        return path
    if not allowed:
        raise FileNotFoundError(_not_found(cache, f"the download is {why_not}"))
    try:
        return download_time_machine(
            cache, base_url=base_url, timeout=timeout, progressbar=progressbar
        )
    except (TimeoutError, ConnectionError) as error:
        raise FileNotFoundError(_not_found(cache, str(error))) from error


def _in_folder(folder: str | os.PathLike, name: str) -> Path:
    """``folder/timemachine.txt``, or a FileNotFoundError naming the source ``name``."""
    path = Path(folder) / FILE
    if not path.is_file():
        why = "holds no such file" if Path(folder).is_dir() else "is not a folder"
        raise FileNotFoundError(
            f"{name}: expected a folder holding {FILE}, got {str(folder)!r}, which {why}"
        )
    return path


def _not_found(cache: Path, why: str) -> str:
    return (
        f"The Time Machine: {FILE} is not in the download cache {cache}, and was not "
        f"downloaded: {why}. Get {FILE} (SHA-1 {EXPECTED_SHA1}, {SIZE:,} bytes) from "
        f"{DEFAULT_URL}{FILE} and put it in {cache}, or in a folder passed as data_dir or "
        f"named by ${DIR_ENV_VAR}"
    )


def load_time_machine(
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool | None = None,
    base_url: str | None = None,
    timeout: float = DOWNLOAD_TIMEOUT,
    progressbar: bool = True,
) -> str:
    """The text of ``timemachine.txt`` (:func:`find_time_machine`'s arguments), its line
    ends ``\\n`` (as Python's text files read it).

    Raises:
      FileNotFoundError, InputError: as :func:`find_time_machine`; InputError also when the
        file is not UTF-8 text.
    """
    path = find_time_machine(
        data_dir, download=download, base_url=base_url, timeout=timeout, progressbar=progressbar
    )
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(
            f"{path}: expected UTF-8 text, got byte 0x{data[err.start]:02X} at offset "
            f"{err.start}, which is not UTF-8"
        ) from err
    return text.replace("\r\n", "\n").replace("\r", "\n")


def preprocess_line(line: str) -> str:
    """The book's 8.2 preprocessing of a line: every run of non-letters becomes one space,
    then the ends are stripped and the letters lowered.

    >>> preprocess_line("The Time Traveller (for so it will be")
    'the time traveller for so it will be'
    """
    return re.sub("[^A-Za-z]+", " ", line).strip().lower()


def read_time_machine(data_dir: str | os.PathLike | None = None, **kwargs) -> list[str]:
    """The book's ``read_time_machine``: the file's lines, each :func:`preprocess_line`-d.

    Args:
      data_dir, **kwargs: :func:`load_time_machine`'s.

    Returns:
      One string per line of the file (3,221 for the book's), empty for a line without
      letters.
    """
    text = load_time_machine(data_dir, **kwargs)
    lines = text.split("\n")
    if lines[-1] == "":  # the end of the last line, not a line (as readlines has it)
        lines.pop()
    return [preprocess_line(line) for line in lines]


def load_corpus_time_machine(
    max_tokens: int = -1, data_dir: str | os.PathLike | None = None, **kwargs
) -> tuple[np.ndarray, Vocab]:
    """The book's ``load_corpus_time_machine``: the character corpus as indices.

    The lines of :func:`read_time_machine` split into characters (the lines joined with
    nothing between them), and the vocabulary of those characters (28 for the book's file:
    ``<unk>``, the space and 26 letters).

    Args:
      max_tokens: keep the first ``max_tokens`` tokens; <= 0: all. The vocabulary is built
        from all of them either way.
      data_dir, **kwargs: :func:`load_time_machine`'s.

    Returns:
      ``(corpus int32 [num_tokens], vocab)``; 170,580 tokens for the book's file.
    """
    max_tokens = check_int(max_tokens, "max_tokens")
    tokens = tokenize(read_time_machine(data_dir, **kwargs), "char")
    vocab = Vocab(tokens)
    corpus = np.array([vocab[token] for line in tokens for token in line], dtype=np.int32)
    if max_tokens > 0:
        corpus = corpus[:max_tokens]
    return corpus, vocab

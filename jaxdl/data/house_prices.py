"""The Kaggle house prices of the book's 4.10: finding, checking, downloading and preparing them.

:func:`load_house_prices` reads the competition's two files, ``kaggle_house_pred_train.csv``
(1460 houses, an ``Id``, 79 features and the ``SalePrice``) and ``kaggle_house_pred_test.csv``
(1459 houses, no price), from the first source that applies:

1. ``data_dir``, when given: the folder must hold both files, else ``FileNotFoundError`` names
   the missing ones (no fall-back to other data). Files of one's own with the same columns are
   used as they are; whether they are the book's (``EXPECTED_SHA1``) is reported;
2. else the download cache, :func:`default_cache_dir`, when it holds both files, each checked
   against the book's SHA-1 digest (a file that does not match is an error naming it);
3. else :func:`download_house_prices` fetches them from the book's data server (or
   ``$JAXDL_HOUSE_PRICES_URL``, a mirror), checked before they enter the cache, unless
   ``$JAXDL_DOWNLOAD`` is off. Offline, this fails within seconds, with a message saying where
   to put the files.

:func:`house_features` then prepares them as the book does: the features of both files
together (every column but ``Id`` and ``SalePrice``), each numeric one standardised to mean 0
and standard deviation 1 over the 2919 houses and its missing values set to 0 (the mean), and
each text column one-hot encoded with one more indicator for a missing value (331 columns for
the book's files).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from jaxdl.data import download
from jaxdl.data.download import DOWNLOAD_TIMEOUT, cache_folder, download_checked, download_setting
from jaxdl.data.tabular import _check_numbers, _read_text, one_hot_encode
from jaxdl.errors import InputError

TRAIN, TEST = "kaggle_house_pred_train.csv", "kaggle_house_pred_test.csv"
FILES = (TRAIN, TEST)
EXPECTED_SHA1 = {  # the book's DATA_HUB digests
    TRAIN: "585e9cc93e70b39160e7921475f9bcd7d31219ce",
    TEST: "fa19780a7b011d9b009e8bff8e99922a8ee2eb90",
}
SIZES = {TRAIN: 460_676, TEST: 451_405}  # bytes: the book's files (their digests fix them)
DEFAULT_URL = "http://d2l-data.s3-accelerate.amazonaws.com/"  # the book's DATA_URL
URL_ENV_VAR = "JAXDL_HOUSE_PRICES_URL"  # the base URL of a mirror
ID, TARGET = "Id", "SalePrice"


class HousePrices(NamedTuple):
    """The competition's two tables, as read.

    Attributes:
      train: ``[n, 81]``: ``Id``, 79 features, ``SalePrice``.
      test: ``[m, 80]``: ``Id`` and the 79 features.
      folder: where the files were read.
      sha1: ``{file name: SHA-1 hex digest}`` of the files read.
      books_data: whether both files are the book's (their digests match ``EXPECTED_SHA1``).
    """

    train: pd.DataFrame
    test: pd.DataFrame
    folder: Path
    sha1: dict[str, str]
    books_data: bool


class HouseFeatures(NamedTuple):
    """Prepared features, ready for training.

    Attributes:
      x_train: ``[n, d]`` float32.
      y_train: ``[n]`` float32, the sale prices.
      x_test: ``[m, d]`` float32.
      test_ids: ``[m]`` the test houses' ``Id``, for the submission.
      feature_names: the ``d`` column names.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    test_ids: np.ndarray
    feature_names: tuple[str, ...]


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/jaxdl/kaggle-house`` (``~/.cache/jaxdl/kaggle-house`` when the
    variable is unset or empty): where :func:`download_house_prices` puts the files."""
    return cache_folder("kaggle-house")


def sha1(path: Path) -> str:
    """The SHA-1 hex digest of the file's bytes (the book's ``download`` checks this one)."""
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def _check_digest(path: Path) -> None:
    """Raises ValueError unless ``path`` holds the book's file of that name."""
    found, expected = sha1(path), EXPECTED_SHA1[path.name]
    if found != expected:
        raise InputError(
            f"{path.name}: expected the book's file (SHA-1 {expected}), got SHA-1 {found}"
        )


def download_house_prices(
    folder: str | os.PathLike | None = None,
    *,
    base_url: str | None = None,
    timeout: float = DOWNLOAD_TIMEOUT,
    progressbar: bool = True,
) -> Path:
    """Downloads the two files, checked against the book's SHA-1 digests, into ``folder``.

    As :func:`jaxdl.data.download_fashion_mnist`: each missing file ``{base_url}{name}`` is
    written into a temporary folder inside ``folder`` and renamed into place only once its
    digest matches; files already in ``folder`` are checked, not fetched again.

    Args:
      folder: where the files go; made when missing. None: :func:`default_cache_dir`.
      base_url: the URL the file names are appended to. None: ``$JAXDL_HOUSE_PRICES_URL``,
        else ``DEFAULT_URL`` (the book's data server).
      timeout: seconds to wait for the server's answer, and the span in which it must then
        send at least 64 KiB, > 0.
      progressbar: show a progress bar per file (tqdm, on stderr).

    Returns:
      ``folder``, holding both checked files.

    Raises:
      TimeoutError, ConnectionError: when a download fails (the message names the URL).
      ValueError: when a file's digest does not match (a downloaded one is deleted).
    """
    url = download.base_url(base_url, URL_ENV_VAR, DEFAULT_URL)
    timeout = download.check_timeout(timeout)
    folder = default_cache_dir() if folder is None else Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    missing = {}
    for name in FILES:
        if (folder / name).is_file():
            try:
                _check_digest(folder / name)
            except ValueError as err:
                raise InputError(
                    f"{err}: the file {folder / name} is not the book's; delete it to download "
                    "it again"
                ) from err
        else:
            missing[name] = f"{url}{name}"
    download_checked(
        missing,
        folder,
        _check_digest,
        max_bytes=SIZES,
        timeout=timeout,
        progressbar=progressbar,
    )
    return folder


def _read(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """One file as a DataFrame, checked: UTF-8 text, the ``columns`` present, numbers finite
    and no stray word in a column of numbers (named by file, column, row and value)."""
    text = _read_text(path)
    _check_header(text, path)
    try:
        frame = pd.read_csv(io.StringIO(text))
    except pd.errors.EmptyDataError as err:
        raise InputError(
            f"{path}: expected a CSV table with a header line, got an empty file"
        ) from err
    except pd.errors.ParserError as err:  # pandas says where: "Expected 3 fields in line 4, saw 5"
        raise InputError(f"{path}: not a CSV table of equal rows: {err}".strip()) from err
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{path}: expected the columns {list(columns)}, got none named {missing} "
            f"(the file's columns begin {[str(c) for c in frame.columns[:5]]})"
        )
    if len(frame) == 0:
        raise InputError(f"{path}: expected at least one house, got a header only")
    _check_numbers(frame, (), path)
    _check_ids(frame, path)
    if TARGET in frame.columns:
        _check_prices(frame[TARGET], path)
    return frame


def _where(path: Path, column: str, rows) -> str:
    """``"PATH: column 'C', data row R"`` of the first of ``rows`` (and how many more)."""
    more = f" (and {len(rows) - 1} more)" if len(rows) > 1 else ""
    return f"{path}: column {column!r}, data row {rows[0] + 1}{more}"


def _check_header(text: str, path: Path) -> None:
    """Each column named once: pandas would rename a repeated one (``X.1``) silently."""
    header = next(csv.reader(io.StringIO(text)), [])
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise InputError(
            f"{path}: expected each column named once in the header, got {repeated} "
            f"{header.count(repeated[0])} times"
        )


def _check_ids(frame: pd.DataFrame, path: Path) -> None:
    """Every house has an ``Id``, each once (the submission has one row per test ``Id``)."""
    ids = frame[ID]
    missing = np.flatnonzero(ids.isna().to_numpy())
    if missing.size:
        raise InputError(f"{_where(path, ID, missing)}: expected every house's Id, got none")
    repeated = np.flatnonzero(ids.duplicated().to_numpy())
    if repeated.size:
        raise InputError(
            f"{_where(path, ID, repeated)}: expected each Id once, got "
            f"{ids.iloc[repeated[0]].item()!r} again"
        )


# The largest sale price the book's squared loss can take: its square stays a finite float32.
MAX_PRICE = 1e19


def _check_prices(prices: pd.Series, path: Path) -> None:
    """Every ``SalePrice`` in ``(0, MAX_PRICE]``: the score is on its logarithm, the training
    on its square."""
    numbers = pd.to_numeric(prices, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~((numbers > 0) & (numbers <= MAX_PRICE)))
    if bad.size:
        raise InputError(
            f"{_where(path, TARGET, bad)}: expected a price > 0 (the score is on its logarithm) "
            f"and at most {MAX_PRICE:g} (the squared loss must stay finite in float32), got "
            f"{prices.iloc[bad[0]].item()!r}"
        )


def load_house_prices(
    data_dir: str | os.PathLike | None = None, *, download: bool | None = None
) -> HousePrices:
    """The competition's two tables, from the first source that applies (module docstring).

    Args:
      data_dir: a folder holding both files; None: the download cache, then a download.
      download: whether a download is allowed when the cache lacks a file; None:
        ``$JAXDL_DOWNLOAD`` (on unless ``0``, ``off``, ``no``, ``false``).

    Returns:
      :class:`HousePrices`.

    Raises:
      FileNotFoundError: when ``data_dir`` lacks a file, or the cache lacks one and it cannot
        be downloaded (the message says why and where to put the files).
      ValueError: when a cached file is not the book's, or a file lacks the ``Id`` column (and
        ``SalePrice``, for the training file) or holds a stray value in a column of numbers.
    """
    if data_dir is not None:
        folder = Path(data_dir)
        missing = [name for name in FILES if not (folder / name).is_file()]
        if missing:
            raise FileNotFoundError(
                f"data_dir: expected {folder} to hold {' and '.join(FILES)}, "
                f"got none named {', '.join(missing)}"
            )
    else:
        folder = default_cache_dir()
        allowed, why_not = download_setting(download)
        missing = [name for name in FILES if not (folder / name).is_file()]
        if missing and not allowed:
            raise FileNotFoundError(_not_found(folder, missing, f"the download is {why_not}"))
        try:
            download_house_prices(folder)  # checks the cached files, fetches the missing
        except (TimeoutError, ConnectionError) as error:
            raise FileNotFoundError(_not_found(folder, missing, str(error))) from error
    digests = {name: sha1(folder / name) for name in FILES}
    return HousePrices(
        train=_read(folder / TRAIN, (ID, TARGET)),
        test=_read(folder / TEST, (ID,)),
        folder=folder,
        sha1=digests,
        books_data=digests == EXPECTED_SHA1,
    )


def _not_found(folder: Path, missing: list[str], why: str) -> str:
    return (
        f"the Kaggle house prices: {', '.join(missing)} not in the download cache {folder}, "
        f"and not downloaded: {why}. Download {' and '.join(FILES)} from "
        f"{DEFAULT_URL} (or the competition's page, kaggle.com/c/house-prices-advanced-"
        "regression-techniques, as train.csv and test.csv) into a folder under these names "
        "and pass it as data_dir (--data-dir)"
    )


def house_features(train: pd.DataFrame, test: pd.DataFrame) -> HouseFeatures:
    """The book's preparation of the house-price features (4.10).

    The features of both tables together (every column but ``Id`` and ``SalePrice``): each
    numeric column standardised, ``(x − mean) / std`` (pandas' sample standard deviation, over
    the houses of both tables that have a value), then its missing values set to 0; each text
    column one-hot encoded with an indicator for a missing value (:func:`one_hot_encode`). A
    numeric column with one value throughout (std 0) is set to 0 rather than divided by 0.

    Args:
      train: ``[n, ...]`` with ``Id``, the features and ``SalePrice``.
      test: ``[m, ...]`` with ``Id`` and the same features.

    Returns:
      :class:`HouseFeatures`.

    Raises:
      ValueError: when a table lacks ``Id`` (or ``train`` its ``SalePrice``), the tables' feature
        columns differ, or a sale price is missing or not > 0 (its logarithm is the score).

    >>> train = pd.DataFrame({"Id": [1, 2], "Area": [1.0, 3.0], "Alley": ["Pave", None],
    ...                       "SalePrice": [100.0, 200.0]})
    >>> test = pd.DataFrame({"Id": [3], "Area": [np.nan], "Alley": ["Grvl"]})
    >>> f = house_features(train, test)
    >>> f.feature_names
    ('Area', 'Alley_Grvl', 'Alley_Pave', 'Alley_nan')
    >>> f.x_train.round(4).tolist()
    [[-0.7071, 0.0, 1.0, 0.0], [0.7071, 0.0, 0.0, 1.0]]
    >>> f.x_test.tolist()
    [[0.0, 1.0, 0.0, 0.0]]
    """
    for frame, name, needs in ((train, "train", (ID, TARGET)), (test, "test", (ID,))):
        missing = [c for c in needs if c not in frame.columns]
        if missing:
            raise InputError(
                f"{name}: expected the columns {list(needs)}, got none named {missing}"
            )
    features = [c for c in train.columns if c not in (ID, TARGET)]
    test_features = [c for c in test.columns if c != ID]
    if features != test_features:
        only_train = sorted(set(features) - set(test_features))
        only_test = sorted(set(test_features) - set(features))
        raise InputError(
            f"test: expected the training table's feature columns in its order, got "
            f"{only_train or 'none'} missing and {only_test or 'none'} extra"
            + ("" if only_train or only_test else " (another order)")
        )
    prices = train[TARGET]
    bad = np.flatnonzero(~(pd.to_numeric(prices, errors="coerce") > 0).to_numpy())
    if bad.size:
        raise InputError(
            f"train: expected every {TARGET} > 0 (the score is on its logarithm), got "
            f"{prices.tolist()[bad[0]]!r} in data row {bad[0] + 1}"
            + (f" (and {bad.size - 1} more)" if bad.size > 1 else "")
        )
    both = pd.concat([train[features], test[features]], ignore_index=True)
    numeric = [c for c in features if pd.api.types.is_numeric_dtype(both[c])]
    std = both[numeric].std()
    standardised = (both[numeric] - both[numeric].mean()) / std.where(std > 0, 1.0)
    both[numeric] = standardised.fillna(0.0)
    encoded = one_hot_encode(both)
    x = encoded.to_numpy(dtype=np.float32)
    return HouseFeatures(
        x_train=x[: len(train)],
        y_train=prices.to_numpy(dtype=np.float32),
        x_test=x[len(train) :],
        test_ids=test[ID].to_numpy(),
        feature_names=tuple(str(c) for c in encoded.columns),
    )

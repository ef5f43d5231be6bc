"""CSV files to arrays, as the book's data-preprocessing section: pandas in, float32 out.

The recipe: numeric missing values (``NA``) are filled with the column mean, categorical
columns are one-hot encoded with an extra category for ``NA`` (``get_dummies(dummy_na=True)``),
and everything becomes one ``float32`` matrix of features and one vector of targets.

The two steps are pure pandas-to-pandas helpers (:func:`fill_numeric_na`,
:func:`one_hot_encode`) that work on any DataFrame; :func:`load_csv` reads a file, checks it,
applies them to every column but the target, and converts to JAX arrays. It works with pandas 2
and 3 (pandas 3 reads text columns as the ``str`` dtype and ``get_dummies`` returns booleans
by default; here the indicator columns are integers 0/1, as printed in the book).

:func:`load_csv` refuses what pandas would pass on silently: a stray word in a column of numbers
(pandas would read the whole column as text, to be one-hot encoded), an infinite number, a file
that is not UTF-8 text. A column of codes that look like numbers but are categories is declared
with ``categorical=[...]``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from jaxdl.errors import InputError, InputTypeError


class TabularData(NamedTuple):
    """Features and targets of a table, ready for training.

    Attributes:
      x: features ``[n, d]`` float32: numeric columns (NA filled with the mean) and one 0/1
        column per category of each categorical column, ``NA`` included.
      y: targets ``[n]`` float32.
      feature_names: the ``d`` column names of ``x``, e.g. ``("NumRooms", "Alley_Pave",
        "Alley_nan")``.
    """

    x: jax.Array
    y: jax.Array
    feature_names: tuple[str, ...]


def _check_frame(frame, name: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise InputTypeError(f"{name}: expected a pandas DataFrame, got {type(frame).__name__}")


def _check_no_empty_column(frame: pd.DataFrame, columns) -> None:
    for column in columns:
        if frame[column].isna().all():
            raise InputError(
                f"frame: expected every column to hold values, got column {column!r} with NA "
                f"in all {len(frame)} rows (drop it or fill it first)"
            )


def fill_numeric_na(frame: pd.DataFrame) -> pd.DataFrame:
    """Fills the missing values of every numeric column with that column's mean.

    Non-numeric columns are left as they are (their NA become a category in
    :func:`one_hot_encode`). The input is not modified.

    Args:
      frame: a DataFrame ``[n rows, d columns]``.

    Returns:
      A new DataFrame of the same shape and dtypes, without NA in its numeric columns.

    Raises:
      TypeError: when ``frame`` is not a DataFrame.
      ValueError: when a numeric column is NA in every row (it has no mean).

    >>> frame = pd.DataFrame({"NumRooms": [np.nan, 2.0, 4.0], "Alley": ["Pave", None, None]})
    >>> fill_numeric_na(frame)["NumRooms"].tolist()
    [3.0, 2.0, 4.0]
    """
    _check_frame(frame, "fill_numeric_na")
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    _check_no_empty_column(frame, numeric)
    return frame.fillna({c: frame[c].mean() for c in numeric})


def one_hot_encode(frame: pd.DataFrame) -> pd.DataFrame:
    """One-hot encodes every non-numeric column, with one more indicator for NA.

    As the book's ``pd.get_dummies(inputs, dummy_na=True)``: a column ``Alley`` with values
    ``Pave`` and NA becomes ``Alley_Pave`` and ``Alley_nan``. Numeric columns come first,
    unchanged, then the indicator columns (integers 0/1), in the order of the original
    columns. Every categorical column gets its ``_nan`` indicator, even when it has no NA.

    Args:
      frame: a DataFrame ``[n rows, d columns]``.

    Returns:
      A new DataFrame ``[n rows, d' columns]`` whose columns are all numeric.

    Raises:
      TypeError: when ``frame`` is not a DataFrame.

    >>> frame = pd.DataFrame({"NumRooms": [3.0, 2.0], "Alley": ["Pave", None]})
    >>> one_hot_encode(frame).to_numpy().tolist()
    [[3.0, 1.0, 0.0], [2.0, 0.0, 1.0]]
    >>> list(one_hot_encode(frame).columns)
    ['NumRooms', 'Alley_Pave', 'Alley_nan']
    """
    _check_frame(frame, "one_hot_encode")
    categorical = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if not categorical:
        return frame.copy()
    frame = frame.copy()
    for c in categorical:
        if not isinstance(frame[c].dtype, pd.CategoricalDtype):
            # Missing values as NaN, so the indicator is ``_nan`` whatever the dtype marked them
            # with (the "string" dtype's pd.NA would give ``_<NA>``).
            column = frame[c].astype(object)
            frame[c] = column.where(column.notna(), np.nan)
    return pd.get_dummies(frame, columns=categorical, dummy_na=True, dtype=np.int64)


def preprocess(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.Series]:
    """Splits ``frame`` into prepared features and the target column.

    Features: every column but ``target``, through :func:`fill_numeric_na` then
    :func:`one_hot_encode`. The target is returned as it is, after checks.

    Args:
      frame: a DataFrame ``[n rows, d columns]`` with at least one row.
      target: the name of the target column; it must be numeric and free of NA.

    Returns:
      ``(features, target_values)``: a numeric DataFrame ``[n, d']`` and a Series ``[n]``.

    Raises:
      TypeError: when ``frame`` is not a DataFrame.
      ValueError: when ``frame`` has no rows or no feature column, ``target`` is not one of
        its columns, the target is not numeric or has NA, or a column is NA in every row.

    >>> frame = pd.DataFrame({"NumRooms": [np.nan, 2.0], "Price": [127500, 106000]})
    >>> features, prices = preprocess(frame, "Price")
    >>> features["NumRooms"].tolist(), prices.tolist()
    ([2.0, 2.0], [127500, 106000])
    """
    _check_frame(frame, "preprocess")
    if target not in frame.columns:
        raise InputError(
            f"target: expected one of the columns {[str(c) for c in frame.columns]}, got {target!r}"
        )
    if len(frame) == 0:
        raise InputError("frame: expected at least one row, got none")
    if frame.shape[1] < 2:
        raise InputError(
            f"frame: expected at least one feature column besides the target {target!r}, got none"
        )
    _check_no_empty_column(frame, frame.columns)
    y = frame[target]
    if not pd.api.types.is_numeric_dtype(y):
        raise InputError(
            f"target: expected column {target!r} to be numeric, got dtype {y.dtype} "
            f"(first values {y.head(3).tolist()})"
        )
    missing = np.flatnonzero(y.isna().to_numpy())
    if missing.size:
        raise InputError(
            f"target: expected column {target!r} without NA, got NA in {missing.size} row(s), "
            f"at row index {missing[:5].tolist()}"
        )
    features = one_hot_encode(fill_numeric_na(frame.drop(columns=[target])))
    return features, y


def _check_categorical(categorical, target: str) -> tuple[str, ...]:
    if isinstance(categorical, str) or not isinstance(categorical, Iterable):
        raise InputTypeError(
            f"categorical: expected a sequence of column names, got {type(categorical).__name__} "
            f"{categorical!r}"
        )
    names = tuple(categorical)
    for name in names:
        if not isinstance(name, str):
            raise InputTypeError(
                f"categorical: expected a sequence of column names, got {type(name).__name__} "
                f"{name!r} among {list(names)!r}"
            )
    if target in names:
        raise InputError(
            f"categorical: expected feature columns, got the target {target!r}, which must be "
            "numeric"
        )
    return names


def _read_text(path: Path) -> str:
    """The file's text; UTF-8, with or without a byte-order mark."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(
            f"{path}: expected UTF-8 text, got byte 0x{data[e.start]:02X} at offset {e.start}, "
            "which is not UTF-8 (a binary file, or text in another encoding such as UTF-16 or "
            "Latin-1: convert it to UTF-8)"
        ) from e
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError(
            f"{path}: expected UTF-8 text, got a NUL byte at offset {nul} (a binary file, or "
            "UTF-16 text: convert it to UTF-8)"
        )
    return text.removeprefix("\ufeff")


def _check_numbers(frame: pd.DataFrame, skip: tuple[str, ...], path: Path) -> None:
    """Checks every column but ``skip``: numbers must be finite; a text column that looks
    numeric (see :func:`load_csv`) must hold only numbers and NA. Converts, in place, a text
    column all of whose values parse as numbers (defensive: pandas reads those as numbers)."""
    for column in frame.columns:
        if column in skip:
            continue
        values = frame[column]
        if pd.api.types.is_float_dtype(values):
            numbers, text = values, False
        elif pd.api.types.is_numeric_dtype(values):
            continue  # integers (or booleans): finite
        else:
            numbers, text = pd.to_numeric(values.astype(object), errors="coerce"), True
        present = values.notna().to_numpy()
        parsed = numbers.notna().to_numpy()  # NaN where a text value is not a number
        n, k = int(present.sum()), int(parsed.sum())
        if text and (k == 0 or 2 * k < n):
            continue  # categorical: one-hot encoded
        bad = (present & ~parsed) | np.isinf(numbers.to_numpy(dtype=np.float64))
        rows = np.flatnonzero(bad)
        if not rows.size:
            if text:
                frame[column] = numbers
            continue
        i = int(rows[0])
        value = values.iloc[i]
        where = f"{path}: column {column!r}, data row {i + 1} (counting from 1 after the header)"
        more = f" (and {rows.size - 1} more in this column)" if rows.size > 1 else ""
        if parsed[i]:
            value = value if text else float(value)  # inf, not np.float64(inf)
            raise InputError(f"{where}: expected a finite number, got {value!r}{more}")
        raise InputError(
            f"{where}: expected a number or NA, as {k} of its {n} non-missing values are "
            f"numbers, got {value!r}{more}; correct the file, or pass "
            f"categorical=[{column!r}] to one-hot encode the column"
        )


def load_csv(
    path: str | os.PathLike, target: str, *, categorical: Iterable[str] = ()
) -> TabularData:
    """Reads a CSV file and turns it into float32 features and targets.

    ``NA`` (and pandas' other missing-value markers, e.g. an empty field or ``nan``) are
    missing values. The features are every column but ``target``, prepared by
    :func:`preprocess`: a numeric column's missing values become its mean, a categorical
    column becomes one 0/1 column per value plus one for NA.

    Which columns are numeric: those pandas reads as numbers, and those that look numeric, which
    must then hold nothing but numbers and missing values. A column looks numeric when at least
    one of its non-missing values parses as a number (``pd.to_numeric``: ``2``, ``-1.5``,
    ``3e4``) and at least half of them do: ``2, NA, abc`` (1 of 2) is an error naming ``abc``,
    ``Pave, Grvl, 2`` (1 of 3) is categorical. Declare the columns that are categories whatever
    they hold with ``categorical``: their values are then taken as written (``007`` stays
    ``007``). Numbers must be finite: ``inf``, ``-inf`` or ``1e999`` is an error. Rows are
    counted as data rows from 1, after the header (blank lines are not rows).

    Args:
      path: a CSV file with a header row, UTF-8 text (a byte-order mark is allowed).
      target: the name of the numeric column to predict.
      categorical: names of feature columns to one-hot encode, whatever their values.

    Returns:
      ``TabularData(x [n, d] float32, y [n] float32, feature_names)``.

    Raises:
      FileNotFoundError: when ``path`` does not exist.
      TypeError: when ``categorical`` is not a collection of strings (a single name is not).
      ValueError: when ``categorical`` names the target or a column the file does not have;
        when the file is not UTF-8 text, is empty or has no rows, ``target`` is not a column,
        the target is not numeric or has NA, or a column is NA in every row; when a value in a
        numeric-looking column is not a number, or a number is not finite. The message names
        the file, and the column, the data row and the value where there is one.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "tiny.csv"
    ...     _ = path.write_text("NumRooms,Alley,Price\\nNA,Pave,127500\\n2,NA,106000\\n")
    ...     data = load_csv(path, "Price")
    >>> data.x
    Array([[2., 1., 0.],
           [2., 0., 1.]], dtype=float32)
    >>> data.y, data.feature_names
    (Array([127500., 106000.], dtype=float32), ('NumRooms', 'Alley_Pave', 'Alley_nan'))
    """
    categorical = _check_categorical(categorical, target)
    path = Path(path)
    if not path.is_file():
        what = "a folder" if path.is_dir() else "no such file"
        raise FileNotFoundError(f"path: expected a CSV file, got {str(path)!r} ({what})")
    text = _read_text(path)
    try:
        # Declared columns as text, as written: a code 007 is not the number 7.0.
        frame = pd.read_csv(io.StringIO(text), dtype=dict.fromkeys(categorical, str))
    except pd.errors.EmptyDataError as e:
        raise InputError(f"{path}: expected a CSV file with a header row, got an empty file") from e
    except pd.errors.ParserError as e:
        raise InputError(f"{path}: could not parse the CSV file: {e}") from e
    columns = [str(c) for c in frame.columns]
    for name in categorical:
        if name not in columns:
            raise InputError(
                f"{path}: categorical: expected names among the columns {columns}, got {name!r}"
            )
    if target in columns:  # else preprocess says that the target is not a column
        _check_numbers(frame, categorical, path)
    try:
        features, y = preprocess(frame, target)
    except ValueError as e:
        raise InputError(f"{path}: {str(e).removeprefix('frame: ')}") from e
    return TabularData(
        x=jnp.asarray(features.to_numpy(dtype=np.float32)),
        y=jnp.asarray(y.to_numpy(dtype=np.float32)),
        feature_names=tuple(str(c) for c in features.columns),
    )

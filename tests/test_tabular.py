"""CSV preprocessing: the book's house_tiny.csv, the pandas recipe as reference, bad files."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from jaxdl.data.tabular import (
    TabularData,
    fill_numeric_na,
    load_csv,
    one_hot_encode,
    preprocess,
)

HOUSE_TINY = "NumRooms,Alley,Price\nNA,Pave,127500\n2,NA,106000\n4,NA,178100\nNA,NA,140000\n"
BOOK_X = [[3, 1, 0], [2, 0, 1], [4, 0, 1], [3, 0, 1]]
BOOK_Y = [127500, 106000, 178100, 140000]


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_house_tiny_matches_the_book(tmp_path):
    data = load_csv(write(tmp_path, HOUSE_TINY, "house_tiny.csv"), "Price")
    assert isinstance(data, TabularData)
    assert data.feature_names == ("NumRooms", "Alley_Pave", "Alley_nan")
    assert isinstance(data.x, jax.Array) and isinstance(data.y, jax.Array)
    assert data.x.dtype == jnp.float32 and data.y.dtype == jnp.float32
    np.testing.assert_array_equal(data.x, BOOK_X)
    np.testing.assert_array_equal(data.y, BOOK_Y)


def test_agrees_with_the_books_pandas_recipe(tmp_path):
    """Reference: the book's code (pandas 3 needs numeric_only for the mean)."""
    text = "a,color,b,target,size\n1,red,NA,5,S\nNA,blue,2.5,6,NA\n3,NA,4,7,M\n7,red,1,8,S\n"
    path = write(tmp_path, text)
    frame = pd.read_csv(path)
    inputs = frame.drop(columns=["target"])
    inputs = inputs.fillna(inputs.mean(numeric_only=True))
    inputs = pd.get_dummies(inputs, dummy_na=True)
    data = load_csv(path, "target")
    assert data.feature_names == tuple(inputs.columns)
    np.testing.assert_allclose(data.x, inputs.to_numpy(dtype=np.float64), rtol=1e-6)
    np.testing.assert_array_equal(data.y, [5, 6, 7, 8])
    # By hand: mean of a over the known rows (1, 3, 7) is 11/3; of b (2.5, 4, 1) is 2.5.
    assert data.x[1, 0] == pytest.approx(11 / 3, rel=1e-6)
    assert data.x[0, 1] == pytest.approx(2.5)


def test_fill_numeric_na_by_hand():
    frame = pd.DataFrame({"n": [np.nan, 2.0, 4.0, np.nan], "s": ["x", None, "y", None]})
    filled = fill_numeric_na(frame)
    assert filled["n"].tolist() == [3.0, 2.0, 4.0, 3.0]
    assert filled["s"].isna().tolist() == [False, True, False, True]  # categories untouched
    assert frame["n"].isna().sum() == 2  # the input is not modified


def test_one_hot_encode_by_hand():
    frame = pd.DataFrame({"n": [1.0, 2.0, 3.0], "c": ["a", "b", None], "d": ["u", "u", "v"]})
    encoded = one_hot_encode(frame)
    assert list(encoded.columns) == ["n", "c_a", "c_b", "c_nan", "d_u", "d_v", "d_nan"]
    assert encoded.to_numpy().tolist() == [
        [1, 1, 0, 0, 1, 0, 0],
        [2, 0, 1, 0, 1, 0, 0],
        [3, 0, 0, 1, 0, 1, 0],
    ]
    assert all(pd.api.types.is_numeric_dtype(encoded[c]) for c in encoded.columns)
    assert encoded["c_a"].dtype != bool  # pandas 3's default would be bool


@pytest.mark.parametrize("dtype", [object, "string", "category"])
def test_one_hot_encode_any_text_dtype(dtype):
    frame = pd.DataFrame({"c": pd.Series(["Pave", None], dtype=dtype)})
    encoded = one_hot_encode(frame)
    assert list(encoded.columns) == ["c_Pave", "c_nan"]
    assert encoded.to_numpy().tolist() == [[1, 0], [0, 1]]


def test_numeric_only_frame_is_copied_unchanged():
    frame = pd.DataFrame({"n": [1.0, 2.0]})
    encoded = one_hot_encode(frame)
    assert encoded is not frame
    pd.testing.assert_frame_equal(encoded, frame)


def test_preprocess_any_target_position():
    frame = pd.DataFrame({"y": [1.5, 2.5], "c": ["a", "b"], "x": [np.nan, 4.0]})
    features, y = preprocess(frame, "y")
    assert list(features.columns) == ["x", "c_a", "c_b", "c_nan"]
    assert features.to_numpy().tolist() == [[4, 1, 0, 0], [4, 0, 1, 0]]
    assert y.tolist() == [1.5, 2.5]


def test_result_runs_under_jit(tmp_path):
    data = load_csv(write(tmp_path, HOUSE_TINY), "Price")
    sums = jax.jit(lambda x, y: (x.sum(axis=0), y.mean()))(data.x, data.y)
    np.testing.assert_array_equal(sums[0], [12, 1, 3])
    assert float(sums[1]) == pytest.approx(sum(BOOK_Y) / 4)


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.csv"
    with pytest.raises(FileNotFoundError, match=re.escape(f"{str(path)!r} (no such file)")):
        load_csv(path, "Price")
    with pytest.raises(FileNotFoundError, match=r"expected a CSV file.*\(a folder\)"):
        load_csv(tmp_path, "Price")


def test_empty_file(tmp_path):
    path = write(tmp_path, "")
    with pytest.raises(ValueError, match=re.escape(f"{path}: expected a CSV file with a header")):
        load_csv(path, "Price")


def test_header_only(tmp_path):
    path = write(tmp_path, "NumRooms,Alley,Price\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}: expected at least one row")):
        load_csv(path, "Price")


def test_unknown_target(tmp_path):
    path = write(tmp_path, HOUSE_TINY)
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{path}: target: expected one of the columns ['NumRooms', 'Alley', 'Price'], "
            "got 'Cost'"
        ),
    ):
        load_csv(path, "Cost")


def test_non_numeric_target(tmp_path):
    path = write(tmp_path, "NumRooms,Alley,Price\n1,Pave,2\n2,Gravel,3\n")
    with pytest.raises(
        ValueError, match=re.escape(f"{path}: target: expected column 'Alley' to be numeric")
    ):
        load_csv(path, "Alley")


def test_na_in_target(tmp_path):
    path = write(tmp_path, "NumRooms,Price\n1,100\n2,NA\n3,300\n")
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{path}: target: expected column 'Price' without NA, got NA in 1 row(s), at row "
            "index [1]"
        ),
    ):
        load_csv(path, "Price")


@pytest.mark.parametrize("column", ["NumRooms", "Alley", "Price"])
def test_column_all_na(tmp_path, column):
    rows = {"NumRooms": ["1", "2"], "Alley": ["Pave", "Gravel"], "Price": ["10", "20"]}
    rows[column] = ["NA", "NA"]
    text = "NumRooms,Alley,Price\n" + "".join(
        f"{a},{b},{c}\n" for a, b, c in zip(*rows.values(), strict=True)
    )
    path = write(tmp_path, text)
    with pytest.raises(
        ValueError,
        match=re.escape(f"{path}: expected every column to hold values, got column {column!r}"),
    ):
        load_csv(path, "Price")


def test_only_target_column(tmp_path):
    path = write(tmp_path, "Price\n1\n2\n")
    with pytest.raises(ValueError, match="expected at least one feature column besides"):
        load_csv(path, "Price")


def test_helpers_refuse_non_frames():
    with pytest.raises(TypeError, match="fill_numeric_na: expected a pandas DataFrame, got list"):
        fill_numeric_na([1, 2])
    with pytest.raises(TypeError, match="one_hot_encode: expected a pandas DataFrame, got dict"):
        one_hot_encode({"a": [1]})
    with pytest.raises(ValueError, match="column 'n' with NA in all 2 rows"):
        fill_numeric_na(pd.DataFrame({"n": [np.nan, np.nan]}))

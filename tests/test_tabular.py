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


def refused(path, message, *args, **kwargs):
    """``load_csv(path, *args, **kwargs)`` raises ValueError with ``"{path}: {message}"``."""
    with pytest.raises(ValueError, match=re.escape(f"{path}: {message}")):
        load_csv(path, *args, **kwargs)


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
    refused(
        path,
        "target: expected one of the columns ['NumRooms', 'Alley', 'Price'], got 'Cost'",
        "Cost",
    )


def test_non_numeric_target(tmp_path):
    path = write(tmp_path, "NumRooms,Alley,Price\n1,Pave,2\n2,Gravel,3\n")
    refused(path, "target: expected column 'Alley' to be numeric", "Alley")


def test_na_in_target(tmp_path):
    path = write(tmp_path, "NumRooms,Price\n1,100\n2,NA\n3,300\n")
    refused(
        path,
        "target: expected column 'Price' without NA, got NA in 1 row(s), at row index [1]",
        "Price",
    )


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


# --- Values a numeric column cannot hold, declared categorical columns, text encodings ---

JUNK_ROOMS = "NumRooms,Alley,Price\nNA,Pave,127500\n2,NA,106000\nabc,NA,178100\nNA,NA,140000\n"


def test_junk_in_a_numeric_column_names_file_column_row_and_value(tmp_path):
    path = write(tmp_path, JUNK_ROOMS)
    refused(
        path,
        "column 'NumRooms', data row 3 (counting from 1 after the header): "
        "expected a number or NA, as 1 of its 2 non-missing values are numbers, got 'abc'; "
        "correct the file, or pass categorical=['NumRooms'] to one-hot encode the column",
        "Price",
    )


def test_junk_in_the_target_names_the_value(tmp_path):
    path = write(tmp_path, "x,Price\n1,10\n2,oops\n3,30\n")
    with pytest.raises(
        ValueError, match=re.escape(f"{path}: column 'Price', data row 2 (counting from 1 after")
    ) as info:
        load_csv(path, "Price")
    assert "got 'oops'" in str(info.value)


def test_junk_counts_the_other_bad_values(tmp_path):
    path = write(tmp_path, "n,y\n1,1\nx,2\n3,3\nz,4\n5,5\n")
    with pytest.raises(ValueError, match=r"data row 2 .*got 'x' \(and 1 more in this column\)"):
        load_csv(path, "y")


@pytest.mark.parametrize(
    ("values", "numeric_looking"),
    [
        (["1", "2", "abc"], True),  # 2 of 3 parse
        (["1", "abc"], True),  # exactly half: still numeric-looking
        (["1", "abc", "def"], False),  # 1 of 3: a category that happens to be a number
        (["abc", "def", "NA"], False),  # none parse
    ],
    ids=["two-thirds", "half", "one-third", "none"],
)
def test_numeric_looking_rule(tmp_path, values, numeric_looking):
    text = "c,y\n" + "".join(f"{v},{i}\n" for i, v in enumerate(values))
    path = write(tmp_path, text)
    if numeric_looking:
        with pytest.raises(ValueError, match=r"column 'c', data row .*expected a number"):
            load_csv(path, "y")
    else:
        categories = sorted(set(values) - {"NA"})
        assert load_csv(path, "y").feature_names == (*(f"c_{v}" for v in categories), "c_nan")


def test_categorical_declares_a_mixed_column(tmp_path):
    path = write(tmp_path, JUNK_ROOMS)
    data = load_csv(path, "Price", categorical=["NumRooms"])
    assert data.feature_names == (
        "NumRooms_2",
        "NumRooms_abc",
        "NumRooms_nan",
        "Alley_Pave",
        "Alley_nan",
    )
    np.testing.assert_array_equal(
        data.x, [[0, 0, 1, 1, 0], [1, 0, 0, 0, 1], [0, 1, 0, 0, 1], [0, 0, 1, 0, 1]]
    )


def test_categorical_keeps_numeric_codes_as_written(tmp_path):
    path = write(tmp_path, "zip,y\n007,1\n1001,2\nNA,3\n")
    data = load_csv(path, "y", categorical=("zip",))
    assert data.feature_names == ("zip_007", "zip_1001", "zip_nan")
    np.testing.assert_array_equal(data.x, [[1, 0, 0], [0, 1, 0], [0, 0, 1]])


def test_categorical_default_keeps_the_books_result(tmp_path):
    path = write(tmp_path, HOUSE_TINY)
    for data in (load_csv(path, "Price"), load_csv(path, "Price", categorical=["Alley"])):
        assert data.feature_names == ("NumRooms", "Alley_Pave", "Alley_nan")
        np.testing.assert_array_equal(data.x, BOOK_X)


def test_categorical_unknown_name(tmp_path):
    path = write(tmp_path, HOUSE_TINY)
    refused(
        path,
        "categorical: expected names among the columns ['NumRooms', 'Alley', 'Price'], got 'Rooms'",
        "Price",
        categorical=["Alley", "Rooms"],
    )


def test_categorical_target(tmp_path):
    path = write(tmp_path, HOUSE_TINY)
    with pytest.raises(
        ValueError, match=r"^categorical: expected feature columns, got the target 'Price'"
    ):
        load_csv(path, "Price", categorical=["Price"])


@pytest.mark.parametrize("bad", ["Alley", ["Alley", 3], None])
def test_categorical_wrong_type(tmp_path, bad):
    path = write(tmp_path, HOUSE_TINY)
    with pytest.raises(TypeError, match="categorical: expected a sequence of column names"):
        load_csv(path, "Price", categorical=bad)


@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity", "1e999"])
@pytest.mark.parametrize("column", ["NumRooms", "Price"])
def test_non_finite_number(tmp_path, value, column):
    rows = [["1", "Pave", "10"], ["2", "NA", "20"], ["3", "NA", "30"]]
    rows[1][0 if column == "NumRooms" else 2] = value
    path = write(tmp_path, "NumRooms,Alley,Price\n" + "".join(",".join(r) + "\n" for r in rows))
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{path}: column {column!r}, data row 2 (counting from 1 after the header): "
            "expected a finite number, got "
        )
        + "-?inf",
    ):
        load_csv(path, "Price")


def test_non_finite_in_a_column_with_junk(tmp_path):
    path = write(tmp_path, "n,y\n1,1\ninf,2\nabc,3\n")
    with pytest.raises(ValueError, match=r"data row 2 .*expected a finite number, got 'inf'"):
        load_csv(path, "y")


def test_missing_markers_are_still_filled(tmp_path):
    path = write(tmp_path, "n,y\n1,1\nnan,2\n,3\nNaN,4\n5,5\n")
    np.testing.assert_array_equal(load_csv(path, "y").x[:, 0], [1, 3, 3, 3, 5])


@pytest.mark.parametrize(
    ("data", "chained"),
    [
        (HOUSE_TINY.encode("utf-16"), True),  # with its byte-order mark 0xFF 0xFE
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), True),
        (HOUSE_TINY.encode("utf-16-le"), False),  # no mark: valid UTF-8, with NUL bytes
        (b"NumRooms,Price\n1,2\n\x00\x00\x00", False),
    ],
    ids=["utf-16", "binary", "utf-16-no-bom", "nul"],
)
def test_not_utf8_text(tmp_path, data, chained):
    path = tmp_path / "data.csv"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=re.escape(f"{path}: expected UTF-8 text")) as info:
        load_csv(path, "Price")
    assert isinstance(info.value.__cause__, UnicodeDecodeError) == chained


def test_utf8_with_byte_order_mark(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(HOUSE_TINY.encode("utf-8-sig"))
    data = load_csv(path, "Price")
    assert data.feature_names == ("NumRooms", "Alley_Pave", "Alley_nan")
    np.testing.assert_array_equal(data.x, BOOK_X)


def test_data_rows_are_counted_without_blank_lines(tmp_path):
    path = write(tmp_path, "n,y\n1,1\n\n2,2\n   \nabc,3\n4,4\n")  # abc is on line 6
    with pytest.raises(ValueError, match=r"column 'n', data row 3 \(counting from 1 after the"):
        load_csv(path, "y")

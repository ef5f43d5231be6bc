# %% [markdown]
# # Data preprocessing (the book's 2.2)
#
# Real data arrive as tables with missing values and text columns; a model needs arrays of
# numbers. The book writes a tiny CSV file of four houses (number of rooms, alley type, price),
# reads it with pandas, replaces each missing number by its column's mean, turns the alley
# column into one indicator column per value plus one for "missing", and converts the result
# to tensors. Here the same pandas steps are `jaxdl.data.tabular`'s `fill_numeric_na` and
# `one_hot_encode`, and `load_csv` does all of it and returns float32 JAX arrays.
#
# What to look at: the filled `NumRooms` column (the mean of 2 and 4, 3.0), the columns
# `Alley_Pave` and `Alley_nan`, and the final X and y, which should equal the book's.

# %%
import tempfile
from pathlib import Path

import pandas as pd

from jaxdl.data.tabular import fill_numeric_na, load_csv, one_hot_encode
from jaxdl.results import write_text

import harness

HOUSE_TINY = """NumRooms,Alley,Price
NA,Pave,127500
2,NA,106000
4,NA,178100
NA,NA,140000
"""
TARGET = "Price"

# %% [markdown]
# ## Configuration
#
# Nothing to set: the section runs the book's examples. On the command line, `python
# experiments/preprocessing.py --help` lists the flags every section has (`--seed`, `--out`,
# `--quick`).

# %%
BOOK = dict()
config, out = harness.start("preprocessing", BOOK)

# %% [markdown]
# ## Reading the dataset
#
# The book writes `house_tiny.csv` to `../data`; here the file goes to the output folder with
# the results, and is read back from a scratch folder, as the book reads it, with
# `pd.read_csv`. `NA` marks a missing value: pandas reads it as `NaN`.

# %%
out.outputs.add("house_tiny.csv", HOUSE_TINY.encode())
scratch = tempfile.TemporaryDirectory()  # the book reads the data from a file
data_file = write_text(Path(scratch.name) / "house_tiny.csv", HOUSE_TINY)
data = pd.read_csv(data_file)
print(data)

# %% [markdown]
# ## Data preparation
#
# The inputs are every column but the price. A missing number is replaced by the mean of its
# column (the book's `inputs.fillna(inputs.mean())`); a text column becomes one 0/1 column per
# value and one for "missing" (the book's `pd.get_dummies(inputs, dummy_na=True)`).

# %%
harness.show_source(fill_numeric_na, one_hot_encode)

# %%
inputs = data.drop(columns=[TARGET])
filled = fill_numeric_na(inputs)
print(filled)
encoded = one_hot_encode(filled)
print(encoded)

# %% [markdown]
# ## Conversion to the array format
#
# `load_csv` reads the file and does the steps above, with checks on what the file holds, then
# returns the features and the target as float32 JAX arrays (the book's tensors are float64
# and int64) with the names of the feature columns.

# %%
harness.show_source(load_csv)

# %%
table = load_csv(data_file, TARGET)
scratch.cleanup()
print(repr(table.x))
print(repr(table.y))
print("feature names:", table.feature_names)

numeric = [c for c in inputs.columns if pd.api.types.is_numeric_dtype(inputs[c])]
metrics = {
    "csv": data_file.name,
    "num_rows": len(data),
    "missing_per_column": {str(c): int(n) for c, n in data.isna().sum().items()},
    "fill_values": {str(c): float(inputs[c].mean()) for c in numeric},
    "feature_names": list(table.feature_names),
    "X": table.x,
    "y": table.y,
    "dtype": str(table.x.dtype),
}

# %% [markdown]
# ## Against the book
#
# The run writes `results/preprocessing/` (or `--out`): `metrics.json`, `"csv"`: the CSV file's
# name (`"house_tiny.csv"`, in the output folder); `"num_rows"`: 4; `"missing_per_column"`:
# `{column: number of NA}` as read; `"fill_values"`: `{numeric feature column: the mean used to
# fill its NA}`; `"feature_names"`: the columns of X, `["NumRooms", "Alley_Pave", "Alley_nan"]`;
# `"X"`: the features [4, 3] (book: [[3, 1, 0], [2, 0, 1], [4, 0, 1], [3, 0, 1]]); `"y"`: the
# prices [4] (book: [127500, 106000, 178100, 140000]); `"dtype"`: the dtype of X and y
# (`"float32"`).

# %%
harness.compare_with_book("preprocessing", metrics, out)
metrics = harness.finish(out, metrics, {})

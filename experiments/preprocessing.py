"""Data preprocessing with pandas (the book's section on the house_tiny.csv example).

As the book: writes ``house_tiny.csv`` (4 houses: number of rooms, alley type, price, with
missing values ``NA``), reads it with pandas, fills the numeric NA with the column mean
(NumRooms: 3.0), one-hot encodes the categorical column with a category for NA
(``Alley_Pave``, ``Alley_nan``), and converts to arrays. The pandas steps are
``jaxdl.data.tabular.fill_numeric_na`` and ``one_hot_encode``; the conversion is
``jaxdl.data.tabular.load_csv(path, target="Price")``, which returns float32 JAX arrays (the
book's tensors are float64 and int64). No training; ``--quick`` does the same as the default run.

Command: ``python experiments/preprocessing.py [--out results/preprocessing --quick]``
(the CSV is written to the output folder, not to ``../data``).

metrics.json:
  ``"csv"``: the CSV file's name (``"house_tiny.csv"``, in the output folder);
  ``"num_rows"``: 4; ``"missing_per_column"``: ``{column: number of NA}`` as read;
  ``"fill_values"``: ``{numeric feature column: the mean used to fill its NA}``;
  ``"feature_names"``: the columns of X, ``["NumRooms", "Alley_Pave", "Alley_nan"]``;
  ``"X"``: the features [4, 3] (book: [[3, 1, 0], [2, 0, 1], [4, 0, 1], [3, 0, 1]]);
  ``"y"``: the prices [4] (book: [127500, 106000, 178100, 140000]);
  ``"dtype"``: the dtype of X and y (``"float32"``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from jaxdl.data.tabular import fill_numeric_na, load_csv, one_hot_encode
from jaxdl.results import write_text

import common

HOUSE_TINY = """NumRooms,Alley,Price
NA,Pave,127500
2,NA,106000
4,NA,178100
NA,NA,140000
"""
TARGET = "Price"


def main(argv=None) -> dict:
    p = common.parser("preprocessing", __doc__)
    _, out = common.start(p, argv)

    out.outputs.add("house_tiny.csv", HOUSE_TINY.encode())
    with tempfile.TemporaryDirectory() as scratch:  # the book reads the data from a file
        data_file = write_text(Path(scratch) / "house_tiny.csv", HOUSE_TINY)
        data = pd.read_csv(data_file)
        table = load_csv(data_file, TARGET)
    print(data)

    inputs = data.drop(columns=[TARGET])
    filled = fill_numeric_na(inputs)
    print(filled)
    encoded = one_hot_encode(filled)
    print(encoded)

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
    return common.finish(out, metrics, {})


if __name__ == "__main__":
    common.run(main)

"""Generated house-price tables with the Kaggle competition's schema, for runs without its data.

The 79 feature columns of the book's 4.10 files, in their order, of their kinds: 36 numeric
(some with missing values, as ``LotFrontage``, ``MasVnrArea`` and ``GarageYrBlt``) and 43 text
ones (some mostly missing, as ``Alley`` and ``PoolQC``). Values are drawn from simple ranges;
the sale price is log-linear in the quality, the living area and the year built, with noise,
so that a linear model learns something. Not the competition's data: its figures are not the
book's.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from jaxdl._checks import check_int
from jaxdl.data.house_prices import ID, TARGET, TEST, TRAIN

Q = ("Ex", "Gd", "TA", "Fa", "Po")  # the quality grades
# column: (low, high, fraction missing) for numbers, (categories, fraction missing) for text.
SCHEMA = {
    "MSSubClass": (20, 190, 0.0),
    "MSZoning": (("RL", "RM", "FV", "RH", "C (all)"), 0.002),
    "LotFrontage": (21, 313, 0.18),
    "LotArea": (1300, 215245, 0.0),
    "Street": (("Pave", "Grvl"), 0.0),
    "Alley": (("Grvl", "Pave"), 0.94),
    "LotShape": (("Reg", "IR1", "IR2", "IR3"), 0.0),
    "LandContour": (("Lvl", "Bnk", "HLS", "Low"), 0.0),
    "Utilities": (("AllPub", "NoSeWa"), 0.001),
    "LotConfig": (("Inside", "Corner", "CulDSac", "FR2", "FR3"), 0.0),
    "LandSlope": (("Gtl", "Mod", "Sev"), 0.0),
    "Neighborhood": (("NAmes", "CollgCr", "OldTown", "Edwards", "Somerst", "Gilbert"), 0.0),
    "Condition1": (("Norm", "Feedr", "Artery", "RRAn", "PosN"), 0.0),
    "Condition2": (("Norm", "Feedr", "Artery"), 0.0),
    "BldgType": (("1Fam", "TwnhsE", "Duplex", "Twnhs", "2fmCon"), 0.0),
    "HouseStyle": (("1Story", "2Story", "1.5Fin", "SLvl", "SFoyer"), 0.0),
    "OverallQual": (1, 10, 0.0),
    "OverallCond": (1, 9, 0.0),
    "YearBuilt": (1872, 2010, 0.0),
    "YearRemodAdd": (1950, 2010, 0.0),
    "RoofStyle": (("Gable", "Hip", "Flat", "Gambrel"), 0.0),
    "RoofMatl": (("CompShg", "Tar&Grv", "WdShngl"), 0.0),
    "Exterior1st": (("VinylSd", "HdBoard", "MetalSd", "Wd Sdng", "Plywood"), 0.001),
    "Exterior2nd": (("VinylSd", "HdBoard", "MetalSd", "Wd Sdng", "Plywood"), 0.001),
    "MasVnrType": (("BrkFace", "Stone", "BrkCmn"), 0.6),
    "MasVnrArea": (0, 1600, 0.006),
    "ExterQual": (Q[:4], 0.0),
    "ExterCond": (Q, 0.0),
    "Foundation": (("PConc", "CBlock", "BrkTil", "Slab", "Stone"), 0.0),
    "BsmtQual": (Q[:4], 0.03),
    "BsmtCond": (Q[1:], 0.03),
    "BsmtExposure": (("No", "Av", "Gd", "Mn"), 0.03),
    "BsmtFinType1": (("Unf", "GLQ", "ALQ", "BLQ", "Rec", "LwQ"), 0.03),
    "BsmtFinSF1": (0, 5644, 0.001),
    "BsmtFinType2": (("Unf", "Rec", "LwQ", "BLQ", "ALQ", "GLQ"), 0.03),
    "BsmtFinSF2": (0, 1474, 0.001),
    "BsmtUnfSF": (0, 2336, 0.001),
    "TotalBsmtSF": (0, 6110, 0.001),
    "Heating": (("GasA", "GasW", "Grav", "Wall"), 0.0),
    "HeatingQC": (Q, 0.0),
    "CentralAir": (("Y", "N"), 0.0),
    "Electrical": (("SBrkr", "FuseA", "FuseF", "FuseP"), 0.001),
    "1stFlrSF": (334, 4692, 0.0),
    "2ndFlrSF": (0, 2065, 0.0),
    "LowQualFinSF": (0, 572, 0.0),
    "GrLivArea": (334, 5642, 0.0),
    "BsmtFullBath": (0, 3, 0.001),
    "BsmtHalfBath": (0, 2, 0.001),
    "FullBath": (0, 3, 0.0),
    "HalfBath": (0, 2, 0.0),
    "BedroomAbvGr": (0, 8, 0.0),
    "KitchenAbvGr": (0, 3, 0.0),
    "KitchenQual": (Q[:4], 0.001),
    "TotRmsAbvGrd": (2, 14, 0.0),
    "Functional": (("Typ", "Min1", "Min2", "Mod", "Maj1"), 0.001),
    "Fireplaces": (0, 3, 0.0),
    "FireplaceQu": (Q, 0.47),
    "GarageType": (("Attchd", "Detchd", "BuiltIn", "Basment", "CarPort"), 0.055),
    "GarageYrBlt": (1900, 2010, 0.055),
    "GarageFinish": (("Unf", "RFn", "Fin"), 0.055),
    "GarageCars": (0, 4, 0.001),
    "GarageArea": (0, 1418, 0.001),
    "GarageQual": (Q, 0.055),
    "GarageCond": (Q, 0.055),
    "PavedDrive": (("Y", "N", "P"), 0.0),
    "WoodDeckSF": (0, 857, 0.0),
    "OpenPorchSF": (0, 547, 0.0),
    "EnclosedPorch": (0, 552, 0.0),
    "3SsnPorch": (0, 508, 0.0),
    "ScreenPorch": (0, 480, 0.0),
    "PoolArea": (0, 738, 0.0),
    "PoolQC": (("Gd", "Ex", "Fa"), 0.995),
    "Fence": (("MnPrv", "GdPrv", "GdWo", "MnWw"), 0.8),
    "MiscFeature": (("Shed", "Gar2", "Othr"), 0.96),
    "MiscVal": (0, 15500, 0.0),
    "MoSold": (1, 12, 0.0),
    "YrSold": (2006, 2010, 0.0),
    "SaleType": (("WD", "New", "COD", "ConLD"), 0.001),
    "SaleCondition": (("Normal", "Partial", "Abnorml", "Family"), 0.0),
}


def _features(rng: np.random.Generator, n: int) -> pd.DataFrame:
    columns = {}
    for name, spec in SCHEMA.items():
        if isinstance(spec[0], tuple):
            categories, missing = spec
            values = rng.choice(np.array(categories, dtype=object), size=n)
        else:
            low, high, missing = spec
            values = rng.integers(low, high + 1, size=n).astype(float)
        values[rng.random(n) < missing] = None if isinstance(spec[0], tuple) else np.nan
        columns[name] = values
    return pd.DataFrame(columns)


def write_synthetic_house_prices(
    folder: str | os.PathLike, *, num_train: int = 1460, num_test: int = 1459, seed: int = 0
) -> Path:
    """Writes ``kaggle_house_pred_train.csv`` and ``kaggle_house_pred_test.csv`` of generated
    houses into ``folder`` (made when missing), as the competition's files are laid out: ``Id``
    first (1.. over both files), the 79 features, then ``SalePrice`` in the training file;
    missing values as ``NA``. The same arguments write the same bytes.

    Args:
      folder: where the files go.
      num_train: houses in the training file, >= 1.
      num_test: houses in the test file, >= 1.
      seed: the NumPy generator's seed, >= 0.

    Returns:
      ``folder``.

    >>> import tempfile
    >>> from jaxdl.data.house_prices import load_house_prices
    >>> data = load_house_prices(write_synthetic_house_prices(tempfile.mkdtemp(), num_train=5,
    ...                                                       num_test=3))
    >>> data.train.shape, data.test.shape, data.books_data
    ((5, 81), (3, 80), False)
    """
    check_int(num_train, "num_train", low=1)
    check_int(num_test, "num_test", low=1)
    check_int(seed, "seed", low=0)
    rng = np.random.default_rng(seed)
    frame = _features(rng, num_train + num_test)
    quality = frame["OverallQual"].to_numpy()
    area = frame["GrLivArea"].to_numpy()
    built = frame["YearBuilt"].to_numpy()
    log_price = (
        12.0
        + 0.12 * (quality - 5.5)
        + 0.3 * np.log(area / 1500)
        + 0.003 * (built - 1970)
        + rng.normal(0.0, 0.1, len(frame))
    )
    frame.insert(0, ID, np.arange(1, len(frame) + 1))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    train = frame.iloc[:num_train].assign(**{TARGET: np.round(np.exp(log_price[:num_train]))})
    number = "%.0f"
    train.to_csv(folder / TRAIN, index=False, na_rep="NA", float_format=number)
    frame.iloc[num_train:].to_csv(folder / TEST, index=False, na_rep="NA", float_format=number)
    return folder

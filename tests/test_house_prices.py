"""The Kaggle house-price pipeline (the book's 4.10) on generated houses of the competition's
schema (tests/data/kaggle_house: 79 mixed columns with missing values; these machines cannot
reach the book's data server): the preparation against the book's own pandas code, log rmse
against NumPy, the k folds as one program, the final model against the folds' engine, the
download through a local HTTP server, and bad input."""

import functools
import hashlib
import http.server
import logging
import os
import re
import shutil
import threading
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest

from jaxdl.data import house_prices as hp
from jaxdl.data.house_prices_synthetic import SCHEMA, write_synthetic_house_prices
from jaxdl.engine import fit
from jaxdl.errors import InputError
from jaxdl.metrics import log_rmse, squared_log_error
from jaxdl.models.linear import pytorch_linear
from jaxdl.optim import adam
from jaxdl.selection import cross_validate, k_fold_splits

from harness.reference import within

SHIPPED = Path(__file__).resolve().parent / "data" / "kaggle_house"


@pytest.fixture(scope="module")
def shipped():
    return hp.load_house_prices(SHIPPED)


def test_the_shipped_files_are_the_generators_and_have_the_competitions_schema(tmp_path):
    write_synthetic_house_prices(tmp_path, num_train=200, num_test=80, seed=1)
    for name in (hp.TRAIN, hp.TEST):
        assert (tmp_path / name).read_bytes() == (SHIPPED / name).read_bytes(), name
    data = hp.load_house_prices(SHIPPED)
    assert data.train.shape == (200, 81) and data.test.shape == (80, 80)
    assert list(data.train.columns[[0, -1]]) == ["Id", "SalePrice"]
    assert list(data.test.columns[1:]) == list(SCHEMA) and len(SCHEMA) == 79
    text = [c for c in data.test.columns[1:] if not pd.api.types.is_numeric_dtype(data.test[c])]
    assert len(text) == 43  # the competition's files have 43 text and 36 numeric features
    assert data.train["Alley"].isna().mean() > 0.8 and data.train["LotFrontage"].isna().any()
    assert data.books_data is False
    assert data.sha1 == {n: hashlib.sha1((SHIPPED / n).read_bytes()).hexdigest() for n in data.sha1}


def test_features_equal_the_books_pandas_code(shipped):
    """The book's cells, verbatim but for two pandas changes since: text columns are no longer
    of dtype object in pandas 3, and get_dummies returns booleans."""
    train_data, test_data = shipped.train, shipped.test
    all_features = pd.concat((train_data.iloc[:, 1:-1], test_data.iloc[:, 1:]))
    numeric_features = all_features.select_dtypes("number").columns
    all_features[numeric_features] = all_features[numeric_features].apply(
        lambda x: (x - x.mean()) / (x.std())
    )
    all_features[numeric_features] = all_features[numeric_features].fillna(0)
    all_features = pd.get_dummies(all_features, dummy_na=True, dtype=float)
    n_train = train_data.shape[0]
    f = hp.house_features(train_data, test_data)
    assert f.feature_names == tuple(all_features.columns)
    np.testing.assert_allclose(f.x_train, all_features[:n_train].values, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(f.x_test, all_features[n_train:].values, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(f.y_train, train_data.SalePrice.values.astype(np.float32))
    np.testing.assert_array_equal(f.test_ids, test_data.Id.values)


def test_features_by_hand():
    train = pd.DataFrame(
        {"Id": [1, 2, 3], "Area": [1.0, 2.0, np.nan], "Alley": ["Pave", None, "Pave"],
         "Const": [7.0, 7.0, 7.0], "SalePrice": [1.0, 2.0, 3.0]}
    )  # fmt: skip
    test = pd.DataFrame({"Id": [4], "Area": [3.0], "Alley": ["Grvl"], "Const": [7.0]})
    f = hp.house_features(train, test)
    assert f.feature_names == ("Area", "Const", "Alley_Grvl", "Alley_Pave", "Alley_nan")
    # Area over both tables: 1, 2, NA, 3 -> mean 2, sample std 1 -> -1, 0, 0 (missing), 1.
    expected = [[-1, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 1, 0], [1, 0, 1, 0, 0]]
    np.testing.assert_array_equal(np.concatenate([f.x_train, f.x_test]), expected)


def test_log_rmse_against_numpy():
    rng = np.random.default_rng(0)
    y = rng.uniform(5e4, 5e5, 50).astype(np.float32)
    y_hat = (y * rng.lognormal(0, 0.2, 50)).astype(np.float32)
    y_hat[:3] = [0.5, -10.0, 1.0]  # clipped to 1, as the book's torch.clamp
    clipped = np.maximum(y_hat.astype(np.float64), 1.0)
    expected = np.sqrt(np.mean((np.log(clipped) - np.log(y.astype(np.float64))) ** 2))
    np.testing.assert_allclose(jax.jit(log_rmse)(y_hat, y), expected, rtol=1e-6)
    # float32 logarithms of prices near 1e5 are good to about 1e-6: an absolute tolerance.
    np.testing.assert_allclose(
        squared_log_error(y_hat, y), (np.log(clipped) - np.log(y)) ** 2, rtol=1e-5, atol=2e-6
    )
    with pytest.raises(ValueError, match=r"^squared_log_error: expected y_hat and y of the same"):
        squared_log_error(jnp.ones((3, 1)), jnp.ones(3))
    with pytest.raises(ValueError, match=r"^squared_log_error: expected \[batch\], got shape"):
        squared_log_error(jnp.ones((3, 1)), jnp.ones((3, 1)))


def test_adam_is_pytorchs_adam_with_l2_decay():
    """Two steps against the formulas of torch.optim.Adam (L2 decay added to the gradient)."""
    lr, wd, b1, b2, eps = 0.5, 0.1, 0.9, 0.999, 1e-8
    w = np.array([1.0, -2.0])
    grads = [np.array([0.3, 0.1]), np.array([-0.2, 0.4])]
    opt = adam(lr, weight_decay=wd)
    params, state = {"w": jnp.asarray(w, jnp.float32)}, None
    state = opt.init(params)
    m = v = np.zeros(2)
    for t, g in enumerate(grads, start=1):
        updates, state = opt.update({"w": jnp.asarray(g, jnp.float32)}, state, params)
        params = optax.apply_updates(params, updates)
        g = g + wd * w
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g**2
        w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    np.testing.assert_allclose(params["w"], w, rtol=1e-5)
    with pytest.raises(ValueError, match="learning_rate"):
        adam(0.0)


@pytest.fixture(scope="module")
def prepared(shipped):
    f = hp.house_features(shipped.train, shipped.test)
    return jnp.asarray(f.x_train), jnp.asarray(f.y_train)


def test_the_folds_train_as_one_program_and_score_as_numpy_does(prepared, caplog):
    x, y = prepared
    with jax.log_compiles(True), caplog.at_level(logging.WARNING):
        cv = cross_validate(
            pytorch_linear(),
            optax.squared_error,
            adam(5.0),
            (x, y),
            k=5,
            epochs=20,
            batch_size=64,
            key=jax.random.key(3),
            metrics={"sle": squared_log_error},
        )
    # One program for the five folds: their keys and rows are its arguments' leading axis.
    compiled = [
        r.getMessage() for r in caplog.records if "Compiling jit(one_fold)" in r.getMessage()
    ]
    assert len(compiled) == 1 and "key<fry>[5]" in compiled[0] and "int32[5,160]" in compiled[0]
    w, b = np.asarray(cv.params["w"], np.float64), np.asarray(cv.params["b"], np.float64)
    x64, y64 = np.asarray(x, np.float64), np.asarray(y, np.float64)
    for i, (train_rows, val_rows) in enumerate(k_fold_splits(len(x), 5)):
        for rows, key in ((val_rows, "val_sle"), (train_rows, "train_eval_sle")):
            pred = np.maximum(x64[rows] @ w[i] + b[i], 1.0)
            expected = np.sqrt(np.mean((np.log(pred) - np.log(y64[rows])) ** 2))
            np.testing.assert_allclose(np.sqrt(cv.history[key][i, -1]), expected, rtol=1e-4)
    # 200 houses in 5 folds of 40: every fold trains on 160 rows, the schedule fit uses.
    keys = jax.random.split(jax.random.key(3), 5)
    train_rows, val_rows = k_fold_splits(len(x), 5)[2]
    alone = fit(
        pytorch_linear(),
        optax.squared_error,
        adam(5.0),
        (x[train_rows], y[train_rows]),
        epochs=20,
        batch_size=64,
        key=keys[2],
        quiet=True,
    )
    np.testing.assert_allclose(cv.params["w"][2], alone.state.params["w"], rtol=1e-5, atol=1e-4)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """The shipped files served on 127.0.0.1, the cache in tmp_path, downloads on."""
    served = tmp_path / "served"
    shutil.copytree(SHIPPED, served)
    handler = functools.partial(_Quiet, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-home"))
    monkeypatch.delenv("JAXDL_DOWNLOAD", raising=False)
    monkeypatch.setenv(hp.URL_ENV_VAR, f"http://127.0.0.1:{httpd.server_address[1]}/")
    yield served
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_a_download_whose_digest_is_not_the_books_is_refused_and_deleted(server):
    with pytest.raises(ValueError) as info:
        hp.load_house_prices()
    assert str(info.value).startswith(
        f"downloading {os.environ[hp.URL_ENV_VAR]}kaggle_house_pred_train.csv: refused and "
        "deleted: kaggle_house_pred_train.csv: expected the book's file (SHA-1 "
        f"585e9cc93e70b39160e7921475f9bcd7d31219ce), got SHA-1 {hp.sha1(server / hp.TRAIN)}"
    )
    assert list(hp.default_cache_dir().iterdir()) == []  # nothing partial or unchecked left


def test_a_download_with_matching_digests_lands_in_the_cache_and_is_used(server, monkeypatch):
    digests = {name: hashlib.sha1((server / name).read_bytes()).hexdigest() for name in hp.FILES}
    monkeypatch.setattr(hp, "EXPECTED_SHA1", digests)
    data = hp.load_house_prices()
    assert data.books_data and data.folder == hp.default_cache_dir()
    assert data.train.shape == (200, 81)
    for name in hp.FILES:
        assert (hp.default_cache_dir() / name).read_bytes() == (SHIPPED / name).read_bytes()
    (server / hp.TRAIN).unlink()  # the second load reads the cache, asks the server nothing
    assert hp.load_house_prices().train.shape == (200, 81)
    # A damaged cached file is named with its folder and the fix, not used.
    cached = hp.default_cache_dir() / hp.TEST
    cached.write_text("Id\n1\n")
    with pytest.raises(InputError) as info:
        hp.load_house_prices()
    assert str(info.value).startswith("kaggle_house_pred_test.csv: expected the book's file")
    assert str(info.value).endswith(
        f": the file {cached} is not the book's; delete it to download it again"
    )


def test_offline_is_a_clear_error_naming_the_way_out(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv(hp.URL_ENV_VAR, "http://127.0.0.1:9/")  # the discard port: refused
    with pytest.raises(FileNotFoundError, match=r"not downloaded: downloading http://127.0.0.1:9/"):
        hp.load_house_prices()
    monkeypatch.setenv("JAXDL_DOWNLOAD", "off")
    with pytest.raises(FileNotFoundError, match=r"turned off by \$JAXDL_DOWNLOAD=off.*data_dir"):
        hp.load_house_prices()


def test_a_data_dir_lacking_a_file_is_named(tmp_path):
    shutil.copy(SHIPPED / hp.TRAIN, tmp_path)
    with pytest.raises(FileNotFoundError, match=r"got none named kaggle_house_pred_test.csv$"):
        hp.load_house_prices(tmp_path)


def test_bad_files_are_refused_naming_file_column_row_and_value(tmp_path):
    write_synthetic_house_prices(tmp_path, num_train=20, num_test=5)
    train = pd.read_csv(tmp_path / hp.TRAIN)
    train.drop(columns=["SalePrice"]).to_csv(tmp_path / hp.TRAIN, index=False)
    with pytest.raises(ValueError, match=r"expected the columns \['Id', 'SalePrice'\]"):
        hp.load_house_prices(tmp_path)
    junk = train.astype({"LotArea": object})
    junk.loc[3, "LotArea"] = "big"
    junk.to_csv(tmp_path / hp.TRAIN, index=False)
    with pytest.raises(ValueError, match=r"column 'LotArea', data row 4 .*got 'big'"):
        hp.load_house_prices(tmp_path)
    zero = train.assign(SalePrice=train.SalePrice.where(train.index != 2, 0))
    zero.to_csv(tmp_path / hp.TRAIN, index=False)
    with pytest.raises(ValueError, match=r"'SalePrice', data row 3: expected a price > 0 .*got 0$"):
        hp.load_house_prices(tmp_path)
    train.to_csv(tmp_path / hp.TRAIN, index=False)
    data = hp.load_house_prices(tmp_path)
    with pytest.raises(ValueError, match=r"expected every SalePrice > 0 .*got 0 in data row 3"):
        hp.house_features(zero, data.test)  # tables given directly, not read
    with pytest.raises(ValueError, match=r"got \['Alley'\] missing and none extra"):
        hp.house_features(data.train, data.test.drop(columns=["Alley"]))


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "expected a CSV table with a header line, got an empty file"),
        ("Id,SalePrice\n1,2\n3,4,5,6\n", "not a CSV table of equal rows: .*line 3, saw 4"),
    ],
    ids=["empty", "ragged"],
)
@pytest.mark.parametrize("name", [hp.TRAIN, hp.TEST])
def test_a_file_that_is_not_a_table_is_refused_naming_it(tmp_path, name, text, message):
    """What pandas cannot parse is one line naming the file and what is wrong, not pandas'
    traceback (EmptyDataError, ParserError)."""
    write_synthetic_house_prices(tmp_path, num_train=20, num_test=5)
    (tmp_path / name).write_text(text)
    with pytest.raises(InputError, match=re.escape(str(tmp_path / name)) + ": " + message):
        hp.load_house_prices(tmp_path)


def _price(frame, value):
    frame["SalePrice"] = frame["SalePrice"].astype(float)
    frame.loc[2, "SalePrice"] = value
    return frame


def _no_id(frame):
    frame["Id"] = frame["Id"].astype(float)
    frame.loc[1, "Id"] = np.nan
    return frame


def _repeated_id(frame):
    frame.loc[3, "Id"] = frame.loc[0, "Id"]
    return frame


@pytest.mark.parametrize(
    "name, edit, message",
    [
        (
            hp.TRAIN,
            lambda f: _price(f, 1e25),
            r": column 'SalePrice', data row 3: expected a price > 0 .*"
            r"at most 1e\+19 .*got 1e\+25",
        ),
        (hp.TRAIN, lambda f: _price(f, 1e39), r": column 'SalePrice', data row 3: .* got 1e\+39"),
        (
            hp.TRAIN,
            lambda f: _price(f, -5.0),
            r": column 'SalePrice', data row 3: expected a price > 0",
        ),
        (hp.TEST, _no_id, r": column 'Id', data row 2: expected every house's Id, got none"),
        (hp.TEST, _repeated_id, r": column 'Id', data row 4: expected each Id once, got 21 again"),
        (
            hp.TRAIN,
            lambda f: f.rename(columns={"Alley": "LotArea"}),
            r": expected each column named once in the header, got \['LotArea'\] 2 times",
        ),
    ],
    ids=["price-1e25", "price-1e39", "price-negative", "no-id", "repeated-id", "repeated-column"],
)
def test_a_bad_table_is_refused_when_read_naming_file_column_and_row(tmp_path, name, edit, message):
    """What would only show after training (every fold diverging, a NaN in the submission) or
    blame the other file is refused as the file is read, naming the file, column and row."""
    write_synthetic_house_prices(tmp_path, num_train=20, num_test=5)
    edit(pd.read_csv(tmp_path / name)).to_csv(tmp_path / name, index=False)
    with pytest.raises(InputError, match=re.escape(str(tmp_path / name)) + message):
        hp.load_house_prices(tmp_path)


def test_one_training_house_is_refused_as_too_few_to_fold(run_experiment, tmp_path):
    write_synthetic_house_prices(tmp_path, num_train=1, num_test=5)
    with pytest.raises(InputError, match=r"expected at least 2 training houses for k-fold .*got 1"):
        run_experiment("kaggle_house_prices", "--data-dir", str(tmp_path), quick=False)


@pytest.mark.slow
def test_the_experiment_writes_a_submission_for_every_test_house(run_experiment):
    metrics, stdout, out = run_experiment("kaggle_house_prices")
    submission = pd.read_csv(out / "submission.csv")
    assert list(submission.columns) == ["Id", "SalePrice"] and len(submission) == 100
    assert submission.Id.tolist() == list(range(301, 401))  # the generated test houses' Ids
    assert np.all(np.isfinite(submission.SalePrice)) and np.all(submission.SalePrice > 0)
    assert metrics["data"]["source"] == "synthetic" and metrics["data"]["books_data"] is False
    assert len(metrics["fold_val_log_rmse"]) == 5 == metrics["folds"]
    assert metrics["mean_val_log_rmse"] == pytest.approx(np.mean(metrics["fold_val_log_rmse"]))
    history = metrics["history"]["fold1_val_log_rmse"]
    assert len(history) == 30 and history[-1] < history[0]  # it learns
    run = metrics["runs"]["final"]
    assert run["optimizer"]["learning_rate"] == 5.0 and run["batch_size"] == 64
    assert "not the book's data" in stdout and "in the book's band | — |" in stdout
    assert (out / "folds.png").exists() and (out / "final.png").exists()


@pytest.mark.slow
def test_the_books_files_give_the_books_figures(run_experiment, shared_data):
    """The book's configuration on the book's two files (``../shared/data/kaggle_house``, their
    SHA-1 the book's): 5-fold mean log rmse and the final model's in the book's bands (0.170 /
    0.165 / 0.162 in the book)."""
    folder = shared_data("kaggle_house")
    metrics, stdout, _ = run_experiment(
        "kaggle_house_prices", "--data-dir", str(folder), quick=False
    )
    assert metrics["data"]["books_data"] is True
    assert (metrics["data"]["num_train"], metrics["data"]["num_test"]) == (1460, 1459)
    for band in ("mean_val_log_rmse", "mean_train_log_rmse", "final_train_log_rmse"):
        assert within("kaggle_house_prices", band, metrics[band]), (band, metrics[band])
    assert "| in the book's band | yes |" in stdout


@pytest.mark.slow
def test_the_experiment_reads_a_data_dir_and_refuses_bad_flags(run_experiment, capsys):
    metrics, _, out = run_experiment("kaggle_house_prices", "--data-dir", str(SHIPPED), quick=False)
    assert metrics["data"]["num_train"] == 200 and metrics["data"]["source"] == str(SHIPPED)
    assert len(pd.read_csv(out / "submission.csv")) == 80
    assert len(metrics["history"]["final_train_log_rmse"]) == 100
    with pytest.raises(SystemExit):  # a bad value of a flag: argparse's refusal, status 2
        run_experiment("kaggle_house_prices", "--weight-decay", "-1", quick=False)
    assert "argument --weight-decay: expected a finite number >= 0" in capsys.readouterr().err
    for flags, message in (  # values each fine alone: the section's refusal, before any compute
        (["--quick", "--data-dir", str(SHIPPED)], "--data-dir: not with --synthetic"),
        (["--synthetic", "--folds", "2000"], "folds: expected an integer in [2, 1460], got 2000"),
    ):
        with pytest.raises(InputError, match=re.escape(message)):
            run_experiment("kaggle_house_prices", *flags, quick=False)

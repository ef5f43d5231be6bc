"""Fashion-MNIST: where the loader looks, what it checks, TFDS, labels, image grids, device."""

import gzip
import hashlib
import re
import shutil
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from matplotlib.figure import Figure

import jaxdl.data.fashion_mnist as fm
from jaxdl.data.fashion_mnist import (
    FashionMNIST,
    Split,
    load_fashion_mnist,
    text_labels,
    to_device,
)
from jaxdl.data.idx import write_idx
from jaxdl.plotting import show_images

NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


def make_folder(folder: Path, seed=0, n=(12, 5), compress=True, label_offset=0) -> dict:
    """Writes a small Fashion-MNIST folder of random images; returns the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for (split, (images_name, labels_name)), count in zip(NAMES.items(), n, strict=True):
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = ((np.arange(count) + label_offset) % 10).astype(np.uint8)
        suffix = ".gz" if compress else ""
        write_idx(folder / f"{images_name}{suffix}", images, compress=compress)
        write_idx(folder / f"{labels_name}{suffix}", labels, compress=compress)
        arrays[split] = (images, labels)
    return arrays


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No $JAXDL_DATA_DIR, default folders in tmp_path, and TFDS offline."""
    monkeypatch.delenv("JAXDL_DATA_DIR", raising=False)
    monkeypatch.setattr(fm, "DEFAULT_DIRS", (tmp_path / "default",))
    import tensorflow_datasets as tfds

    def offline(*args, **kwargs):
        raise ConnectionError("no route to the internet")

    monkeypatch.setattr(tfds, "data_source", offline)
    return tmp_path


def assert_loaded(data, arrays):
    assert isinstance(data, FashionMNIST)
    for split in ("train", "test"):
        got = getattr(data, split)
        assert isinstance(got, Split)
        images, labels = arrays[split]
        assert got.images.dtype == np.uint8 and got.labels.dtype == np.int32
        np.testing.assert_array_equal(got.images, images)
        np.testing.assert_array_equal(got.labels, labels)


@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
def test_loads_a_generated_folder(tmp_path, compress):
    arrays = make_folder(tmp_path, compress=compress)
    assert_loaded(load_fashion_mnist(tmp_path, verify=False), arrays)
    assert_loaded(load_fashion_mnist(str(tmp_path), verify=False), arrays)


def test_digests_of_the_uncompressed_content(tmp_path):
    make_folder(tmp_path / "raw", compress=False)
    arrays = make_folder(tmp_path / "gz", compress=True)
    digests = {
        name: hashlib.sha256((tmp_path / "raw" / name).read_bytes()).hexdigest()
        for pair in NAMES.values()
        for name in pair
    }
    # gzip-compressed copies of the same content pass the digests of the raw files
    assert_loaded(load_fashion_mnist(tmp_path / "gz", verify=digests), arrays)
    wrong = {**digests, "t10k-labels-idx1-ubyte": "0" * 64}
    path = re.escape(str(tmp_path / "gz" / "t10k-labels-idx1-ubyte.gz"))
    found = digests["t10k-labels-idx1-ubyte"]
    with pytest.raises(ValueError, match=f"^{path}: SHA-256 .* expected 0{{64}}, found {found}"):
        load_fashion_mnist(tmp_path / "gz", verify=wrong)


def test_the_real_digests_reject_a_generated_file(tmp_path):
    make_folder(tmp_path)
    expected = "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
    with pytest.raises(
        ValueError, match=f"train-images-idx3-ubyte.gz: SHA-256 .*expected {expected}"
    ):
        load_fashion_mnist(tmp_path)  # verify=True is the default


def test_bad_verify_argument(tmp_path):
    make_folder(tmp_path)
    with pytest.raises(
        ValueError, match=r"verify: expected a digest for each of .*missing \['t10k"
    ):
        load_fashion_mnist(
            tmp_path,
            verify={"train-images-idx3-ubyte": "0" * 64, "train-labels-idx1-ubyte": "0" * 64},
        )
    bad = {**fm.EXPECTED_SHA256, "t10k-images-idx3-ubyte": "XYZ"}
    with pytest.raises(
        ValueError, match=r"verify\['t10k-images-idx3-ubyte'\]: expected 64 lowercase hex"
    ):
        load_fashion_mnist(tmp_path, verify=bad)
    with pytest.raises(TypeError, match="verify: expected True, False or a mapping"):
        load_fashion_mnist(tmp_path, verify="yes")


def test_label_out_of_range(tmp_path):
    make_folder(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([0, 1, 10, 3, 12], np.uint8))
    with pytest.raises(
        ValueError,
        match=r"t10k-labels-idx1-ubyte.gz: expected labels in \[0, 10\), found 2 outside, "
        "the first 10 at index 2",
    ):
        load_fashion_mnist(tmp_path, verify=False)


def test_negative_labels(tmp_path):
    make_folder(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.full(12, -1, np.int8))
    with pytest.raises(ValueError, match=r"expected labels in \[0, 10\), found 12 outside"):
        load_fashion_mnist(tmp_path, verify=False)


def test_count_mismatch(tmp_path):
    make_folder(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(11, np.uint8))
    with pytest.raises(
        ValueError, match="expected as many images as labels, found 12 images and 11 labels"
    ):
        load_fashion_mnist(tmp_path, verify=False)


@pytest.mark.parametrize(
    "images",
    [np.zeros((5, 28, 27), np.uint8), np.zeros((5, 784), np.uint8), np.zeros((5, 28, 28), np.int8)],
    ids=["28x27", "flat", "int8"],
)
def test_images_of_the_wrong_shape_or_type(tmp_path, images):
    make_folder(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    with pytest.raises(
        ValueError, match=r"t10k-images-idx3-ubyte.gz: expected uint8 images \[N, 28, 28\]"
    ):
        load_fashion_mnist(tmp_path, verify=False)


def test_data_dir_is_used_before_env_var_before_default_folders(isolated, monkeypatch):
    given = make_folder(isolated / "given", seed=1, label_offset=1)
    env = make_folder(isolated / "env", seed=2, label_offset=2, compress=False)
    default = make_folder(isolated / "default", seed=3, label_offset=3)
    monkeypatch.setenv("JAXDL_DATA_DIR", str(isolated / "env"))
    assert_loaded(load_fashion_mnist(isolated / "given", verify=False), given)
    assert_loaded(load_fashion_mnist(verify=False), env)
    monkeypatch.delenv("JAXDL_DATA_DIR")
    assert_loaded(load_fashion_mnist(verify=False), default)
    monkeypatch.setenv("JAXDL_DATA_DIR", "")  # empty: as if not set
    assert_loaded(load_fashion_mnist(verify=False), default)


def test_uncompressed_and_compressed_files_mix(isolated):
    folder = isolated / "mixed"
    arrays = make_folder(folder)
    for name in NAMES["test"]:
        gz = folder / f"{name}.gz"
        (folder / name).write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()
    assert_loaded(load_fashion_mnist(folder, verify=False), arrays)


def test_data_dir_without_the_files_is_an_error(isolated, monkeypatch):
    make_folder(isolated / "default")  # would be found, but data_dir wins
    make_folder(isolated / "env")  # would be found too
    monkeypatch.setenv("JAXDL_DATA_DIR", str(isolated / "env"))
    folder = isolated / "partial"
    make_folder(folder)
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(
        FileNotFoundError,
        match=f"data_dir: expected a folder with the Fashion-MNIST IDX files, got "
        f"'{re.escape(str(folder))}': missing t10k-images-idx3-ubyte\\[.gz\\]$",
    ):
        load_fashion_mnist(folder, verify=False)
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(
        FileNotFoundError,
        match=r"partial': missing train-labels-idx1-ubyte\[.gz\], t10k-images-idx3-ubyte\[.gz\]$",
    ):
        load_fashion_mnist(folder, verify=False)
    with pytest.raises(FileNotFoundError, match=r"nowhere': no such folder"):
        load_fashion_mnist(isolated / "nowhere")


def test_nothing_found_lists_every_place_and_the_ways_to_get_it(isolated, monkeypatch):
    monkeypatch.setattr(fm, "DEFAULT_DIRS", (isolated / "default", isolated / "other"))
    (isolated / "other").mkdir()
    (isolated / "other" / "train-images-idx3-ubyte").touch()
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist()
    message = str(info.value)
    for text in [
        "$JAXDL_DATA_DIR: not set",
        f"{isolated / 'default'}: no such folder",
        f"{isolated / 'other'}: missing train-labels-idx1-ubyte[.gz], "
        "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]",
        "TensorFlow Datasets, tfds.data_source('fashion_mnist', download=True): "
        "ConnectionError: no route to the internet",
        "sudo apt-get install -y dataset-fashion-mnist",
        "download it when online",
        "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        "t10k-labels-idx1-ubyte.gz) in a folder and pass it as data_dir or set $JAXDL_DATA_DIR",
    ]:
        assert text in message, message
    assert isinstance(info.value.__cause__, ConnectionError)


@pytest.mark.parametrize(
    ("remove", "why"),
    [
        (["t10k-images-idx3-ubyte.gz"], "missing t10k-images-idx3-ubyte[.gz]"),
        (
            ["train-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz"],
            "missing train-labels-idx1-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]",
        ),
        (
            "all",
            "missing train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
            "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]",
        ),
        ("folder", "no such folder"),
    ],
    ids=["one-missing", "two-missing", "empty-folder", "no-folder"],
)
def test_an_incomplete_env_var_folder_is_an_error(isolated, monkeypatch, remove, why):
    # A complete folder among the defaults (as Debian's may be): never used instead.
    make_folder(isolated / "default")
    folder = isolated / "env"
    make_folder(folder)
    if remove == "folder":
        shutil.rmtree(folder)
    else:
        every = [f"{name}.gz" for pair in NAMES.values() for name in pair]
        for name in every if remove == "all" else remove:
            (folder / name).unlink()
    monkeypatch.setenv("JAXDL_DATA_DIR", str(folder))
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist(verify=False)
    assert str(info.value) == (
        f"$JAXDL_DATA_DIR: expected a folder with the Fashion-MNIST IDX files, got "
        f"{str(folder)!r}: {why} (unset JAXDL_DATA_DIR to look in {str(isolated / 'default')!r} "
        "and TensorFlow Datasets instead)"
    )


def test_an_env_var_naming_a_file_is_an_error(isolated, monkeypatch):
    make_folder(isolated / "default")
    (isolated / "file").write_bytes(b"")
    monkeypatch.setenv("JAXDL_DATA_DIR", str(isolated / "file"))
    with pytest.raises(FileNotFoundError, match=r"^\$JAXDL_DATA_DIR: .*'?: not a folder \(unset"):
        load_fashion_mnist(verify=False)


def test_data_dir_wins_over_an_incomplete_env_var(isolated, monkeypatch):
    arrays = make_folder(isolated / "given")
    (isolated / "env").mkdir()
    monkeypatch.setenv("JAXDL_DATA_DIR", str(isolated / "env"))
    assert_loaded(load_fashion_mnist(isolated / "given", verify=False), arrays)


def test_nothing_found_says_the_env_var_is_not_set(isolated):
    with pytest.raises(FileNotFoundError, match=r"\$JAXDL_DATA_DIR: not set"):
        load_fashion_mnist()


def test_falls_through_to_tfds(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.delenv("JAXDL_DATA_DIR", raising=False)
    monkeypatch.setattr(fm, "DEFAULT_DIRS", (tmp_path / "default",))
    monkeypatch.setattr(fm, "_TFDS_CHUNK", 7)  # several batched reads and a partial last one
    calls = []
    real_data_source = tfds.data_source

    def data_source(*args, **kwargs):
        sources = real_data_source(*args, **kwargs)
        for source in sources:
            # mock_data assigns its __getitems__ unbound (called without the mock as self);
            # read through the mock's __getitem__ instead, and count the batched reads.
            inner = source.data_source
            inner.__getitems__ = lambda keys, inner=inner: (
                calls.append(keys) or [inner[k] for k in keys]
            )
        return sources

    monkeypatch.setattr(tfds, "data_source", data_source)
    with tfds.testing.mock_data(num_examples=17, policy=tfds.testing.MockPolicy.USE_CODE):
        data = load_fashion_mnist()
        reference = real_data_source("fashion_mnist", split="test")
        records = [reference[i] for i in range(17)]
    assert [len(keys) for keys in calls] == [7, 7, 3, 7, 7, 3]
    for split in (data.train, data.test):
        assert split.images.shape == (17, 28, 28) and split.images.dtype == np.uint8
        assert split.labels.dtype == np.int32
        np.testing.assert_array_equal(split.images, [r["image"][:, :, 0] for r in records])
        np.testing.assert_array_equal(split.labels, [r["label"] for r in records])
    assert data.train.images.std() > 0 and len(set(data.train.labels.tolist())) > 1


@pytest.mark.skipif(not DEBIAN_DIR.is_dir(), reason="apt-get install -y dataset-fashion-mnist")
def test_the_real_data_set(monkeypatch):
    monkeypatch.delenv("JAXDL_DATA_DIR", raising=False)
    start = time.perf_counter()
    data = load_fashion_mnist()  # finds the Debian package's folder, checks the digests
    seconds = time.perf_counter() - start
    assert data.train.images.shape == (60000, 28, 28) and data.test.images.shape == (10000, 28, 28)
    for split, per_class in ((data.train, 6000), (data.test, 1000)):
        assert split.images.dtype == np.uint8 and split.labels.dtype == np.int32
        assert split.labels.min() == 0 and split.labels.max() == 9
        np.testing.assert_array_equal(np.bincount(split.labels, minlength=10), [per_class] * 10)
    assert 0 < data.train.images.mean() < 255
    assert seconds < 3, f"loading took {seconds:.2f} s"


def test_text_labels_hand_values():
    assert text_labels(np.arange(10)) == [
        "t-shirt",
        "trouser",
        "pullover",
        "dress",
        "coat",
        "sandal",
        "shirt",
        "sneaker",
        "bag",
        "ankle boot",
    ]
    assert text_labels(jnp.array([9, 0, 9], jnp.int32)) == ["ankle boot", "t-shirt", "ankle boot"]
    assert text_labels(np.array([], np.uint8)) == []


@pytest.mark.parametrize(
    ("labels", "error", "message"),
    [
        ([0, 10], ValueError, r"labels: expected class indices in \[0, 10\), got \[10\]"),
        ([-1, 3], ValueError, r"labels: expected class indices in \[0, 10\), got \[-1\]"),
        ([[1, 2]], ValueError, r"labels: expected a 1-D array \[n\], got shape \(1, 2\)"),
        ([1.0, 2.0], TypeError, "labels: expected integer class indices, got dtype float"),
    ],
)
def test_text_labels_bad_input(labels, error, message):
    with pytest.raises(error, match=message):
        text_labels(labels)


def test_show_images_grid_and_titles():
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    fig = show_images(images, 2, 3, titles=list("abcde"), scale=2.0)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 6
    assert tuple(fig.get_size_inches()) == (6.0, 4.0)
    assert [ax.get_title() for ax in fig.axes[:5]] == list("abcde")
    np.testing.assert_array_equal(fig.axes[3].images[0].get_array(), images[3])
    assert not fig.axes[0].get_xaxis().get_visible()
    assert not fig.axes[5].images and not fig.axes[5].axison  # the empty cell is blank


def test_show_images_one_cell_and_jax_input():
    fig = show_images(jnp.zeros((1, 28, 28)), 1, 1)
    assert len(fig.axes) == 1 and fig.axes[0].get_title() == ""


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((np.zeros((7, 28, 28)), 2, 3), {}, "images: expected at most num_rows . num_cols = 6"),
        ((np.zeros((2, 28, 28)), 1, 2), {"titles": ["a"]}, "titles: expected 2 titles"),
        ((np.zeros((2, 784)), 1, 2), {}, r"images: expected \[n, height, width\]"),
        ((np.zeros((2, 28, 28)), 0, 2), {}, "num_rows: expected an integer >= 1, got 0"),
        ((np.zeros((2, 28, 28)), 1, 2), {"scale": 0}, "scale: expected a number > 0, got 0"),
    ],
)
def test_show_images_bad_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        show_images(*args, **kwargs)


def test_show_images_refuses_a_float_grid_size():
    with pytest.raises(TypeError, match=r"num_cols: expected an integer >= 1, got float 2\.0"):
        show_images(np.zeros((2, 28, 28)), 1, 2.0)


def test_to_device_hand_values():
    x = to_device(np.array([[[0, 255], [51, 102]], [[1, 2], [3, 4]]], np.uint8))
    assert isinstance(x, jax.Array) and x.dtype == jnp.float32 and x.shape == (2, 4)
    np.testing.assert_allclose(x[0], [0.0, 1.0, 0.2, 0.4], rtol=1e-7)


def test_to_device_matches_numpy():
    images = np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    want = images.reshape(50, 784).astype(np.float64) / 255.0
    x = to_device(images)
    assert x.shape == (50, 784) and x.dtype == jnp.float32
    assert x.devices() == {jax.devices()[0]}
    np.testing.assert_allclose(np.asarray(x), want, rtol=1e-6, atol=0)
    np.testing.assert_allclose(np.asarray(to_device(jnp.asarray(images))), want, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(jax.jit(to_device)(images)), want, rtol=1e-6)
    assert to_device(np.zeros((0, 28, 28), np.uint8)).shape == (0, 784)


def test_to_device_puts_on_the_given_device():
    device = jax.devices()[-1]
    assert to_device(np.zeros((2, 3, 3), np.uint8), device).devices() == {device}


@pytest.mark.parametrize(
    ("images", "error", "message"),
    [
        (
            np.zeros((2, 28, 28), np.float32),
            TypeError,
            "images: expected uint8 .* got dtype float32",
        ),
        (np.zeros(784, np.uint8), ValueError, r"images: expected \[n, height, width\], got shape"),
    ],
)
def test_to_device_bad_input(images, error, message):
    with pytest.raises(error, match=message):
        to_device(images)

"""Fashion-MNIST: where the loader looks, what it checks, TFDS, the download (from a local
HTTP server), labels, image grids, device."""

import functools
import gzip
import hashlib
import http.server
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from matplotlib.figure import Figure
from tqdm import tqdm

import jaxdl.data.fashion_mnist as fm
import jaxdl.data.fashion_mnist_files as fm_files
import jaxdl.data.fashion_mnist_tfds as fm_tfds
from jaxdl.data.fashion_mnist import (
    FashionMNIST,
    Split,
    load_fashion_mnist,
    text_labels,
    to_device,
)
from jaxdl.data.fashion_mnist_download import MAX_BYTES
from jaxdl.data.idx import write_idx
from jaxdl.errors import InputError
from jaxdl.models.softmax import flatten
from jaxdl.plotting import show_images

NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
ALL_NAMES = [name for pair in NAMES.values() for name in pair]
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
    """No $JAXDL_DATA_DIR, default folders and the download cache in tmp_path, TFDS offline,
    and downloading turned off."""
    monkeypatch.delenv("JAXDL_DATA_DIR", raising=False)
    monkeypatch.delenv("JAXDL_FASHION_MNIST_URL", raising=False)
    monkeypatch.setenv("JAXDL_DOWNLOAD", "0")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-home"))
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
    cached = make_folder(fm.default_cache_dir(), seed=4, label_offset=4)
    assert_loaded(load_fashion_mnist(verify=False), default)  # the default folders come first
    shutil.rmtree(isolated / "default")
    assert_loaded(load_fashion_mnist(verify=False), cached)  # then the download cache


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
    cache = isolated / "cache-home" / "jaxdl" / "fashion-mnist"
    for text in [
        "$JAXDL_DATA_DIR: not set",
        f"{isolated / 'default'}: no such folder",
        f"{isolated / 'other'}: missing train-labels-idx1-ubyte[.gz], "
        "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]",
        f"  - the download cache {cache}: no such folder\n",
        "TensorFlow Datasets, tfds.data_source('fashion_mnist', download=False): "
        "ConnectionError: no route to the internet",
        "  - download from http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/: "
        "turned off by $JAXDL_DOWNLOAD=0\n",
        "Get it in one of four ways:",
        "sudo apt-get install -y dataset-fashion-mnist",
        f"with pip only (macOS, Windows, Linux): let jaxdl download it when online, into {cache}",
        "(unless $JAXDL_DOWNLOAD is 0, off, no, false)",
        "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        "t10k-labels-idx1-ubyte.gz) in a folder and pass it as data_dir or set $JAXDL_DATA_DIR",
        "behind a firewall: set $JAXDL_FASHION_MNIST_URL to the base URL of a mirror",
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
        f"{str(folder)!r}: {why} (unset JAXDL_DATA_DIR to look in {str(isolated / 'default')!r}, "
        f"the download cache {str(fm.default_cache_dir())!r} and TensorFlow Datasets instead)"
    )


def test_an_env_var_naming_a_file_is_an_error(isolated, monkeypatch):
    make_folder(isolated / "default")
    (isolated / "file").write_bytes(b"")
    monkeypatch.setenv("JAXDL_DATA_DIR", str(isolated / "file"))
    with pytest.raises(FileNotFoundError, match=r"^\$JAXDL_DATA_DIR: .*'?: not a folder \(unset"):
        load_fashion_mnist(verify=False)
    monkeypatch.delenv("JAXDL_DOWNLOAD")  # downloading on: the last resort, said so
    with pytest.raises(
        FileNotFoundError, match=r"not a folder \(unset .*instead, then download it\)$"
    ):
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
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-home"))  # an empty cache
    # TFDS comes before the download: a download from here would fail.
    monkeypatch.setenv("JAXDL_FASHION_MNIST_URL", "http://jaxdl-mirror.invalid/")
    monkeypatch.setattr(fm_tfds, "_TFDS_CHUNK", 7)  # several batched reads and a partial last one
    calls = []
    real_data_source = tfds.data_source

    def data_source(*args, **kwargs):
        assert kwargs["download"] is False  # prepared data only: TFDS never goes online
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


# The download, end to end, from a local HTTP server on 127.0.0.1: small generated IDX files
# whose digests replace the real ones, no Debian folder, the cache in tmp_path, no TFDS.


class MirrorHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the mirror's folder; records each request; cuts short the files named in
    ``server.cut_short`` (a Content-Length of the whole file, half of it sent, then closed)."""

    def do_GET(self):
        self.server.requests.append(self.path)
        name = self.path.lstrip("/")
        if name not in self.server.cut_short:
            return super().do_GET()
        data = (Path(self.directory) / name).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.close_connection = True

    def log_message(self, format, *args):  # quiet
        pass


class Mirror:
    """A folder served over HTTP on 127.0.0.1, by default four generated gz IDX files (their
    arrays and the digests of their content as attributes)."""

    def __init__(self, folder: Path, generate: bool = True):
        self.folder = folder
        if generate:
            self.arrays = make_folder(folder, seed=7)
            self.digests = {
                name: hashlib.sha256(
                    gzip.decompress((folder / f"{name}.gz").read_bytes())
                ).hexdigest()
                for name in ALL_NAMES
            }
        handler = functools.partial(MirrorHandler, directory=str(folder))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.requests = []
        self.server.cut_short = set()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()

    @property
    def requests(self) -> list[str]:
        return self.server.requests

    def stop(self):
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()


@pytest.fixture
def no_local_source(monkeypatch, tmp_path):
    """No $JAXDL_DATA_DIR, no Debian folder, the cache in tmp_path, TensorFlow Datasets not
    installed (its import fails), downloading on, no mirror variable."""
    for name in ("JAXDL_DATA_DIR", "JAXDL_DOWNLOAD", "JAXDL_FASHION_MNIST_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(fm, "DEFAULT_DIRS", (tmp_path / "no-debian",))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-home"))
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # import raises ImportError
    return tmp_path


@pytest.fixture
def mirror(no_local_source, monkeypatch):
    served = Mirror(no_local_source / "mirror")
    monkeypatch.setattr(fm_files, "EXPECTED_SHA256", served.digests)
    yield served
    served.stop()


@pytest.fixture
def silent_server():
    """A server on 127.0.0.1 that accepts connections and never answers; yields its URL and
    the list of connections accepted."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    accepted, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/", accepted
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def cache_dir(root: Path) -> Path:
    return root / "cache-home" / "jaxdl" / "fashion-mnist"


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert fm.default_cache_dir() == tmp_path / "jaxdl" / "fashion-mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", "")  # empty: as if not set
    assert fm.default_cache_dir() == Path.home() / ".cache" / "jaxdl" / "fashion-mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert fm.default_cache_dir() == Path.home() / ".cache" / "jaxdl" / "fashion-mnist"


def test_downloads_checks_caches_then_loads_from_the_cache(no_local_source, mirror, monkeypatch):
    monkeypatch.setenv("JAXDL_FASHION_MNIST_URL", mirror.url)
    assert_loaded(load_fashion_mnist(), mirror.arrays)
    assert sorted(mirror.requests) == sorted(f"/{name}.gz" for name in ALL_NAMES)
    cache = cache_dir(no_local_source)
    assert fm.default_cache_dir() == cache
    # the four files, as served, and no temporary folder left
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{n}.gz" for n in ALL_NAMES)
    for name in ALL_NAMES:
        assert (cache / f"{name}.gz").read_bytes() == (mirror.folder / f"{name}.gz").read_bytes()
    mirror.stop()  # no network from here on: a request would be refused
    assert_loaded(load_fashion_mnist(), mirror.arrays)
    assert len(mirror.requests) == 4


def test_download_function_with_a_base_url_and_a_folder(mirror, tmp_path):
    folder = tmp_path / "here"
    # without the trailing slash: the file names are appended after one
    assert fm.download_fashion_mnist(folder, base_url=mirror.url.rstrip("/")) == folder
    assert_loaded(load_fashion_mnist(folder), mirror.arrays)  # verify=True: the served digests
    assert not cache_dir(tmp_path).exists()
    # files already there are checked, not downloaded again
    assert fm.download_fashion_mnist(folder, base_url=mirror.url) == folder
    assert len(mirror.requests) == 4


def test_a_download_shows_a_progress_bar_per_file(mirror, tmp_path, capsys):
    fm.download_fashion_mnist(tmp_path / "here", base_url=mirror.url)
    err = capsys.readouterr().err
    for name in ALL_NAMES:
        size = tqdm.format_sizeof((mirror.folder / f"{name}.gz").stat().st_size, divisor=1024)
        assert f"{name}.gz: 100%|██████████| {size}/{size} [" in err, err
    fm.download_fashion_mnist(tmp_path / "quiet", base_url=mirror.url, progressbar=False)
    assert capsys.readouterr().err == ""


def test_an_interrupted_transfer_is_an_error_and_nothing_is_cached(no_local_source, mirror):
    mirror.server.cut_short.add("train-images-idx3-ubyte.gz")
    url = f"{mirror.url}train-images-idx3-ubyte.gz"
    folder = no_local_source / "here"
    with pytest.raises(ConnectionError, match=f"^downloading {re.escape(url)}: .*IncompleteRead"):
        fm.download_fashion_mnist(folder, base_url=mirror.url)
    assert list(folder.iterdir()) == []  # no partial file, no temporary folder
    assert mirror.requests == ["/train-images-idx3-ubyte.gz"]  # the first failure ends it


def test_a_wrong_digest_is_refused_and_nothing_is_cached(no_local_source, mirror, monkeypatch):
    # The mirror serves other data under the name: a valid IDX file, not the one expected.
    other = np.random.default_rng(99).integers(0, 256, (12, 28, 28), dtype=np.uint8)
    write_idx(mirror.folder / "train-images-idx3-ubyte.gz", other)
    found = hashlib.sha256(
        gzip.decompress((mirror.folder / "train-images-idx3-ubyte.gz").read_bytes())
    ).hexdigest()
    expected = mirror.digests["train-images-idx3-ubyte"]
    url = f"{mirror.url}train-images-idx3-ubyte.gz"
    folder = no_local_source / "here"
    with pytest.raises(ValueError) as info:
        fm.download_fashion_mnist(folder, base_url=mirror.url)
    assert re.fullmatch(
        f"downloading {re.escape(url)}: refused and deleted: .*train-images-idx3-ubyte.gz: "
        f"SHA-256 digest of the uncompressed content does not match: expected {expected}, "
        f"found {found}",
        str(info.value),
    ), str(info.value)
    assert list(folder.iterdir()) == []
    # through the loader: the sources listed, the digest error the cause, nothing cached
    monkeypatch.setenv("JAXDL_FASHION_MNIST_URL", mirror.url)
    with pytest.raises(FileNotFoundError, match="SHA-256 digest") as info:
        load_fashion_mnist()
    assert isinstance(info.value.__cause__, ValueError)
    assert list(cache_dir(no_local_source).iterdir()) == []


def test_checked_files_stay_and_a_later_call_fetches_the_rest(no_local_source, mirror):
    mirror.server.cut_short.add("t10k-images-idx3-ubyte.gz")
    folder = no_local_source / "here"
    with pytest.raises(ConnectionError, match=r"t10k-images-idx3-ubyte\.gz: "):
        fm.download_fashion_mnist(folder, base_url=mirror.url)
    # the two files checked before the failure are kept; the broken one is not
    assert sorted(p.name for p in folder.iterdir()) == [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
    ]
    mirror.server.cut_short.clear()
    mirror.requests.clear()
    fm.download_fashion_mnist(folder, base_url=mirror.url)
    assert mirror.requests == ["/t10k-images-idx3-ubyte.gz", "/t10k-labels-idx1-ubyte.gz"]
    assert_loaded(load_fashion_mnist(folder), mirror.arrays)


def test_a_damaged_file_already_in_the_folder_is_an_error(mirror, tmp_path):
    folder = tmp_path / "here"
    fm.download_fashion_mnist(folder, base_url=mirror.url)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))
    bad = re.escape(str(folder / "t10k-labels-idx1-ubyte.gz"))
    with pytest.raises(ValueError, match=f"^{bad}: SHA-256 .*\\(delete {bad} to download it again"):
        fm.download_fashion_mnist(folder, base_url=mirror.url)
    assert len(mirror.requests) == 4


def test_a_server_that_never_answers_times_out(no_local_source, silent_server, capsys):
    url, accepted = silent_server
    start = time.perf_counter()
    with pytest.raises(
        TimeoutError,
        match=f"^downloading {re.escape(url)}train-images-idx3-ubyte.gz: no answer within 1 s "
        r"\(ReadTimeout: .*Read timed out",
    ):
        fm.download_fashion_mnist(no_local_source / "here", base_url=url, timeout=1)
    seconds = time.perf_counter() - start
    assert seconds < 30, f"took {seconds:.1f} s"  # a sanity bound, not a performance test
    assert len(accepted) == 1  # one request, no retries
    assert list((no_local_source / "here").iterdir()) == []
    assert capsys.readouterr().err == ""  # no progress bar before the server answers


@pytest.fixture
def trickling_server():
    """A server on 127.0.0.1 that answers at once (200, a Content-Length of 25 MiB) and then
    sends one byte every 0.1 s, until the client hangs up; yields its URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 26214400\r\n\r\n")
            while not stop.wait(0.1):
                try:
                    connection.sendall(b"\x1f")
                except OSError:  # the client gave up
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    stop.set()
    thread.join(timeout=5)
    listener.close()


@pytest.fixture
def endless_server(request):
    """A server on 127.0.0.1 that answers 200 and sends 1 MiB blocks without end (``request.
    param`` "unannounced": no Content-Length; "announced": a Content-Length of 1 TiB), until the
    client hangs up; yields its URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    length = b"Content-Length: 1099511627776\r\n" if request.param == "announced" else b""

    def serve():
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\n" + length + b"\r\n")
            block = b"\x1f" * 2**20
            while True:
                try:
                    connection.sendall(block)
                except OSError:  # the client gave up
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    thread.join(timeout=5)
    listener.close()


@pytest.mark.parametrize("endless_server", ["unannounced", "announced"], indirect=True)
def test_a_download_larger_than_its_file_can_be_is_refused_and_deleted(
    no_local_source, endless_server
):
    """A server (a wrong address, a broken mirror) that sends more than the file can have is
    cut off at that size, whether it says so up front or not: nothing fills the disk."""
    folder = no_local_source / "here"
    with pytest.raises(InputError) as info:
        fm.download_fashion_mnist(folder, base_url=endless_server, progressbar=False)
    limit = MAX_BYTES["train-images-idx3-ubyte.gz"]
    assert 47_040_016 < limit < 48_000_000
    assert str(info.value).startswith(
        f"downloading {endless_server}train-images-idx3-ubyte.gz: refused and deleted: "
    ) and str(info.value).endswith(
        f"more than the {limit:,} bytes the file can have; is it the right address?"
    )
    assert list(folder.iterdir()) == []


def test_a_killed_downloads_temporary_folder_is_removed_by_the_next(no_local_source, mirror):
    folder = no_local_source / "here"
    folder.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # a process that has ended: its temporary folder is a leftover
    leftover = folder / f".download-{proc.pid}-abc"
    leftover.mkdir()
    (leftover / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b partial")
    fm.download_fashion_mnist(folder, base_url=mirror.url, progressbar=False)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.gz" for n in ALL_NAMES)


def test_a_trickling_server_is_given_up_within_the_time_limit(no_local_source, trickling_server):
    """Bytes keep coming, so no read times out: the limit on the transfer's rate (64 KiB in
    every ``timeout`` seconds) ends it."""
    url = f"{trickling_server}train-images-idx3-ubyte.gz"
    start = time.perf_counter()
    with pytest.raises(TimeoutError) as info:
        fm.download_fashion_mnist(
            no_local_source / "here", base_url=trickling_server, timeout=1, progressbar=False
        )
    seconds = time.perf_counter() - start
    assert re.fullmatch(
        rf"downloading {re.escape(url)}: too slow, \d+ bytes in 1 s \(at least 65536 bytes in "
        r"every 1 s expected\); try again later or from a mirror",
        str(info.value),
    ), str(info.value)
    assert 1 <= seconds < 5, f"took {seconds:.1f} s"  # one limit, not the 25 MiB at 10 B/s
    assert list((no_local_source / "here").iterdir()) == []


@pytest.mark.parametrize("value", ["0", "off", "No", "FALSE"])
def test_downloading_turned_off(no_local_source, mirror, monkeypatch, value):
    monkeypatch.setenv("JAXDL_FASHION_MNIST_URL", mirror.url)
    monkeypatch.setenv("JAXDL_DOWNLOAD", value)
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist()
    message = str(info.value)
    cache = cache_dir(no_local_source)
    assert message.startswith(
        "Fashion-MNIST not found. Looked in:\n"
        "  - $JAXDL_DATA_DIR: not set\n"
        f"  - {no_local_source / 'no-debian'}: no such folder\n"
        f"  - the download cache {cache}: no such folder\n"
        "  - TensorFlow Datasets, tfds.data_source('fashion_mnist', download=False): "
        "not installed (pip install 'jaxdl[tfds]')\n"
        f"  - download from {mirror.url}: turned off by $JAXDL_DOWNLOAD={value}\n"
        "Get it in one of four ways:\n"
    ), message
    assert info.value.__cause__ is None
    assert mirror.requests == [] and not cache.exists()
    with pytest.raises(FileNotFoundError, match="turned off by download=False"):
        load_fashion_mnist(download=False)
    assert mirror.requests == []
    assert_loaded(load_fashion_mnist(download=True), mirror.arrays)  # the argument wins


def test_offline_fails_fast_with_the_sources_listed(no_local_source, monkeypatch):
    monkeypatch.setenv("JAXDL_FASHION_MNIST_URL", "http://jaxdl-mirror.invalid/")
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist()
    seconds = time.perf_counter() - start
    assert seconds < 30, f"took {seconds:.1f} s"  # a sanity bound, not a performance test
    message = str(info.value)
    assert (
        "  - download from http://jaxdl-mirror.invalid/: ConnectionError: downloading "
        "http://jaxdl-mirror.invalid/train-images-idx3-ubyte.gz: " in message
    ), message
    assert "sudo apt-get install -y dataset-fashion-mnist" in message
    assert isinstance(info.value.__cause__, ConnectionError)
    assert list(cache_dir(no_local_source).iterdir()) == []


def test_download_bad_input(no_local_source, monkeypatch):
    folder = no_local_source / "here"
    with pytest.raises(ValueError, match=r"timeout: expected a number of seconds > 0, got 0"):
        fm.download_fashion_mnist(folder, timeout=0)
    with pytest.raises(ValueError, match=r"timeout: expected a number of seconds > 0, got True"):
        fm.download_fashion_mnist(folder, timeout=True)
    with pytest.raises(
        ValueError, match=r"base_url: expected an http:// or https:// URL, got 'ftp"
    ):
        fm.download_fashion_mnist(folder, base_url="ftp://example.org/")
    monkeypatch.setenv("JAXDL_FASHION_MNIST_URL", "example.org/fashion")
    with pytest.raises(
        ValueError,
        match=r"\$JAXDL_FASHION_MNIST_URL: expected an http:// or https:// URL, got 'example",
    ):
        fm.download_fashion_mnist(folder)
    assert not folder.exists()
    with pytest.raises(TypeError, match="download: expected True, False or None, got 'yes'"):
        load_fashion_mnist(download="yes")
    monkeypatch.setenv("JAXDL_DOWNLOAD", "never")
    with pytest.raises(
        ValueError,
        match=r"\$JAXDL_DOWNLOAD: expected one of 0, off, no, false, 1, on, yes, true "
        r"\(or unset\), got 'never'",
    ):
        load_fashion_mnist()


@pytest.mark.skipif(not DEBIAN_DIR.is_dir(), reason="apt-get install -y dataset-fashion-mnist")
def test_downloads_the_real_files_from_a_local_mirror(no_local_source, monkeypatch):
    """The acceptance case: no Debian folder (DEFAULT_DIRS elsewhere), the real files served
    from 127.0.0.1, checked against the real digests, cached, then loaded without the server."""
    served = Mirror(DEBIAN_DIR, generate=False)
    try:
        monkeypatch.setenv("JAXDL_FASHION_MNIST_URL", served.url)
        data = load_fashion_mnist()
    finally:
        served.stop()
    assert data.train.images.shape == (60000, 28, 28) and data.test.images.shape == (10000, 28, 28)
    cache = cache_dir(no_local_source)
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{n}.gz" for n in ALL_NAMES)
    again = load_fashion_mnist()  # from the cache; the server is gone
    np.testing.assert_array_equal(again.train.images, data.train.images)
    np.testing.assert_array_equal(again.test.labels, data.test.labels)


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
    assert isinstance(x, jax.Array) and x.dtype == jnp.float32 and x.shape == (2, 2, 2, 1)
    np.testing.assert_allclose(x[0, :, :, 0], [[0.0, 1.0], [0.2, 0.4]], rtol=1e-7)


def test_to_device_matches_numpy():
    images = np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    want = images[..., None].astype(np.float64) / 255.0
    x = to_device(images)
    assert x.shape == (50, 28, 28, 1) and x.dtype == jnp.float32
    assert x.devices() == {jax.devices()[0]}
    np.testing.assert_allclose(np.asarray(x), want, rtol=1e-6, atol=0)
    np.testing.assert_allclose(np.asarray(to_device(jnp.asarray(images))), want, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(jax.jit(to_device)(images)), want, rtol=1e-6)
    assert to_device(np.zeros((0, 28, 28), np.uint8)).shape == (0, 28, 28, 1)


def test_to_device_flattened_is_bit_identical_to_the_flat_images():
    """What a model sees after flattening is exactly the former flat [n, 784] float32 array."""
    images = np.random.default_rng(1).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    flat = jnp.reshape(jnp.asarray(images), (50, 784)).astype(jnp.float32) / 255.0
    np.testing.assert_array_equal(np.asarray(flatten(to_device(images))), np.asarray(flat))


def test_to_device_keeps_height_width_and_channels():
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (2, 3, 5), dtype=np.uint8)  # height != width: no transpose
    x = to_device(images)
    assert x.shape == (2, 3, 5, 1) and x.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(x[..., 0]), images / 255.0, rtol=1e-6, atol=0)
    channels = rng.integers(0, 256, (2, 3, 5, 3), dtype=np.uint8)  # [n, h, w, c]: as it is
    y = to_device(channels)
    assert y.shape == (2, 3, 5, 3) and y.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(y), channels / 255.0, rtol=1e-6, atol=0)
    assert jax.jit(to_device)(channels).shape == (2, 3, 5, 3)


def test_to_device_puts_on_the_given_device():
    device = jax.devices()[-1]
    x = to_device(np.zeros((2, 3, 3), np.uint8), device)
    assert x.devices() == {device} and x.shape == (2, 3, 3, 1)


@pytest.mark.parametrize(
    ("images", "error", "message"),
    [
        (
            np.zeros((2, 28, 28), np.float32),
            TypeError,
            "images: expected uint8 .* got dtype float32",
        ),
        (
            np.zeros(784, np.uint8),
            ValueError,
            r"images: expected \[n, height, width\] or \[n, height, width, channels\], "
            r"got shape \(784,\)$",
        ),
        (
            np.zeros((5, 784), np.uint8),
            ValueError,
            r"images: expected \[n, height, width\] or .*, got shape \(5, 784\)$",
        ),
        (
            np.zeros((5, 28, 28, 1, 1), np.uint8),
            ValueError,
            r"images: expected \[n, height, width\] or .*, got shape \(5, 28, 28, 1, 1\)$",
        ),
    ],
    ids=["float32", "1-d", "flat", "5-d"],
)
def test_to_device_bad_input(images, error, message):
    with pytest.raises(error, match=message):
        to_device(images)

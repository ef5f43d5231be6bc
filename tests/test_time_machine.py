"""The Time Machine (the book's 8.2): the loader's sources (a folder, its variable, the cache, a
download from a local HTTP server on 127.0.0.1, checked), its refusals, the book's line
preprocessing and character corpus on small generated texts, and the book's figures on the
book's own file (``../shared/data``, skipped where it is absent)."""

import functools
import hashlib
import http.server
import re
import shutil
import socket
import threading
import time

import numpy as np
import pytest

from jaxdl.data import time_machine as tm
from jaxdl.data.text import Vocab, tokenize
from jaxdl.errors import InputError

TEXT = (
    "The Time Machine, by H. G. Wells [1898]\n\n\n\n\n I\n\n\n"
    "The Time Traveller (for so it will be convenient to speak of him)\n"
    "was expounding a recondite matter to us. His grey eyes shone and\n"
)
LINES = [
    "the time machine by h g wells", "", "", "", "", "i", "", "",
    "the time traveller for so it will be convenient to speak of him",
    "was expounding a recondite matter to us his grey eyes shone and",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _no_outside_sources(tmp_path, monkeypatch):
    """Each test's own cache folder, and none of the user's settings."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-home"))
    for name in (tm.DIR_ENV_VAR, tm.URL_ENV_VAR, "JAXDL_DOWNLOAD"):
        monkeypatch.delenv(name, raising=False)


def _write(folder, text=TEXT):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / tm.FILE).write_bytes(text.encode())
    return folder


def test_the_books_lines_by_hand(tmp_path):
    folder = _write(tmp_path / "mine")
    assert tm.load_time_machine(folder) == TEXT
    assert tm.read_time_machine(folder) == LINES
    # Windows or old Mac line ends, and no end to the last line: the same lines.
    for text in (TEXT.replace("\n", "\r\n"), TEXT.replace("\n", "\r"), TEXT.rstrip("\n")):
        assert tm.read_time_machine(_write(tmp_path / "other", text)) == LINES
    # Python's text files end lines at \n only: a form feed or U+2028 is in a line, as for
    # the book's readlines (str.splitlines would cut there).
    text = "One\x0ctwo\u2028three\x1cfour\nfive\n"
    assert tm.read_time_machine(_write(tmp_path / "ff", text)) == ["one two three four", "five"]
    assert tm.read_time_machine(_write(tmp_path / "empty", "")) == []
    assert tm.read_time_machine(_write(tmp_path / "one", "\n")) == [""]
    assert tm.preprocess_line("  It's 8 o'clock -- TIME!  ") == "it s o clock time"


def test_the_character_corpus_by_hand(tmp_path):
    folder = _write(tmp_path, "Ab, a\n\nB!\n")
    # Lines "ab a", "", "b": characters a b ' ' a b (no separator between lines); a and b
    # twice (a seen first), the space once.
    corpus, vocab = tm.load_corpus_time_machine(data_dir=folder)
    assert vocab.idx_to_token == ["<unk>", "a", "b", " "]
    assert corpus.dtype == np.int32 and corpus.tolist() == [1, 2, 3, 1, 2]
    corpus, vocab = tm.load_corpus_time_machine(3, folder)
    assert corpus.tolist() == [1, 2, 3] and len(vocab) == 4  # the vocabulary of all tokens
    assert tm.load_corpus_time_machine(0, folder)[0].tolist() == [1, 2, 3, 1, 2]
    with pytest.raises(TypeError, match=r"^max_tokens: expected an integer, got float 2\.0"):
        tm.load_corpus_time_machine(2.0, folder)


def test_a_folder_named_by_the_variable_is_used_alone(tmp_path, monkeypatch):
    folder = _write(tmp_path / "named")
    monkeypatch.setenv(tm.DIR_ENV_VAR, str(folder))
    assert tm.find_time_machine(download=False) == folder / tm.FILE
    assert tm.read_time_machine() == LINES
    other = _write(tmp_path / "other", "Other text\n")
    assert tm.read_time_machine(other) == ["other text"]  # data_dir comes first
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(tm.DIR_ENV_VAR, str(empty))
    _write(tm.default_cache_dir())  # not a fall-back for a folder named explicitly
    with pytest.raises(FileNotFoundError) as info:
        tm.load_time_machine()
    assert str(info.value) == (
        f"${tm.DIR_ENV_VAR}: expected a folder holding timemachine.txt, got {str(empty)!r}, "
        "which holds no such file"
    )
    with pytest.raises(FileNotFoundError, match=r"^data_dir: .*which is not a folder$"):
        tm.load_time_machine(tmp_path / "nowhere")


def test_the_cache_holds_only_the_books_file(tmp_path, monkeypatch):
    cached = _write(tm.default_cache_dir()) / tm.FILE
    with pytest.raises(InputError) as info:
        tm.load_time_machine(download=False)
    assert str(info.value) == (
        f"timemachine.txt: expected the book's file (SHA-1 {tm.EXPECTED_SHA1}), got SHA-1 "
        f"{hashlib.sha1(TEXT.encode()).hexdigest()}: the file {cached} is not the book's; "
        "delete it to download it again"
    )
    monkeypatch.setattr(tm, "EXPECTED_SHA1", hashlib.sha1(TEXT.encode()).hexdigest())
    assert tm.read_time_machine(download=False) == LINES


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A folder served on 127.0.0.1 (holding the generated text), named by the URL variable."""
    served = _write(tmp_path / "served")
    handler = functools.partial(_Quiet, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    monkeypatch.setenv(tm.URL_ENV_VAR, f"http://127.0.0.1:{httpd.server_address[1]}/")
    yield served
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_a_download_whose_digest_is_not_the_books_is_refused_and_deleted(server):
    with pytest.raises(InputError) as info:
        tm.load_time_machine(progressbar=False)
    found = hashlib.sha1(TEXT.encode()).hexdigest()
    assert re.fullmatch(
        r"downloading http://127\.0\.0\.1:\d+/timemachine\.txt: refused and deleted: "
        rf"timemachine\.txt: expected the book's file \(SHA-1 {tm.EXPECTED_SHA1}\), "
        rf"got SHA-1 {found}",
        str(info.value),
    ), str(info.value)
    assert list(tm.default_cache_dir().iterdir()) == []  # nothing partial or unchecked left


def test_a_checked_download_lands_in_the_cache_and_is_used(server, monkeypatch):
    monkeypatch.setattr(tm, "EXPECTED_SHA1", hashlib.sha1(TEXT.encode()).hexdigest())
    assert tm.read_time_machine(progressbar=False) == LINES
    cached = tm.default_cache_dir() / tm.FILE
    assert cached.read_bytes() == TEXT.encode()
    (server / tm.FILE).unlink()  # the second load reads the cache, asks the server nothing
    assert tm.read_time_machine(progressbar=False) == LINES
    assert tm.download_time_machine(progressbar=False) == cached  # checked, not fetched


def test_a_download_larger_than_the_books_file_is_refused_and_deleted(server, monkeypatch):
    monkeypatch.setattr(tm, "EXPECTED_SHA1", hashlib.sha1(TEXT.encode()).hexdigest())
    monkeypatch.setattr(tm, "SIZE", 100)
    message = (
        f"refused and deleted: the server announced {len(TEXT)} bytes, more than the 100 "
        "bytes the file can have"
    )
    with pytest.raises(InputError, match=re.escape(message)):
        tm.load_time_machine(progressbar=False)
    assert list(tm.default_cache_dir().iterdir()) == []


def _assert_way_out(message):
    """The message names the file, its digest, its size and the folders to put it in."""
    for part in (tm.FILE, tm.EXPECTED_SHA1, "178,979 bytes", str(tm.default_cache_dir()),
                 "data_dir", f"${tm.DIR_ENV_VAR}", f"{tm.DEFAULT_URL}{tm.FILE}"):  # fmt: skip
        assert part in message, (part, message)


def test_offline_is_a_clear_error_within_seconds(monkeypatch):
    monkeypatch.setenv(tm.URL_ENV_VAR, "http://127.0.0.1:9/")  # the discard port: refused
    began = time.monotonic()
    with pytest.raises(FileNotFoundError) as info:
        tm.load_time_machine(progressbar=False)
    assert time.monotonic() - began < 5
    assert "not downloaded: downloading http://127.0.0.1:9/timemachine.txt" in str(info.value)
    _assert_way_out(str(info.value))
    monkeypatch.setenv("JAXDL_DOWNLOAD", "off")
    with pytest.raises(FileNotFoundError, match=r"turned off by \$JAXDL_DOWNLOAD=off") as info:
        tm.load_time_machine()
    _assert_way_out(str(info.value))
    monkeypatch.delenv("JAXDL_DOWNLOAD")
    with pytest.raises(FileNotFoundError, match=r"turned off by download=False"):
        tm.load_time_machine(download=False)


def test_a_silent_server_is_given_up_after_the_timeout():
    """A server that takes the connection and never answers: given up after ``timeout``."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        began = time.monotonic()
        with pytest.raises(FileNotFoundError, match=r"no answer within 0\.5 s") as info:
            tm.load_time_machine(base_url=url, timeout=0.5, progressbar=False)
        assert time.monotonic() - began < 5
    _assert_way_out(str(info.value))


def test_bad_settings_are_refused_naming_them(tmp_path, monkeypatch):
    with pytest.raises(InputError, match=r"^timeout: expected a number of seconds > 0, got 0"):
        tm.load_time_machine(_write(tmp_path), timeout=0)
    with pytest.raises(InputError, match=r"^base_url: expected an http:// or https:// URL"):
        tm.load_time_machine(base_url="ftp://example.org/")
    monkeypatch.setenv(tm.URL_ENV_VAR, "example.org")
    with pytest.raises(InputError, match=r"^\$JAXDL_TIME_MACHINE_URL: expected an http://"):
        tm.load_time_machine()
    monkeypatch.setenv("JAXDL_DOWNLOAD", "maybe")
    with pytest.raises(InputError, match=r"^\$JAXDL_DOWNLOAD: expected one of"):
        tm.load_time_machine(tmp_path)
    with pytest.raises(TypeError, match=r"^download: expected True, False or None, got 'no'"):
        tm.load_time_machine(download="no")
    monkeypatch.delenv("JAXDL_DOWNLOAD")
    (tmp_path / "latin" / tm.FILE).parent.mkdir()
    (tmp_path / "latin" / tm.FILE).write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"timemachine\.txt: expected UTF-8 text, got byte 0xE9"):
        tm.load_time_machine(tmp_path / "latin")


# The book's own file: its figures, as d2l-zh prints them and ../shared/data/README.md lists.


@pytest.fixture
def books_folder(shared_data):
    return shared_data(tm.FILE).parent


def test_the_books_file_is_the_one_the_loader_expects(books_folder, server):
    path = books_folder / tm.FILE
    assert path.stat().st_size == tm.SIZE and tm.sha1(path) == tm.EXPECTED_SHA1
    shutil.copy(path, server / tm.FILE)  # downloaded with the book's digest and size
    assert tm.find_time_machine(progressbar=False) == tm.default_cache_dir() / tm.FILE
    assert tm.load_time_machine(download=False) == path.read_text()  # now from the cache


def test_the_books_lines_and_character_corpus(books_folder):
    lines = tm.read_time_machine(books_folder)
    assert len(lines) == 3221
    assert lines[0] == "the time machine by h g wells"
    assert lines[10] == "twinkled and his usually pale face was flushed and animated the"
    corpus, vocab = tm.load_corpus_time_machine(data_dir=books_folder)
    assert (len(corpus), len(vocab)) == (170_580, 28)
    assert vocab.idx_to_token[:4] == ["<unk>", " ", "e", "t"]
    assert sorted(vocab.idx_to_token[2:]) == list("abcdefghijklmnopqrstuvwxyz")
    assert len(tm.load_corpus_time_machine(10_000, books_folder)[0]) == 10_000


def test_the_books_word_statistics(books_folder):
    tokens = tokenize(tm.read_time_machine(books_folder))
    vocab = Vocab(tokens)
    assert list(vocab.token_to_idx.items())[:10] == [
        ("<unk>", 0), ("the", 1), ("i", 2), ("and", 3), ("of", 4), ("a", 5), ("to", 6),
        ("was", 7), ("in", 8), ("that", 9),
    ]  # fmt: skip
    corpus = [token for line in tokens for token in line]
    assert (len(corpus), len(vocab.token_freqs), len(vocab)) == (32_775, 4_579, 4_580)
    assert vocab.token_freqs[:3] == [("the", 2261), ("i", 1267), ("and", 1245)]
    bigrams = Vocab([pair for pair in zip(corpus[:-1], corpus[1:], strict=True)])  # noqa: RUF007
    assert bigrams.token_freqs[:3] == [(("of", "the"), 309), (("in", "the"), 169),
                                       (("i", "had"), 130)]  # fmt: skip
    trigrams = Vocab(list(zip(corpus[:-2], corpus[1:-1], corpus[2:], strict=True)))
    assert trigrams.token_freqs[:2] == [(("the", "time", "traveller"), 59),
                                        (("the", "time", "machine"), 30)]  # fmt: skip

"""Tokens and vocabularies (the book's 8.2): hand-computed values on tiny inputs, agreement with
the book's own ``Vocab`` and ``count_corpus`` on generated corpora, and bad input."""

import collections
import re

import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.data.text import Vocab, count_corpus, tokenize
from jaxdl.errors import InputError, InputTypeError


# The book's code (d2l-zh 8.2), verbatim.
def book_count_corpus(tokens):
    if len(tokens) == 0 or isinstance(tokens[0], list):
        tokens = [token for line in tokens for token in line]
    return collections.Counter(tokens)


class BookVocab:
    def __init__(self, tokens=None, min_freq=0, reserved_tokens=None):
        if tokens is None:
            tokens = []
        if reserved_tokens is None:
            reserved_tokens = []
        counter = book_count_corpus(tokens)
        self._token_freqs = sorted(counter.items(), key=lambda x: x[1], reverse=True)
        self.idx_to_token = ["<unk>"] + reserved_tokens  # noqa: RUF005
        self.token_to_idx = {token: idx for idx, token in enumerate(self.idx_to_token)}
        for token, freq in self._token_freqs:
            if freq < min_freq:
                break
            if token not in self.token_to_idx:
                self.idx_to_token.append(token)
                self.token_to_idx[token] = len(self.idx_to_token) - 1


def test_tokenize_by_hand():
    lines = ["the time  machine ", "", "by h g wells"]
    assert tokenize(lines) == [["the", "time", "machine"], [], ["by", "h", "g", "wells"]]
    assert tokenize(lines[:1], token="char") == [list("the time  machine ")]
    assert tokenize(("a b", "c")) == [["a", "b"], ["c"]]  # any sequence of lines
    assert tokenize([]) == []


def test_count_corpus_by_hand():
    assert count_corpus([["a", "b", "a"], [], ["c", "a"]]) == {"a": 3, "b": 1, "c": 1}
    assert count_corpus(["x", "y", "x"]) == {"x": 2, "y": 1}
    assert count_corpus([]) == collections.Counter()
    # Tuples are tokens (the book's bigrams), not lines.
    assert count_corpus([("a", "b"), ("b", "a"), ("a", "b")]) == {("a", "b"): 2, ("b", "a"): 1}
    assert list(count_corpus(["b", "a", "b"])) == ["b", "a"]  # first seen first


def test_vocab_by_hand():
    # a, c: 2 each (a seen first); b, d: 1 each (b seen first).
    vocab = Vocab([["b", "a", "c"], ["c", "a"], ["d"]])
    assert vocab.idx_to_token == ["<unk>", "a", "c", "b", "d"]
    assert vocab.token_to_idx == {"<unk>": 0, "a": 1, "c": 2, "b": 3, "d": 4}
    assert vocab.token_freqs == [("a", 2), ("c", 2), ("b", 1), ("d", 1)]
    assert len(vocab) == 5 and vocab.unk == 0
    assert vocab["c"] == 2 and vocab["zebra"] == 0 and vocab["<unk>"] == 0
    assert vocab[["d", "zebra", "a"]] == [4, 0, 1]
    assert vocab[[["a"], ["b", "c"]]] == [[1], [3, 2]]  # nested as given
    assert vocab[("a", "b")] == [1, 3]
    assert vocab.to_tokens(3) == "b"
    assert vocab.to_tokens([4, 0, 1]) == ["d", "<unk>", "a"]
    assert vocab.to_tokens([[1], [2, 3]]) == [["a"], ["c", "b"]]
    assert vocab.to_tokens(np.array([[1, 2]])) == [["a", "c"]]
    assert vocab.to_tokens(jnp.array([4, 3], jnp.int32)) == ["d", "b"]
    assert vocab.to_tokens(np.int64(2)) == "c"


def test_vocab_min_freq_and_reserved_tokens_by_hand():
    tokens = ["b", "a", "c", "c", "a", "d", "<pad>"]
    vocab = Vocab(tokens, min_freq=2, reserved_tokens=["<pad>", "<bos>"])
    # <pad> is counted but already has its index; b, d and <pad> are below min_freq.
    assert vocab.idx_to_token == ["<unk>", "<pad>", "<bos>", "a", "c"]
    assert vocab["b"] == vocab["d"] == 0 and vocab["<bos>"] == 2
    assert vocab.token_freqs == [("a", 2), ("c", 2), ("b", 1), ("d", 1), ("<pad>", 1)]
    reserved = ["<pad>"]
    Vocab(tokens, reserved_tokens=reserved).idx_to_token.append("x")
    assert reserved == ["<pad>"]  # the caller's list is not the vocabulary's
    assert Vocab().idx_to_token == ["<unk>"] and len(Vocab(None, reserved_tokens=("<eos>",))) == 2
    bigrams = Vocab([("a", "b"), ("b", "c"), ("a", "b")])
    assert bigrams.idx_to_token == ["<unk>", ("a", "b"), ("b", "c")]


@pytest.mark.parametrize("seed", range(4))
def test_vocab_is_the_books_on_generated_corpora(seed):
    """Zipf-like words (many ties), nested or flat, with and without min_freq and reserved
    tokens: the same numbering as the book's class."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(60)]
    p = 1 / np.arange(1, 61)
    lines = [list(rng.choice(words, rng.integers(0, 12), p=p / p.sum())) for _ in range(40)]
    for tokens in (lines, [t for line in lines for t in line]):
        for min_freq, reserved in ((0, None), (3, ["<pad>", "<bos>", "<eos>"]), (1, ["w3"])):
            ours = Vocab(tokens, min_freq, list(reserved) if reserved else None)
            book = BookVocab(tokens, min_freq, list(reserved) if reserved else None)
            assert ours.idx_to_token == book.idx_to_token
            assert ours.token_to_idx == book.token_to_idx
            assert ours.token_freqs == book._token_freqs
            assert ours[lines] == [[book.token_to_idx.get(t, 0) for t in line] for line in lines]
    assert count_corpus(lines) == book_count_corpus(lines)


def test_bad_input_is_refused_naming_the_argument():
    cases = [
        (lambda: tokenize(["a"], token="words"), InputError,
         "token: expected one of ('word', 'char'), got 'words'"),
        (lambda: tokenize("the time machine"), InputTypeError,
         "lines: expected a sequence of lines (strings), got one str"),
        (lambda: tokenize(["a", 3]), InputTypeError,
         "lines: expected strings, got int 3 at index 1"),
        (lambda: count_corpus("abc"), InputTypeError,
         "tokens: expected a list of tokens or of lines of tokens, got one str"),
        (lambda: Vocab(["a"], min_freq=-1), InputError,
         "min_freq: expected an integer >= 0, got -1"),
        (lambda: Vocab(["a"], min_freq=1.5), InputTypeError,
         "min_freq: expected an integer >= 0, got float 1.5"),
        (lambda: Vocab(["a"], reserved_tokens="<pad>"), InputTypeError,
         "reserved_tokens: expected a list of tokens, got one string '<pad>'"),
        (lambda: Vocab(["a"], reserved_tokens=["<pad>", "<unk>"]), InputError,
         "reserved_tokens: expected tokens other than '<unk>'"),
        (lambda: Vocab(["a"], reserved_tokens=["<pad>", "<bos>", "<pad>"]), InputError,
         "reserved_tokens: expected each token once, got '<pad>' repeated"),
        (lambda: Vocab(["a"]).to_tokens([1, 2]), InputError,
         "indices: expected an integer in [0, 1], got 2"),
        (lambda: Vocab(["a"]).to_tokens(-1), InputError,
         "indices: expected an integer in [0, 1], got -1"),
    ]  # fmt: skip
    for call, error, message in cases:
        with pytest.raises(error, match="^" + re.escape(message)):
            call()

"""Text into tokens and tokens into indices: the book's ``tokenize``, ``count_corpus`` and
``Vocab`` (8.2), shared by the language models (chapter 8) and machine translation (chapter 9).

Tokens are any hashable values: words or characters (strings), or tuples of them (the 8.3
bigrams and trigrams are tuples of words). A vocabulary numbers them: index 0 is the unknown
token ``<unk>``, then the reserved tokens in their order, then the corpus's tokens from the
most frequent to the least, tokens of equal frequency in the order they first appear (Python's
stable sort over a ``collections.Counter``, as the book's).
"""

from __future__ import annotations

import collections
from collections.abc import Hashable, Sequence

from jaxdl._checks import check_int
from jaxdl.errors import InputError, InputTypeError

UNK = "<unk>"
TOKEN_KINDS = ("word", "char")


def tokenize(lines: Sequence[str], token: str = "word") -> list[list[str]]:
    """Splits each line into words (at white space) or into characters.

    Args:
      lines: the text's lines.
      token: ``"word"`` or ``"char"``.

    Returns:
      One list of tokens per line (an empty list for an empty line).

    Raises:
      InputError: when ``token`` is neither ``"word"`` nor ``"char"``.
      InputTypeError: when ``lines`` is a single string or holds something else than strings.

    >>> tokenize(["the time machine", "", "by h g wells"])
    [['the', 'time', 'machine'], [], ['by', 'h', 'g', 'wells']]
    >>> tokenize(["to be"], "char")
    [['t', 'o', ' ', 'b', 'e']]
    """
    if token not in TOKEN_KINDS:
        raise InputError(f"token: expected one of {TOKEN_KINDS}, got {token!r}")
    if isinstance(lines, str | bytes):
        raise InputTypeError(
            f"lines: expected a sequence of lines (strings), got one {type(lines).__name__} "
            "(split the text into lines first)"
        )
    lines = list(lines)
    for i, line in enumerate(lines):
        if not isinstance(line, str):
            raise InputTypeError(
                f"lines: expected strings, got {type(line).__name__} {line!r} at index {i}"
            )
    if token == "word":
        return [line.split() for line in lines]
    return [list(line) for line in lines]


def count_corpus(tokens: Sequence) -> collections.Counter:
    """How often each token occurs, in a flat list of tokens or a list of lines of tokens.

    As the book's: ``tokens`` counts as lines when it is empty or its first element is a list;
    tuples are tokens (bigrams), not lines.

    >>> count_corpus([["a", "b"], ["b"]])
    Counter({'b': 2, 'a': 1})
    >>> count_corpus([("a", "b"), ("b", "c"), ("a", "b")])
    Counter({('a', 'b'): 2, ('b', 'c'): 1})
    """
    if isinstance(tokens, str | bytes):
        raise InputTypeError(
            f"tokens: expected a list of tokens or of lines of tokens, got one "
            f"{type(tokens).__name__} (tokenize it first)"
        )
    if len(tokens) == 0 or isinstance(tokens[0], list):
        tokens = [token for line in tokens for token in line]
    return collections.Counter(tokens)


class Vocab:
    """The book's vocabulary: tokens to indices and back.

    Attributes:
      idx_to_token: the tokens by index: ``<unk>``, the reserved tokens, then the corpus's
        tokens of frequency ``>= min_freq`` by frequency, most frequent first (ties in the
        order of first appearance).
      token_to_idx: ``{token: index}``.

    >>> vocab = Vocab([["b", "a", "c"], ["c", "a"], ["d"]], reserved_tokens=["<pad>"])
    >>> vocab.idx_to_token
    ['<unk>', '<pad>', 'a', 'c', 'b', 'd']
    >>> vocab["c"], vocab[["a", "zebra"]], len(vocab)
    (3, [2, 0], 6)
    >>> vocab.to_tokens([5, 2])
    ['d', 'a']
    """

    def __init__(
        self,
        tokens: Sequence | None = None,
        min_freq: int = 0,
        reserved_tokens: Sequence[Hashable] | None = None,
    ):
        """Counts ``tokens`` (a flat list, or lines of tokens) and numbers them.

        Args:
          tokens: the corpus's tokens; None: no tokens (only ``<unk>`` and the reserved).
          min_freq: tokens seen fewer times are left out (they map to ``<unk>``), >= 0.
          reserved_tokens: tokens given the indices after ``<unk>``, in order (``<pad>``,
            ``<bos>``, ``<eos>``), each once and none ``<unk>``.

        Raises:
          InputTypeError: when ``min_freq`` is not an integer, or ``tokens`` or
            ``reserved_tokens`` is a single string.
          InputError: when ``min_freq < 0`` or a reserved token is ``<unk>`` or repeated.
        """
        min_freq = check_int(min_freq, "min_freq", low=0)
        reserved = _check_reserved(reserved_tokens)
        counter = count_corpus([] if tokens is None else tokens)
        self._token_freqs = sorted(counter.items(), key=lambda x: x[1], reverse=True)
        self.idx_to_token = [UNK, *reserved]
        self.token_to_idx = {token: idx for idx, token in enumerate(self.idx_to_token)}
        for token, freq in self._token_freqs:
            if freq < min_freq:
                break
            if token not in self.token_to_idx:
                self.idx_to_token.append(token)
                self.token_to_idx[token] = len(self.idx_to_token) - 1

    def __len__(self) -> int:
        return len(self.idx_to_token)

    def __getitem__(self, tokens):
        """The index of a token (0 when unknown), or a list (nested as given) of indices for
        a list or tuple of tokens."""
        if not isinstance(tokens, list | tuple):
            return self.token_to_idx.get(tokens, self.unk)
        return [self.__getitem__(token) for token in tokens]

    def to_tokens(self, indices):
        """The token of an index, or a list (nested as given) of tokens for a list, tuple or
        integer array of indices.

        Raises:
          InputError: when an index is outside ``[0, len(self))``.
        """
        if hasattr(indices, "shape") and hasattr(indices, "tolist"):  # NumPy or JAX
            indices = indices.tolist()
        if isinstance(indices, list | tuple):
            return [self.to_tokens(index) for index in indices]
        index = check_int(indices, "indices", low=0, high=len(self) - 1)
        return self.idx_to_token[index]

    @property
    def unk(self) -> int:
        """The index of the unknown token, 0."""
        return 0

    @property
    def token_freqs(self) -> list[tuple[Hashable, int]]:
        """``[(token, count), ...]`` of every token counted (also those below ``min_freq``),
        most frequent first."""
        return self._token_freqs

    def __repr__(self) -> str:
        head = ", ".join(repr(t) for t in self.idx_to_token[:6])
        more = ", ..." if len(self) > 6 else ""
        return f"Vocab({len(self)} tokens: {head}{more})"


def _check_reserved(reserved_tokens) -> list:
    if reserved_tokens is None:
        return []
    if isinstance(reserved_tokens, str | bytes):
        raise InputTypeError(
            f"reserved_tokens: expected a list of tokens, got one string {reserved_tokens!r} "
            f"(write [{reserved_tokens!r}])"
        )
    reserved = list(reserved_tokens)
    if UNK in reserved:
        raise InputError(
            f"reserved_tokens: expected tokens other than {UNK!r} (index 0 already), got "
            f"{reserved!r}"
        )
    repeated = [t for i, t in enumerate(reserved) if t in reserved[:i]]
    if repeated:
        raise InputError(
            f"reserved_tokens: expected each token once, got {repeated[0]!r} repeated in "
            f"{reserved!r}"
        )
    return reserved

"""The sections on The Time Machine, 8.2 (``text_preprocessing``) and 8.3 (``language_models``):
on the book's file (``../shared/data``, skipped where it is absent) they print the book's lines,
tokens, vocabulary, counts and iterator epochs, as the book prints them; on a generated text
they give what a plain count of that text gives; and bad flags are refused naming them.

Expected values come from the book's printed outputs (d2l-zh 2.0, PyTorch), the data README's
counts and plain ``collections.Counter`` counts of the text, never from the sections' output."""

import collections
import re

import numpy as np
import pytest
from texts import generated_time_machine, write_generated_time_machine

from jaxdl.errors import InputError

BOOK_TOKENS = """\
['the', 'time', 'machine', 'by', 'h', 'g', 'wells']
[]
[]
[]
[]
['i']
[]
[]
['the', 'time', 'traveller', 'for', 'so', 'it', 'will', 'be', 'convenient', 'to', 'speak', 'of', 'him']
['was', 'expounding', 'a', 'recondite', 'matter', 'to', 'us', 'his', 'grey', 'eyes', 'shone', 'and']
['twinkled', 'and', 'his', 'usually', 'pale', 'face', 'was', 'flushed', 'and', 'animated', 'the']
"""  # noqa: E501
BOOK_VOCAB = (
    "[('<unk>', 0), ('the', 1), ('i', 2), ('and', 3), ('of', 4), ('a', 5), ('to', 6), "
    "('was', 7), ('in', 8), ('that', 9)]"
)
BOOK_INDICES = """\
text: ['the', 'time', 'machine', 'by', 'h', 'g', 'wells']
indices: [1, 19, 50, 40, 2183, 2184, 400]
text: ['twinkled', 'and', 'his', 'usually', 'pale', 'face', 'was', 'flushed', 'and', 'animated', 'the']
indices: [2186, 3, 25, 1044, 362, 113, 7, 1421, 3, 1045, 1]
"""  # noqa: E501
BOOK_UNIGRAMS = (
    "[('the', 2261), ('i', 1267), ('and', 1245), ('of', 1155), ('a', 816), ('to', 695), "
    "('was', 552), ('in', 541), ('that', 443), ('my', 440)]"
)
BOOK_BIGRAMS = (
    "[(('of', 'the'), 309), (('in', 'the'), 169), (('i', 'had'), 130), (('i', 'was'), 112), "
    "(('and', 'the'), 109), (('the', 'time'), 102), (('it', 'was'), 99), (('to', 'the'), 85), "
    "(('as', 'i'), 78), (('of', 'a'), 73)]"
)
BOOK_TRIGRAMS = (
    "[(('the', 'time', 'traveller'), 59), (('the', 'time', 'machine'), 30), (('the', "
    "'medical', 'man'), 24), (('it', 'seemed', 'to'), 16), (('it', 'was', 'a'), 15), "
    "(('here', 'and', 'there'), 15), (('seemed', 'to', 'me'), 14), (('i', 'did', 'not'), 14), "
    "(('i', 'saw', 'the'), 13), (('i', 'began', 'to'), 13)]"
)
# The X of each minibatch the book prints for my_seq = list(range(35)), batch_size 2,
# num_steps 5 (its Y is X + 1): random sampling, then sequential partitioning.
BOOK_RANDOM_X = [
    [[13, 14, 15, 16, 17], [28, 29, 30, 31, 32]],
    [[3, 4, 5, 6, 7], [18, 19, 20, 21, 22]],
    [[8, 9, 10, 11, 12], [23, 24, 25, 26, 27]],
]
BOOK_SEQUENTIAL_X = [
    [[0, 1, 2, 3, 4], [17, 18, 19, 20, 21]],
    [[5, 6, 7, 8, 9], [22, 23, 24, 25, 26]],
    [[10, 11, 12, 13, 14], [27, 28, 29, 30, 31]],
]


@pytest.fixture
def books_folder(shared_data):
    return shared_data("timemachine.txt").parent


def test_text_preprocessing_prints_the_books_lines_tokens_and_vocabulary(
    run_experiment, books_folder
):
    metrics, stdout, _ = run_experiment(
        "text_preprocessing", "--data-dir", str(books_folder), quick=False
    )
    assert metrics["data"]["books_text"] is True
    lines = (
        "# text lines: 3221\nthe time machine by h g wells\n"
        "twinkled and his usually pale face was flushed and animated the\n"
    )
    assert lines + BOOK_TOKENS + BOOK_VOCAB + "\n" + BOOK_INDICES + "(170580, 28)\n" in stdout
    # The data README's counts: 4,579 distinct words (and <unk>); 170,580 characters, 28.
    assert (metrics["num_lines"], metrics["word_vocab_size"]) == (3221, 4580)
    assert (metrics["num_char_tokens"], metrics["char_vocab_size"]) == (170_580, 28)
    assert sorted(metrics["char_vocab"][2:]) == list("abcdefghijklmnopqrstuvwxyz")
    assert metrics["char_vocab"][:2] == ["<unk>", " "]
    assert "| in the book's band | yes |" in stdout


def test_language_models_prints_the_books_counts_and_iterator_epochs(run_experiment, books_folder):
    metrics, stdout, out = run_experiment(
        "language_models", "--data-dir", str(books_folder), quick=False
    )
    assert "\n".join([BOOK_UNIGRAMS, BOOK_BIGRAMS, BOOK_TRIGRAMS]) in stdout
    # The data README's counts.
    assert (metrics["num_words"], metrics["unigram"]["num_distinct"]) == (32_775, 4_579)
    assert metrics["unigram"]["top_ten"][:3] == [["the", 2261], ["i", 1267], ["and", 1245]]
    assert metrics["bigram"]["top_ten"][0] == [["of", "the"], 309]
    assert metrics["trigram"]["top_ten"][0] == [["the", "time", "traveller"], 59]
    # The book: the n-grams follow Zipf's law too, "with a smaller exponent".
    alpha = [metrics[g]["zipf_exponent"] for g in ("unigram", "bigram", "trigram")]
    assert 0.8 < alpha[0] < 1.3 and alpha[0] > alpha[1] > alpha[2] > 0, alpha
    # At the book's draws, the book's printed epochs.
    book_draws = metrics["iterators"]["book_draws"]
    for kind, xs, offset in (("random", BOOK_RANDOM_X, 3), ("sequential", BOOK_SEQUENTIAL_X, 0)):
        assert book_draws[kind]["offset"] == offset
        assert book_draws[kind]["X"] == xs
        assert book_draws[kind]["Y"] == (np.array(xs) + 1).tolist()
    assert "X:  [[13 14 15 16 17]\n [28 29 30 31 32]] \nY: [[14 15 16 17 18]\n" in stdout
    _assert_book_epochs(metrics["iterators"]["drawn"], batch_size=2, num_steps=5)
    assert metrics["iterators"]["equal_to_book_code"] is True
    # 8.5's data: the first 10,000 characters in [32, 35] minibatches; at every offset the
    # book's iterators give (10000 - offset - 1) // 32 // 35 = 8 of them.
    assert metrics["data_set"]["num_tokens"] == 10_000 and metrics["data_set"]["vocab_size"] == 28
    for kind in ("random", "sequential"):
        assert metrics["data_set"][kind] == {"shape": [8, 32, 35], "num_minibatches": 8}
    assert "| in the book's band | yes |" in stdout
    assert (out / "language_models.png").stat().st_size > 10_000


def _assert_book_epochs(drawn: dict, *, batch_size: int, num_steps: int, length: int = 35):
    """Each drawn epoch of ``range(length)`` is an epoch of the book's iterator at its offset:
    the book's count of minibatches, Y = X + 1, and for random sampling distinct
    subsequences on the offset's grid, for sequential partitioning the rows laid out one
    after another (row r starts at ``offset + r * width``), walked ``num_steps`` at a time."""
    offset, xs = drawn["random"]["offset"], np.array(drawn["random"]["X"])
    num_subseqs = (length - offset - 1) // num_steps
    assert 0 <= offset < num_steps and len(xs) == num_subseqs // batch_size
    starts = xs[:, :, 0].ravel()
    assert len(set(starts.tolist())) == len(starts)
    assert np.all((starts - offset) % num_steps == 0)
    assert np.all(starts - offset < num_subseqs * num_steps)
    np.testing.assert_array_equal(xs, xs[:, :, :1] + np.arange(num_steps))
    for kind in ("random", "sequential"):
        xs, ys = np.array(drawn[kind]["X"]), np.array(drawn[kind]["Y"])
        np.testing.assert_array_equal(ys, xs + 1)
    offset, xs = drawn["sequential"]["offset"], np.array(drawn["sequential"]["X"])
    width = (length - offset - 1) // batch_size
    assert 0 <= offset <= num_steps and len(xs) == width // num_steps
    for j, x in enumerate(xs):
        rows = offset + np.arange(batch_size)[:, None] * width + j * num_steps
        np.testing.assert_array_equal(x, rows + np.arange(num_steps))


def _book_counts(tokens: list) -> list:
    """``(token, count)`` by count, most frequent first, ties in the order first seen: the
    book's ordering, by a plain Counter and a stable sort."""
    return sorted(collections.Counter(tokens).items(), key=lambda item: -item[1])


def test_on_a_generated_text_the_sections_give_its_plain_counts(run_experiment, tmp_path):
    """Not the book's text: its own figures (from plain counts of it), held to no band; at
    sizes other than the book's, the iterators' drawn epochs are still the book's."""
    folder = write_generated_time_machine(tmp_path / "text", seed=1)
    text = generated_time_machine(seed=1)
    lines = [re.sub("[^A-Za-z]+", " ", line).strip().lower() for line in text.splitlines()]
    words = [word for line in lines for word in line.split()]
    vocab = ["<unk>"] + [word for word, _ in _book_counts(words)]

    metrics, stdout, _ = run_experiment("text_preprocessing", "--data-dir", str(folder))
    assert metrics["data"]["books_text"] is False and "(not the book's text)" in stdout
    assert (metrics["num_lines"], metrics["line_0"]) == (len(lines), lines[0])
    assert metrics["line_10"] == lines[10]
    assert metrics["tokens"] == [line.split() for line in lines[:11]]
    assert metrics["word_vocab_first_ten"] == [[word, i] for i, word in enumerate(vocab[:10])]
    assert metrics["indices"]["10"] == [vocab.index(w) for w in lines[10].split()]
    characters = "".join(lines)
    assert metrics["num_char_tokens"] == len(characters)
    assert metrics["char_vocab_size"] == len(set(characters)) + 1
    assert "| in the book's band | — |" in stdout

    argv = ["--data-dir", str(folder), "--batch-size", "3", "--num-steps", "4"]
    metrics, stdout, out = run_experiment("language_models", *argv)
    assert metrics["data"]["books_text"] is False and "(not the book's text)" in stdout
    assert metrics["num_words"] == len(words)
    grams = {
        "unigram": words,
        "bigram": list(zip(words[:-1], words[1:], strict=True)),  # noqa: RUF007
        "trigram": list(zip(words[:-2], words[1:-1], words[2:], strict=True)),
    }
    for name, tokens in grams.items():
        counts = _book_counts(tokens)
        assert metrics[name]["num_distinct"] == len(counts)
        top = [[list(t) if isinstance(t, tuple) else t, c] for t, c in counts[:10]]
        assert metrics[name]["top_ten"] == top, name
    assert metrics["iterators"]["book_draws"] is None  # the book's draws are for 2 x 5
    _assert_book_epochs(metrics["iterators"]["drawn"], batch_size=3, num_steps=4)
    assert metrics["iterators"]["equal_to_book_code"] is True
    assert metrics["flags"] == {"batch_size": 3, "num_steps": 4, "seed": 0, "quick": True}
    assert (out / "language_models.png").exists()


def test_bad_flags_and_texts_are_refused_naming_them(run_experiment, tmp_path, capsys):
    """Refused before anything is written: sizes my_seq's 35 tokens cannot give, a folder
    without the text, a text too short for what the book prints; a value no run takes is
    argparse's refusal (status 2)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    short = tmp_path / "short"
    short.mkdir()
    (short / "timemachine.txt").write_text("The Time\n\n1895.\n")  # 3 lines, 2 words
    cases = [
        ("language_models", ["--batch-size", "3", "--num-steps", "10"], InputError,
         "--batch-size 3 and --num-steps 10: expected batch_size × num_steps + num_steps + 1 "
         "<= 35 (a minibatch of my_seq's 35 tokens at every offset the iterators draw), got 41"),
        ("language_models", ["--num-steps", "30"], InputError,
         "--batch-size 2 and --num-steps 30: expected"),
        ("text_preprocessing", ["--data-dir", str(empty)], FileNotFoundError,
         f"--data-dir: expected a folder holding timemachine.txt, got {str(empty)!r}"),
        ("language_models", ["--data-dir", str(tmp_path / "nowhere")], FileNotFoundError,
         "--data-dir: expected a folder holding timemachine.txt"),
        ("text_preprocessing", ["--data-dir", str(short)], InputError,
         f"{short / 'timemachine.txt'}: expected a text of at least 11 lines (the book shows "
         "lines 0 to 10), got 3"),
        ("language_models", ["--data-dir", str(short)], InputError,
         f"{short / 'timemachine.txt'}: expected at least 3 words (a trigram), got 2"),
    ]  # fmt: skip
    for name, argv, error, message in cases:
        with pytest.raises(error, match="^" + re.escape(message)):
            run_experiment(name, *argv)
        assert not (tmp_path / name / "metrics.json").exists()
    with pytest.raises(SystemExit):
        run_experiment("language_models", "--batch-size", "0")
    assert "argument --batch-size: expected an integer >= 1, got 0" in capsys.readouterr().err

"""A small generated stand-in for The Time Machine, for the tests of the sections that read it
where the book's file (``../shared/data/timemachine.txt``) is absent.

A plain module, not a test file (``tests/`` is on ``sys.path``, as for ``references``). The text
has the book's kind of content for every code path: a title line, blank lines, capitals,
punctuation and digits (which the book's preprocessing removes), and words drawn with
Zipf-like frequencies from a vocabulary of common English words and made-up ones, with "the
time traveller" often enough to lead the trigrams. Its figures are not the book's.
"""

from pathlib import Path

import numpy as np

FILE = "timemachine.txt"
HEAD = ["The Time Machine, by H. G. Wells [1898]", "", "", "", "", " I", "", ""]
COMMON = (
    "the i and of a to was in that my it had me as at for with but time traveller machine "
    "he this his we not so said you there little were all on be upon or they now which"
).split()
SYLLABLES = ("ka", "lo", "mi", "ner", "stu", "vi", "dre", "pa", "gon", "the", "sel", "wy")


def generated_time_machine(seed: int = 0, num_lines: int = 400) -> str:
    """The text: ``HEAD`` then ``num_lines`` lines of 0 to 13 words (0: a blank line), each
    line ended by ``\\n``; the same text for the same ``seed``."""
    rng = np.random.default_rng(seed)
    made_up = {"".join(rng.choice(SYLLABLES, rng.integers(2, 4))) for _ in range(400)} - set(COMMON)
    vocabulary = list(COMMON) + sorted(made_up)
    p = 1.0 / np.arange(1, len(vocabulary) + 1)
    p /= p.sum()
    lines = list(HEAD)
    for _ in range(num_lines):
        words = list(rng.choice(vocabulary, rng.integers(0, 14), p=p))
        if words and rng.random() < 0.3:  # the book's leading trigram
            at = int(rng.integers(len(words)))
            words[at : at + 1] = ["the", "Time", "Traveller"]
        if words and rng.random() < 0.2:
            words[0] = words[0].capitalize()
        if words and rng.random() < 0.1:
            words.insert(int(rng.integers(len(words))), str(rng.integers(1800, 2000)))
        marks = ["", ",", ".", ";", "--", "!"]
        punctuation = rng.choice(marks, len(words), p=[0.8, 0.08, 0.06, 0.02, 0.02, 0.02])
        lines.append(" ".join(w + str(mark) for w, mark in zip(words, punctuation, strict=True)))
    return "\n".join(lines) + "\n"


def write_generated_time_machine(folder, seed: int = 0, num_lines: int = 400) -> Path:
    """Writes :func:`generated_time_machine` as ``folder/timemachine.txt`` (made when missing)
    and returns ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / FILE).write_text(generated_time_machine(seed, num_lines))
    return folder

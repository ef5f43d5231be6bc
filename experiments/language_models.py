# %% [markdown]
# # Language models and the data set (the book's 8.3)
#
# A language model gives the probability of a sequence of tokens, one token at a time given
# the ones before. The book first counts: the frequencies of single words (unigrams), of
# pairs (bigrams) and of triples (trigrams) in *The Time Machine*. The most frequent words are
# "stop words" (the, i, and, of); the frequency of the i-th most frequent word falls as a power
# of i (Zipf's law, n_i ∝ 1/i^α, a straight line on log–log axes), for pairs and triples too,
# with a smaller exponent. So most n-grams are rare, and counting them (with Laplace smoothing)
# models language badly: the book's next sections learn the model instead.
#
# To train on a long text, the book cuts it into minibatches of subsequences of `num_steps`
# tokens, the labels being the inputs shifted by one token, in two ways, each from a random
# offset: random sampling (subsequences in a random order, neighbouring minibatches unrelated)
# and sequential partitioning (row i of a minibatch continues row i of the minibatch before,
# so a model can carry its state across them). Here they are `jaxdl.data.sequences`'
# `seq_minibatches` (an epoch as fixed-shape arrays, for `jit` and `vmap`), checked against
# the book's generators written below.
#
# What to look at: the ten most frequent words, bigrams and trigrams (the book's: the 2261, of
# the 309, the time traveller 59); the figure, three roughly straight lines on log–log axes,
# the n-grams' flatter; the fitted exponents α; and the minibatches of the book's toy sequence
# 0, 1, …, 34: in random sampling the subsequences start on the offset's grid in a random
# order, in sequential partitioning each row continues where the row before it stopped.
#
# The text comes from `--data-dir` (a folder holding `timemachine.txt`), else from the folder
# named by `$JAXDL_TIME_MACHINE_DIR`, the download cache, or the book's data server (checked
# against the book's SHA-1 digest); only the book's text is held to the book's figures.

# %%
import jax
import numpy as np

from jaxdl.data.sequences import KINDS, random_partition, seq_minibatches, sequential_partition
from jaxdl.data.text import Vocab, tokenize
from jaxdl.data.time_machine import (
    load_corpus_time_machine,
    read_time_machine,
)
from jaxdl.errors import InputError
from jaxdl.plotting import plot

import harness
from harness import Setting
from harness.config import positive_int

MY_SEQ_LENGTH = 35  # the book's toy sequence, my_seq = list(range(35))
# The draws behind the epochs the book prints for my_seq at batch_size 2, num_steps 5: random
# sampling's offset 3 and its shuffled subsequence starts (counted from the offset), and
# sequential partitioning's offset 0.
BOOK_DRAWS = {"random": (3, [10, 25, 0, 15, 5, 20]), "sequential": (0, [])}
BOOK_SIZES = (2, 5)
ZIPF_RANKS = (10, 1000)  # the ranks the exponent is fitted over, past the first few words
# The data set of the book's later sections (load_data_time_machine in 8.5): the first 10,000
# characters, minibatches of 32 subsequences of 35 characters.
DATA_SET = dict(max_tokens=10_000, batch_size=32, num_steps=35)

# %% [markdown]
# ## Configuration
#
# The sizes of the toy sequence's minibatches, the book's. On the command line each is a flag
# (`python experiments/language_models.py --help`), with `--data-dir`, `--seed` (the root of
# the draws of the offsets and orders), `--out` and `--quick`.

# %%
BOOK = dict(batch_size=2, num_steps=5)
config, out = harness.start(
    "language_models",
    BOOK,
    settings={"num_steps": Setting(positive_int, "tokens per subsequence")},
    data_dir="folder holding timemachine.txt",
)
need = config.batch_size * config.num_steps + config.num_steps + 1
if need > MY_SEQ_LENGTH:
    raise InputError(
        f"--batch-size {config.batch_size} and --num-steps {config.num_steps}: expected "
        f"batch_size × num_steps + num_steps + 1 <= {MY_SEQ_LENGTH} (a minibatch of my_seq's "
        f"{MY_SEQ_LENGTH} tokens at every offset the iterators draw), got {need}"
    )

# %% [markdown]
# ## Natural language statistics
#
# The word tokens of the text's lines (8.2), the lines joined into one list: a line is not
# necessarily a sentence or a paragraph.

# %%
path, text = harness.time_machine_text(config.data_dir)
books_text = text["books_text"]

tokens = tokenize(read_time_machine(path.parent))
corpus = [token for line in tokens for token in line]
if len(corpus) < 3:
    raise InputError(f"{path}: expected at least 3 words (a trigram), got {len(corpus)}")
vocab = Vocab(corpus)
print(vocab.token_freqs[:10])

# %% [markdown]
# Pairs and triples of consecutive words are tokens too (tuples), counted by the same `Vocab`.

# %%
bigram_vocab = Vocab(list(zip(corpus[:-1], corpus[1:], strict=True)))  # noqa: RUF007 (the book's)
print(bigram_vocab.token_freqs[:10])

# %%
trigram_vocab = Vocab(list(zip(corpus[:-2], corpus[1:-1], corpus[2:], strict=True)))
print(trigram_vocab.token_freqs[:10])

# %% [markdown]
# ## Zipf's law
#
# The frequency n(x) of each unigram, bigram and trigram against its rank x (1 the most
# frequent), on log–log axes: the book's figure (the book plots against the index from 0,
# which a log axis cannot show; here the rank starts at 1). Each is close to a straight line
# past the first few tokens, log n_i = −α log i + c; the book's exercise 3 asks for the
# exponents: α below is minus the least-squares slope over ranks 10 to 1000.


# %%
def zipf_exponent(freqs: list[int], first: int = ZIPF_RANKS[0], last: int = ZIPF_RANKS[1]):
    """α of n_i ∝ 1/i^α: minus the least-squares slope of log n_i against log i over the ranks
    ``first`` to ``last`` (those the counts reach); None with fewer than two ranks there."""
    n = np.asarray(freqs[first - 1 : last], np.float64)
    if len(n) < 2:
        return None
    ranks = np.arange(first, first + len(n))
    return float(-np.polyfit(np.log(ranks), np.log(n), 1)[0])


grams = {"unigram": vocab, "bigram": bigram_vocab, "trigram": trigram_vocab}
freqs = {name: [freq for _, freq in v.token_freqs] for name, v in grams.items()}
exponents = {name: zipf_exponent(f) for name, f in freqs.items()}
for name, f in freqs.items():
    alpha = "—" if exponents[name] is None else f"{exponents[name]:.2f}"
    print(f"{name}: {sum(f)} tokens, {len(f)} distinct; Zipf exponent α {alpha}")
fig = plot(
    [np.arange(1, len(f) + 1) for f in freqs.values()],
    list(freqs.values()),
    xlabel="token: x",
    ylabel="frequency: n(x)",
    xscale="log",
    yscale="log",
    legend=list(freqs),
)
harness.show(fig)

# %% [markdown]
# ## Reading long sequence data
#
# The book's two iterators, written as the book writes them, but with Python's `random`
# passed in as `random` (the book calls the module's): each draws an offset with
# `random.randint`, and random sampling shuffles its subsequences' starts with
# `random.shuffle`.


# %%
def seq_data_iter_random(corpus, batch_size, num_steps, random):
    """The book's random sampling: minibatches of subsequences in a random order."""
    corpus = corpus[random.randint(0, num_steps - 1) :]
    num_subseqs = (len(corpus) - 1) // num_steps
    initial_indices = list(range(0, num_subseqs * num_steps, num_steps))
    random.shuffle(initial_indices)

    def data(pos):
        return corpus[pos : pos + num_steps]

    num_batches = num_subseqs // batch_size
    for i in range(0, batch_size * num_batches, batch_size):
        initial_indices_per_batch = initial_indices[i : i + batch_size]
        X = [data(j) for j in initial_indices_per_batch]
        Y = [data(j + 1) for j in initial_indices_per_batch]
        yield np.array(X), np.array(Y)


def seq_data_iter_sequential(corpus, batch_size, num_steps, random):
    """The book's sequential partitioning: row i of each minibatch continues row i of the one
    before."""
    offset = random.randint(0, num_steps)
    num_tokens = ((len(corpus) - offset - 1) // batch_size) * batch_size
    Xs = np.array(corpus[offset : offset + num_tokens])
    Ys = np.array(corpus[offset + 1 : offset + 1 + num_tokens])
    Xs, Ys = Xs.reshape(batch_size, -1), Ys.reshape(batch_size, -1)
    num_batches = Xs.shape[1] // num_steps
    for i in range(0, num_steps * num_batches, num_steps):
        X = Xs[:, i : i + num_steps]
        Y = Ys[:, i : i + num_steps]
        yield X, Y


class Draws:
    """Python's ``random`` as the book's iterators call it, drawing what is given: ``randint``
    returns ``offset``, ``shuffle`` puts ``starts`` first, in their order (the starts it does
    not name after them)."""

    def __init__(self, offset: int, starts: list[int]):
        self.offset, self.starts = offset, list(starts)

    def randint(self, low: int, high: int) -> int:
        if not low <= self.offset <= high:
            raise ValueError(f"offset: expected an integer in [{low}, {high}], got {self.offset}")
        return self.offset

    def shuffle(self, values: list) -> None:
        values[:] = self.starts + [v for v in values if v not in self.starts]


BOOK_ITERATORS = {"random": seq_data_iter_random, "sequential": seq_data_iter_sequential}

# %% [markdown]
# The book's toy sequence is `my_seq = list(range(35))`: each token is its own position, so a
# minibatch shows where it was cut. `seq_minibatches` draws one epoch from a key (as training
# does, a fresh key per epoch): the offset, and for random sampling the subsequences' order.
# Its epoch is arrays of a fixed shape, `[max_batches, batch_size, num_steps]`, with `valid`
# marking the minibatches the book's iterator yields at the offset drawn (the rest are
# padding). Printed as the book prints them, and checked against the book's code given the
# same draws.


# %%
def epoch_of(batches) -> list[tuple[np.ndarray, np.ndarray]]:
    """The valid minibatches of a :class:`~jaxdl.data.sequences.SeqBatches`, in order."""
    x, y, valid = (np.asarray(a) for a in batches)
    n = int(valid.sum())
    return list(zip(x[:n], y[:n], strict=True))


def show_epoch(epoch) -> None:
    for X, Y in epoch:
        print("X: ", X, "\nY:", Y)


def same(ours, book) -> bool:
    """Whether two epochs hold the same minibatches, in the same order."""
    return len(ours) == len(book) and all(
        np.array_equal(a, c) and np.array_equal(b, d)
        for (a, b), (c, d) in zip(ours, book, strict=True)
    )


# One compiled program per kind and size (eagerly, each of their operations would compile).
draw_epoch = jax.jit(seq_minibatches, static_argnames=("batch_size", "num_steps", "kind"))
partitions = {
    "random": jax.jit(random_partition, static_argnums=(1, 2)),
    "sequential": jax.jit(sequential_partition, static_argnums=(1, 2)),
}
my_seq = np.arange(MY_SEQ_LENGTH, dtype=np.int32)
b, s = config.batch_size, config.num_steps
key = jax.random.key(config.seed)
iterators = {"drawn": {}, "book_draws": None}
agree = []
for i, kind in enumerate(KINDS):
    epoch = epoch_of(
        draw_epoch(jax.random.fold_in(key, i), my_seq, batch_size=b, num_steps=s, kind=kind)
    )
    first = int(epoch[0][0][0, 0])  # where the epoch's first subsequence starts
    offset = first % s if kind == "random" else first
    # random sampling's shuffled starts, counted from the offset (sequential draws no order)
    starts = [int(x[r, 0]) - offset for x, _ in epoch for r in range(b)]
    starts = starts if kind == "random" else []
    book = list(BOOK_ITERATORS[kind](list(my_seq), b, s, Draws(offset, starts)))
    agree.append(same(epoch, book))
    print(f"{kind}, offset {offset} (drawn); the book's code given the same draws: {agree[-1]}")
    show_epoch(epoch)
    iterators["drawn"][kind] = {
        "offset": offset,
        "X": [x for x, _ in epoch],
        "Y": [y for _, y in epoch],
    }

# %% [markdown]
# The epochs the book prints come from its own draws (random sampling at offset 3, its
# subsequences shuffled to start at 13, 28, 3, 18, 8, 23; sequential partitioning at offset
# 0). Given those draws, `random_partition` and `sequential_partition` give the book's
# epochs (at the book's sizes, batch_size 2 and num_steps 5).

# %%
if (b, s) == BOOK_SIZES:
    iterators["book_draws"] = {}
    for kind in KINDS:
        offset, starts = BOOK_DRAWS[kind]
        if kind == "random":
            order = [start // s for start in starts]
            max_subseqs = (MY_SEQ_LENGTH - 1) // s
            order += [k for k in range(max_subseqs) if k not in order]
            batches = partitions[kind](my_seq, b, s, offset=offset, order=np.array(order))
        else:
            batches = partitions[kind](my_seq, b, s, offset=offset)
        epoch = epoch_of(batches)
        book = list(BOOK_ITERATORS[kind](list(my_seq), b, s, Draws(offset, starts)))
        agree.append(same(epoch, book))
        print(f"{kind}, offset {offset} (the book's draws); the book's code: {agree[-1]}")
        show_epoch(epoch)
        iterators["book_draws"][kind] = {
            "offset": offset,
            "X": [x for x, _ in epoch],
            "Y": [y for _, y in epoch],
        }
else:
    print(f"the book's draws are for batch_size {BOOK_SIZES[0]}, num_steps {BOOK_SIZES[1]}")

# %% [markdown]
# ## The data set
#
# The book's later sections train on the first 10,000 characters (the character corpus of
# 8.2) in minibatches of 32 subsequences of 35 characters (its `load_data_time_machine`).
# An epoch of either kind holds 8 minibatches at most, a [32, 35] matrix of indices each.

# %%
char_corpus, char_vocab = load_corpus_time_machine(DATA_SET["max_tokens"], path.parent)
data_set = {"num_tokens": len(char_corpus), "vocab_size": len(char_vocab)}
for i, kind in enumerate(KINDS):
    batches = draw_epoch(
        jax.random.fold_in(key, len(KINDS) + i),
        char_corpus,
        batch_size=DATA_SET["batch_size"],
        num_steps=DATA_SET["num_steps"],
        kind=kind,
    )
    x, valid = np.asarray(batches.x), np.asarray(batches.valid)
    data_set[kind] = {"shape": list(x.shape), "num_minibatches": int(valid.sum())}
    row = "".join(char_vocab.to_tokens(x[0, 0]))
    print(f"{kind}: x {x.shape}, {data_set[kind]['num_minibatches']} minibatches; ", end="")
    print(f"row 0 of the first: {row!r}")

metrics = {
    "data": text,
    "num_words": len(corpus),
    **{
        name: {
            "num_distinct": len(v.token_freqs),
            "top_ten": v.token_freqs[:10],
            "zipf_exponent": exponents[name],
        }
        for name, v in grams.items()
    },
    "iterators": {
        "my_seq_length": MY_SEQ_LENGTH,
        "batch_size": b,
        "num_steps": s,
        **iterators,
        "equal_to_book_code": all(agree),
    },
    "data_set": data_set,
}

# %% [markdown]
# ## Against the book
#
# Only the book's text is held to the book's figures.
#
# The run writes `results/language_models/` (or `--out`): `metrics.json`, `"data"`: `{"path":
# the file read, "books_text": whether its SHA-1 is the book's, "sha1"}`; `"num_words"`: the
# word tokens (32775 in the book's text); `"unigram"`, `"bigram"`, `"trigram"`: each
# `{"num_distinct", "top_ten": [[token, count], ...] (a bigram's or trigram's token a list of
# words), "zipf_exponent": α over ranks 10 to 1000}` (book: the 2261, i 1267, and 1245, of
# 1155, …; of the 309, in the 169, i had 130, …; the time traveller 59, the time machine 30,
# the medical man 24, …); `"iterators"`: `{"my_seq_length": 35, "batch_size", "num_steps",
# "drawn": {"random", "sequential": {"offset", "X", "Y": the epoch's minibatches}} drawn from
# `--seed`, "book_draws": the same at the book's draws (None at other sizes), "equal_to_book_code":
# whether every epoch equals the book's generators' given the same draws}`; `"data_set"`:
# `{"num_tokens", "vocab_size", "random", "sequential": {"shape": [max_batches, 32, 35],
# "num_minibatches"}}` for the first 10,000 characters. Figure: `language_models.png`: the
# frequencies of unigrams, bigrams and trigrams against their rank, log–log.

# %%
harness.compare_with_book("language_models", metrics, out, quick=not books_text)
metrics = harness.finish(out, metrics, {"language_models.png": fig})

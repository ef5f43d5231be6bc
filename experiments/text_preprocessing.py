# %% [markdown]
# # Text preprocessing (the book's 8.2)
#
# A language model reads text as a sequence of numbers. The book's four steps get there from
# H. G. Wells' *The Time Machine*: load the text as lines (letters only, lower case), split each
# line into tokens (words or characters), number the tokens in a vocabulary (most frequent
# first, index 0 for the unknown token `<unk>`), and turn the text into the sequence of its
# tokens' indices. Here those steps are `jaxdl.data.time_machine`'s `read_time_machine` and
# `load_corpus_time_machine` and `jaxdl.data.text`'s `tokenize` and `Vocab`, the book's code
# with checks on what comes in.
#
# What to look at: the number of lines (the book: 3221) and lines 0 and 10; the first eleven
# lines as word tokens (blank lines give no tokens); the vocabulary's first ten `(token,
# index)` pairs, `the` first; lines 0 and 10 as indices; and the character corpus, 170,580
# tokens over a vocabulary of 28 (`<unk>`, the space and 26 letters).
#
# The text comes from `--data-dir` (a folder holding `timemachine.txt`), else from the folder
# named by `$JAXDL_TIME_MACHINE_DIR`, the download cache, or the book's data server (checked
# against the book's SHA-1 digest). A text of one's own under that name runs too; only the
# book's is held to the book's figures.

# %%
from jaxdl.data.text import Vocab, count_corpus, tokenize
from jaxdl.data.time_machine import (
    load_corpus_time_machine,
    read_time_machine,
)
from jaxdl.errors import InputError

import harness

SHOWN_LINES = 11  # the book prints the tokens of lines 0 to 10

# %% [markdown]
# ## Configuration
#
# Nothing to set: the section runs the book's steps on the text. On the command line, `python
# experiments/text_preprocessing.py --help` lists the flags (`--data-dir`, `--seed`, `--out`,
# `--quick`).

# %%
BOOK = dict()
config, out = harness.start("text_preprocessing", BOOK, data_dir="folder holding timemachine.txt")

# %% [markdown]
# ## Reading the dataset
#
# The book's `read_time_machine` reads the file's lines and keeps letters only: every run of
# other characters (punctuation, digits, the line's end) becomes one space, and the line is
# stripped and lowered. A line without letters becomes an empty string.

# %%
path, text = harness.time_machine_text(config.data_dir)
books_text = text["books_text"]
harness.show_source(read_time_machine)

# %%
lines = read_time_machine(path.parent)
if len(lines) < SHOWN_LINES:
    raise InputError(
        f"{path}: expected a text of at least {SHOWN_LINES} lines (the book shows lines 0 to "
        f"10), got {len(lines)}"
    )
print(f"# text lines: {len(lines)}")
print(lines[0])
print(lines[10])

# %% [markdown]
# ## Tokenization
#
# `tokenize` splits each line into words (at white space) or into characters. A token is the
# unit the model reads; the book's later sections read characters.

# %%
harness.show_source(tokenize)

# %%
tokens = tokenize(lines)
for i in range(SHOWN_LINES):
    print(tokens[i])

# %% [markdown]
# ## Vocabulary
#
# The vocabulary counts the tokens (`count_corpus`) and numbers them: index 0 is the unknown
# token `<unk>`, then any reserved tokens, then the tokens from the most frequent to the least
# (ties in the order they first appear). A token seen fewer than `min_freq` times maps to
# `<unk>`.

# %%
harness.show_source(count_corpus, Vocab)

# %%
vocab = Vocab(tokens)
first_ten = list(vocab.token_to_idx.items())[:10]
print(first_ten)

# %%
indices = {}
for i in [0, 10]:
    indices[str(i)] = vocab[tokens[i]]
    print("text:", tokens[i])
    print("indices:", indices[str(i)])

# %% [markdown]
# ## Putting it all together
#
# `load_corpus_time_machine` returns the text as the indices of its characters (the lines
# joined with nothing between them) and the character vocabulary: the corpus the book's
# recurrent networks train on.

# %%
harness.show_source(load_corpus_time_machine)

# %%
corpus, char_vocab = load_corpus_time_machine(data_dir=path.parent)
print((len(corpus), len(char_vocab)))
print("the characters by index:", char_vocab.idx_to_token)

metrics = {
    "data": text,
    "num_lines": len(lines),
    "line_0": lines[0],
    "line_10": lines[10],
    "tokens": tokens[:SHOWN_LINES],
    "word_vocab_size": len(vocab),
    "word_vocab_first_ten": first_ten,
    "indices": indices,
    "num_char_tokens": len(corpus),
    "char_vocab_size": len(char_vocab),
    "char_vocab": char_vocab.idx_to_token,
}

# %% [markdown]
# ## Against the book
#
# Only the book's text is held to the book's figures.
#
# The run writes `results/text_preprocessing/` (or `--out`): `metrics.json`, `"data"`: `{"path":
# the file read, "books_text": whether its SHA-1 is the book's, "sha1"}`; `"num_lines"`: the
# text's lines (book: 3221); `"line_0"`, `"line_10"`: those lines preprocessed (book: "the time
# machine by h g wells", "twinkled and his usually pale face was flushed and animated the");
# `"tokens"`: the word tokens of lines 0 to 10; `"word_vocab_size"`: the word vocabulary's
# length with `<unk>` (4580 for the book's text); `"word_vocab_first_ten"`: its first ten
# `[token, index]` pairs (book: `<unk>` 0, the 1, i 2, and 3, of 4, a 5, to 6, was 7, in 8,
# that 9); `"indices"`: `{"0": line 0's indices, "10": line 10's}` (book: [1, 19, 50, 40,
# 2183, 2184, 400] and [2186, 3, 25, 1044, 362, 113, 7, 1421, 3, 1045, 1]);
# `"num_char_tokens"`, `"char_vocab_size"`: the character corpus's length and its vocabulary's
# (book: 170580, 28); `"char_vocab"`: the characters by index.

# %%
harness.compare_with_book("text_preprocessing", metrics, out, quick=not books_text)
metrics = harness.finish(out, metrics, {})

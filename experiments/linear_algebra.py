# %% [markdown]
# # Linear algebra (the book's 2.3)
#
# The book goes through the objects of linear algebra as tensors: scalars, vectors, matrices
# and higher-order tensors; elementwise arithmetic; reductions (sums and means, over all
# elements or along axes, with or without keeping the reduced axis); dot products,
# matrix-vector and matrix-matrix products; and norms. Here the arrays are `jax.numpy`'s and
# the norms are written from scratch in `jaxdl.linalg`, checked against `jnp.linalg.norm`.
#
# What to look at: the printed values match the book's cell outputs; the norms of [3, −4] and
# of a 4×9 matrix of ones (5, 7 and 6); and the gradient of the L2 norm at the zero vector,
# 0 for ours and NaN for the naive formula.

# %%
import jax
import jax.numpy as jnp

from jaxdl.linalg import _safe_sqrt_of_sum_of_squares, frobenius_norm, l1_norm, l2_norm

import harness

# %% [markdown]
# ## Configuration
#
# Nothing to set: the section runs the book's examples. On the command line, `python
# experiments/linear_algebra.py --help` lists the flags every section has (`--seed`, `--out`,
# `--quick`).

# %%
BOOK = dict()
config, out = harness.start("linear_algebra", BOOK)
metrics = {}

# %% [markdown]
# ## Scalars
#
# A scalar is an array with no axes (shape `()`); the usual arithmetic applies.

# %%
print("== Scalars")
x, y = jnp.array(3.0), jnp.array(2.0)
harness.print_value("x + y, x * y, x / y, x ** y", (x + y, x * y, x / y, x**y))
metrics["scalars"] = {"x": x, "y": y, "add": x + y, "mul": x * y, "div": x / y, "pow": x**y}

# %% [markdown]
# ## Vectors
#
# A vector has one axis; its elements are indexed from 0, and its length is its shape's
# single entry.

# %%
print("\n== Vectors")
x = jnp.arange(4)
harness.print_value("x = jnp.arange(4)", x)
harness.print_value("x[3]", x[3])
harness.print_value("len(x), x.shape", (len(x), x.shape))
metrics["vector"] = {"x": x, "x[3]": x[3], "len": len(x), "shape": list(x.shape)}

# %% [markdown]
# ## Matrices
#
# A matrix has two axes; `A.T` swaps them. A symmetric matrix equals its transpose.

# %%
print("\n== Matrices")
A = jnp.arange(20).reshape(5, 4)
harness.print_value("A", A)
harness.print_value("A.T", A.T)
B = jnp.array([[1, 2, 3], [2, 0, 4], [3, 4, 5]])
harness.print_value("B == B.T", B == B.T)
metrics["matrix"] = {"A": A, "A.T": A.T}
metrics["symmetric"] = B == B.T

# %% [markdown]
# ## Tensors
#
# Arrays with more axes, such as a batch of images (here 2 × 3 × 4).

# %%
print("\n== Tensors")
X = jnp.arange(24).reshape(2, 3, 4)
harness.print_value("X", X)
metrics["tensor_shape"] = list(X.shape)

# %% [markdown]
# ## Basic properties of tensor arithmetic
#
# Elementwise operations keep the shape: the sum and the elementwise (Hadamard) product of two
# matrices, and a scalar added to or multiplied with a tensor. The book copies A with
# `A.clone()`; `A.copy()` gives a new buffer, though with immutable arrays `B = A` would be
# just as safe.

# %%
print("\n== Tensor arithmetic")
A = jnp.arange(20, dtype=jnp.float32).reshape(5, 4)
B = A.copy()  # A new buffer; with immutable arrays `B = A` would be just as safe.
harness.print_value("A, A + B", (A, A + B))
harness.print_value("A * B", A * B)
metrics["hadamard"] = A * B
metrics["copy"] = {
    "equal": bool(jnp.array_equal(A, B)),
    "same_buffer": A.unsafe_buffer_pointer() == B.unsafe_buffer_pointer(),
}
a = 2
harness.print_value("a + X, (a * X).shape", (a + X, (a * X).shape))
metrics["scalar_plus_tensor_shape"] = list((a * X).shape)

# %% [markdown]
# ## Reduction
#
# `sum` and `mean` reduce all elements to a scalar, or, with `axis`, reduce only the axes
# named: summing A [5, 4] over axis 0 gives the 4 column sums, over axis 1 the 5 row sums.

# %%
print("\n== Reduction")
x = jnp.arange(4, dtype=jnp.float32)
harness.print_value("x, x.sum()", (x, x.sum()))
harness.print_value("A.shape, A.sum()", (A.shape, A.sum()))
harness.print_value("A.sum(axis=0)", A.sum(axis=0))
harness.print_value("A.sum(axis=1)", A.sum(axis=1))
harness.print_value("A.sum(axis=(0, 1))", A.sum(axis=(0, 1)))
harness.print_value("A.mean(), A.sum() / A.size", (A.mean(), A.sum() / A.size))
harness.print_value(
    "A.mean(axis=0), A.sum(axis=0) / A.shape[0]", (A.mean(axis=0), A.sum(axis=0) / A.shape[0])
)

# %% [markdown]
# ## Non-reduction sum
#
# With `keepdims=True` the summed axis stays, with length 1, so the row sums [5, 1] broadcast
# against A and `A / sum_A` divides each row by its sum. `cumsum` keeps the shape and
# accumulates along an axis.

# %%
sum_A = A.sum(axis=1, keepdims=True)
harness.print_value("sum_A = A.sum(axis=1, keepdims=True)", sum_A)
harness.print_value("A / sum_A", A / sum_A)
harness.print_value("A.cumsum(axis=0)", A.cumsum(axis=0))
metrics["sums"] = {
    "x": x.sum(),
    "A": A.sum(),
    "axis0": A.sum(axis=0),
    "axis1": A.sum(axis=1),
    "axes01": A.sum(axis=(0, 1)),
    "mean": A.mean(),
    "sum_over_size": A.sum() / A.size,
    "mean_axis0": A.mean(axis=0),
    "keepdims_axis1": sum_A,
    "keepdims_shape": list(sum_A.shape),
    "A_over_row_sums": A / sum_A,
    "cumsum_axis0": A.cumsum(axis=0),
}

# %% [markdown]
# ## Dot products, matrix-vector and matrix-matrix products
#
# The dot product of two vectors is the sum of their elementwise product. A matrix times a
# vector (`jnp.matmul` or `@`) takes the dot product of each row with the vector; a matrix
# times a matrix does so for each column of the second.

# %%
print("\n== Products")
y = jnp.ones(4, dtype=jnp.float32)
harness.print_value("x, y, jnp.dot(x, y)", (x, y, jnp.dot(x, y)))
harness.print_value("jnp.sum(x * y)", jnp.sum(x * y))
harness.print_value("A.shape, x.shape, jnp.matmul(A, x)", (A.shape, x.shape, jnp.matmul(A, x)))
B = jnp.ones((4, 3))
harness.print_value("jnp.matmul(A, B)", jnp.matmul(A, B))
metrics.update(dot=jnp.dot(x, y), dot_as_sum=jnp.sum(x * y), matvec=A @ x, matmul=A @ B)

# %% [markdown]
# ## Norms
#
# The L2 norm is the square root of the sum of squares, the L1 norm the sum of absolute
# values, and the Frobenius norm of a matrix the L2 norm of all its elements. They are written
# from scratch below; the L2 and Frobenius norms share a square root whose gradient stays
# finite at zero.

# %%
harness.show_source(l1_norm, l2_norm, frobenius_norm, _safe_sqrt_of_sum_of_squares)

# %%
print("\n== Norms")
u = jnp.array([3.0, -4.0])
harness.print_value("l2_norm(u)", l2_norm(u))
harness.print_value("l1_norm(u)", l1_norm(u))
harness.print_value("frobenius_norm(jnp.ones((4, 9)))", frobenius_norm(jnp.ones((4, 9))))
references = {
    "l2_reference": jnp.linalg.norm(u),
    "l1_reference": jnp.linalg.norm(u, 1),
    "frobenius_reference": jnp.linalg.norm(jnp.ones((4, 9)), "fro"),
}
print("jnp.linalg.norm gives", ", ".join(f"{float(v):g}" for v in references.values()))

# %% [markdown]
# ## The gradient of a norm at zero
#
# Not in the book, but it matters when a norm is part of a function that is differentiated:
# the naive `sqrt(sum(v**2))` has the gradient `v / ‖v‖`, which is 0/0 = NaN at the zero
# vector. The from-scratch norms give 0 there (and the L1 norm's gradient `sign(v)` is 0 too).

# %%
zero = jnp.zeros(2)
grad_l2, grad_l1 = jax.grad(l2_norm)(zero), jax.grad(l1_norm)(zero)
grad_fro = jax.grad(frobenius_norm)(jnp.zeros((4, 9)))
naive = jax.grad(lambda v: jnp.sqrt(jnp.sum(v**2)))(zero)
harness.print_value("jax.grad(l2_norm)(zeros(2))", grad_l2)
harness.print_value("jax.grad(lambda v: jnp.sqrt(jnp.sum(v**2)))(zeros(2))  # naive", naive)
metrics.update(
    l2_norm=l2_norm(u), l1_norm=l1_norm(u), frobenius_norm=frobenius_norm(jnp.ones((4, 9)))
)
metrics["norms"] = {
    **references,
    "grad_l2_at_zero": grad_l2,
    "grad_l1_at_zero": grad_l1,
    "grad_frobenius_at_zero_max_abs": jnp.max(jnp.abs(grad_fro)),
    "naive_grad_at_zero_is_nan": bool(jnp.all(jnp.isnan(naive))),
}

# %% [markdown]
# ## Against the book
#
# The run writes `results/linear_algebra/` (or `--out`): `metrics.json`, `"scalars"`: `{"x": 3,
# "y": 2, "add", "mul", "div", "pow"}`; `"vector"`: `{"x": arange(4), "x[3]", "len", "shape"}`;
# `"matrix"`: `{"A": arange(20).reshape(5, 4), "A.T"}`; `"symmetric"`: `B == B.T` for the book's B
# (all true); `"tensor_shape"`: `[2, 3, 4]`; `"hadamard"`: `A * B` for A = B =
# arange(20.).reshape(5, 4); `"copy"`: `{"equal": bool, "same_buffer": bool}` of `A.copy()`
# against A; `"scalar_plus_tensor_shape"`: shape of `2 * X` for X [2, 3, 4]; `"sums"`: `{"x": sum
# of arange(4.) (6), "A": sum of A (190), "axis0": [40, 45, 50, 55], "axis1": [6, 22, 38, 54, 70],
# "axes01": 190, "mean": 9.5, "sum_over_size": 9.5, "mean_axis0": [8, 9, 10, 11],
# "keepdims_axis1": [[6], [22], [38], [54], [70]], "keepdims_shape": [5, 1], "A_over_row_sums": A
# / A.sum(axis=1, keepdims=True), "cumsum_axis0": the running sum of A over rows}`; `"dot"`:
# dot(arange(4.), ones(4)) (6); `"dot_as_sum"`: sum(x * y) (6); `"matvec"`: A @ x ([14, 38, 62,
# 86, 110]); `"matmul"`: A @ ones(4, 3); `"l2_norm"`: l2_norm([3, -4]) (5); `"l1_norm"`:
# l1_norm([3, -4]) (7); `"frobenius_norm"`: frobenius_norm(ones(4, 9)) (6); `"norms"`:
# `{"l2_reference", "l1_reference", "frobenius_reference"`: the same with jnp.linalg.norm,
# `"grad_l2_at_zero"`: [0, 0], `"grad_l1_at_zero"`: [0, 0], `"grad_frobenius_at_zero_max_abs"`: 0,
# `"naive_grad_at_zero_is_nan"`: bool}`.

# %%
harness.compare_with_book("linear_algebra", metrics, out)
metrics = harness.finish(out, metrics, {})

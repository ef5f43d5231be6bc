"""Counting and listing a model's parameters: :func:`num_params` and :func:`param_table`.

A model's parameters are a pytree of arrays (flax's ``params`` collection, or the nested
dicts and lists of a from-scratch model). These two functions read one the way the book reads
a PyTorch module's ``named_parameters()``: each array with its key path, written
``"layers_0/kernel"`` (dict keys, list indices and attribute names joined by ``/``), and the
total number of numbers. They take shapes only, so the abstract parameters of
``jax.eval_shape(model.init, key, x)`` (``jax.ShapeDtypeStruct`` leaves, nothing computed) are
counted as the arrays themselves.
"""

from __future__ import annotations

import math

import jax

from jaxdl.errors import InputTypeError


def _leaves(tree, name: str) -> list[tuple[str, tuple[int, ...]]]:
    """``[(path, shape)]`` of the leaves of ``tree`` in ``jax.tree_util``'s order; raises on a
    leaf that is not an array (nor a ``jax.ShapeDtypeStruct``)."""
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    table = []
    for path, leaf in leaves:
        where = jax.tree_util.keystr(path, simple=True, separator="/")
        if not (hasattr(leaf, "shape") and hasattr(leaf, "dtype")):
            at = f"at {where!r}" if where else "at the root"
            raise InputTypeError(
                f"{name}: expected a pytree of arrays (or jax.ShapeDtypeStruct), got "
                f"{type(leaf).__name__} {leaf!r} {at}"
            )
        table.append((where, tuple(int(d) for d in leaf.shape)))
    return table


def param_table(tree) -> list[tuple[str, tuple[int, ...]]]:
    """Every array of a parameter pytree with its key path and shape.

    The book's ``net.named_parameters()``: ``("0.weight", torch.Size([8, 4]))`` there is
    ``("layers_0/kernel", (4, 8))`` for flax's ``nn.Sequential`` (flax kernels are
    ``[in, out]``, PyTorch weights ``[out, in]``).

    Args:
      tree: a pytree (dicts, lists, tuples, NamedTuples) whose leaves are arrays or
        ``jax.ShapeDtypeStruct``; ``None`` counts as an empty subtree, as in JAX.

    Returns:
      ``[(path, shape)]`` in ``jax.tree_util``'s order (dict keys sorted): ``path`` joins the
      keys with ``/`` (``""`` for a tree that is one array), ``shape`` a tuple of ints.

    Raises:
      InputTypeError: when a leaf is not an array; the message names the leaf's path.

    >>> import jax.numpy as jnp
    >>> params = {"layers_0": {"kernel": jnp.zeros((4, 8)), "bias": jnp.zeros(8)},
    ...           "layers_2": {"kernel": jnp.zeros((8, 1)), "bias": jnp.zeros(1)}}
    >>> param_table(params)
    [('layers_0/bias', (8,)), ('layers_0/kernel', (4, 8)), ('layers_2/bias', (1,)), ('layers_2/kernel', (8, 1))]
    >>> param_table([{"W": jnp.zeros((2, 3))}, {}])
    [('0/W', (2, 3))]
    """  # noqa: E501 (a doctest's output is one line)
    return _leaves(tree, "tree")


def num_params(tree) -> int:
    """The number of numbers in a parameter pytree: the sum of its arrays' sizes.

    Args:
      tree: a pytree whose leaves are arrays or ``jax.ShapeDtypeStruct`` (as
        :func:`param_table`).

    Returns:
      The total number of array elements, a Python int (0 for an empty tree).

    Raises:
      InputTypeError: when a leaf is not an array; the message names the leaf's path.

    >>> import jax.numpy as jnp
    >>> num_params({"kernel": jnp.zeros((20, 256)), "bias": jnp.zeros(256)})
    5376
    >>> num_params({"w": 3.0})
    Traceback (most recent call last):
    ...
    jaxdl.errors.InputTypeError: tree: expected a pytree of arrays (or jax.ShapeDtypeStruct), got float 3.0 at 'w'
    """  # noqa: E501
    return sum(math.prod(shape) for _, shape in _leaves(tree, "tree"))

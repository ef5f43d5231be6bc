"""Forward and backward propagation by hand: the book's one-hidden-layer network (4.7).

The network has no biases. For one example ``x`` (d inputs) with target ``y``::

    z = W1 x,   h = φ(z),   o = W2 h,   L = l(o, y),
    s = λ/2 (‖W1‖²_F + ‖W2‖²_F),   J = L + s.

Shapes follow the book's math: ``W1`` is ``[num_hiddens, num_inputs]`` and ``W2`` is
``[num_outputs, num_hiddens]`` (``jaxdl.models.mlp`` stores the transposes, ``[in, out]``). A
minibatch holds one example per row, ``x [batch, num_inputs]``, so ``z = x W1ᵀ`` is ``[batch,
num_hiddens]`` and ``o = h W2ᵀ`` is ``[batch, num_outputs]``; ``L`` is the mean of ``l`` over
the batch. :func:`backward` applies the book's formulas with the batch in the rows::

    ∂J/∂o  = ∂L/∂o                     (cross-entropy: (softmax(o) - onehot(y)) / batch)
    ∂J/∂W2 = (∂J/∂o)ᵀ h + λ W2          (the book's ∂J/∂o hᵀ, summed over the examples)
    ∂J/∂h  = ∂J/∂o W2                   (the book's W2ᵀ ∂J/∂o, one row per example)
    ∂J/∂z  = ∂J/∂h ⊙ φ'(z)
    ∂J/∂W1 = (∂J/∂z)ᵀ x + λ W1

:func:`forward` computes each value under a ``jax.named_scope`` of its name, so a jaxpr
(``jax.make_jaxpr(objective)(...).pretty_print(name_stack=True)``) labels its equations with
the node of the book's computational graph they belong to.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxdl._checks import check_int, check_number, is_traced
from jaxdl.activations import get_activation, sigmoid, softmax, tanh
from jaxdl.errors import InputError, InputTypeError
from jaxdl.losses import cross_entropy, squared_loss

LOSSES = ("cross_entropy", "squared")
DERIVATIVES: types.MappingProxyType[str, Callable[[jax.Array], jax.Array]] = types.MappingProxyType(
    {
        "relu": lambda z: (z > 0).astype(z.dtype),  # 0 at the kink, as jax.grad of relu
        "sigmoid": lambda z: sigmoid(z) * (1 - sigmoid(z)),
        "tanh": lambda z: 1 - tanh(z) ** 2,
    }
)
"""φ' of each named activation, written by hand (read-only)."""


class Params(NamedTuple):
    """The weights: ``w1 [num_hiddens, num_inputs]``, ``w2 [num_outputs, num_hiddens]``."""

    w1: jax.Array
    w2: jax.Array


class ForwardPass(NamedTuple):
    """The values forward propagation computes, named as in the book; backward reuses them.

    Attributes:
      x: the inputs ``[batch, num_inputs]``.
      z: hidden pre-activations ``[batch, num_hiddens]``.
      h: hidden activations ``φ(z)``, ``[batch, num_hiddens]``.
      o: outputs ``[batch, num_outputs]``.
      L: the loss, averaged over the batch (scalar).
      s: the penalty ``λ/2 (‖W1‖²_F + ‖W2‖²_F)`` (scalar).
      J: the objective ``L + s`` (scalar).
    """

    x: jax.Array
    z: jax.Array
    h: jax.Array
    o: jax.Array
    L: jax.Array
    s: jax.Array
    J: jax.Array


def init_params(key, num_inputs: int, num_hiddens: int, num_outputs: int, *, init_std=0.01):
    """Weights drawn from ``N(0, init_std²)`` (the book's MLP uses 0.01).

    Args:
      key: a ``jax.random.key``; split once, for W1 and W2.
      num_inputs: d, the inputs per example (784 for Fashion-MNIST).
      num_hiddens: the hidden units.
      num_outputs: the outputs (classes).
      init_std: the standard deviation, > 0.

    Returns:
      :class:`Params` with ``w1 [num_hiddens, num_inputs]`` and ``w2 [num_outputs,
      num_hiddens]``.

    Raises:
      TypeError, ValueError: for sizes that are not integers >= 1, or ``init_std`` <= 0.

    >>> [w.shape for w in init_params(jax.random.key(0), 784, 256, 10)]
    [(256, 784), (10, 256)]
    """
    num_inputs = check_int(num_inputs, "num_inputs", low=1)
    num_hiddens = check_int(num_hiddens, "num_hiddens", low=1)
    num_outputs = check_int(num_outputs, "num_outputs", low=1)
    check_number(init_std, "init_std", low=0, strict=True)
    k1, k2 = jax.random.split(key)
    w1 = init_std * jax.random.normal(k1, (num_hiddens, num_inputs))
    return Params(w1, init_std * jax.random.normal(k2, (num_outputs, num_hiddens)))


def _activation(activation) -> tuple[Callable, Callable]:
    """``(φ, φ')`` of a name in :data:`DERIVATIVES` or of a pair of functions."""
    if isinstance(activation, str):
        return get_activation(activation), DERIVATIVES[activation]
    if isinstance(activation, tuple) and len(activation) == 2 and all(map(callable, activation)):
        return activation
    raise InputTypeError(
        f"activation: expected a name ({', '.join(map(repr, DERIVATIVES))}) or a pair "
        f"(phi, phi_prime) of functions, got {activation!r}"
    )


def _check(params, x, y, lam, loss: str) -> None:
    """Raises when the shapes of ``params``, ``x`` and ``y``, ``lam`` or ``loss`` are wrong."""
    if not isinstance(params, tuple) or len(params) != 2:
        raise InputTypeError(f"params: expected Params(w1, w2), got {type(params).__name__}")
    w1, w2 = params
    if w1.ndim != 2:
        raise InputError(f"params.w1: expected shape [num_hiddens, num_inputs], got {w1.shape}")
    if w2.ndim != 2 or w2.shape[1] != w1.shape[0]:
        raise InputError(
            f"params.w2: expected shape [num_outputs, num_hiddens={w1.shape[0]}] for w1 "
            f"{w1.shape}, got {w2.shape}"
        )
    if x.ndim != 2 or x.shape[1] != w1.shape[1] or x.shape[0] == 0:
        raise InputError(
            f"x: expected shape [batch >= 1, num_inputs={w1.shape[1]}] for w1 {w1.shape}, "
            f"got {x.shape}"
        )
    if loss not in LOSSES:
        raise InputError(f"loss: expected one of {', '.join(map(repr, LOSSES))}, got {loss!r}")
    if loss == "cross_entropy" and y.shape != x.shape[:1]:
        raise InputError(f"y: expected labels of shape [batch] = {x.shape[:1]}, got {y.shape}")
    if loss == "cross_entropy" and not jnp.issubdtype(y.dtype, jnp.integer):
        raise InputTypeError(f"y: expected integer class labels, got dtype {y.dtype}")
    if loss == "cross_entropy" and not is_traced(y):  # one_hot would zero a bad label
        with jax.ensure_compile_time_eval():  # eager even under jit
            low, high = int(jnp.min(y)), int(jnp.max(y))
        if low < 0 or high >= w2.shape[0]:
            bad = low if low < 0 else high
            raise InputError(f"y: expected labels in [0, {w2.shape[0]}), got label {bad}")
    if loss == "squared" and y.shape != (x.shape[0], w2.shape[0]):
        raise InputError(
            f"y: expected targets of shape [batch, num_outputs] = {(x.shape[0], w2.shape[0])}, "
            f"got {y.shape}"
        )
    check_number(lam, "lam", low=0)
    if jnp.ndim(lam) != 0:
        raise InputError(f"lam: expected a scalar, got shape {jnp.shape(lam)}")


def forward(params: Params, x, y, lam, *, activation="relu", loss="cross_entropy"):
    """Forward propagation: from the inputs to the objective J, keeping every value.

    Args:
      params: :class:`Params` ``(w1 [num_hiddens, num_inputs], w2 [num_outputs, num_hiddens])``.
      x: inputs ``[batch, num_inputs]``.
      y: integer labels ``[batch]`` (``loss="cross_entropy"``) or targets ``[batch,
        num_outputs]`` (``loss="squared"``, the book's ``½ ‖o - y‖²``).
      lam: the weight decay λ >= 0 (a scalar; checked unless traced).
      activation: ``"relu"`` (the book's), ``"sigmoid"``, ``"tanh"``, or a pair ``(φ, φ')``.
      loss: ``"cross_entropy"`` or ``"squared"``.

    Returns:
      :class:`ForwardPass` ``(x, z, h, o, L, s, J)``.

    Raises:
      ValueError: on shapes that do not fit together, a negative λ or an unknown loss.
      TypeError: on non-integer labels for the cross-entropy, or a bad ``activation``.

    >>> params = Params(w1=jnp.array([[0.5]]), w2=jnp.array([[2.0]]))
    >>> fp = forward(params, jnp.array([[3.0]]), jnp.array([[1.0]]), 0.1, loss="squared")
    >>> [round(float(v), 4) for v in (fp.z[0, 0], fp.o[0, 0], fp.L, fp.s, fp.J)]
    [1.5, 3.0, 2.0, 0.2125, 2.2125]
    """
    x, y = jnp.asarray(x), jnp.asarray(y)
    _check(params, x, y, lam, loss)
    phi, _ = _activation(activation)
    l = cross_entropy if loss == "cross_entropy" else squared_loss  # noqa: E741 (the book's l)
    w1, w2 = params
    with jax.named_scope("z"):
        z = x @ w1.T
    with jax.named_scope("h"):
        h = phi(z)
    with jax.named_scope("o"):
        o = h @ w2.T
    with jax.named_scope("L"):
        L = jnp.mean(l(o, y))
    with jax.named_scope("s"):
        s = lam / 2 * (jnp.sum(w1**2) + jnp.sum(w2**2))
    with jax.named_scope("J"):
        J = L + s
    return ForwardPass(x, z, h, o, L, s, J)


def objective(params: Params, x, y, lam, *, activation="relu", loss="cross_entropy"):
    """``J = L + s`` alone, the scalar to hand to ``jax.grad``; arguments as :func:`forward`."""
    return forward(params, x, y, lam, activation=activation, loss=loss).J


def backward(
    params: Params, cache: ForwardPass, y, lam, *, activation="relu", loss="cross_entropy"
):
    """Backpropagation by hand: ∂J/∂W1 and ∂J/∂W2 from the values :func:`forward` kept.

    Args:
      params: the :class:`Params` given to :func:`forward`.
      cache: the :class:`ForwardPass` it returned.
      y: the labels or targets given to :func:`forward`.
      lam: the weight decay λ >= 0 given to :func:`forward`.
      activation: the activation given to :func:`forward`.
      loss: the loss given to :func:`forward`.

    Returns:
      :class:`Params` ``(∂J/∂W1 [num_hiddens, num_inputs], ∂J/∂W2 [num_outputs,
      num_hiddens])``, the structure ``jax.grad(objective)`` returns.

    Raises:
      ValueError, TypeError: as :func:`forward`.

    >>> params = Params(w1=jnp.array([[0.5]]), w2=jnp.array([[2.0]]))
    >>> x, y = jnp.array([[3.0]]), jnp.array([[1.0]])
    >>> grads = backward(params, forward(params, x, y, 0.1, loss="squared"), y, 0.1, loss="squared")
    >>> [round(float(g[0, 0]), 4) for g in grads]  # 4 * 3 + 0.1 * 0.5, 2 * 1.5 + 0.1 * 2
    [12.05, 3.2]
    """
    y = jnp.asarray(y)
    _check(params, cache.x, y, lam, loss)
    _, phi_prime = _activation(activation)
    w1, w2 = params
    batch, num_outputs = cache.o.shape
    if loss == "cross_entropy":
        y = jax.nn.one_hot(y, num_outputs, dtype=cache.o.dtype)
        dl_do = softmax(cache.o, axis=-1) - y
    else:
        dl_do = cache.o - y
    dj_do = dl_do / batch  # L is the mean over the batch
    dj_dw2 = dj_do.T @ cache.h + lam * w2
    dj_dh = dj_do @ w2
    dj_dz = dj_dh * phi_prime(cache.z)
    dj_dw1 = dj_dz.T @ cache.x + lam * w1
    return Params(dj_dw1, dj_dw2)

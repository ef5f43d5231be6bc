# %% [markdown]
# # Forward propagation, backward propagation, and computational graphs (the book's 4.7)
#
# Until now the framework computed every gradient. The book's section opens the box on a
# network with one hidden layer and no biases: forward propagation computes and keeps the
# intermediate values z = W₁x, h = φ(z), o = W₂h, the loss L = l(o, y), the penalty
# s = λ/2 (‖W₁‖² + ‖W₂‖²) and the objective J = L + s; the computational graph draws how each
# value depends on the others; backpropagation walks that graph backwards with the chain rule,
# from ∂J/∂o to ∂J/∂W₂ and ∂J/∂W₁, reusing the values the forward pass kept. The book writes the
# formulas and trains nothing; here they are code (`jaxdl.propagation`), run on one minibatch
# of Fashion-MNIST-sized inputs.
#
# What to look at: the hand-derived gradients agree with `jax.grad`'s to float32 rounding (and
# to float64 rounding in float64); the graph JAX records (`jax.make_jaxpr`) has the book's
# nodes; and the gradient's program first repeats the forward pass, then visits the nodes in
# reverse order, s, L, o, h, z: backpropagation.

# %%
import re

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import Var
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from jaxdl.plotting import new_figure
from jaxdl.propagation import backward, forward, init_params, objective

import harness
from harness import Setting
from harness.config import non_negative_float

NUM_INPUTS, NUM_OUTPUTS, INIT_STD = 784, 10, 0.01
INPUTS = ("W1", "W2", "x", "y", "λ")  # the jaxpr's inputs: params (w1, w2), x, y, lam
# The book's graph, laid out as its figure: the chain x → J along the bottom, the penalty above.
POSITIONS = {
    "x": (0, 0), "z": (1.6, 0), "h": (3.2, 0), "o": (4.8, 0), "L": (6.4, 0), "J": (8.0, 0),
    "W1": (1.6, 1.2), "W2": (4.8, 1.2), "y": (6.4, -1.2), "s": (8.0, 2.4), "λ": (8.0, 3.6),
}  # fmt: skip
LABELS = {
    "z": r"$z = W_1 x$",
    "h": r"$h = \phi(z)$",
    "o": r"$o = W_2 h$",
    "L": r"$L = l(o, y)$",
    "s": r"$s = \frac{\lambda}{2}(\|W_1\|^2 + \|W_2\|^2)$",
    "J": r"$J = L + s$",
    "x": r"$x$",
    "y": r"$y$",
    "W1": r"$W_1$",
    "W2": r"$W_2$",
    "λ": r"$\lambda$",
}


# %% [markdown]
# ## Configuration
#
# The book gives no λ for this section; 0.01 makes the penalty s about 0.1 next to a loss of about
# log 10 ≈ 2.3. Edit the settings here to try others; on the command line each is a flag (`python
# experiments/propagation.py --help`); `--quick` takes a batch of 8.

# %%
BOOK = dict(lambd=0.01, num_hiddens=256, batch_size=256)
QUICK = dict(batch_size=8)
config, out = harness.start(
    "propagation",
    BOOK,
    quick=QUICK,
    settings={"lambd": Setting(non_negative_float, "weight decay λ")},
)
network = {
    "batch_size": config.batch_size,
    "num_inputs": NUM_INPUTS,
    "num_hiddens": config.num_hiddens,
    "num_outputs": NUM_OUTPUTS,
    "lambd": config.lambd,
    "activation": "relu",
    "loss": "cross_entropy",
    "init_std": INIT_STD,
}
print(f"{NUM_INPUTS}-{config.num_hiddens}-{NUM_OUTPUTS}, no biases, ReLU, λ = {config.lambd:g}")

# %% [markdown]
# ## The network from scratch
#
# `forward` computes the book's values in order and returns them all (a `ForwardPass`):
# backpropagation needs them. `backward` is the book's chain of formulas, with one example per
# row of x, so the book's outer products ∂J/∂o hᵀ become (∂J/∂o)ᵀ h summed over the batch.
# Weights are stored as in the book's math, W₁ [hidden, inputs] and W₂ [outputs, hidden].

# %%
harness.show_source(forward, backward)

# %% [markdown]
# ## Forward propagation
#
# One minibatch: inputs uniform in [0, 1) (a Fashion-MNIST image's pixel range), labels
# uniform over the 10 classes, weights N(0, 0.01²). With such small weights the outputs are
# near 0, the softmax near uniform, and L near log 10.

# %%
key_params, key_x, key_y = jax.random.split(jax.random.key(config.seed), 3)
params = init_params(key_params, NUM_INPUTS, config.num_hiddens, NUM_OUTPUTS, init_std=INIT_STD)
x = jax.random.uniform(key_x, (config.batch_size, NUM_INPUTS))
y = jax.random.randint(key_y, (config.batch_size,), 0, NUM_OUTPUTS)
lam = jnp.float32(config.lambd)
fp = forward(params, x, y, lam)
for name in ("x", "z", "h", "o"):
    print(f"{name}: {getattr(fp, name).shape}")
print(f"L = {float(fp.L):.6f}, s = {float(fp.s):.6f}, J = L + s = {float(fp.J):.6f}")
metrics = {"J": float(fp.J), "L": float(fp.L), "s": float(fp.s)}

# %% [markdown]
# ## Backpropagation by hand, against `jax.grad`
#
# The same gradients twice: by the book's formulas from the kept values, and by `jax.grad` of
# J. They differ only by rounding: the two compute the same sums in different orders. The
# relative difference is max |hand − jax.grad| / max |jax.grad| per weight matrix; in float64
# it drops by about nine orders of magnitude, as the precision does. The comparison asks for
# full float32 matrix products (`jax.default_matmul_precision("highest")`): by default GPUs
# multiply float32 matrices in TensorFloat-32 and TPUs in bfloat16, whose rounding would hide
# what is compared here.


# %%
def compare(params, x, y, lam) -> tuple[list[float], float]:
    """``([max |hand - jax.grad| per weight], max relative difference)`` of ∂J/∂W."""
    hand = backward(params, forward(params, x, y, lam), y, lam)
    auto = jax.grad(objective)(params, x, y, lam)
    diffs = [float(jnp.max(jnp.abs(h - a))) for h, a in zip(hand, auto, strict=True)]
    scales = [float(jnp.max(jnp.abs(a))) for a in auto]
    return diffs, max(d / s for d, s in zip(diffs, scales, strict=True))


with jax.default_matmul_precision("highest"):
    diffs, rel = compare(params, x, y, lam)
with jax.enable_x64(True):
    params64, x64 = jax.tree.map(lambda a: jnp.asarray(np.asarray(a), jnp.float64), (params, x))
    _, rel64 = compare(params64, x64, y, jnp.float64(config.lambd))
metrics |= {
    "max_abs_diff_W1": diffs[0],
    "max_abs_diff_W2": diffs[1],
    "max_rel_diff": rel,
    "max_rel_diff_float64": rel64,
}
print(f"max |∂J/∂W1 by hand − jax.grad| = {diffs[0]:.3g}, for ∂J/∂W2 {diffs[1]:.3g}")
print(f"relative: {rel:.3g} in float32, {rel64:.3g} in float64")

# %% [markdown]
# ## The computational graph, as JAX records it
#
# `jax.make_jaxpr` traces J into a jaxpr: JAX's computational graph, a list of primitive
# equations from the inputs (W₁, W₂, x, y, λ) to J. Each equation carries the name of the
# book's node it belongs to (`forward` computes each value under a `jax.named_scope`), shown
# after `#`. Most equations belong to L: the stable log-softmax and the label checks of the
# cross-entropy.


# %%
def annotated(jaxpr) -> str:
    """The jaxpr as text, each equation followed by ``# [its node]``."""
    return re.sub(r" +# \[", "  # [", jaxpr.pretty_print(name_stack=True))


def nodes_of(jaxpr) -> dict[str, int]:
    """Equations per node (``jax.named_scope``), in the order they first appear."""
    counts = {}
    for eqn in jaxpr.eqns:
        scope = str(eqn.source_info.name_stack)
        counts[scope] = counts.get(scope, 0) + 1
    return counts


def edges_of(jaxpr, inputs) -> list[tuple[str, str]]:
    """The graph's edges: ``(a, b)`` when an equation of node b reads a value of node a (or
    the input a)."""
    made_by = dict(zip(jaxpr.jaxpr.invars, inputs, strict=True))
    edges = []
    for eqn in jaxpr.eqns:
        node = str(eqn.source_info.name_stack)
        for var in eqn.invars:
            source = made_by.get(var) if isinstance(var, Var) else None
            if source is not None and source != node and (source, node) not in edges:
                edges.append((source, node))
        made_by.update(dict.fromkeys(eqn.outvars, node))
    return edges


forward_jaxpr = jax.make_jaxpr(objective)(params, x, y, lam)
forward_text = annotated(forward_jaxpr)
print(forward_text)
out.outputs.add("forward_jaxpr.txt", forward_text.encode())
forward_nodes = nodes_of(forward_jaxpr)
edges = edges_of(forward_jaxpr, INPUTS)
print("equations per node:", forward_nodes)
print("edges:", ", ".join(f"{a} → {b}" for a, b in edges))
metrics["num_eqns_forward"] = len(forward_jaxpr.eqns)

# %% [markdown]
# ## The graph drawn
#
# The jaxpr's nodes and edges in the book's layout: grey boxes are the inputs, blue boxes the
# book's intermediate values with the number of equations JAX recorded for each; an arrow
# means an equation of one node reads a value of the other.


# %%
def draw_graph(nodes: dict[str, int], edges: list[tuple[str, str]]):
    """The forward graph: a box per input and per node at ``POSITIONS``, an arrow per edge."""
    fig, ax = new_figure((8.5, 4.6))
    boxes = {}
    for name in (*INPUTS, *nodes):
        cx, cy = POSITIONS[name]
        width = 2.5 if name == "s" else 1.25
        computed = name in nodes
        boxes[name] = box = FancyBboxPatch(
            (cx - width / 2, cy - 0.3),
            width,
            0.6,
            boxstyle="round,pad=0.02",
            facecolor="#dbe9f6" if computed else "#e8e8e8",
            edgecolor="#4a4a4a",
        )
        ax.add_patch(box)
        ax.text(cx, cy + 0.07 * computed, LABELS.get(name, name), ha="center", va="center")
        if computed:
            count = f"{nodes[name]} equation{'s' * (nodes[name] != 1)}"
            ax.text(cx, cy - 0.17, count, ha="center", va="center", fontsize=7, color="#555555")
    for a, b in edges:
        ax.add_patch(
            FancyArrowPatch(
                POSITIONS[a],
                POSITIONS[b],
                arrowstyle="-|>",
                mutation_scale=12,
                patchA=boxes[a],
                patchB=boxes[b],
                color="#333333",
            )
        )
    ax.set_xlim(-0.7, 9.3)
    ax.set_ylim(-1.6, 4.0)
    ax.set_aspect("equal")
    ax.axis("off")
    total = sum(nodes.values())
    ax.set_title(f"computational graph of J from jax.make_jaxpr ({total} equations)")
    fig.tight_layout()
    return fig


figures = {"graph.png": draw_graph(forward_nodes, edges)}
harness.show(figures["graph.png"])

# %% [markdown]
# ## Backpropagation, as JAX does it
#
# `jax.grad` turns J into a new program: reverse-mode differentiation linearises J (the
# forward pass again, `jvp(node)`, keeping what the backward pass needs) and then transposes
# it, node by node from J back to the inputs (`transpose(jvp(node))`). The order in which the
# backward pass visits the nodes is the reverse of the forward one: the book's
# backpropagation, found by JAX.

# %%
grad_jaxpr = jax.make_jaxpr(jax.grad(objective))(params, x, y, lam)
grad_text = annotated(grad_jaxpr)
print(grad_text)
out.outputs.add("grad_jaxpr.txt", grad_text.encode())
grad_nodes = nodes_of(grad_jaxpr)
grad_forward = {k[4:-1]: n for k, n in grad_nodes.items() if k.startswith("jvp(")}
grad_backward = {k[14:-2]: n for k, n in grad_nodes.items() if k.startswith("transpose(jvp(")}
metrics |= {
    "num_eqns_grad": len(grad_jaxpr.eqns),
    "eqns_by_node": {
        "forward": forward_nodes,
        "grad_forward": grad_forward,
        "grad_backward": grad_backward,
    },
    "backward_order": list(grad_backward),
    "config": network,
}
print(f"{'node':6s}{'J':>6s}{'grad: forward':>15s}{'grad: backward':>16s}")
for node in forward_nodes:
    print(
        f"{node:6s}{forward_nodes[node]:6d}{grad_forward.get(node, 0):15d}"
        f"{grad_backward.get(node, 0):16d}"
    )
print(f"the backward pass visits: {' → '.join(grad_backward)}")

# %% [markdown]
# ## Against the book
#
# The run writes `results/propagation/` (or `--out`): `metrics.json`, `"J"`, `"L"`, `"s"`: the
# objective, the loss and the penalty (float32); `"max_abs_diff_W1"`, `"max_abs_diff_W2"`: max
# |∂J/∂W by hand − by jax.grad|; `"max_rel_diff"`: the larger over W1 and W2 of max |hand −
# jax.grad| / max |jax.grad| (with full float32 matrix products, also on GPU and TPU);
# `"max_rel_diff_float64"`: the same in float64; `"num_eqns_forward"`, `"num_eqns_grad"`:
# equations in the jaxpr of J and of its gradient (a nested `jit`, such as `jnp.where`'s, counts
# as one); `"eqns_by_node"`: `{"forward"|"grad_forward"|"grad_backward": {node: equations}}` (the
# gradient's equations of the forward pass, `jvp(node)`, and of the backward pass,
# `transpose(jvp(node))`); `"backward_order"`: the nodes in the order the gradient's backward pass
# visits them; `"config"`: `{"batch_size", "num_inputs", "num_hiddens", "num_outputs", "lambd",
# "activation", "loss", "init_std"}`. Files: `forward_jaxpr.txt` and `grad_jaxpr.txt` (each
# equation annotated with its node); figure `graph.png` (the forward graph of J as the jaxpr has
# it).

# %%
harness.compare_with_book("propagation", metrics, out)
metrics = harness.finish(out, metrics, figures)

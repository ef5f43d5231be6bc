# %% [markdown]
# # Modern convolutional networks (the book's 7.1–7.4, 7.6, 7.7)
#
# After LeNet the book builds the networks that won ImageNet's competitions, each for what it
# added: AlexNet (depth, ReLU, dropout), VGG (repeated blocks of 3×3 convolutions), NiN (1×1
# convolutions and global average pooling in place of dense layers), GoogLeNet (parallel
# paths of several kernel sizes), ResNet (residual connections, batch norm) and DenseNet
# (each layer's output joined to its input). It trains each on Fashion-MNIST resized to
# 224 × 224 (AlexNet, VGG, NiN) or 96 × 96 (the others) for 10 epochs on a GPU, and reports
# test accuracies of AlexNet 0.883, VGG 0.920, NiN 0.790, GoogLeNet 0.886, ResNet-18 0.893
# and DenseNet 0.885.
#
# On this project's 2-core CPU one such epoch takes from a quarter of an hour (DenseNet) to
# hours (AlexNet, VGG). By default this section trains every network with the book's layers
# but a quarter of its channels (`--width 0.25`), on images resized only as far as each
# network needs (67 × 67 for AlexNet and NiN, the smallest their poolings leave a pixel of;
# 32 × 32 for the others), all 60 000 training images and the first 2 000 test images, for 3
# epochs, at the book's learning rate and batch size: about 7 minutes. `--book` runs the
# book's configuration (for a GPU).
#
# What to look at: each network's blocks and output shapes, as the book prints them; the
# parameter counts (from NiN's 2 M to AlexNet's 47 M); the curves, and the accuracies next to
# the book's. The CPU-sized figures are not the book's (narrower networks, smaller images, a
# third of the epochs) and do not rank the networks: the networks with batch norm learn from
# the first epoch, the others start at chance and some are still there after 3 epochs (VGG
# leaves it in its 6th epoch and reaches about 0.80 in 10: `--models vgg --epochs 10`, 3 min).

# %%
"""The book's modern convolutional networks on Fashion-MNIST (7.1–7.4, 7.6, 7.7).

Configuration per network (the book's): learning rate and batch size AlexNet 0.01 / 128,
VGG (VGG-11 with a quarter of its channels) 0.05 / 128, NiN 0.1 / 128, GoogLeNet 0.1 / 128,
ResNet-18 0.05 / 256, DenseNet 0.1 / 256; SGD, cross-entropy, Xavier-uniform weights
(``train_ch6``). The book: images resized to 224 (AlexNet, VGG, NiN) or 96 (the others), all
60 000 training images, 10 epochs, full width (``--book``). By default (CPU-sized): a quarter
of every layer's channels (``--width 0.25``), resized to 67 (AlexNet, NiN: the smallest their
three 3×3 stride-2 poolings take) or 32 (the others), all training and the first 2 000 test
images, 3 epochs. Each minibatch is resized inside the training scan
(``jaxdl.models.modern.resized``).

Models: ``jaxdl.models.modern`` (flax.linen) + ``optax.softmax_cross_entropy_with_integer_labels``
+ ``optax.inject_hyperparams(optax.sgd)``.

Command: ``python experiments/modern_cnns.py [--models alexnet,vgg,nin,googlenet,resnet18,densenet
--book --epochs N --train-size N --test-size N --width W --data-dir DIR --seed 0 --seeds 1
--out results/modern_cnns --quick]`` (``--quick``: 256 training and 128 test images, 1 epoch).

metrics.json: ``{NAME: {"test_acc", "train_acc", "train_loss", "history": {...},
"seconds_per_epoch", "run"}}`` per network trained (as mlp.py's variants; with ``--seeds N >
1`` means over the seeds, with ``"std"`` and ``"per_seed"``), plus ``"config": {"book",
"epochs", "train_size", "test_size", "width", "image_size": {NAME: size}, "learning_rate":
{NAME: lr}, "batch_size": {NAME: batch}}``, ``"block_shapes": {NAME: [[block, [output
shape]], ...]}`` (one image at the book's size and width, NHWC) and ``"num_params": {NAME:
count}`` (the book's networks').
Figures: ``curves.png`` and ``predictions.png``.
"""

import argparse

import jax
import jax.numpy as jnp
import optax

from jaxdl.models.modern import NETWORKS, block_shapes, concise_network, network, resized

from harness import classifiers, common

# name: (learning rate, batch size) of the book's training, and the CPU-sized image size
BOOK = {
    "alexnet": (0.01, 128),
    "vgg": (0.05, 128),
    "nin": (0.1, 128),
    "googlenet": (0.1, 128),
    "resnet18": (0.05, 256),
    "densenet": (0.1, 256),
}
CPU_SIZE = {"alexnet": 67, "nin": 67, "vgg": 32, "googlenet": 32, "resnet18": 32, "densenet": 32}
BOOK_RUN = {"epochs": 10, "train_size": None, "test_size": None, "width": 1.0}
CPU = {"epochs": 3, "train_size": None, "test_size": 2_000, "width": 0.25}
QUICK = {"epochs": 1, "train_size": 256, "test_size": 128, "width": 0.25}


def model_list(text: str) -> list[str]:
    """The ``--models`` flag: comma-separated names of ``NETWORKS``, each once."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in NETWORKS]
    if not names or unknown or len(set(names)) < len(names):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated names from {', '.join(NETWORKS)}, each once; got {text!r}"
        )
    return names


# %% [markdown]
# ## Configuration
#
# The CPU-sized one by default; `--book` for the book's. In the notebook, pass flags to
# `common.start` in the cell below, e.g. `common.start(p, ["--epochs", "3"])` (`["--help"]` lists
# them); on the command line, `python experiments/modern_cnns.py --help`.

# %%
p = common.parser("modern_cnns", classifiers=True)
p.add_argument("--models", type=model_list, default=list(NETWORKS), help="networks to train")
p.add_argument("--book", action="store_true", help="the book's configuration (for a GPU)")
p.add_argument("--epochs", type=common.positive_int, default=None, help="training epochs")
p.add_argument("--train-size", type=common.positive_int, default=None, help="training images")
p.add_argument("--test-size", type=common.positive_int, default=None, help="test images")
p.add_argument(
    "--width", type=common.positive_float, default=None, help="channel multiplier (book: 1)"
)
args, out = common.start(p)
sizes = {n: NETWORKS[n][1] if args.book else CPU_SIZE[n] for n in args.models}
base = QUICK if args.quick else BOOK_RUN if args.book else CPU
epochs = args.epochs or base["epochs"]
train_size = args.train_size or base["train_size"]
test_size = args.test_size or base["test_size"]
width = args.width or base["width"]
print(
    f"{'the book' if args.book else 'CPU-sized'}: {epochs} epochs, "
    f"{train_size or 'all'} training and {test_size or 'all'} test images, width {width}, "
    f"sizes {sizes}"
)

# %% [markdown]
# ## The networks, block by block
#
# Each network records its blocks' outputs; `block_shapes` reads their shapes for one image at
# the book's size without computing anything (`jax.eval_shape`), as the book prints them.

# %%
shapes, counts = {}, {}
for name in args.models:
    size = NETWORKS[name][1]
    x = jax.ShapeDtypeStruct((1, size, size, 1), jnp.float32)
    shapes[name], counts[name] = block_shapes(network(name), x)
    print(f"{name} ({counts[name]:,} parameters):")
    for block, shape in shapes[name]:
        print(f"  {block:>17} output shape: {shape}")

# %% [markdown]
# ## Training
#
# Each network with the book's learning rate and batch size, on images resized one minibatch
# at a time inside the epoch's scan.

# %%
mesh = classifiers.mesh_from_flags(
    args.devices, args.coordinator, args.num_processes, args.process_id, args.distributed_timeout
)
data = classifiers.subset(
    classifiers.fashion_mnist_on_device(args.data_dir, quick=False), train_size, test_size
)
variants, results = {}, {}
for name in args.models:
    lr, batch_size = BOOK[name]
    variants[name] = (
        resized(concise_network(network(name, width=width)), sizes[name]),
        optax.softmax_cross_entropy_with_integer_labels,
        optax.inject_hyperparams(optax.sgd)(learning_rate=lr),
    )
    results |= classifiers.train_classifiers(
        {name: variants[name]},
        data,
        epochs=epochs,
        batch_size=batch_size,
        seed=args.seed,
        seeds=args.seeds,
        mesh=mesh,
        checkpoint_dir=args.checkpoint_dir,
    )
metrics, figures = classifiers.report_classifiers(variants, results, data)
metrics["config"] = {
    "book": args.book,
    "epochs": epochs,
    "train_size": len(data.train[1]),
    "test_size": len(data.test[1]),
    "width": width,
    "image_size": sizes,
    "learning_rate": {n: BOOK[n][0] for n in args.models},
    "batch_size": {n: BOOK[n][1] for n in args.models},
}
metrics["block_shapes"] = {n: [[b, list(s)] for b, s in shapes[n]] for n in args.models}
metrics["num_params"] = counts
for name in ("curves.png", "predictions.png"):
    if name in figures:
        common.show(figures[name])

# %% [markdown]
# ## Against the book

# %%
common.compare_with_book("modern_cnns", metrics, out)
metrics = common.finish(out, metrics, figures)

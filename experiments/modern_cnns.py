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
# book's configuration (for a GPU; on a CPU it first says how long each network's epoch will
# take there, from its first minibatch).
#
# What to look at: each network's blocks and output shapes, as the book prints them; the
# parameter counts (from NiN's 2 M to AlexNet's 47 M); the curves, and the accuracies next to
# the book's. The CPU-sized figures are not the book's (narrower networks, smaller images, a
# third of the epochs) and do not rank the networks: the networks with batch norm learn from
# the first epoch, the others start at chance and some are still there after 3 epochs (VGG
# leaves it in its 6th epoch and reaches about 0.80 in 10: `--models vgg --epochs 10`, 3 min).

# %%
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxdl.errors import InputError
from jaxdl.models.modern import NETWORKS, block_shapes, concise_network, network, resized
from jaxdl.models.modern import Residual as LibraryResidual

import harness
from harness import Setting, classifiers
from harness.config import positive_float

# %% [markdown]
# ## Configuration
#
# The book's settings, and those of the CPU-sized run, this section's default (`--book` runs
# the book's). Edit them here to try others: a run whose settings differ from the book's is
# reported as such, not held to its figures. On the command line each is a flag (`python
# experiments/modern_cnns.py --help`); `--quick` trains each network for one epoch on 256
# images. Each network trains with the book's learning rate and batch size (`RECIPES`), on
# images resized to the book's size or, in the CPU-sized run, to `CPU_SIZE`.

# %%
BOOK = dict(
    models=["alexnet", "vgg", "nin", "googlenet", "resnet18", "densenet"], epochs=10, width=1.0
)
CPU = dict(epochs=3, test_size=2000, width=0.25)
QUICK = dict(epochs=1, train_size=256, test_size=128, width=0.25)
RECIPES = {  # name: (learning rate, batch size), the book's
    "alexnet": (0.01, 128),
    "vgg": (0.05, 128),
    "nin": (0.1, 128),
    "googlenet": (0.1, 128),
    "resnet18": (0.05, 256),
    "densenet": (0.1, 256),
}
CPU_SIZE = {"alexnet": 67, "nin": 67, "vgg": 32, "googlenet": 32, "resnet18": 32, "densenet": 32}
config, out = classifiers.start(
    "modern_cnns",
    BOOK,
    cpu=CPU,
    quick=QUICK,
    settings={
        "models": Setting(choices=list(NETWORKS), help="networks to train"),
        "width": Setting(positive_float, "channel multiplier"),
    },
)
if len(set(config.models)) < len(config.models):
    raise InputError(f"models: expected each network once, got {config.models}")
sizes = {n: NETWORKS[n][1] if config.book else CPU_SIZE[n] for n in config.models}
print(f"image sizes {sizes}")

# %% [markdown]
# ## The residual block, as the book writes it
#
# ResNet's building block (7.6): two 3×3 convolutions with batch norm, the input added back
# (through a 1×1 convolution when the shape changes) before the last ReLU. In flax the layers
# are declared where they are used (`nn.compact`), and batch norm is told whether it trains.
# The book's two examples give the shapes it prints, channels last: the same shape, then half
# the height and width with 6 channels. The library's `Residual` (which ResNet-18 below uses,
# with the training engine's batch mask) gives the same values with the same weights.


# %%
class Residual(nn.Module):
    num_channels: int
    use_1x1conv: bool = False
    strides: int = 1

    @nn.compact
    def __call__(self, X, train: bool):
        def bn():
            return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)

        Y = nn.Conv(self.num_channels, (3, 3), strides=self.strides, padding=1)(X)
        Y = nn.relu(bn()(Y))
        Y = bn()(nn.Conv(self.num_channels, (3, 3), padding=1)(Y))
        if self.use_1x1conv:
            X = nn.Conv(self.num_channels, (1, 1), strides=self.strides)(X)
        return nn.relu(Y + X)


# %%
X = jax.random.uniform(jax.random.key(config.seed), (4, 6, 6, 3))
residual = {}
for book_block, library_block in (
    (Residual(3), LibraryResidual(3)),
    (Residual(6, use_1x1conv=True, strides=2), LibraryResidual(6, use_1x1conv=True, strides=2)),
):
    variables = library_block.init(jax.random.key(1), X)
    Y, _ = book_block.apply(variables, X, train=True, mutable=["batch_stats"])
    Y_library, _ = library_block.apply(variables, X, train=True, mutable=["batch_stats"])
    print(f"output shape {Y.shape}, largest difference from the library's Residual: ", end="")
    residual[str(Y.shape)] = float(jnp.max(jnp.abs(Y - Y_library)))
    print(f"{residual[str(Y.shape)]:.1e}")

# %% [markdown]
# ## The networks, block by block
#
# Each network records its blocks' outputs; `block_shapes` reads their shapes for one image at
# the book's size without computing anything (`jax.eval_shape`), as the book prints them.

# %%
shapes, counts = {}, {}
for name in config.models:
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
data = classifiers.fashion_mnist(config)
variants = {
    name: classifiers.Variant(
        resized(concise_network(network(name, width=config.width)), sizes[name]),
        optax.softmax_cross_entropy_with_integer_labels,
        optax.inject_hyperparams(optax.sgd)(learning_rate=RECIPES[name][0]),
        batch_size=RECIPES[name][1],
    )
    for name in config.models
}
trained = classifiers.train(variants, data, config)
metrics, figures = trained.metrics, trained.figures
metrics["config"] = {
    "book": config.book,
    "image_size": sizes,
    "learning_rate": {n: RECIPES[n][0] for n in config.models},
    "batch_size": {n: RECIPES[n][1] for n in config.models},
}
metrics["book_residual"] = {"max_abs_diff": residual}
metrics["block_shapes"] = {n: [[b, list(s)] for b, s in shapes[n]] for n in config.models}
metrics["num_params"] = counts
harness.show(figures["predictions.png"])  # the curves are the board above, drawn live

# %% [markdown]
# ## Against the book
#
# The run writes `results/modern_cnns/` (or `--out`): `metrics.json`, per network as softmax
# regression's variants (final accuracies and loss, their history, the seconds per epoch and the
# run's record), with whether this was the book's sizing and each network's image size, learning
# rate and batch size (`config`), its
# blocks' output shapes (`block_shapes`, one image at the book's size and width) and parameter
# count (`num_params`, the book's networks'); and the figures `curves.png` and
# `predictions.png`.

# %%
harness.compare_with_book("modern_cnns", metrics, out)
metrics = harness.finish(out, metrics, figures)

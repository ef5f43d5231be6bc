# %% [markdown]
# # LeNet (the book's 6.6)
#
# LeNet-5 (LeCun et al., 1998) was among the first convolutional networks to be trained
# end to end with gradient descent. Two blocks of a 5×5 convolution, a sigmoid and a 2×2
# average pooling turn a 28×28 image into 16 maps of 5×5; three dense layers (120, 84, 10)
# classify them. Where the MLP saw 784 unrelated numbers, the convolutions see the image's
# neighbourhoods, with far fewer weights per layer (a 5×5 kernel, shared over the image).
#
# The book trains it on Fashion-MNIST with SGD at learning rate 0.9, batch 256, 10 epochs,
# Xavier-initialised weights (`train_ch6`). Here it is written twice: from scratch (parameters
# as arrays, each layer a function, convolutions through `jax.lax.conv_general_dilated`) and
# concisely (`flax.linen` layers); both train through the same engine.
#
# What to look at: each layer's output shape (as the book prints them); the curves (the
# sigmoid network learns nothing for the first epoch or so, then fast); the test accuracy
# next to the book's, 0.779 after 10 epochs (train accuracy 0.823, loss 0.469).

# %%
"""LeNet on Fashion-MNIST, from scratch and concise (the book's 6.6).

Configuration (the book's ``train_ch6``): LeNet-5 with sigmoid and 2×2 average pooling,
batch 256, learning rate 0.9, 10 epochs, Xavier-uniform weights (biases as PyTorch's
default), cross-entropy, SGD.

- scratch: ``jaxdl.models.lenet.lenet`` + ``jaxdl.losses.cross_entropy`` +
  ``jaxdl.optim.sgd``.
- concise: ``jaxdl.models.lenet.LeNet`` (``flax.linen`` layers) +
  ``optax.softmax_cross_entropy_with_integer_labels`` +
  ``optax.inject_hyperparams(optax.sgd)``.

Command: ``python experiments/lenet.py [--activation sigmoid|relu|tanh --pool avg|max
--data-dir DIR --epochs 10 --lr 0.9 --batch-size 256 --seed 0 --seeds 1 --out results/lenet
--quick]``

metrics.json: as mlp.py: ``{"scratch"|"concise": {"test_acc", "train_acc", "train_loss",
"history": {...}, "seconds_per_epoch", "run"}}`` (with ``--seeds N > 1`` the figures are means
over the seeds, with ``"std"`` and ``"per_seed"``), plus ``"config": {"activation", "pool"}``,
``"layer_shapes": [[layer name, [output shape]], ...]`` (one image, NHWC) and
``"num_params"``.
Figures: ``curves.png`` and ``predictions.png``.
"""

import jax
import jax.numpy as jnp
import optax

from jaxdl.activations import ACTIVATIONS
from jaxdl.losses import cross_entropy
from jaxdl.models.lenet import POOLS, concise_lenet, layer_outputs, lenet_layers, scratch_lenet
from jaxdl.optim import sgd
from jaxdl.params import num_params

from harness import classifiers, common

# %% [markdown]
# ## Configuration
#
# The book's. In the notebook, pass flags to `common.start` in the cell below, e.g. `common.start(p,
# ["--epochs", "3"])` (`["--help"]` lists them); on the command line, `python experiments/lenet.py
# --help`.

# %%
p = common.parser("lenet", epochs=10, lr=0.9, batch_size=256, classifiers=True)
p.add_argument("--activation", choices=sorted(ACTIVATIONS), default="sigmoid")
p.add_argument("--pool", choices=POOLS, default="avg", help="2×2 pooling: average or maximum")
args, out = common.start(p)
print(f"LeNet-5, {args.activation}, {args.pool} pooling")

# %% [markdown]
# ## The network, layer by layer
#
# `lenet_layers` is the book's `nn.Sequential`: a list of named functions of the batch. Images
# are channels last, `[batch, height, width, channels]` (the book's PyTorch tensors are
# `[batch, channels, height, width]`), the layout XLA's convolutions and flax's layers take.
# One image through each layer in turn gives the shapes the book prints.

# %%
model = scratch_lenet(activation=args.activation, pool=args.pool)
X = jnp.zeros((1, 28, 28, 1))
params, _ = model.init(jax.random.key(0), X)
layers = lenet_layers(params, activation=args.activation, pool=args.pool)
names = [name for name, _ in layers]
shapes = list(zip(names, [y.shape for _, y in layer_outputs(layers, X)], strict=True))
for name, shape in shapes:
    print(f"{name:>10} output shape: {shape}")
print(f"{num_params(params)} parameters")

# %% [markdown]
# ## The two variants
#
# The from-scratch LeNet draws each weight Xavier-uniform and each bias as PyTorch's layers
# would; the concise one declares the same layers with flax. Both compute their convolutions
# with `jaxdl.ops.convolution.conv_general_dilated`: the values and gradient of
# `jax.lax.conv_general_dilated`, in forms that XLA:CPU runs fast inside the epoch's scan (the
# gradient as plain convolutions of transposed operands; the first layer, with its one input
# channel, as 25 shifted multiply-adds, equal up to float32 rounding).

# %%
common.show_source(lenet_layers)

# %%
variants = {
    "scratch": (model, cross_entropy, sgd(args.lr)),
    "concise": (
        concise_lenet(activation=args.activation, pool=args.pool),
        optax.softmax_cross_entropy_with_integer_labels,
        optax.inject_hyperparams(optax.sgd)(learning_rate=args.lr),
    ),
}

# %% [markdown]
# ## Training
#
# As for the MLP: one jitted call per epoch, a scan over the shuffled minibatches with the data
# on the device, then the test set. The training accuracy is measured on the minibatches while
# the network learns (as the book's `train_ch6`), the test accuracy after each epoch.

# %%
config = classifiers.ClassifierConfig.from_flags(args)
metrics, figures = classifiers.train_and_report(variants, config)
metrics["config"] = {"activation": args.activation, "pool": args.pool}
metrics["layer_shapes"] = [[name, list(shape)] for name, shape in shapes]
metrics["num_params"] = num_params(params)
common.show(figures["predictions.png"])  # the curves are the board above, drawn live

# %% [markdown]
# ## Against the book

# %%
common.compare_with_book("lenet", metrics, out)
metrics = common.finish(out, metrics, figures)

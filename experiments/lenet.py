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
import jax
import jax.numpy as jnp
import optax
from jax import lax

from jaxdl.activations import ACTIVATIONS
from jaxdl.losses import cross_entropy
from jaxdl.models.lenet import POOLS, concise_lenet, scratch_lenet
from jaxdl.optim import sgd
from jaxdl.params import num_params

import harness
from harness import Setting, classifiers

# %% [markdown]
# ## Configuration
#
# The book's settings (`train_ch6` with LeNet-5). Edit them here to try others, e.g. the
# exercises' `activation="relu"` and `pool="max"`: a run whose settings differ from the book's is
# reported as such, not held to its figures. On the command line each is a flag (`python
# experiments/lenet.py --help`); `--quick` trains on the first 2000 training images and tests on
# 500.

# %%
BOOK = dict(epochs=10, lr=0.9, batch_size=256, activation="sigmoid", pool="avg")
QUICK = dict(train_size=2000, test_size=500)
config, out = classifiers.start(
    "lenet",
    BOOK,
    quick=QUICK,
    settings={
        "activation": Setting(choices=sorted(ACTIVATIONS), help="activation"),
        "pool": Setting(choices=POOLS, help="2×2 pooling: average or maximum"),
    },
)

# %% [markdown]
# ## The network, as the book writes it
#
# The book's `nn.Sequential`, as a list of named functions of the batch: convolutions through
# `jax.lax.conv_general_dilated`, 2×2 average pooling through `jax.lax.reduce_window`. Images
# are channels last, `[batch, height, width, channels]` (the book's PyTorch tensors are
# `[batch, channels, height, width]`), the layout XLA's convolutions and flax's layers take, and
# kernels `[height, width, in, out]`. The parameters come from the library's from-scratch LeNet,
# drawn as the book's `train_ch6` draws them (Xavier-uniform weights, PyTorch's default biases).
# One image through each layer in turn gives the shapes the book prints.


# %%
def conv(X, layer, padding):
    return lax.conv_general_dilated(
        X, layer["W"], (1, 1), [(padding, padding)] * 2, dimension_numbers=("NHWC", "HWIO", "NHWC")
    ) + layer["b"].reshape(1, 1, 1, -1)


def avg_pool(X):
    return lax.reduce_window(X, 0.0, lax.add, (1, 2, 2, 1), (1, 2, 2, 1), "VALID") / 4


def dense(X, layer):
    return X @ layer["W"] + layer["b"][None, :]


def lenet_layers(params):
    return [
        ("Conv2d", lambda X: conv(X, params["conv1"], padding=2)),
        ("Sigmoid", jax.nn.sigmoid),
        ("AvgPool2d", avg_pool),
        ("Conv2d", lambda X: conv(X, params["conv2"], padding=0)),
        ("Sigmoid", jax.nn.sigmoid),
        ("AvgPool2d", avg_pool),
        ("Flatten", lambda X: X.reshape(len(X), -1)),
        ("Linear", lambda X: dense(X, params["dense1"])),
        ("Sigmoid", jax.nn.sigmoid),
        ("Linear", lambda X: dense(X, params["dense2"])),
        ("Sigmoid", jax.nn.sigmoid),
        ("Linear", lambda X: dense(X, params["output"])),
    ]


def net(params, X):
    for _, layer in lenet_layers(params):
        X = layer(X)
    return X


# %%
X = jnp.zeros((1, 28, 28, 1))
params, _ = scratch_lenet().init(jax.random.key(0), X)
shapes = []
for name, layer in lenet_layers(params):
    X = layer(X)
    shapes.append([name, list(X.shape)])
    print(f"{name:>10} output shape: {X.shape}")
print(f"{num_params(params)} parameters")

# %% [markdown]
# ## The two variants
#
# From scratch, the library's version of the network above (`jaxdl.models.lenet.scratch_lenet`,
# which also checks its input and takes the exercises' activations and poolings), and
# concisely, the same layers declared with flax. Both compute their convolutions with
# `jaxdl.ops.convolution.conv_general_dilated`: on a CPU, forms of the same convolution that
# XLA:CPU runs faster inside the epoch's scan; elsewhere `jax.lax.conv_general_dilated` itself.

# %%
variants = {
    "scratch": (
        scratch_lenet(activation=config.activation, pool=config.pool),
        cross_entropy,
        sgd(config.lr),
    ),
    "concise": (
        concise_lenet(activation=config.activation, pool=config.pool),
        optax.softmax_cross_entropy_with_integer_labels,
        optax.inject_hyperparams(optax.sgd)(learning_rate=config.lr),
    ),
}

# %% [markdown]
# ## Training
#
# As for the MLP: one jitted call per epoch, a scan over the shuffled minibatches with the data
# on the device, then the test set. The training accuracy is measured on the minibatches while
# the network learns (as the book's `train_ch6`), the test accuracy after each epoch.

# %%
data = classifiers.fashion_mnist(config)
trained = classifiers.train(variants, data, config)
metrics, figures = trained.metrics, trained.figures
metrics["layer_shapes"] = shapes
metrics["num_params"] = num_params(params)
harness.show(figures["predictions.png"])  # the curves are the board above, drawn live

# %% [markdown]
# ## The book's network against the library's
#
# The network written above and the library's `scratch_lenet`, given the same weights (those
# the scratch variant learned, or new ones when it trained another activation or pooling):
# their outputs on test images, and their weights after one SGD step of the book's on the same
# minibatch, agree up to float32 rounding.

# %%
library = scratch_lenet()
if (config.activation, config.pool) == ("sigmoid", "avg"):  # the weights it learned
    params = trained.results["scratch"].state.params
    if config.seeds > 1:  # the first seed's
        params = jax.tree.map(lambda a: a[0], params)


def library_net(params, X):
    return library.apply(params, {}, X, train=False)[0]


def sgd_step(net):
    @jax.jit
    def step(params, X, y):
        grads = jax.grad(lambda p: cross_entropy(net(p, X), y).mean())(params)
        return jax.tree.map(lambda p, g: p - config.lr * g, params, grads)

    return step


X, y, X_test = data.train[0][:256], data.train[1][:256], data.test[0][:256]
outputs = jnp.abs(jax.jit(net)(params, X_test) - jax.jit(library_net)(params, X_test))
stepped = jax.tree.map(
    lambda a, b: jnp.max(jnp.abs(a - b)),
    sgd_step(net)(params, X, y),
    sgd_step(library_net)(params, X, y),
)
outputs, weights = float(outputs.max()), float(max(jax.tree.leaves(stepped)))
print(f"largest difference of an output: {outputs:.1e}; of a weight after one step: {weights:.1e}")
metrics["book_network"] = {"max_abs_diff_output": outputs, "max_abs_diff_step": weights}

# %% [markdown]
# ## Against the book
#
# The run writes `results/lenet/` (or `--out`): `metrics.json`, as softmax regression's (each
# variant's final accuracies and loss, their history, the seconds per epoch and the run's
# record), with the layers' output shapes (`layer_shapes`) and the parameter count
# (`num_params`), and the figures `curves.png` and `predictions.png`.

# %%
harness.compare_with_book("lenet", metrics, out)
metrics = harness.finish(out, metrics, figures)

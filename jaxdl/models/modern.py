"""The book's modern convolutional networks (chapter 7) as ``flax.linen`` modules: AlexNet
(7.1), VGG (7.2), NiN (7.3), GoogLeNet (7.4), ResNet-18 (7.6) and DenseNet (7.7), layer for
layer as the book's PyTorch ``nn.Sequential`` for one-channel Fashion-MNIST images.

Images are channels last, ``[batch, height, width, 1]``; the book resizes Fashion-MNIST to
224 × 224 (AlexNet, VGG, NiN) or 96 × 96 (GoogLeNet, ResNet, DenseNet). Weights are
Xavier-uniform and biases PyTorch's default (the book's ``train_ch6``), as LeNet's
(:mod:`jaxdl.models.lenet`); batch normalisation is PyTorch's (momentum 0.1 there, 0.9 in
flax's convention; ε 1e-5) with the moving averages in flax's ``batch_stats``. Each network
takes ``train`` (dropout on, batch statistics used and updated); those with batch norm
(ResNet-18, DenseNet) also take ``mask`` (the batch's real examples, the only ones the
statistics count). :func:`concise_network` makes a Model of one, with the dropout stream where
it has dropout (AlexNet, VGG, NiN).

Every network records the output of each of its top-level blocks in flax's
``"intermediates"`` collection (which ``init`` and a plain ``apply`` discard);
:func:`block_shapes` reads them off without computing anything (``jax.eval_shape``), as the
book prints ``X.shape`` after each layer of ``net``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl._checks import check_int, check_number
from jaxdl.errors import InputError
from jaxdl.model import Model, batch_mask, from_flax
from jaxdl.models.lenet import torch_bias_init
from jaxdl.ops.convolution import Conv

MOMENTUM = 0.9  # PyTorch's BatchNorm momentum 0.1, as flax counts it
EPS = 1e-5
XAVIER = nn.initializers.xavier_uniform()

# The book's architectures: VGG-11's (convolutions, channels) per block, and the small VGG it
# trains (channels divided by 4); GoogLeNet's Inception channels per stage, ResNet-18's
# (channels, residual blocks) per stage, DenseNet's convolutions per dense block.
VGG11 = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))
SMALL_VGG = tuple((n, c // 4) for n, c in VGG11)
INCEPTION_B3 = ((64, (96, 128), (16, 32), 32), (128, (128, 192), (32, 96), 64))
INCEPTION_B4 = (
    (192, (96, 208), (16, 48), 64),
    (160, (112, 224), (24, 64), 64),
    (128, (128, 256), (24, 64), 64),
    (112, (144, 288), (32, 64), 64),
    (256, (160, 320), (32, 128), 128),
)
INCEPTION_B5 = ((256, (160, 320), (32, 128), 128), (384, (192, 384), (48, 128), 128))
RESNET18 = ((64, 2), (128, 2), (256, 2), (512, 2))
DENSENET = {"channels": 64, "growth_rate": 32, "convs": (4, 4, 4, 4)}


def conv(features: int, size: int, *, stride: int = 1, padding: int = 0, fan_in: int):
    """The book's ``nn.Conv2d(fan_in // size², features, size, stride, padding)``: a square
    kernel, symmetric zero padding, Xavier-uniform weights and PyTorch's bias."""
    return Conv(
        features,
        (size, size),
        strides=(stride, stride),
        padding=((padding, padding), (padding, padding)),
        kernel_init=XAVIER,
        bias_init=torch_bias_init(fan_in),
    )


def dense(features: int, fan_in: int):
    """The book's ``nn.Linear(fan_in, features)``, Xavier-uniform."""
    return nn.Dense(features, kernel_init=XAVIER, bias_init=torch_bias_init(fan_in))


def scaled(channels, width: float):
    """``channels`` (a count, or nested tuples of counts) times ``width``, rounded, at least 1.

    >>> scaled((64, (96, 128)), 0.25)
    (16, (24, 32))
    """
    if isinstance(channels, tuple):
        return tuple(scaled(c, width) for c in channels)
    return max(1, round(channels * width))


def _conv(x, features, size, *, stride=1, padding=0):
    return conv(features, size, stride=stride, padding=padding, fan_in=size * size * x.shape[-1])(x)


def _max_pool(x, size, stride, padding=0):
    pad = ((padding, padding), (padding, padding))
    return nn.max_pool(x, (size, size), strides=(stride, stride), padding=pad)


def _global_avg_pool(x):  # the book's nn.AdaptiveAvgPool2d((1, 1)) then nn.Flatten()
    return x.mean(axis=(1, 2))


def _norm(x, train, mask):
    bn = nn.BatchNorm(not train, momentum=MOMENTUM, epsilon=EPS, use_fast_variance=False)
    return bn(x, mask=batch_mask(mask, x))


def _recorder(module: nn.Module):
    """``see(name, x)``: records ``x`` as the output of the next top-level block, returns it."""
    count = []

    def see(name, x):
        module.sow("intermediates", f"{len(count):03d} {name}", x)
        count.append(name)
        return x

    return see


def _check_images(x, name: str, min_size: int) -> None:
    if x.ndim != 4 or x.shape[-1] != 1:
        raise InputError(f"{name}: expected images [batch, height, width, 1], got shape {x.shape}")
    if min(x.shape[1:3]) < min_size:
        raise InputError(
            f"{name}: expected images of at least {min_size} × {min_size} (its pooling "
            f"would leave nothing of a smaller one), got {x.shape[1]} × {x.shape[2]}"
        )


def _classifier_head(x, see, num_outputs, *, train, hidden):
    """AlexNet's and VGG's: two ReLU dense layers with dropout 0.5, then the output layer."""
    x = see("Flatten", x.reshape(x.shape[0], -1))
    for _ in range(2):
        x = see("Linear", dense(hidden, x.shape[-1])(x))
        x = see("ReLU", nn.relu(x))
        x = see("Dropout", nn.Dropout(0.5, deterministic=not train)(x))
    return see("Linear", dense(num_outputs, x.shape[-1])(x))


class AlexNet(nn.Module):
    """The book's AlexNet (7.1): five convolutions (96 11×11 stride 4, 256 5×5, 384, 384, 256
    3×3), three 3×3 stride-2 max-poolings, two dense layers of 4096 with dropout 0.5."""

    num_outputs: int = 10
    width: float = 1.0

    @nn.compact
    def __call__(self, x, train: bool = False):
        _check_images(x, "AlexNet", 67)
        see = _recorder(self)
        for features, size, stride, padding, pool in (
            (96, 11, 4, 1, True),
            (256, 5, 1, 2, True),
            (384, 3, 1, 1, False),
            (384, 3, 1, 1, False),
            (256, 3, 1, 1, True),
        ):
            features = scaled(features, self.width)
            x = see("Conv2d", _conv(x, features, size, stride=stride, padding=padding))
            x = see("ReLU", nn.relu(x))
            if pool:
                x = see("MaxPool2d", _max_pool(x, 3, 2))
        hidden = scaled(4096, self.width)
        return _classifier_head(x, see, self.num_outputs, train=train, hidden=hidden)


class VGG(nn.Module):
    """The book's VGG (7.2): blocks of 3×3 convolutions (padding 1) and ReLU, each block
    ending in a 2×2 max-pooling, then AlexNet's dense layers. ``arch`` is the book's
    ``conv_arch``, ``((convolutions, channels), ...)``: :data:`SMALL_VGG` (the one the book
    trains, VGG-11's channels divided by 4) by default, :data:`VGG11` the full one."""

    num_outputs: int = 10
    arch: Sequence[tuple[int, int]] = SMALL_VGG
    width: float = 1.0

    @nn.compact
    def __call__(self, x, train: bool = False):
        _check_images(x, "VGG", 2 ** len(self.arch))
        see = _recorder(self)
        for num_convs, features in self.arch:
            for _ in range(num_convs):
                x = nn.relu(_conv(x, scaled(features, self.width), 3, padding=1))
            x = see("Sequential", _max_pool(x, 2, 2))
        hidden = scaled(4096, self.width)
        return _classifier_head(x, see, self.num_outputs, train=train, hidden=hidden)


def _nin_block(x, features, size, stride, padding):
    x = nn.relu(_conv(x, features, size, stride=stride, padding=padding))
    for _ in range(2):
        x = nn.relu(_conv(x, features, 1))
    return x


class NiN(nn.Module):
    """The book's NiN (7.3): four NiN blocks (a convolution, then two 1×1 convolutions, each
    with ReLU) of 96, 256, 384 and ``num_outputs`` channels, max-pooling between them,
    dropout 0.5 before the last, and global average pooling in place of dense layers."""

    num_outputs: int = 10
    width: float = 1.0

    @nn.compact
    def __call__(self, x, train: bool = False):
        _check_images(x, "NiN", 67)
        see = _recorder(self)
        for features, size, stride, padding in ((96, 11, 4, 0), (256, 5, 1, 2), (384, 3, 1, 1)):
            x = see(
                "Sequential", _nin_block(x, scaled(features, self.width), size, stride, padding)
            )
            x = see("MaxPool2d", _max_pool(x, 3, 2))
        x = see("Dropout", nn.Dropout(0.5, deterministic=not train)(x))
        x = see("Sequential", _nin_block(x, self.num_outputs, 3, 1, 1))
        x = see("AdaptiveAvgPool2d", x.mean(axis=(1, 2), keepdims=True))
        return see("Flatten", x.reshape(x.shape[0], -1))


class Inception(nn.Module):
    """The book's Inception block: four paths (1×1; 1×1 then 3×3; 1×1 then 5×5; 3×3
    max-pooling then 1×1), each ending in ReLU, concatenated along the channels."""

    c1: int
    c2: tuple[int, int]
    c3: tuple[int, int]
    c4: int

    @nn.compact
    def __call__(self, x):
        p1 = nn.relu(_conv(x, self.c1, 1))
        p2 = nn.relu(_conv(nn.relu(_conv(x, self.c2[0], 1)), self.c2[1], 3, padding=1))
        p3 = nn.relu(_conv(nn.relu(_conv(x, self.c3[0], 1)), self.c3[1], 5, padding=2))
        p4 = nn.relu(_conv(_max_pool(x, 3, 1, 1), self.c4, 1))
        return jnp.concatenate([p1, p2, p3, p4], axis=-1)


class GoogLeNet(nn.Module):
    """The book's GoogLeNet (7.4): a 7×7 and a 1×1-then-3×3 stem, then 2, 5 and 2 Inception
    blocks, global average pooling and one dense layer."""

    num_outputs: int = 10
    width: float = 1.0

    @nn.compact
    def __call__(self, x, train: bool = False):
        _check_images(x, "GoogLeNet", 1)
        see = _recorder(self)
        w = functools.partial(scaled, width=self.width)
        x = _max_pool(nn.relu(_conv(x, w(64), 7, stride=2, padding=3)), 3, 2, 1)
        x = see("Sequential", x)
        x = nn.relu(_conv(nn.relu(_conv(x, w(64), 1)), w(192), 3, padding=1))
        x = see("Sequential", _max_pool(x, 3, 2, 1))
        for stage in (INCEPTION_B3, INCEPTION_B4):
            for channels in stage:
                x = Inception(*w(channels))(x)
            x = see("Sequential", _max_pool(x, 3, 2, 1))
        for channels in INCEPTION_B5:
            x = Inception(*w(channels))(x)
        x = see("Sequential", _global_avg_pool(x))
        return see("Linear", dense(self.num_outputs, x.shape[-1])(x))


class Residual(nn.Module):
    """The book's ``Residual``: 3×3 convolution (stride ``strides``), batch norm, ReLU, 3×3
    convolution, batch norm, plus the input (through a 1×1 convolution of stride ``strides``
    when ``use_1x1conv``), then ReLU."""

    features: int
    use_1x1conv: bool = False
    strides: int = 1

    @nn.compact
    def __call__(self, x, train: bool = False, mask=None):
        y = _conv(x, self.features, 3, stride=self.strides, padding=1)
        y = nn.relu(_norm(y, train, mask))
        y = _norm(_conv(y, self.features, 3, padding=1), train, mask)
        if self.use_1x1conv:
            x = _conv(x, self.features, 1, stride=self.strides)
        return nn.relu(y + x)


def _stem(x, see, train, mask, width):
    """ResNet's and DenseNet's first block: 7×7 convolution of 64 (stride 2), batch norm,
    ReLU, 3×3 max-pooling (stride 2)."""
    x = nn.relu(_norm(_conv(x, scaled(64, width), 7, stride=2, padding=3), train, mask))
    return see("Sequential", _max_pool(x, 3, 2, 1))


class ResNet18(nn.Module):
    """The book's ResNet-18 (7.6): the stem, four stages of two residual blocks (64, 128,
    256, 512 channels; each stage after the first halves height and width and starts with a
    1×1 convolution on the shortcut), global average pooling and one dense layer."""

    num_outputs: int = 10
    width: float = 1.0

    @nn.compact
    def __call__(self, x, train: bool = False, mask=None):
        _check_images(x, "ResNet18", 1)
        see = _recorder(self)
        x = _stem(x, see, train, mask, self.width)
        for stage, (features, blocks) in enumerate(RESNET18):
            for i in range(blocks):
                first = i == 0 and stage > 0
                block = Residual(
                    scaled(features, self.width), use_1x1conv=first, strides=2 if first else 1
                )
                x = block(x, train, mask)
            x = see("Sequential", x)
        x = see("AdaptiveAvgPool2d", _global_avg_pool(x)[:, None, None, :])
        x = see("Flatten", x.reshape(x.shape[0], -1))
        return see("Linear", dense(self.num_outputs, x.shape[-1])(x))


def _conv_block(x, features, train, mask):
    """DenseNet's ``conv_block``: batch norm, ReLU, 3×3 convolution (padding 1)."""
    return _conv(nn.relu(_norm(x, train, mask)), features, 3, padding=1)


class DenseNet(nn.Module):
    """The book's DenseNet (7.7): the stem, four dense blocks of four convolution blocks
    (growth rate 32: each block's output joins its input along the channels), transition
    blocks between them (batch norm, ReLU, 1×1 convolution halving the channels, 2×2 average
    pooling), then batch norm, ReLU, global average pooling and one dense layer."""

    num_outputs: int = 10
    width: float = 1.0

    @nn.compact
    def __call__(self, x, train: bool = False, mask=None):
        _check_images(x, "DenseNet", 29)
        see = _recorder(self)
        x = _stem(x, see, train, mask, self.width)
        convs = DENSENET["convs"]
        for i, num_convs in enumerate(convs):
            for _ in range(num_convs):
                y = _conv_block(x, scaled(DENSENET["growth_rate"], self.width), train, mask)
                x = jnp.concatenate([x, y], axis=-1)
            see("DenseBlk", x)
            if i < len(convs) - 1:
                x = _conv(nn.relu(_norm(x, train, mask)), x.shape[-1] // 2, 1)
                x = see("Sequential", nn.avg_pool(x, (2, 2), strides=(2, 2)))
        x = see("BatchNorm2d", _norm(x, train, mask))
        x = see("ReLU", nn.relu(x))
        x = see("AdaptiveAvgPool2d", _global_avg_pool(x)[:, None, None, :])
        x = see("Flatten", x.reshape(x.shape[0], -1))
        return see("Linear", dense(self.num_outputs, x.shape[-1])(x))


# name: (module class, the book's image size, has dropout)
NETWORKS = {
    "alexnet": (AlexNet, 224, True),
    "vgg": (VGG, 224, True),
    "nin": (NiN, 224, True),
    "googlenet": (GoogLeNet, 96, False),
    "resnet18": (ResNet18, 96, False),
    "densenet": (DenseNet, 96, False),
}


def network(name: str, num_outputs: int = 10, *, width: float = 1.0) -> nn.Module:
    """The module of one of :data:`NETWORKS` by name, with every layer's channel count but the
    output's times ``width`` (1: the book's).

    >>> network("resnet18").num_outputs
    10
    """
    if name not in NETWORKS:
        raise InputError(f"network: expected one of {sorted(NETWORKS)}, got {name!r}")
    check_number(width, "width", low=0, strict=True)
    return NETWORKS[name][0](check_int(num_outputs, "num_outputs", low=1), width=float(width))


def concise_network(module: nn.Module) -> Model:
    """A Model of one of this module's networks: flax's ``batch_stats`` as its state, and the
    ``"dropout"`` stream for the networks with dropout.

    >>> sorted(concise_network(ResNet18()).needs), sorted(concise_network(AlexNet()).needs)
    (['mask', 'train'], ['key', 'train'])
    """
    has_dropout = isinstance(module, (AlexNet, VGG, NiN))
    return from_flax(module, rngs=("dropout",) if has_dropout else ())


def resized(model: Model, size: int) -> Model:
    """``model`` on images resized to ``size`` × ``size`` first (bilinear, as the book's
    ``Resize`` transform), inside its ``init`` and ``apply``: the engine's batch scan resizes one
    minibatch at a time, and the resized data set never exists. The config records the size.

    >>> model = resized(concise_network(ResNet18()), 32)
    >>> model.config["resize"], model.needs == concise_network(ResNet18()).needs
    (32, True)
    """
    size = check_int(size, "size", low=1)

    def resize(x):
        return jax.image.resize(x, (x.shape[0], size, size, x.shape[-1]), "bilinear")

    def apply(params, state, x, **options):
        return model.apply(params, state, resize(x), **options)

    config = {**(model.config or {}), "resize": size}
    return Model(lambda key, x: model.init(key, resize(x)), apply, config, model.needs)


def block_shapes(module: nn.Module, x) -> tuple[list[tuple[str, tuple]], int]:
    """Each top-level block's name and output shape for the input ``x`` (an array or a
    ``jax.ShapeDtypeStruct``), and the number of parameters: shapes only, nothing computed.

    >>> shapes, n = block_shapes(ResNet18(), jax.ShapeDtypeStruct((1, 96, 96, 1), jnp.float32))
    >>> shapes[0], shapes[-1], n
    (('Sequential', (1, 24, 24, 64)), ('Linear', (1, 10)), 11178378)
    """
    variables = jax.eval_shape(module.init, jax.random.key(0), x)
    _, recorded = jax.eval_shape(
        lambda v, x: module.apply(v, x, mutable=["intermediates"]), variables, x
    )
    shapes = [
        (key.split(" ", 1)[1], value[0].shape)
        for key, value in sorted(recorded["intermediates"].items())
    ]
    return shapes, sum(leaf.size for leaf in jax.tree.leaves(variables["params"]))

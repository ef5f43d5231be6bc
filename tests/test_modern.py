"""The chapter-7 networks: parameter counts against PyTorch's networks built as the book builds
them, each block's output shape against the shapes the book prints, the flax models training
and evaluating with their state and dropout, and bad input refused."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.errors import InputError
from jaxdl.models.modern import (
    NETWORKS,
    VGG,
    VGG11,
    AlexNet,
    DenseNet,
    GoogLeNet,
    NiN,
    ResNet18,
    block_shapes,
    concise_network,
    network,
)

# sum(p.numel() for p in net.parameters()) of the PyTorch networks below (torch 2.13), for the
# machines without torch; test_the_recorded_counts_are_pytorchs checks them where it is there
PYTORCH_COUNTS = {
    "alexnet": 46764746,
    "vgg": 43093322,
    "nin": 1992166,
    "googlenet": 5977530,
    "resnet18": 11178378,
    "densenet": 758226,
    "vgg11": 128806154,
}


def torch_networks(torch):
    """The book's (d2l-zh 7.1–7.7) PyTorch networks, written as the book writes them."""
    nn = torch.nn

    def alexnet():
        return nn.Sequential(
            nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2), nn.Flatten(),
            nn.Linear(6400, 4096), nn.ReLU(), nn.Dropout(p=0.5),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=0.5),
            nn.Linear(4096, 10),
        )  # fmt: skip

    def vgg_block(num_convs, in_channels, out_channels):
        layers = []
        for _ in range(num_convs):
            layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
            in_channels = out_channels
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        return nn.Sequential(*layers)

    def vgg(conv_arch):
        conv_blks, in_channels = [], 1
        for num_convs, out_channels in conv_arch:
            conv_blks.append(vgg_block(num_convs, in_channels, out_channels))
            in_channels = out_channels
        return nn.Sequential(
            *conv_blks, nn.Flatten(),
            nn.Linear(out_channels * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(4096, 10),
        )  # fmt: skip

    def nin_block(in_channels, out_channels, kernel_size, strides, padding):
        return nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding), nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        )  # fmt: skip

    def nin():
        return nn.Sequential(
            nin_block(1, 96, kernel_size=11, strides=4, padding=0),
            nn.MaxPool2d(3, stride=2),
            nin_block(96, 256, kernel_size=5, strides=1, padding=2),
            nn.MaxPool2d(3, stride=2),
            nin_block(256, 384, kernel_size=3, strides=1, padding=1),
            nn.MaxPool2d(3, stride=2),
            nn.Dropout(0.5),
            nin_block(384, 10, kernel_size=3, strides=1, padding=1),
            nn.AdaptiveAvgPool2d((1, 1)),
            nn.Flatten(),
        )

    class Inception(nn.Module):
        def __init__(self, in_channels, c1, c2, c3, c4):
            super().__init__()
            self.p1_1 = nn.Conv2d(in_channels, c1, kernel_size=1)
            self.p2_1 = nn.Conv2d(in_channels, c2[0], kernel_size=1)
            self.p2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
            self.p3_1 = nn.Conv2d(in_channels, c3[0], kernel_size=1)
            self.p3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
            self.p4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
            self.p4_2 = nn.Conv2d(in_channels, c4, kernel_size=1)

    def googlenet():
        b1 = nn.Sequential(
            nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )  # fmt: skip
        b2 = nn.Sequential(
            nn.Conv2d(64, 64, kernel_size=1), nn.ReLU(),
            nn.Conv2d(64, 192, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )  # fmt: skip
        b3 = nn.Sequential(
            Inception(192, 64, (96, 128), (16, 32), 32),
            Inception(256, 128, (128, 192), (32, 96), 64),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        b4 = nn.Sequential(
            Inception(480, 192, (96, 208), (16, 48), 64),
            Inception(512, 160, (112, 224), (24, 64), 64),
            Inception(512, 128, (128, 256), (24, 64), 64),
            Inception(512, 112, (144, 288), (32, 64), 64),
            Inception(528, 256, (160, 320), (32, 128), 128),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        b5 = nn.Sequential(
            Inception(832, 256, (160, 320), (32, 128), 128),
            Inception(832, 384, (192, 384), (48, 128), 128),
            nn.AdaptiveAvgPool2d((1, 1)),
            nn.Flatten(),
        )
        return nn.Sequential(b1, b2, b3, b4, b5, nn.Linear(1024, 10))

    class Residual(nn.Module):
        def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = nn.Conv2d(
                input_channels, num_channels, kernel_size=3, padding=1, stride=strides
            )
            self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
            self.conv3 = (
                nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides)
                if use_1x1conv
                else None
            )
            self.bn1 = nn.BatchNorm2d(num_channels)
            self.bn2 = nn.BatchNorm2d(num_channels)

    def resnet_block(input_channels, num_channels, num_residuals, first_block=False):
        blk = []
        for i in range(num_residuals):
            if i == 0 and not first_block:
                blk.append(Residual(input_channels, num_channels, use_1x1conv=True, strides=2))
            else:
                blk.append(Residual(num_channels, num_channels))
        return blk

    def stem():
        return nn.Sequential(
            nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3), nn.BatchNorm2d(64), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )  # fmt: skip

    def resnet18():
        return nn.Sequential(
            stem(),
            nn.Sequential(*resnet_block(64, 64, 2, first_block=True)),
            nn.Sequential(*resnet_block(64, 128, 2)),
            nn.Sequential(*resnet_block(128, 256, 2)),
            nn.Sequential(*resnet_block(256, 512, 2)),
            nn.AdaptiveAvgPool2d((1, 1)),
            nn.Flatten(),
            nn.Linear(512, 10),
        )

    def conv_block(input_channels, num_channels):
        return nn.Sequential(
            nn.BatchNorm2d(input_channels), nn.ReLU(),
            nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1),
        )  # fmt: skip

    class DenseBlock(nn.Module):
        def __init__(self, num_convs, input_channels, num_channels):
            super().__init__()
            self.net = nn.Sequential(
                *[conv_block(num_channels * i + input_channels, num_channels)
                  for i in range(num_convs)]
            )  # fmt: skip

    def transition_block(input_channels, num_channels):
        return nn.Sequential(
            nn.BatchNorm2d(input_channels), nn.ReLU(),
            nn.Conv2d(input_channels, num_channels, kernel_size=1),
            nn.AvgPool2d(kernel_size=2, stride=2),
        )  # fmt: skip

    def densenet():
        num_channels, growth_rate = 64, 32
        num_convs_in_dense_blocks = [4, 4, 4, 4]
        blks = []
        for i, num_convs in enumerate(num_convs_in_dense_blocks):
            blks.append(DenseBlock(num_convs, num_channels, growth_rate))
            num_channels += num_convs * growth_rate
            if i != len(num_convs_in_dense_blocks) - 1:
                blks.append(transition_block(num_channels, num_channels // 2))
                num_channels = num_channels // 2
        return nn.Sequential(
            stem(), *blks, nn.BatchNorm2d(num_channels), nn.ReLU(),
            nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(num_channels, 10),
        )  # fmt: skip

    ratio = 4
    return {
        "alexnet": alexnet,
        "vgg": lambda: vgg([(n, c // ratio) for n, c in VGG11]),
        "vgg11": lambda: vgg(VGG11),
        "nin": nin,
        "googlenet": googlenet,
        "resnet18": resnet18,
        "densenet": densenet,
    }


def torch_count(net) -> int:
    return sum(p.numel() for p in net.parameters())


# ours by name: the six networks, and VGG-11 at full width (the book prints its shapes)
def ours(name):
    return VGG(arch=VGG11) if name == "vgg11" else network(name)


def image(name):
    size = NETWORKS["vgg" if name == "vgg11" else name][1]
    return jax.ShapeDtypeStruct((1, size, size, 1), jnp.float32)


@pytest.mark.parametrize("name", sorted(PYTORCH_COUNTS))
def test_parameter_count_equals_pytorchs(name):
    _, count = block_shapes(ours(name), image(name))
    assert count == PYTORCH_COUNTS[name]


def test_the_recorded_counts_are_pytorchs():
    torch = pytest.importorskip("torch")
    built = {name: torch_count(make()) for name, make in torch_networks(torch).items()}
    assert built == PYTORCH_COUNTS


# The shapes the book prints (d2l-zh 7.1–7.6, for one 1-channel image; NCHW there, NHWC here)
BOOK_SHAPES = {
    "alexnet": [
        ("Conv2d", (54, 54, 96)), ("ReLU", (54, 54, 96)), ("MaxPool2d", (26, 26, 96)),
        ("Conv2d", (26, 26, 256)), ("ReLU", (26, 26, 256)), ("MaxPool2d", (12, 12, 256)),
        ("Conv2d", (12, 12, 384)), ("ReLU", (12, 12, 384)),
        ("Conv2d", (12, 12, 384)), ("ReLU", (12, 12, 384)),
        ("Conv2d", (12, 12, 256)), ("ReLU", (12, 12, 256)), ("MaxPool2d", (5, 5, 256)),
        ("Flatten", (6400,)), ("Linear", (4096,)), ("ReLU", (4096,)), ("Dropout", (4096,)),
        ("Linear", (4096,)), ("ReLU", (4096,)), ("Dropout", (4096,)), ("Linear", (10,)),
    ],
    "nin": [
        ("Sequential", (54, 54, 96)), ("MaxPool2d", (26, 26, 96)),
        ("Sequential", (26, 26, 256)), ("MaxPool2d", (12, 12, 256)),
        ("Sequential", (12, 12, 384)), ("MaxPool2d", (5, 5, 384)), ("Dropout", (5, 5, 384)),
        ("Sequential", (5, 5, 10)), ("AdaptiveAvgPool2d", (1, 1, 10)), ("Flatten", (10,)),
    ],
    "googlenet": [
        ("Sequential", (24, 24, 64)), ("Sequential", (12, 12, 192)),
        ("Sequential", (6, 6, 480)), ("Sequential", (3, 3, 832)), ("Sequential", (1024,)),
        ("Linear", (10,)),
    ],
    "resnet18": [
        ("Sequential", (24, 24, 64)), ("Sequential", (24, 24, 64)),
        ("Sequential", (12, 12, 128)), ("Sequential", (6, 6, 256)),
        ("Sequential", (3, 3, 512)), ("AdaptiveAvgPool2d", (1, 1, 512)),
        ("Flatten", (512,)), ("Linear", (10,)),
    ],
}  # fmt: skip
# the book prints VGG-11's shapes at full width (64, 128, 256, 512, 512 channels)
BOOK_SHAPES["vgg11"] = [
    ("Sequential", (112, 112, 64)), ("Sequential", (56, 56, 128)),
    ("Sequential", (28, 28, 256)), ("Sequential", (14, 14, 512)), ("Sequential", (7, 7, 512)),
    ("Flatten", (25088,)), ("Linear", (4096,)), ("ReLU", (4096,)), ("Dropout", (4096,)),
    ("Linear", (4096,)), ("ReLU", (4096,)), ("Dropout", (4096,)), ("Linear", (10,)),
]  # fmt: skip


@pytest.mark.parametrize("name", sorted(BOOK_SHAPES))
def test_block_shapes_are_the_books(name):
    shapes, _ = block_shapes(ours(name), image(name))
    assert [(n, s[1:]) for n, s in shapes] == BOOK_SHAPES[name]
    assert {s[0] for _, s in shapes} == {1}


@pytest.mark.slow
def test_a_residual_network_trains_its_batch_statistics_over_the_real_examples_only():
    model = concise_network(ResNet18())
    x = jax.random.uniform(jax.random.key(0), (6, 32, 32, 1))
    params, state = model.init(jax.random.key(1), x)
    mask = jnp.arange(6) < 4

    def train(x):
        return jax.jit(lambda p, s, x: model.apply(p, s, x, train=True, mask=mask))(
            params, state, x
        )

    y, new = train(x)
    assert y.shape == (6, 10) and jnp.isfinite(y).all()
    moved = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), state, new)
    assert all(jax.tree.leaves(moved)), "every moving average moves"
    # the padding rows (mask False) do not reach the statistics
    _, same = train(x.at[4:].set(100.0))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), new, same)
    y_eval, kept = model.apply(params, new, x, train=False)
    assert kept is new and not jnp.allclose(y_eval, y)


def fixed_variables(model, x) -> tuple:
    """The model's ``(params, state)`` for inputs like ``x`` without a random draw: init traced
    for the shapes only (``jax.eval_shape``), each array filled with a cosine over its index
    scaled by 1/√fan-in (all axes but the last), which keeps activations of order one through
    many layers. Compiled, the random initialisation of the larger networks (a threefry draw
    per layer) takes most of these tests' time: GoogLeNet 17 s, DenseNet 7 s."""

    def fill(shape: jax.ShapeDtypeStruct) -> np.ndarray:  # NumPy: nothing to compile
        values = np.cos(np.arange(np.prod(shape.shape))).reshape(shape.shape)
        return (values / np.sqrt(np.prod(shape.shape[:-1]))).astype(shape.dtype)

    return jax.tree.map(fill, jax.eval_shape(model.init, jax.random.key(1), x))


@pytest.mark.parametrize("module", [AlexNet(), NiN()], ids=["alexnet", "nin"])
def test_dropout_networks_draw_from_the_key_in_training_only(module):
    model = concise_network(module)
    x = jax.random.uniform(jax.random.key(0), (2, 67, 67, 1))
    params, state = fixed_variables(model, x)
    assert state == {}
    train = jax.jit(lambda params, key: model.apply(params, state, x, train=True, key=key)[0])
    a, b = (train(params, jax.random.key(k)) for k in (2, 3))
    assert not jnp.allclose(a, b)
    evaluate = jax.jit(lambda params: model.apply(params, state, x, train=False)[0])
    e1, e2 = evaluate(params), evaluate(params)
    np.testing.assert_array_equal(e1, e2)


@pytest.mark.slow
def test_googlenet_and_densenet_run_at_the_smallest_size_they_take():
    # The forward pass (compiled, about 2 s) on fixed_variables: their random initialisation,
    # compiled, would take 17 and 7 s.
    for module, size in ((GoogLeNet(), 8), (DenseNet(), 29)):
        model = concise_network(module)
        x = jax.random.uniform(jax.random.key(0), (2, size, size, 1))
        params, state = fixed_variables(model, x)
        apply = jax.jit(lambda p, s, x, model=model: model.apply(p, s, x, train=True)[0])
        y = apply(params, state, x)
        assert y.shape == (2, 10) and jnp.isfinite(y).all() and jnp.std(y) > 0


@pytest.mark.parametrize(
    "module, shape, message",
    [
        (ResNet18(), (2, 32, 32, 3), r"ResNet18: expected images \[batch, height, width, 1\]"),
        (GoogLeNet(), (32, 32, 1), r"got shape \(32, 32, 1\)"),
        (AlexNet(), (1, 66, 80, 1), r"AlexNet: expected images of at least 67 × 67.*66 × 80"),
        (NiN(), (1, 60, 60, 1), r"at least 67 × 67"),
        (VGG(), (1, 31, 31, 1), r"VGG: expected images of at least 32 × 32"),
        (DenseNet(), (1, 28, 28, 1), r"DenseNet: expected images of at least 29 × 29"),
    ],
)
def test_bad_images_are_refused_naming_the_network(module, shape, message):
    with pytest.raises(InputError, match=message):
        module.init(jax.random.key(0), jnp.zeros(shape))


def test_width_scales_every_layer_but_the_output():
    shapes, count = block_shapes(network("resnet18", width=0.25), image("resnet18"))
    assert [s[-1] for _, s in shapes] == [16, 16, 32, 64, 128, 128, 128, 10]
    # the same network with a quarter of the channels: the convolutions' weights / 16
    assert count < PYTORCH_COUNTS["resnet18"] / 15
    with pytest.raises(ValueError, match="width"):
        network("resnet18", width=0)


def test_an_unknown_network_is_refused():
    with pytest.raises(InputError, match=r"expected one of \['alexnet'.*got 'lenet'"):
        network("lenet")
    with pytest.raises(InputError, match="num_outputs"):
        network("nin", 0)


# The experiment


@pytest.mark.slow
def test_experiment_quick_trains_each_network_on_resized_minibatches(run_experiment):
    metrics, stdout, out = run_experiment(
        "modern_cnns", "--models", "alexnet", "resnet18", "--width", "0.125"
    )
    assert list(metrics["num_params"]) == ["alexnet", "resnet18"]
    assert metrics["num_params"] == {n: PYTORCH_COUNTS[n] for n in ("alexnet", "resnet18")}
    config = metrics["config"]
    assert config["image_size"] == {"alexnet": 67, "resnet18": 32} and not config["book"]
    flags = metrics["flags"]  # as run: the declaration's QUICK over its CPU size
    assert flags["width"] == 0.125  # QUICK's 0.25, halved here: the channels' multiplier
    assert (flags["train_size"], flags["test_size"], flags["epochs"]) == (256, 128, 1)
    for name, (lr, batch) in {"alexnet": (0.01, 128), "resnet18": (0.05, 256)}.items():
        run = metrics[name]["run"]
        assert run["optimizer"]["learning_rate"] == lr and run["batch_size"] == batch
        assert run["model"]["resize"] == config["image_size"][name]
        assert run["data"]["shapes"][0] == [256, 28, 28, 1]  # the resize is the model's
        assert 0 <= metrics[name]["test_acc"] <= 1
    shapes = metrics["block_shapes"]["resnet18"]
    assert [(b, tuple(s[1:])) for b, s in shapes] == BOOK_SHAPES["resnet18"]
    assert "resnet18 (11,178,378 parameters):" in stdout
    assert "AdaptiveAvgPool2d output shape: (1, 1, 1, 512)" in stdout
    assert (out / "curves.png").exists() and (out / "predictions.png").exists()


@pytest.mark.parametrize("models", ["lenet", "nin,vgg", ""])
def test_a_bad_models_flag_is_refused_naming_it(tmp_path, capsys, models):
    from harness.section import run_script

    with pytest.raises(SystemExit) as exit_:
        run_script("modern_cnns", ["--quick", "--out", str(tmp_path), "--models", models])
    assert exit_.value.code == 2
    assert f"argument --models: invalid choice: '{models}'" in capsys.readouterr().err


def test_a_network_named_twice_is_refused(tmp_path):
    from jaxdl.errors import InputError

    from harness.section import run_script

    with pytest.raises(
        InputError, match=r"models: expected each network once, got \['nin', 'nin'\]"
    ):
        run_script("modern_cnns", ["--quick", "--out", str(tmp_path), "--models", "nin", "nin"])

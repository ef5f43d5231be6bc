"""Models (``jaxdl.model.Model``): from scratch (``stateless``) and as flax.linen modules
(``from_flax``).

Each public name is imported from its module on first use (PEP 562); every model module
defines a flax.linen class, so the first name imports flax.
"""

from jaxdl._lazy import attach

__all__ = attach(
    __name__,
    {
        "autoregressive": [
            "AutoregressiveMLP",
            "autoregressive_mlp",
            "feed_back",
            "k_step_predictions",
            "multistep_predictions",
        ],
        "dropout": ["DropoutMLP", "concise_dropout_mlp", "dropout_layer", "dropout_mlp"],
        "lenet": ["LeNet", "concise_lenet", "lenet_layers", "scratch_lenet"],
        "linear": [
            "LinearRegression",
            "closed_form",
            "concise_linear_regression",
            "least_squares",
            "linear_regression",
        ],
        "mlp": ["MLP", "concise_mlp", "scratch_mlp"],
        "modern": [
            "VGG",
            "AlexNet",
            "DenseNet",
            "GoogLeNet",
            "Inception",
            "NiN",
            "ResNet18",
            "Residual",
            "block_shapes",
            "concise_network",
            "network",
            "resized",
        ],
        "normalization": [
            "BNLeNet",
            "batch_norm",
            "batch_norm_init",
            "bn_lenet",
            "concise_bn_lenet",
        ],
        "softmax": ["SoftmaxRegression", "concise_softmax_regression", "softmax_regression"],
    },
)

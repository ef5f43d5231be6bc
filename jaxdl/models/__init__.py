"""Models as ``Model(init, apply)``: from scratch and as flax.linen modules."""

from jaxdl.models.linear import (
    LinearRegression,
    closed_form,
    concise_linear_regression,
    linear_regression,
)
from jaxdl.models.mlp import MLP, concise_mlp, mlp
from jaxdl.models.softmax import SoftmaxRegression, concise_softmax_regression, softmax_regression

__all__ = [
    "MLP",
    "LinearRegression",
    "SoftmaxRegression",
    "closed_form",
    "concise_linear_regression",
    "concise_mlp",
    "concise_softmax_regression",
    "linear_regression",
    "mlp",
    "softmax_regression",
]

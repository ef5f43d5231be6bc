"""Data: synthetic regression, minibatch schedules, CSV preprocessing, IDX and Fashion-MNIST."""

from jaxdl.data.batching import BatchSchedule, batch_schedule, data_iter, num_batches
from jaxdl.data.fashion_mnist import (
    FashionMNIST,
    Split,
    load_fashion_mnist,
    text_labels,
    to_device,
)
from jaxdl.data.idx import read_idx, write_idx
from jaxdl.data.synthetic import polynomial_data, polynomial_features, synthetic_regression
from jaxdl.data.tabular import (
    TabularData,
    fill_numeric_na,
    load_csv,
    one_hot_encode,
    preprocess,
)

__all__ = [
    "BatchSchedule",
    "FashionMNIST",
    "Split",
    "TabularData",
    "batch_schedule",
    "data_iter",
    "fill_numeric_na",
    "load_csv",
    "load_fashion_mnist",
    "num_batches",
    "one_hot_encode",
    "polynomial_data",
    "polynomial_features",
    "preprocess",
    "read_idx",
    "synthetic_regression",
    "text_labels",
    "to_device",
    "write_idx",
]

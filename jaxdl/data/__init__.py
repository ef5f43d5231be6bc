"""Data: synthetic regression, minibatch schedules, CSV preprocessing, IDX, Fashion-MNIST and
the Kaggle house prices.

Each public name is imported from its module on first use (PEP 562): pandas loads with the
first tabular name, not with ``import jaxdl.data``.
"""

from jaxdl._lazy import attach

__all__ = attach(
    __name__,
    {
        "batching": ["BatchSchedule", "batch_schedule", "data_iter", "num_batches"],
        "fashion_mnist": ["load_fashion_mnist"],
        "fashion_mnist_download": ["download_fashion_mnist"],
        "fashion_mnist_files": ["FashionMNIST", "Split"],
        "house_prices": [
            "HouseFeatures",
            "HousePrices",
            "download_house_prices",
            "house_features",
            "load_house_prices",
        ],
        "house_prices_synthetic": ["write_synthetic_house_prices"],
        "idx": ["read_idx", "write_idx"],
        "images": ["text_labels", "to_device"],
        "synthetic": [
            "high_dimensional_data",
            "polynomial_data",
            "polynomial_features",
            "synthetic_regression",
        ],
        "tabular": [
            "TabularData",
            "fill_numeric_na",
            "load_csv",
            "one_hot_encode",
            "preprocess",
        ],
    },
)

"""Data: synthetic regression, minibatch schedules, CSV preprocessing, IDX, Fashion-MNIST, the
Kaggle house prices, and text: The Time Machine, tokens, vocabularies and sequence minibatches.

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
        "sequences": [
            "SeqBatches",
            "max_seq_batches",
            "random_partition",
            "seq_minibatches",
            "sequential_partition",
        ],
        "synthetic": [
            "high_dimensional_data",
            "lag_features",
            "noisy_sine",
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
        "text": ["Vocab", "count_corpus", "tokenize"],
        "time_machine": [
            "download_time_machine",
            "find_time_machine",
            "load_corpus_time_machine",
            "load_time_machine",
            "read_time_machine",
        ],
    },
)

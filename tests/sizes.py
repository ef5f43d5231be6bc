"""The smallest settings each section runs with in the tests, smaller than ``--quick`` where
its run takes more than a few seconds here: tests/test_sections.py runs every section with
them in-process, tests/test_notebooks.py as a notebook in a kernel.

A plain module, not a test file (``tests/`` is on ``sys.path``, as for ``references``)."""

CLASSIFIER = ["--epochs", "1", "--train-size", "512", "--test-size", "256"]
TINY = {
    "softmax_regression": CLASSIFIER,
    "mlp": CLASSIFIER,
    "dropout": CLASSIFIER,
    "initialization": CLASSIFIER,
    "lenet": CLASSIFIER,
    "batch_norm": CLASSIFIER,
    "modern_cnns": [*CLASSIFIER[:2], "--models", "resnet18", "--width", "0.125"],
    "polynomial_regression": ["--epochs", "5", "--overfit-epochs", "5"],
    "kfold": ["--epochs", "5"],
    "weight_decay": ["--epochs", "5"],
    "kaggle_house_prices": ["--epochs", "3"],
}

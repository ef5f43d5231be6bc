"""What every experiment script shares: the standard flags and where results go.

Scripts import it as ``common`` (``python experiments/NAME.py`` puts this folder on the path).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from jaxdl.results import write_json

RESULTS_ROOT = Path("results")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite float > 0."""
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def parser(
    name: str,
    doc: str | None,
    *,
    epochs: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    data_dir: bool = False,
) -> argparse.ArgumentParser:
    """An ArgumentParser with the flags shared by every experiment.

    Flags whose default is None here are left out: a script without training has no --epochs.
    """
    p = argparse.ArgumentParser(
        prog=f"{name}.py", description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    if epochs is not None:
        p.add_argument("--epochs", type=non_negative_int, default=epochs, help="training epochs")
    if lr is not None:
        p.add_argument("--lr", type=positive_float, default=lr, help="learning rate")
    if batch_size is not None:
        p.add_argument("--batch-size", type=positive_int, default=batch_size, help="minibatch size")
    if data_dir:
        p.add_argument(
            "--data-dir", type=Path, default=None, help="folder of the Fashion-MNIST IDX files"
        )
    p.add_argument("--seed", type=int, default=0, help="root of every random key")
    p.add_argument(
        "--out", type=Path, default=RESULTS_ROOT / name, help="folder for metrics.json and PNGs"
    )
    p.add_argument("--quick", action="store_true", help="a seconds-long run on small data")
    return p


def save_metrics(out: Path, metrics: dict) -> Path:
    """Writes ``out/metrics.json`` atomically and says where."""
    path = write_json(out / "metrics.json", metrics)
    print(f"wrote {path}")
    return path

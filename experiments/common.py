"""What every experiment script shares: the standard flags and where results go.

Scripts import it as ``common`` (``python experiments/NAME.py`` puts this folder on the path).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.data.fashion_mnist import load_fashion_mnist, show_images, text_labels, to_device
from jaxdl.metrics import correct
from jaxdl.parallel import data_mesh, initialize_distributed
from jaxdl.plotting import new_figure, plot, save_figure
from jaxdl.results import write_json
from jaxdl.train import fit

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


def device_count(text: str) -> int | str:
    """argparse type: ``all`` or an integer >= 1."""
    return text if text == "all" else positive_int(text)


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
        p.add_argument(
            "--devices",
            type=device_count,
            default=1,
            help="train data-parallel over N local devices, or 'all' (default 1)",
        )
        p.add_argument("--coordinator", default=None, help="multi-process: host:port of process 0")
        p.add_argument("--num-processes", type=positive_int, default=None)
        p.add_argument("--process-id", type=int, default=None)
        p.add_argument(
            "--checkpoint-dir",
            type=Path,
            default=None,
            help="save a checkpoint per epoch in DIR/VARIANT and resume from it when present",
        )
    p.add_argument("--seed", type=int, default=0, help="root of every random key")
    p.add_argument(
        "--out", type=Path, default=RESULTS_ROOT / name, help="folder for metrics.json and PNGs"
    )
    p.add_argument("--quick", action="store_true", help="a seconds-long run on small data")
    return p


def writes_results() -> bool:
    """True in a single-process run and in process 0 of a multi-process run: the one process
    that writes results, so processes sharing a folder do not write the same files."""
    return jax.process_index() == 0


def save_metrics(out: Path, metrics: dict) -> Path | None:
    """Writes ``out/metrics.json`` atomically and says where (process 0 only)."""
    if not writes_results():
        print(f"process {jax.process_index()}: results are written by process 0")
        return None
    path = write_json(out / "metrics.json", metrics)
    print(f"wrote {path}")
    return path


QUICK_TRAIN, QUICK_TEST = 2000, 500


def fashion_mnist_on_device(args):
    """Loads Fashion-MNIST and moves it to the device once: ``(x_train, y_train, x_test,
    y_test, test_images)``; images float32 [N, 784] in [0, 1], labels int32 [N], and the
    uint8 test images [N, 28, 28] kept on the host for figures. ``--quick`` keeps the first
    2000 training and 500 test examples."""
    start = time.perf_counter()
    data = load_fashion_mnist(args.data_dir)
    train, test = data.train, data.test
    if args.quick:
        train = type(train)(train.images[:QUICK_TRAIN], train.labels[:QUICK_TRAIN])
        test = type(test)(test.images[:QUICK_TEST], test.labels[:QUICK_TEST])
    arrays = (
        to_device(train.images),
        jnp.asarray(train.labels),
        to_device(test.images),
        jnp.asarray(test.labels),
    )
    arrays[-1].block_until_ready()
    print(
        f"Fashion-MNIST: {len(train.labels)} training and {len(test.labels)} test images "
        f"on {arrays[0].devices()} in {time.perf_counter() - start:.2f} s"
    )
    return (*arrays, test.images)


def train_classifiers(args, variants: dict) -> dict:
    """Trains each ``{name: (model, loss, optimizer)}`` on Fashion-MNIST as the book's
    ``train_ch3``, prints its epochs, draws ``curves.png`` (train loss, train acc, test acc
    against epoch, one panel per variant) and ``predictions.png`` (test images with true and
    predicted labels, one row per variant), and returns the metrics of each variant.
    """
    if args.coordinator == "auto":
        initialize_distributed()
    elif args.coordinator or args.num_processes or args.process_id is not None:
        initialize_distributed(args.coordinator, args.num_processes, args.process_id)
    x_train, y_train, x_test, y_test, test_images = fashion_mnist_on_device(args)
    devices = "all" if jax.process_count() > 1 and args.devices == 1 else args.devices
    mesh = None if devices == 1 else data_mesh(devices)
    if mesh is not None:
        print(
            f"process {jax.process_index()} of {jax.process_count()}: data parallel over "
            f"{mesh.size} devices: {mesh.devices.tolist()}"
        )
    keys = jax.random.split(jax.random.key(args.seed), len(variants))
    metrics, predictions = {}, {}
    for key, (name, (model, loss, optimizer)) in zip(keys, variants.items(), strict=True):
        result = fit(
            model,
            loss,
            optimizer,
            (x_train, y_train),
            epochs=args.epochs,
            batch_size=args.batch_size,
            key=key,
            eval_data=(x_test, y_test),
            metrics={"acc": correct},
            desc=name,
            mesh=mesh,
            checkpoint_dir=args.checkpoint_dir and args.checkpoint_dir / name,
        )
        h = result.history
        history = {
            "train_loss": h.get("train_loss", []),
            "train_acc": h.get("train_acc", []),
            "test_loss": h.get("eval_loss", []),
            "test_acc": h.get("eval_acc", []),
        }
        for e, values in enumerate(zip(*history.values(), strict=True), 1):
            loss_value, train_acc, _, test_acc = values
            print(
                f"{name} epoch {e}: loss {loss_value:.3f}, train acc {train_acc:.3f}, "
                f"test acc {test_acc:.3f}"
            )
        seconds = h.get("seconds", [])
        steady = seconds[1:] or seconds
        metrics[name] = {
            "test_acc": history["test_acc"][-1] if args.epochs else None,
            "train_acc": history["train_acc"][-1] if args.epochs else None,
            "train_loss": history["train_loss"][-1] if args.epochs else None,
            "history": history,
            "seconds_per_epoch": float(np.median(steady)) if steady else None,
        }
        logits = model.apply(result.state.params, x_test[:8])
        predictions[name] = np.asarray(jnp.argmax(logits, axis=-1))

    if args.epochs and writes_results():
        fig, axes = new_figure((4.0 * len(metrics), 3.0), ncols=len(metrics))
        for ax, (name, m) in zip(np.atleast_1d(axes), metrics.items(), strict=True):
            h = m["history"]
            epochs = np.arange(1, len(h["train_loss"]) + 1)
            plot(
                epochs,
                [h["train_loss"], h["train_acc"], h["test_acc"]],
                "epoch",
                legend=["train loss", "train acc", "test acc"],
                xlim=(1, max(len(epochs), 2)),
                axes=ax,
            )
            ax.set_title(name)
        save_figure(fig, args.out / "curves.png")

    true = text_labels(np.asarray(y_test[:8]))
    rows = [
        f"{t}\n{p}"
        for name in predictions
        for t, p in zip(true, text_labels(predictions[name]), strict=True)
    ]
    images = np.concatenate([test_images[:8]] * len(predictions))
    if writes_results():
        fig = show_images(images, len(predictions), 8, titles=rows)
        fig.suptitle(f"true / predicted label; rows: {', '.join(predictions)}")
        save_figure(fig, args.out / "predictions.png")
    for name, m in metrics.items():
        if args.epochs:
            print(
                f"{name}: loss {m['train_loss']:.3f}, train acc {m['train_acc']:.3f}, "
                f"test acc {m['test_acc']:.3f}, {m['seconds_per_epoch']:.2f} s/epoch"
            )
    return metrics

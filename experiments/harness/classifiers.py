"""The Fashion-MNIST classifiers' training and report, as the book's ``train_ch3`` and
``predict_ch3``: the data on the device, every variant trained (several seeds at once with
``--seeds``, data-parallel with ``--devices``), then the metrics and the figures
(``curves.png``, ``predictions.png``). ``softmax_regression.py``, ``mlp.py`` and ``dropout.py``
use it.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.data.fashion_mnist import load_fashion_mnist, text_labels, to_device
from jaxdl.engine import Result, fit
from jaxdl.engine.progress import ProgressBoard
from jaxdl.metrics import correct
from jaxdl.model import predict
from jaxdl.parallel import setup_devices
from jaxdl.plotting import classifier_curves, predictions_figure

from harness.report import with_spread

QUICK_TRAIN, QUICK_TEST = 2000, 500


class ClassifierData(NamedTuple):
    """Fashion-MNIST on the device: images float32 [N, 28, 28, 1] in [0, 1], labels int32 [N],
    and the uint8 test images [N, 28, 28] kept on the host for figures."""

    train: tuple[jax.Array, jax.Array]
    test: tuple[jax.Array, jax.Array]
    test_images: np.ndarray


def fashion_mnist_on_device(data_dir: Path | None, *, quick: bool) -> ClassifierData:
    """Loads Fashion-MNIST and moves it to the device once; ``quick`` keeps the first 2000
    training and 500 test examples."""
    start = time.perf_counter()
    data = load_fashion_mnist(data_dir)
    train, test = data.train, data.test
    if quick:
        train = type(train)(train.images[:QUICK_TRAIN], train.labels[:QUICK_TRAIN])
        test = type(test)(test.images[:QUICK_TEST], test.labels[:QUICK_TEST])
    x_train, y_train = to_device(train.images), jnp.asarray(train.labels)
    x_test, y_test = to_device(test.images), jnp.asarray(test.labels)
    y_test.block_until_ready()
    print(
        f"Fashion-MNIST: {len(train.labels)} training and {len(test.labels)} test images "
        f"on {x_train.devices()} in {time.perf_counter() - start:.2f} s"
    )
    return ClassifierData((x_train, y_train), (x_test, y_test), test.images)


def subset(data: ClassifierData, train_size: int | None, test_size: int | None) -> ClassifierData:
    """The first ``train_size`` training and ``test_size`` test examples of ``data`` (None:
    all of them)."""
    (x, y), (x_test, y_test) = data.train, data.test
    train, test = slice(train_size), slice(test_size)
    return ClassifierData(
        (x[train], y[train]), (x_test[test], y_test[test]), data.test_images[test]
    )


def mesh_from_flags(devices, coordinator, num_processes, process_id, timeout=300.0):
    """The training mesh of the flags ``--devices``, ``--coordinator``, ``--num-processes``,
    ``--process-id`` and ``--distributed-timeout`` (:func:`jaxdl.parallel.setup_devices`);
    says what it spans."""
    mesh = setup_devices(
        devices,
        coordinator=coordinator,
        num_processes=num_processes,
        process_id=process_id,
        timeout=timeout,
    )
    if mesh is not None:
        print(
            f"process {jax.process_index()} of {jax.process_count()}: data parallel over "
            f"{mesh.size} devices: {mesh.devices.tolist()}"
        )
    return mesh


def train_classifiers(
    variants: dict,
    data: ClassifierData,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    seeds: int = 1,
    mesh=None,
    checkpoint_dir: Path | None = None,
) -> dict[str, Result]:
    """Trains each ``{name: (model, loss, optimizer)}`` on Fashion-MNIST as the book's
    ``train_ch3`` (accuracy on the training minibatches and on the test set after each epoch),
    each variant with its own key from ``seed``; shows every epoch as it ends (the curves
    redrawn in a notebook, a line in a terminal: :class:`jaxdl.engine.progress.ProgressBoard`).
    With ``seeds`` N > 1, the seeds ``seed .. seed + N - 1`` train at once (a batch of keys:
    one program), each with the keys the seed alone would have; histories are [N, epochs]
    then."""
    keys = jax.vmap(lambda s: jax.random.split(jax.random.key(s), len(variants)), out_axes=1)(
        jnp.arange(seed, seed + seeds)
    )
    keys = keys[:, 0] if seeds == 1 else keys
    if seeds > 1:
        print(f"each epoch's figures are the means over {seeds} seeds")
    board = ProgressBoard(epochs, runs=list(variants), draw=classifier_curves)
    results = {}
    for key, (name, (model, loss, optimizer)) in zip(keys, variants.items(), strict=True):
        results[name] = fit(
            model,
            loss,
            optimizer,
            data.train,
            epochs=epochs,
            batch_size=batch_size,
            key=key,
            eval_data={"test": data.test},
            metrics={"acc": correct},
            desc=name,
            mesh=mesh,
            checkpoint_dir=checkpoint_dir and checkpoint_dir / name,
            on_epoch=board.run(name),
        )
    return results


HISTORY_KEYS = ("train_loss", "train_acc", "test_loss", "test_acc")


def report_classifiers(variants: dict, results: dict[str, Result], data: ClassifierData):
    """The classifiers' metrics and figures: ``(metrics, {"curves.png": ...,
    "predictions.png": ...})``; prints each variant's final figures."""
    metrics, predicted = {}, {}
    for name, result in results.items():
        seeds = (
            None if result.history["train_loss"].ndim == 1 else len(result.history["train_loss"])
        )
        h = {k: np.atleast_2d(result.history[k]) for k in HISTORY_KEYS}  # [seeds, epochs]
        seconds = result.history["seconds"].tolist()
        steady = seconds[1:] or seconds
        final = {k: h[k][:, -1] for k in ("test_acc", "train_acc", "train_loss")}
        metrics[name] = {
            **{k: float(v.mean()) for k, v in final.items()},
            "history": {k: v.mean(axis=0).tolist() for k, v in h.items()},
            "seconds_per_epoch": float(np.median(steady)),
            "run": result.run.to_dict(),
        }
        if seeds is not None:  # the spread, and every seed's figures
            metrics[name]["std"] = {k: float(v.std(ddof=1)) for k, v in final.items()}
            metrics[name]["per_seed"] = {k: v.tolist() for k, v in final.items()}
        state = result.state
        if seeds is not None:  # the first seed's model
            state = jax.tree.map(lambda a: a[0], state)
        logits = predict(variants[name][0], state, data.test[0][:8])
        predicted[name] = text_labels(np.asarray(jnp.argmax(logits, axis=-1)))
        m = metrics[name]
        print(
            f"{name}: loss {with_spread(m, 'train_loss')}, train acc "
            f"{with_spread(m, 'train_acc')}, test acc {with_spread(m, 'test_acc')}, "
            f"{m['seconds_per_epoch']:.2f} s/epoch"
            + (f" ({seeds} seeds: mean ± standard deviation)" if seeds else "")
        )
    figures = {"curves.png": classifier_curves({n: m["history"] for n, m in metrics.items()})}
    true = text_labels(np.asarray(data.test[1][:8]))
    figures["predictions.png"] = predictions_figure(data.test_images[:8], true, predicted)
    return metrics, figures


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
    """The settings of a Fashion-MNIST experiment's training, from its flags."""

    epochs: int
    batch_size: int
    seed: int = 0
    quick: bool = False
    data_dir: Path | None = None
    devices: int | str = 1
    coordinator: str | None = None
    num_processes: int | None = None
    process_id: int | None = None
    distributed_timeout: float = 300.0
    seeds: int = 1
    checkpoint_dir: Path | None = None

    @classmethod
    def from_flags(cls, args: argparse.Namespace) -> ClassifierConfig:
        """The config of the parsed flags of :func:`parser` (with ``classifiers=True``)."""
        return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})


def train_from_config(variants: dict, config: ClassifierConfig) -> tuple[ClassifierData, dict]:
    """The devices and the data of ``config``, and every variant trained on them:
    ``(data, {name: Result})``."""
    mesh = mesh_from_flags(
        config.devices,
        config.coordinator,
        config.num_processes,
        config.process_id,
        config.distributed_timeout,
    )
    data = fashion_mnist_on_device(config.data_dir, quick=config.quick)
    results = train_classifiers(
        variants,
        data,
        epochs=config.epochs,
        batch_size=config.batch_size,
        seed=config.seed,
        seeds=config.seeds,
        mesh=mesh,
        checkpoint_dir=config.checkpoint_dir,
    )
    return data, results


def train_and_report(variants: dict, config: ClassifierConfig) -> tuple[dict, dict]:
    """A Fashion-MNIST experiment: every variant trained (:func:`train_from_config`), then the
    metrics and figures (:func:`report_classifiers`)."""
    data, results = train_from_config(variants, config)
    return report_classifiers(variants, results, data)

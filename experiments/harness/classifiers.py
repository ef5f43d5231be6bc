"""The Fashion-MNIST classifiers' one door: :func:`train` takes the variants, the data and the
run's configuration, trains every variant as the book's ``train_ch3``/``train_ch6`` (several
seeds at once with ``--seeds``, data-parallel with ``--devices``), and returns the results,
the metrics, the figures (``curves.png``, ``predictions.png``, as ``predict_ch3``) and each
variant's key. :func:`fashion_mnist` loads the data once, onto the device.
"""

from __future__ import annotations

import hashlib
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl._checks import check_fits
from jaxdl.data.fashion_mnist import load_fashion_mnist, text_labels, to_device
from jaxdl.engine import Result, estimate_epoch_seconds, fit
from jaxdl.engine.progress import ProgressBoard
from jaxdl.errors import InputError
from jaxdl.metrics import correct
from jaxdl.model import predict
from jaxdl.parallel import setup_devices
from jaxdl.plotting import classifier_curves, predictions_figure

from harness.config import Config
from harness.report import duration, with_spread

HISTORY_KEYS = ("train_loss", "train_acc", "test_loss", "test_acc")


class ClassifierData(NamedTuple):
    """Images float32 [N, 28, 28, 1] in [0, 1] and labels int32 [N] on the device, the uint8
    test images [N, 28, 28] on the host for figures, and a digest of the data set, taken when
    it was loaded (the run record's fingerprint: the data are not hashed again)."""

    train: tuple[jax.Array, jax.Array]
    test: tuple[jax.Array, jax.Array]
    test_images: np.ndarray
    digest: str

    @classmethod
    def of(cls, train, test) -> ClassifierData:
        """The data of host splits ``(images uint8 [N, 28, 28], labels [N])``, moved to the
        device; the digest is of their bytes."""
        h = hashlib.sha256()
        for a in (*train, *test):
            h.update(np.ascontiguousarray(a).tobytes())
        return cls._on_device(train, test, h.hexdigest())

    @classmethod
    def _on_device(cls, train, test, digest: str) -> ClassifierData:
        x_train, y_train = to_device(train[0]), jnp.asarray(train[1])
        x_test, y_test = to_device(test[0]), jnp.asarray(test[1])
        return cls((x_train, y_train), (x_test, y_test), np.asarray(test[0]), digest)


def fashion_mnist(config: Config) -> ClassifierData:
    """Fashion-MNIST (from ``config.data_dir`` or the usual sources, each file checked by its
    digest), its first ``train_size`` training and ``test_size`` test images where the
    configuration sets them, on the device."""
    start = time.perf_counter()
    data = load_fashion_mnist(config.data_dir)
    sizes = [config.settings.get("train_size"), config.settings.get("test_size")]
    splits = (data.train, data.test)
    for flag, n, split in zip(("--train-size", "--test-size"), sizes, splits, strict=True):
        if n is not None and n > len(split.labels):
            raise InputError(
                f"{flag}: expected at most {len(split.labels)} (Fashion-MNIST's images of that "
                f"split), got {n}"
            )
    train, test = (
        (s.images[:n], s.labels[:n]) for s, n in zip((data.train, data.test), sizes, strict=True)
    )
    digest = hashlib.sha256(repr((sorted(data.digests.items()), sizes)).encode()).hexdigest()
    data = ClassifierData._on_device(train, test, digest)
    data.test[1].block_until_ready()
    print(
        f"Fashion-MNIST: {len(train[1])} training and {len(test[1])} test images "
        f"on {data.train[0].devices()} in {time.perf_counter() - start:.2f} s"
    )
    return data


class Variant(NamedTuple):
    """One classifier to train: its model, per-example loss and optimizer, and its own batch
    size where it is not the configuration's (the modern networks')."""

    model: object
    loss: object
    optimizer: object
    batch_size: int | None = None


class Trained(NamedTuple):
    """What :func:`train` returns: each variant's :class:`jaxdl.engine.Result`, its key (the
    root of its run from ``config.seed``, the first seed's with several: the key a section's own
    loop draws from to meet the engine's run), the metrics (as ``metrics.json`` holds them) and
    the figures (``{file name: Figure}``)."""

    results: dict[str, Result]
    keys: dict[str, jax.Array]
    metrics: dict
    figures: dict


def variant_keys(seed: int, seeds: int, names) -> dict[str, jax.Array]:
    """Each variant's key: the i-th of ``jax.random.split(jax.random.key(seed), n)`` for n
    variants; with ``seeds`` N > 1, a batch of N keys, the i-th of each seed's split."""
    keys = jax.vmap(lambda s: jax.random.split(jax.random.key(s), len(names)), out_axes=1)(
        jnp.arange(seed, seed + seeds)
    )
    return {name: k[0] if seeds == 1 else k for name, k in zip(names, keys, strict=True)}


def _check_sizes(variants: dict, data: ClassifierData, config: Config) -> None:
    """Before any compute, naming the flags to change: each variant's batch fits in the
    training set, and its parameters and their gradients in the machine's memory (from the
    shapes alone: nothing is allocated)."""
    num_train = len(data.train[1])
    size_flags = [
        f"--{f.replace('_', '-')}" for f in ("width", "num_hiddens") if f in config.settings
    ]
    for name, variant in variants.items():
        batch_size = variant.batch_size or config.batch_size
        if batch_size > num_train:
            fix = "raise --train-size" + " or lower --batch-size" * (variant.batch_size is None)
            raise InputError(
                f"{name}: a batch of {batch_size} images is more than the {num_train} training "
                f"images; {fix}"
            )
        shapes = jax.eval_shape(variant.model.init, jax.random.key(0), data.train[0][:1])
        size = sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree.leaves(shapes))
        check_fits(
            2 * size,
            f"{name}: its parameters and their gradients",
            "make the network smaller" + (f" ({', '.join(size_flags)})" if size_flags else ""),
        )


def train(variants: dict, data: ClassifierData, config: Config) -> Trained:
    """Trains each variant ``{name: (model, loss, optimizer[, batch_size])}`` on ``data`` as the
    book's ``train_ch3`` (accuracy on the training minibatches and on the test set after each
    epoch), with its key from ``config.seed`` (:func:`variant_keys`), and reports them.

    Every epoch shows as it ends (the curves redrawn in a notebook, a line in a terminal:
    :class:`jaxdl.engine.ProgressBoard`). With ``config.seeds`` N > 1, the seeds ``seed ..
    seed + N - 1`` train at once (a batch of keys: one program), each with the keys the seed
    alone would have, and the figures are their means with the spread. On a CPU, a
    configuration sized for a GPU (``config.gpu_sized``: ``--book``) first says so in one line,
    with how long its epochs will take here (each variant's first minibatch timed).
    """
    variants = {name: Variant(*v) for name, v in variants.items()}
    _check_sizes(variants, data, config)
    seeds = config.seeds or 1
    keys = variant_keys(config.seed, seeds, list(variants))
    mesh = setup_devices(
        config.devices,
        coordinator=config.coordinator,
        num_processes=config.num_processes,
        process_id=config.process_id,
        timeout=config.distributed_timeout,
    )
    if mesh is not None:
        print(
            f"process {jax.process_index()} of {jax.process_count()}: data parallel over "
            f"{mesh.size} devices: {mesh.devices.tolist()}"
        )
    if seeds > 1:
        print(f"each epoch's figures are the means over {seeds} seeds")
    if config.gpu_sized and jax.default_backend() == "cpu":
        _warn_of_cpu_time(variants, data, config, keys, mesh)
    board = ProgressBoard(config.epochs, runs=list(variants), draw=classifier_curves)
    results = {}
    for name, (model, loss, optimizer, batch_size) in variants.items():
        results[name] = fit(
            model,
            loss,
            optimizer,
            data.train,
            epochs=config.epochs,
            batch_size=batch_size or config.batch_size,
            key=keys[name],
            eval_data={"test": data.test},
            metrics={"acc": correct},
            config=config.flags,
            data_digest=data.digest,
            desc=name,
            mesh=mesh,
            checkpoint_dir=config.checkpoint_dir and config.checkpoint_dir / name,
            on_epoch=board.run(name),
        )
    metrics, figures = _report(variants, results, data)
    first = {name: key if seeds == 1 else key[0] for name, key in keys.items()}
    return Trained(results, first, metrics, figures)


def _warn_of_cpu_time(variants: dict, data: ClassifierData, config: Config, keys, mesh) -> None:
    """One line before a GPU-sized run trains on a CPU: that it is a GPU's configuration, how
    long an epoch of each variant will take here (its first minibatch timed:
    :func:`jaxdl.engine.estimate_epoch_seconds`, which changes nothing of the run), the whole
    run's time, and the quicker runs. Written as each variant is timed, so that the timing
    shows too."""
    print(
        "warning: the book's configuration (--book) is sized for a GPU; on this CPU an epoch "
        "takes about",
        end="",
        flush=True,
    )
    total = 0.0
    for i, (name, variant) in enumerate(variants.items()):
        seconds = estimate_epoch_seconds(
            variant.model,
            variant.loss,
            variant.optimizer,
            data.train,
            batch_size=variant.batch_size or config.batch_size,
            key=keys[name],
            eval_data={"test": data.test},
            metrics={"acc": correct},
            mesh=mesh,
        )
        total += seconds
        print(f"{',' * (i > 0)} {duration(seconds)} ({name})", end="", flush=True)
    print(
        f"; {config.epochs} epoch{'s' * (config.epochs > 1)}: about "
        f"{duration(total * config.epochs)} in all (--quick: a "
        "seconds-long run; without --book: the CPU-sized one)",
        flush=True,
    )


def _report(variants: dict, results: dict[str, Result], data: ClassifierData):
    """The classifiers' metrics and figures; prints each variant's final figures."""
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
        logits = predict(variants[name].model, state, data.test[0][:8])
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


def start(name: str, book: dict, **declaration):
    """:func:`harness.start` for a section that trains Fashion-MNIST classifiers: with
    ``--data-dir`` and the training flags (seeds, checkpoints, devices, processes)."""
    from harness.section import start as start_section

    return start_section(
        name, book, data_dir="folder of the Fashion-MNIST IDX files", training=True, **declaration
    )

"""Speed of the training engine against this machine's own ceilings, measured in one run.

Prints a table and writes ``OUT/benchmark.json`` (default ``results/benchmark``):

- ``matmul_gflops``: float32 matmul throughput through ``jnp`` (a large square product, median
  of several runs); ``bandwidth_gbs``: device memory bandwidth (a large array copy, bytes read
  plus written per second).
- ``data_load_s``: Fashion-MNIST loaded, checked and moved to the device.
- ``softmax`` | ``mlp``: ``epoch_s``: steady-state seconds per training epoch (median of the
  epochs after a warm-up, results blocked on; batch 256, the experiments' models and losses);
  ``floor_s``: the floor it implies (MLP: 6·N·#weights FLOPs over the matmul rate; softmax: the
  training images' bytes over the bandwidth); ``ratio`` = epoch / floor; ``compile_s``: first
  epoch minus a steady one. Softmax also: ``compute_floor_s``, its FLOPs per epoch (forward
  and weight-gradient products, 4·N·784·10) over the matmul rate, and ``compute_ratio``.
- ``import_jax_s``, ``import_jaxdl_s``: a fresh interpreter's ``import jax`` and ``import
  jaxdl`` (median over alternating runs), ``import_ratio`` their ratio; ``first_use_s`` and
  ``first_use_ratio``: ``import jaxdl`` and a first use of ``jaxdl.fit`` (which imports jax,
  optax and the engine).
- ``lenet``: the book's LeNet (6.6) from scratch, batch 256, rate 0.9: ``epoch_s``,
  ``compile_s``; ``floor_s``: its training FLOPs per epoch (``flops_per_example``, counted from
  the layers' shapes: forward, input and weight gradients) over the matmul rate, ``ratio``;
  where torch is installed, ``pytorch_epoch_s``: the book's ``train_ch6`` loop on the same
  images (``nn.Sequential``, SGD, CPU, its default threads), timed over ``pytorch_steps``
  minibatches after warm-up and scaled to an epoch's, and ``pytorch_ratio`` = epoch_s over it.
- ``convolutions``: ``{"lenet"|"resnet18": {"cpu_forms_s", "lax_s", "lax_over_cpu_forms"}}``,
  a steady epoch of LeNet and of the CPU-sized ResNet-18 (its first 10 240 images; not with
  ``--quick``) with the CPU forms of ``jaxdl.ops.convolution`` and with
  ``lax.conv_general_dilated``.
- ``first_result`` (not with ``--quick``): ``{"lenet"|"resnet18": {"cold_s", "warm_s"}}``,
  seconds from starting ``lenet.py`` (or ``modern_cnns.py --models resnet18``, CPU-sized) with
  ``--epochs 1`` to its first epoch's line, with an empty compilation cache and then with the
  cache that run filled.
- ``kfold_s``: ``experiments/kfold.py`` as a command, compilation cache off;
  ``kfold_compiles``: the programs it compiled (its metrics.json).
- with ``--run-all``: ``run_all_cold_s`` and ``run_all_warm_s``, ``experiments/harness/run_all.py``
  with an empty compilation cache, then again with the cache it filled (wall of the command).
- ``kfold``: 5-fold cross-validation of the ``kfold`` experiment's default problem (20
  features, 400 epochs) with ``vmap`` against the same compiled single-fold function called
  once per fold; ``sweep``: 16 values of λ on the weight-decay problem (one key for all, as
  ``weight_decay.py``), ``vmap`` against 16 calls of the compiled single run. ``vmap_s``,
  ``sequential_s``, ``speedup``; compilation is excluded on both sides.
- ``peak_rss_mib``: peak resident memory of ``experiments/mlp.py`` run in a child process.

Command: ``python experiments/harness/benchmark.py [--out results/benchmark --repeats 7 --quick
--run-all]``; ``--quick`` uses small sizes (for the test suite, which checks the JSON's shape
only).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdl.data.synthetic import high_dimensional_data, polynomial_data
from jaxdl.engine import train
from jaxdl.engine.epoch import make_epoch
from jaxdl.engine.keys import run_keys
from jaxdl.losses import cross_entropy, squared_loss
from jaxdl.metrics import correct
from jaxdl.model import init_state
from jaxdl.models.lenet import scratch_lenet
from jaxdl.models.linear import linear_regression
from jaxdl.models.mlp import scratch_mlp
from jaxdl.models.softmax import softmax_regression
from jaxdl.optim import l2_penalty, sgd
from jaxdl.results import write_json
from jaxdl.selection import fold_arrays, make_fold_trainer, masked_linear

# run as a script: the harness imported from experiments/, as the sections import it
if __name__ == "__main__":
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from harness import SECTIONS, classifiers
from harness.config import Config, positive_int
from harness.section import REFUSALS

MAX_DEGREE = 20  # the polynomial problem's features, polynomial_data's default


def median_seconds(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` (which must block on its results) over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_gflops(size: int, repeats: int) -> float:
    """float32 ``a @ b`` for square [size, size] matrices: 2·size³ FLOPs per product."""
    a, b = (jax.random.normal(k, (size, size)) for k in jax.random.split(jax.random.key(0)))
    product = jax.jit(jnp.matmul)
    product(a, b).block_until_ready()
    seconds = median_seconds(lambda: product(a, b).block_until_ready(), repeats)
    return 2 * size**3 / seconds / 1e9


def bandwidth_gbs(num_bytes: int, repeats: int) -> float:
    """A float32 array read and written once per call (``x + 1``, in place through buffer
    donation, so no fresh memory is faulted in): 2·bytes moved per call."""
    step = jax.jit(lambda x: x + 1.0, donate_argnums=0)
    x = step(jnp.zeros(num_bytes // 4, jnp.float32)).block_until_ready()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        x = step(x).block_until_ready()
        times.append(time.perf_counter() - start)
    return 2 * x.nbytes / statistics.median(times) / 1e9


def time_epochs(model, x, y, *, batch_size: int, lr: float, repeats: int) -> dict:
    """First-epoch and steady-state epoch times of the engine's jitted, donated epoch."""
    optimizer = sgd(lr)
    epoch = jax.jit(
        make_epoch(
            model,
            cross_entropy,
            optimizer,
            num_examples=len(x),
            batch_size=batch_size,
            metrics={"acc": correct},
        ),
        donate_argnums=0,
    )
    keys = run_keys(jax.random.key(0))
    state = init_state(model, optimizer, keys.init, x[:1])
    times = []
    for e in range(repeats + 1):
        start = time.perf_counter()
        state, stats = epoch(state, keys, e, (x, y, None), {})
        jax.block_until_ready((state, stats))
        times.append(time.perf_counter() - start)
    steady = statistics.median(times[1:])
    return {"epoch_s": steady, "compile_s": max(times[0] - steady, 0.0)}


def convolutions_both_ways(x, y, *, quick: bool) -> dict:
    """LeNet (the book's, batch 256, rate 0.9) and, but with ``quick``, the CPU-sized
    ResNet-18 (a quarter of the channels, 32 pixels, batch 256, rate 0.05, on the first 10 240
    images) epochs, each with the CPU forms of ``jaxdl.ops.convolution`` and with
    ``lax.conv_general_dilated``: seconds of a steady epoch and the ratio lax / CPU forms (above
    1: the CPU forms are faster)."""
    from jaxdl.models.modern import concise_network, network, resized
    from jaxdl.ops.convolution import cpu_forms

    cases = {"lenet": (scratch_lenet(), x, y, 0.9)}
    if not quick:  # its programs take minutes to compile here, twice
        resnet = resized(concise_network(network("resnet18", width=0.25)), 32)
        cases["resnet18"] = (resnet, x[:10_240], y[:10_240], 0.05)
    found = {}
    for name, (model, images, labels, lr) in cases.items():
        times = {}
        for label, forced in (("cpu_forms_s", True), ("lax_s", False)):
            with cpu_forms(forced):
                times[label] = time_epochs(model, images, labels, batch_size=256, lr=lr, repeats=2)[
                    "epoch_s"
                ]
        found[name] = times | {"lax_over_cpu_forms": times["lax_s"] / times["cpu_forms_s"]}
    return found


def first_result_seconds(name: str, argv: list[str], cache: Path) -> float:
    """Wall seconds from starting ``python experiments/NAME.py --epochs 1 ARGV`` to its first
    epoch's line (the first result a learner sees), with the compilation cache ``cache``."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, str(SECTIONS / f"{name}.py"), "--epochs", "1", *argv]
        cmd += ["--out", out]
        cmd += ["--compilation-cache", str(cache)]
        start = time.perf_counter()
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, bufsize=1) as process:
            for line in process.stdout:
                if "epoch 1/1" in line:
                    seconds = time.perf_counter() - start
                    break
            else:
                raise RuntimeError(f"{name}.py printed no first epoch (status {process.wait()})")
            process.kill()
    return seconds


FIRST_RESULTS = {"lenet": ("lenet", []), "resnet18": ("modern_cnns", ["--models", "resnet18"])}


def first_results() -> dict:
    """LeNet's and the CPU-sized ResNet-18's :func:`first_result_seconds` with an empty
    compilation cache (``cold_s``) and with the cache that run filled (``warm_s``)."""
    found = {}
    with tempfile.TemporaryDirectory() as cache:
        for label, (name, argv) in FIRST_RESULTS.items():
            cold = first_result_seconds(name, argv, Path(cache))
            found[label] = {"cold_s": cold, "warm_s": first_result_seconds(name, argv, Path(cache))}
    return found


def lenet_flops_per_example() -> int:
    """Training FLOPs of one image through LeNet: 2 per multiply-add of each layer's forward
    product, the same again for the weight gradient, and again for the input gradient of every
    layer but the first (whose input is the image)."""
    conv1 = 28 * 28 * 6 * (5 * 5 * 1)  # output positions x channels, times the kernel's MACs
    conv2 = 10 * 10 * 16 * (5 * 5 * 6)
    dense = 400 * 120 + 120 * 84 + 84 * 10
    forward = 2 * (conv1 + conv2 + dense)
    return 3 * forward - 2 * conv1


def pytorch_lenet_epoch(x, y, *, batch_size: int, lr: float, steps: int) -> float | None:
    """Seconds of an epoch of the book's ``train_ch6`` loop (PyTorch, CPU) on the images ``x``
    [N, 28, 28, 1]: ``steps`` minibatches timed after 3 warm-up ones, scaled to the epoch's
    ``ceil(N / batch_size)``; None where torch is not installed."""
    try:
        import torch
        from torch import nn
    except ImportError:
        return None
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10),
    )  # fmt: skip
    for m in net:
        if isinstance(m, nn.Linear | nn.Conv2d):
            nn.init.xavier_uniform_(m.weight)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    images = torch.from_numpy(np.asarray(x).transpose(0, 3, 1, 2).copy())
    labels = torch.from_numpy(np.asarray(y).astype(np.int64))
    num_batches = -(-len(labels) // batch_size)
    steps = min(steps, num_batches - 3)

    def step(i):
        X, Y = (
            images[i * batch_size : (i + 1) * batch_size],
            labels[i * batch_size : (i + 1) * batch_size],
        )
        optimizer.zero_grad()
        y_hat = net(X)
        loss_value = loss(y_hat, Y)
        loss_value.backward()
        optimizer.step()
        with torch.no_grad():  # the book's Accumulator: loss sum, correct count
            float(loss_value * X.shape[0]), float((y_hat.argmax(dim=1) == Y).sum())

    net.train()
    for i in range(3):
        step(i)
    start = time.perf_counter()
    for i in range(3, 3 + steps):
        step(i)
    return (time.perf_counter() - start) / steps * num_batches


def vmap_against_sequential(one, args, repeats: int) -> dict:
    """``jit(vmap(one))(*args)`` against ``jit(one)`` called on each row; compiled beforehand."""
    together = jax.jit(jax.vmap(one)).lower(*args).compile()
    single = jax.jit(one).lower(*(a[0] for a in args)).compile()
    rows = len(jax.tree.leaves(args)[0])

    def sequential():
        jax.block_until_ready([single(*(a[i] for a in args)) for i in range(rows)])

    vmap_s = median_seconds(lambda: jax.block_until_ready(together(*args)), repeats)
    sequential_s = median_seconds(sequential, repeats)
    return {"vmap_s": vmap_s, "sequential_s": sequential_s, "speedup": sequential_s / vmap_s}


def kfold_problem(quick: bool) -> tuple:
    """The kfold experiment's default problem: 20 features, 5 folds, 400 epochs."""
    (x, y), _ = polynomial_data(jax.random.key(0))
    epochs = 20 if quick else 400
    one_fold = make_fold_trainer(
        masked_linear(jnp.ones(MAX_DEGREE)),
        optax.squared_error,
        sgd(0.01),
        (x, y),
        epochs=epochs,
        batch_size=10,
    )
    return one_fold, (jax.random.split(jax.random.key(1), 5), *fold_arrays(len(x), 5))


def sweep_problem(quick: bool) -> tuple:
    """The weight-decay REFERENCE problem, one scratch run per λ (16 values), every run from
    the same key (same initial weights and minibatch order, as ``weight_decay.py``'s sweep):
    linear regression with w ~ N(0, 1), the loss ½(ŷ - y)², SGD at rate 0.003 and the
    penalty λ/2 ||w||²."""
    (train_set, test_set) = high_dimensional_data(jax.random.key(0))
    epochs = 10 if quick else 100

    def one(lam):
        return train(
            linear_regression(init_std=1.0),
            squared_loss,
            sgd(0.003),
            train_set,
            epochs=epochs,
            batch_size=5,
            key=jax.random.key(1),
            eval_data={"test": test_set},
            regularizer=lambda params: lam * l2_penalty(params["w"]),
        )

    return one, (jnp.asarray(np.logspace(-3, 2, 16), jnp.float32),)


def peak_rss_mib(quick: bool) -> float:
    """Peak resident memory of ``experiments/mlp.py`` (default run, or --quick) in a child."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, str(SECTIONS / "mlp.py"), "--out", out] + ["--quick"] * quick
        subprocess.run(cmd, check=True, capture_output=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux


def import_times(repeats: int) -> dict:
    """Fresh interpreters' import times, alternating the statements: median seconds each."""
    statements = {
        "import_jax_s": "import jax",
        "import_jaxdl_s": "import jaxdl",
        "first_use_s": "import jaxdl; jaxdl.fit",
    }
    times = {key: [] for key in statements}
    for _ in range(repeats):
        for key, statement in statements.items():
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", statement], check=True)
            times[key].append(time.perf_counter() - start)
    result = {key: statistics.median(values) for key, values in times.items()}
    result["import_ratio"] = result["import_jaxdl_s"] / result["import_jax_s"]
    result["first_use_ratio"] = result["first_use_s"] / result["import_jax_s"]
    return result


def command_seconds(cmd: list[str], cache: str) -> float:
    """Wall seconds of a command run with the compilation cache ``cache`` (a folder or off)."""
    env = {**os.environ, "JAXDL_COMPILATION_CACHE": cache}
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def kfold_command(quick: bool) -> dict:
    """``experiments/kfold.py`` as a user runs it, compiling everything afresh."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, str(SECTIONS / "kfold.py"), "--out", out, *["--quick"] * quick]
        seconds = command_seconds(cmd, "off")
        compiles = json.loads((Path(out) / "metrics.json").read_text())["timing"]["compilations"]
    return {"kfold_s": seconds, "kfold_compiles": compiles}


def run_all_cold_and_warm(quick: bool) -> dict:
    """``experiments/harness/run_all.py`` with an empty compilation cache, then with the cache it
    filled."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, str(SECTIONS / "harness" / "run_all.py"), "--out", f"{tmp}/results"]
        cmd += ["--quick"] * quick
        cold = command_seconds(cmd, f"{tmp}/cache")
        warm = command_seconds(cmd, f"{tmp}/cache")
    return {"run_all_cold_s": cold, "run_all_warm_s": warm}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="benchmark.py", description=__doc__)
    p.add_argument("--out", type=Path, default=Path("results/benchmark"))
    p.add_argument("--repeats", type=positive_int, default=7)
    p.add_argument("--quick", action="store_true", help="small sizes, for the test suite")
    p.add_argument("--run-all", action="store_true", help="also time run_all.py cold and warm")
    args = p.parse_args(argv)
    repeats = 2 if args.quick else args.repeats
    print(f"backend {jax.default_backend()}, devices {jax.devices()}")

    results = {
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0]),
        "matmul_gflops": matmul_gflops(256 if args.quick else 2048, repeats),
        "bandwidth_gbs": bandwidth_gbs((1 if args.quick else 256) * 2**20, repeats),
    }
    start = time.perf_counter()
    sizes = {"train_size": 2000, "test_size": 500} if args.quick else {}
    x_train, y_train = classifiers.fashion_mnist(Config(sizes)).train
    results["data_load_s"] = time.perf_counter() - start

    n, batch_size = len(x_train), 256
    models = {"softmax": softmax_regression(), "mlp": scratch_mlp((256,))}
    for name, model in models.items():
        timing = time_epochs(
            model, x_train, y_train, batch_size=batch_size, lr=0.1, repeats=repeats + 3
        )
        if name == "mlp":
            weights = 784 * 256 + 256 * 10
            floor = 6 * n * weights / (results["matmul_gflops"] * 1e9)
        else:
            floor = x_train.nbytes / (results["bandwidth_gbs"] * 1e9)
        results[name] = {**timing, "floor_s": floor, "ratio": timing["epoch_s"] / floor}
    timing = time_epochs(
        scratch_lenet(),
        x_train,
        y_train,
        batch_size=batch_size,
        lr=0.9,
        repeats=max(repeats // 2, 2),
    )
    flops = lenet_flops_per_example()
    floor = n * flops / (results["matmul_gflops"] * 1e9)
    results["lenet"] = {
        **timing,
        "flops_per_example": flops,
        "floor_s": floor,
        "ratio": timing["epoch_s"] / floor,
    }
    steps = 8 if args.quick else 40
    torch_epoch = pytorch_lenet_epoch(x_train, y_train, batch_size=batch_size, lr=0.9, steps=steps)
    if torch_epoch is not None:
        results["lenet"] |= {
            "pytorch_epoch_s": torch_epoch,
            "pytorch_steps": steps,
            "pytorch_ratio": timing["epoch_s"] / torch_epoch,
        }
    results["convolutions"] = convolutions_both_ways(x_train, y_train, quick=args.quick)
    if not args.quick:
        results["first_result"] = first_results()
    compute_floor = 4 * n * 784 * 10 / (results["matmul_gflops"] * 1e9)
    results["softmax"]["compute_floor_s"] = compute_floor
    results["softmax"]["compute_ratio"] = results["softmax"]["epoch_s"] / compute_floor

    results["kfold"] = vmap_against_sequential(*kfold_problem(args.quick), repeats)
    results["sweep"] = vmap_against_sequential(*sweep_problem(args.quick), repeats)
    results["peak_rss_mib"] = peak_rss_mib(args.quick)
    results |= import_times(1 if args.quick else repeats)
    results |= kfold_command(args.quick)
    if args.run_all:
        results |= run_all_cold_and_warm(args.quick)

    rows = [
        ("float32 matmul", f"{results['matmul_gflops']:.1f} GFLOP/s"),
        ("memory bandwidth", f"{results['bandwidth_gbs']:.1f} GB/s"),
        ("Fashion-MNIST load + transfer", f"{results['data_load_s']:.2f} s"),
    ]
    for name in models:
        r = results[name]
        rows.append(
            (
                f"{name} epoch (batch {batch_size})",
                f"{r['epoch_s']:.3f} s = {r['ratio']:.2f} x floor {r['floor_s']:.3f} s"
                + (f" = {r['compute_ratio']:.2f} x compute floor" if "compute_ratio" in r else "")
                + f"; compile {r['compile_s']:.2f} s",
            )
        )
    r = results["lenet"]
    rows.append(
        (
            f"lenet epoch (batch {batch_size})",
            f"{r['epoch_s']:.2f} s = {r['ratio']:.1f} x floor {r['floor_s']:.2f} s; "
            + (
                f"PyTorch {r['pytorch_epoch_s']:.1f} s, ratio {r['pytorch_ratio']:.2f}"
                if "pytorch_epoch_s" in r
                else "PyTorch: not installed"
            )
            + f"; compile {r['compile_s']:.2f} s",
        )
    )
    for name, r in results["convolutions"].items():
        rows.append(
            (
                f"{name} epoch, CPU forms / lax convolutions",
                f"{r['cpu_forms_s']:.2f} s / {r['lax_s']:.2f} s (lax / CPU forms "
                f"{r['lax_over_cpu_forms']:.2f})",
            )
        )
    for name, r in results.get("first_result", {}).items():
        rows.append(
            (
                f"first result of {name}, empty / warm compilation cache",
                f"{r['cold_s']:.1f} s / {r['warm_s']:.1f} s",
            )
        )
    for name, label in (("kfold", "5-fold CV"), ("sweep", "16-value lambda sweep")):
        r = results[name]
        rows.append(
            (
                f"{label}, vmap vs sequential",
                f"{r['vmap_s']:.3f} s vs {r['sequential_s']:.3f} s = {r['speedup']:.1f}x",
            )
        )
    rows.append(("peak RSS, mlp experiment", f"{results['peak_rss_mib']:.0f} MiB"))
    rows.append(
        (
            "import jaxdl / import jax",
            f"{results['import_ratio']:.2f} x; first use of jaxdl.fit "
            f"{results['first_use_ratio']:.2f} x ({results['import_jax_s']:.2f} s for jax)",
        )
    )
    rows.append(
        (
            "kfold.py, no cache",
            f"{results['kfold_s']:.1f} s, {results['kfold_compiles']} compilations",
        )
    )
    if args.run_all:
        rows.append(
            (
                "run_all.py cold / warm cache",
                f"{results['run_all_cold_s']:.1f} s / {results['run_all_warm_s']:.1f} s",
            )
        )
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    path = write_json(args.out / "benchmark.json", results)
    print(f"wrote {path}")
    return results


if __name__ == "__main__":
    try:
        main()
    except REFUSALS as error:  # data not found: the message, not a traceback
        sys.exit(f"benchmark.py: error: {error}")

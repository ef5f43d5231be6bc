"""Our headline figures of each experiment, next to the book's, and the values held to the
book's bands (``reference.py``): what ``run_all.py``'s report and each notebook's comparison
cell show.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from harness.config import declared, differences
from harness.reference import BOOK, within


def _fmt(values, digits: int = 4) -> str:
    return "[" + ", ".join(f"{v:.{digits}g}" for v in np.ravel(values)) + "]"


class Entry(NamedTuple):
    """One experiment: its script name, our headline figures from metrics.json, and the
    values to hold to the book's bands (``{band: [values]}``, see ``reference.py``)."""

    name: str
    headline: Callable[[dict], str]
    measured: Callable[[dict], dict[str, list[float]]] = lambda m: {}


def _modern_configuration(m: dict) -> str:
    """What the modern networks' run was: the book's configuration only where ``--book`` ran
    it as the section declares it (``--quick`` and edited settings say how they differ)."""
    if not m["config"]["book"]:
        return "CPU-sized"
    flags = m["flags"]
    differ = ["--quick"] * bool(flags.get("quick")) + differences(
        declared("modern_cnns").book, flags
    )
    return "the book's configuration" if not differ else f"the book's sizes ({', '.join(differ)})"


def duration(seconds: float) -> str:
    """Seconds as a person reads them: seconds under a minute and a half, minutes under an
    hour and a half, else hours.

    >>> duration(42.4), duration(600), duration(4 * 3600 + 1800)
    ('42 s', '10 min', '4.5 h')
    """
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def with_spread(m: dict, key: str) -> str:
    """``m[key]`` to 3 decimals, with ``± std`` when ``m`` holds several seeds' spread.

    >>> with_spread({"acc": 0.8361, "std": {"acc": 0.0084}}, "acc")
    '0.836 ± 0.008'
    >>> with_spread({"acc": 0.8}, "acc")
    '0.800'

    """
    spread = m.get("std", {}).get(key)
    return f"{m[key]:.3f}" + ("" if spread is None else f" ± {spread:.3f}")


def _variants(m: dict) -> list[str]:
    """The trained variants of a classifier experiment's metrics: the book's two (``scratch``,
    ``concise``) and any a learner added, in their order."""
    return [k for k, v in m.items() if isinstance(v, dict) and "test_acc" in v]


def _classifiers(m: dict) -> str:
    return "; ".join(
        f"{v}: test acc {with_spread(m[v], 'test_acc')}, train loss "
        f"{with_spread(m[v], 'train_loss')}"
        for v in _variants(m)
    )


def _classifier_values(m: dict) -> dict[str, list[float]]:
    """The book's variants' figures (a learner's own variant has no band in the book)."""
    book = [v for v in ("scratch", "concise") if v in m]
    return {k: [m[v][k] for v in book] for k in ("test_acc", "train_loss")}


def _final_accuracy(model: dict) -> str:
    if model["diverged"]:
        return "diverged"
    return "—" if model["test_acc"] is None else f"{model['test_acc']:.3f}"


def _initialization(m: dict) -> str:
    s, p, draws = m["sigmoid"], m["matrix_product"], m["xavier"]["draws"]
    accuracies = ", ".join(
        f"{name}: {_final_accuracy(model)}" for name, model in m["training"]["models"].items()
    )
    return (
        f"max sigmoid′ {s['grad_max']:.4f}, sigmoid′(±8) {s['grad_at_8']:.1e}; ‖product of 100 "
        f"4×4‖_F {p['initial_norm']:.3g} → {p['final_norm']:.3g}; Xavier variance / (2/(n_in + "
        f"n_out)): {draws['xavier_normal']['variance_ratio']:.3f} (normal), "
        f"{draws['xavier_uniform']['variance_ratio']:.3f} (uniform); test acc by initial σ: "
        f"{accuracies}"
    )


def _initialization_values(m: dict) -> dict[str, list[float]]:
    s, p = m["sigmoid"], m["matrix_product"]
    return {
        "sigmoid_grad_max": [s["grad_max"]],
        "sigmoid_grad_at_8": [s["grad_at_-8"], s["grad_at_8"]],
        "log10_product_growth": [float(np.log10(p["final_norm"] / p["initial_norm"]))],
        "xavier_variance_ratio": [d["variance_ratio"] for d in m["xavier"]["draws"].values()],
    }


def _gram(token) -> str:
    """A word, or a bigram's or trigram's words (a list in metrics.json) joined by spaces."""
    return " ".join(token) if isinstance(token, list | tuple) else token


def _language_models(m: dict) -> str:
    grams = ("unigram", "bigram", "trigram")
    top = "; ".join(
        ", ".join(f"{_gram(token)} {count}" for token, count in m[g]["top_ten"][:3]) for g in grams
    )
    alphas = " / ".join(
        "—" if m[g]["zipf_exponent"] is None else f"{m[g]['zipf_exponent']:.2f}" for g in grams
    )
    iterators = m["iterators"]
    shown = iterators["book_draws"] or iterators["drawn"]
    draws = "the book's" if iterators["book_draws"] else "drawn"
    first = "; ".join(f"{kind} X[0] {d['X'][0]}" for kind, d in shown.items())
    return (
        f"{top}; {m['num_words']} words, {m['unigram']['num_distinct']} distinct; Zipf α "
        f"(unigram / bigram / trigram) {alphas}; my_seq at {draws} draws: {first}; the "
        f"book's iterators give the same: {iterators['equal_to_book_code']}"
        + ("" if m["data"]["books_text"] else " (not the book's text)")
    )


def _language_models_values(m: dict) -> dict[str, list[float]]:
    def count(gram: str, *words: str) -> int:
        return sum(c for token, c in m[gram]["top_ten"] if _gram(token) == " ".join(words))

    return {
        "num_words": [m["num_words"]],
        "num_distinct_words": [m["unigram"]["num_distinct"]],
        "the_count": [count("unigram", "the")],
        "of_the_count": [count("bigram", "of", "the")],
        "the_time_traveller_count": [count("trigram", "the", "time", "traveller")],
    }


def _sequence_models(m: dict) -> str:
    def mse(value):  # None: fed-back predictions that ran off to inf or NaN
        return "not finite" if value is None else f"{value:.3g}"

    return (
        f"epoch losses {_fmt(m['train_loss_per_epoch'], 3)}; MSE over the test part: 1-step "
        f"{mse(m['one_step_test_mse'])}, multistep {mse(m['multistep_test_mse'])}; k-step MSE "
        + ", ".join(f"k = {k}: {mse(v)}" for k, v in m["k_step_mse"].items())
    )


EXPERIMENTS = [
    Entry(
        "ndarray",
        lambda m: ", ".join(
            f"{k}: {v}" for k, v in m.items() if k != "seed" and not isinstance(v, dict | list)
        )[:300],
    ),
    Entry("preprocessing", lambda m: f"X = {m['X']}, y = {m['y']}"),
    Entry(
        "linear_algebra",
        lambda m: f"L2 {m['l2_norm']:g}, L1 {m['l1_norm']:g}, Frobenius {m['frobenius_norm']:g}",
    ),
    Entry("calculus", lambda m: ", ".join(f"{v:.5f}" for v in m["limits"])),
    Entry("autograd", lambda m: f"y = {m['y']:g}, grad = {m['grad']}"),
    Entry(
        "linear_regression",
        lambda m: (
            "; ".join(
                f"{v}: w error {_fmt(m[v]['w_error'], 2)}, b error {m[v]['b_error']:.2g}"
                for v in ("scratch", "concise", "closed_form")
            )
            + f"; scratch epoch losses {_fmt(m['scratch']['train_loss_per_epoch'], 2)}"
        ),
        lambda m: {
            "abs_error": [
                abs(e)
                for v in ("scratch", "concise", "closed_form")
                for e in [*m[v]["w_error"], m[v]["b_error"]]
            ],
            "loss_epoch1": [m["scratch"]["train_loss_per_epoch"][0]],
            "loss_epoch3": [m["scratch"]["train_loss_per_epoch"][2]],
        },
    ),
    Entry(
        "loss_functions",
        lambda m: (
            f"Huber(2) = {m['loss']['huber'][-1]:g}; naive softmax finite: "
            f"{[c['naive_softmax_finite'] for c in m['overflow']]}; softmax and cross-entropy "
            f"finite: {[c['softmax_finite'] and c['cross_entropy_finite'] for c in m['overflow']]}"
        ),
    ),
    Entry("softmax_regression", _classifiers, _classifier_values),
    Entry(
        "activations",
        lambda m: (
            f"ReLU'(0) = {m['relu']['grad_at_0']:g}, sigmoid'(0) = "
            f"{m['sigmoid']['grad_at_0']:g}, tanh'(0) = {m['tanh']['grad_at_0']:g}; max |f' - "
            f"jax.nn f'| {max(m[a]['max_abs_diff_grad'] for a in ('relu', 'sigmoid', 'tanh')):.1e}"
        ),
    ),
    Entry("mlp", _classifiers, _classifier_values),
    Entry("dropout", _classifiers, _classifier_values),
    Entry(
        "propagation",
        lambda m: (
            f"J = {m['J']:.4f} (L {m['L']:.4f} + s {m['s']:.4f}); ∂J/∂W by hand vs jax.grad: "
            f"max relative difference {m['max_rel_diff']:.1e}"
        ),
        lambda m: {"max_rel_diff": [m["max_rel_diff"]]},
    ),
    Entry("initialization", _initialization, _initialization_values),
    Entry(
        "polynomial_regression",
        lambda m: "; ".join(
            f"{v}: w {_fmt(m[v]['w'][:4], 3)}, train/test {m[v]['train_loss']:.3g}/"
            f"{m[v]['test_loss']:.3g}"
            for v in ("degree3", "linear", "all20")
        ),
        lambda m: {
            "abs_weight_error": [
                abs(w - t)
                for v in ("degree3", "all20")
                for w, t in zip(m[v]["w"][:4], (5.0, 1.2, -3.4, 5.6), strict=True)
            ],
            "degree3_train_loss": [m["degree3"]["train_loss"]],
            "degree3_test_loss": [m["degree3"]["test_loss"]],
            "linear_loss": [m["linear"]["train_loss"], m["linear"]["test_loss"]],
        },
    ),
    Entry(
        "kfold",
        lambda m: (
            f"chosen degree {m['chosen_degree']} (validation loss "
            f"{min(m['mean_val_loss']):.3g}), its test loss {m['chosen_test_loss']:.3g}"
        ),
    ),
    Entry(
        "weight_decay",
        lambda m: "; ".join(
            f"{v}: ‖w‖₂ λ=0 → {m[v]['0']['w_norm']:.3g} (test {m[v]['0']['test_loss']:.3g}), "
            f"λ=3 → {m[v]['3']['w_norm']:.3g} (test {m[v]['3']['test_loss']:.3g})"
            for v in ("scratch", "concise")
        ),
        lambda m: {
            "w_norm_no_decay": [m[v]["0"]["w_norm"] for v in ("scratch", "concise")],
            "w_norm_decay_3": [m[v]["3"]["w_norm"] for v in ("scratch", "concise")],
            "test_loss_decay_3": [m[v]["3"]["test_loss"] for v in ("scratch", "concise")],
            "test_loss_no_decay": [m[v]["0"]["test_loss"] for v in ("scratch", "concise")],
            "train_loss_no_decay": [m[v]["0"]["train_loss"] for v in ("scratch", "concise")],
        },
    ),
    Entry(
        "kaggle_house_prices",
        lambda m: (
            f"{m['folds']}-fold log rmse: valid {m['mean_val_log_rmse']:.3f}, train "
            f"{m['mean_train_log_rmse']:.3f}; final train {m['final_train_log_rmse']:.3f}"
            + ("" if m["data"]["books_data"] else " (generated houses, not the book's data)")
        ),
        lambda m: {
            "mean_val_log_rmse": [m["mean_val_log_rmse"]],
            "mean_train_log_rmse": [m["mean_train_log_rmse"]],
            "final_train_log_rmse": [m["final_train_log_rmse"]],
        },
    ),
    Entry(
        "model_construction",
        lambda m: (
            f"MLP 20-256-10, 4 ways: output {m['mlp']['sequential']['output_shape']}, "
            f"{'/'.join(sorted({str(v['num_params']) for v in m['mlp'].values()}))} parameters"
            f" each; NestMLP {m['nest_mlp']['num_params']}, chimera "
            f"{m['chimera']['num_params']} (+{m['chimera']['num_constants']} constants); "
            f"FixedHiddenMLP {m['fixed_hidden']['output']:.4f}, chimera "
            f"{m['chimera']['output']:.4f}"
        ),
        lambda m: {"fixed_hidden_output": [m["fixed_hidden"]["output"], m["chimera"]["output"]]},
    ),
    Entry(
        "parameters",
        lambda m: (
            f"layers_2: kernel {m['layers_2']['kernel_shape']}, bias "
            f"{m['layers_2']['bias_shape']}; {m['num_params']} parameters (rgnet "
            f"{m['rgnet']['num_params']}); constant → {_fmt(m['init']['constant']['weight0'])}, "
            f"42 → {_fmt(m['init']['xavier_42']['layers_2_kernel'])}; my_init 0 or |w| ≥ 5: "
            f"{m['my_init']['zero_or_at_least_5']}; set → {_fmt(m['set']['weight0_after'])}; "
            f"tied: {m['tied']['num_params']} parameters (untied "
            f"{m['tied']['untied_num_params']}), gradient = sum of both uses: "
            f"{m['tied']['grad_equals_sum_of_copies']}"
        ),
    ),
    Entry(
        "deferred_init",
        lambda m: (
            f"before init: no parameters (ValueError); layers_0/kernel "
            f"{dict(m['flax']['table_20'])['layers_0/kernel']} for X [2, 20], "
            f"{dict(m['flax']['table_30'])['layers_0/kernel']} for X [2, 30] "
            f"({m['flax']['num_params_20']} / {m['flax']['num_params_30']} parameters); "
            f"20-feature params on X [2, 30]: {m['flax']['wrong_width_error']['type']}"
        ),
    ),
    Entry(
        "custom_layer",
        lambda m: (
            f"CenteredLayer([1, 2, 3, 4, 5]) = {_fmt(m['centered']['output'])}; mean after "
            f"Dense(128): {m['centered_net']['mean']:.1e}; MyLinear(5, 3): weight "
            f"{m['my_linear']['weight_shape']}, bias {m['my_linear']['bias_shape']}; "
            f"MyLinear(64, 8), MyLinear(8, 1) on [2, 64]: output "
            f"{m['my_linear_net']['output_shape']}"
        ),
        lambda m: {"centered_mean": [m["centered_net"]["mean"]]},
    ),
    Entry(
        "read_write",
        lambda m: (
            f"x2 = {m['x_loaded']}; list, dict round trips equal: {m['list_round_trip_equal']}, "
            f"{m['dict_round_trip_equal']}; Y_clone == Y all {m['clone_output_equal']} "
            f"({m['num_params']} parameters bit-identical: {m['params_bit_identical']}); "
            f"TrainState after {m['train_state']['steps_before_save']} Adam steps bit-identical: "
            f"{m['train_state_bit_identical']}, next step equal: {m['resumed_step_equal']}"
        ),
    ),
    Entry(
        "use_gpu",
        lambda m: (
            f"{m['platform']}: {m['device_count']} device(s) {m['device_kinds']}; try_gpu() = "
            f"{m['try_gpu']}, try_gpu(10) = {m['try_gpu_10']}; device_put equal: "
            f"{m['device_put_equal']}; net(X) on {m['model']['output_devices']}; batch over "
            f"{m['sharded']['devices']} device(s) in shards {m['shard_shapes']}, equal to one "
            f"device's: {m['sharded_equals_unsharded']}"
        ),
    ),
    Entry(
        "conv_layer",
        lambda m: (
            f"corr2d = {m['corr2d']['vectorised']} (loop == vectorised: "
            f"{m['corr2d']['loop_equals_vectorised']}); edges: Y column 1 "
            f"{_fmt(np.asarray(m['edge']['Y'])[:, 1], 2)}, column 5 "
            f"{_fmt(np.asarray(m['edge']['Y'])[:, 5], 2)}, corr2d(X.T, K) all 0 "
            f"{m['edge']['transposed_all_zero']}; learned from "
            f"{_fmt(m['learn']['initial_kernel'])}: loss at epochs {m['learn']['epochs']} "
            f"{_fmt(m['learn']['epoch_losses'], 4)}, "
            f"kernel {_fmt(m['learn']['kernel'])}"
        ),
        lambda m: {
            "book_value_error": [
                m["corr2d"]["max_abs_error_vs_book"],
                m["edge"]["max_abs_error_vs_book"],
            ],
            "kernel_error": [m["learn"]["kernel_error"]],
            "final_loss": [m["learn"]["final_loss"]],
        },
    ),
    Entry(
        "padding_strides",
        lambda m: (
            "; ".join(
                f"k={tuple(c['kernel_size'])} p={tuple(c['padding'])} s={tuple(c['stride'])}"
                f" → {tuple(c['shape'])}"
                for c in m["cases"]
            )
            + f"; max |ours − lax.conv_general_dilated, flax Conv| {m['max_abs_diff']:.1e}"
        ),
        lambda m: {
            "max_abs_diff": [m["max_abs_diff"]],
            "shape_mismatches": [float(sum(c["shape"] != c["book_shape"] for c in m["cases"]))],
        },
    ),
    Entry(
        "channels",
        lambda m: (
            f"multi-in {m['multi_in']['Y']}; multi-in-out {m['multi_in_out']['Y']}; 1×1 as a "
            f"matrix product vs corr2d_multi_in_out: max |diff| "
            f"{m['one_by_one']['max_abs_diff']:.1e} (Σ|diff| {m['one_by_one']['sum_abs_diff']:.1e})"
            f"; vs lax.conv_general_dilated {m['multi_in_out']['max_abs_diff_lax']:.1e}"
        ),
        lambda m: {
            "book_value_error": [
                m["multi_in"]["max_abs_error_vs_book"],
                m["multi_in_out"]["max_abs_error_vs_book"],
            ],
            "max_abs_diff": [
                m["one_by_one"]["max_abs_diff"],
                m["one_by_one"]["max_abs_diff_lax"],
                m["multi_in_out"]["max_abs_diff_lax"],
            ],
        },
    ),
    Entry(
        "pooling",
        lambda m: (
            f"3×3, (2, 2): max {m['pool2d']['max']}, avg {m['pool2d']['avg']}; "
            + "; ".join(f"{c['name']} → {np.round(c['Y'], 3).tolist()}" for c in m["cases"])
            + f"; max |ours − reduce_window, flax| {m['max_abs_diff']:.1e}"
        ),
        lambda m: {
            "book_value_error": [m["max_abs_error_vs_book"]],
            "max_abs_diff": [m["max_abs_diff"]],
        },
    ),
    Entry("lenet", _classifiers, _classifier_values),
    Entry("batch_norm", _classifiers, lambda m: {"test_acc": _classifier_values(m)["test_acc"]}),
    Entry(
        "modern_cnns",
        lambda m: (
            _modern_configuration(m)
            + ": "
            + "; ".join(
                f"{name}: test acc {with_spread(m[name], 'test_acc')}" for name in m["num_params"]
            )
        ),
    ),
    Entry(
        "sequence_models",
        _sequence_models,
        lambda m: {
            "final_loss": [m["final_loss"]],
            "one_step_test_mse": [m["one_step_test_mse"]],
        },
    ),
    Entry(
        "text_preprocessing",
        lambda m: (
            f"# text lines: {m['num_lines']}; line 0 {m['line_0']!r}, line 10 {m['line_10']!r}; "
            f"{[tuple(pair) for pair in m['word_vocab_first_ten']]}; line 0 → "
            f"{m['indices']['0']}; ({m['num_char_tokens']}, {m['char_vocab_size']})"
            + ("" if m["data"]["books_text"] else " (not the book's text)")
        ),
        lambda m: {
            band: [m[band]]
            for band in ("num_lines", "word_vocab_size", "num_char_tokens", "char_vocab_size")
        },
    ),
    Entry("language_models", _language_models, _language_models_values),
]


BY_NAME = {entry.name: entry for entry in EXPERIMENTS}


def band_check(entry: Entry, metrics: dict, quick: bool = False) -> str:
    """ "yes", or the bands our values miss, or "—" when the book gives none (or ``quick``:
    small runs are not the book's configuration), or the settings by which the run differs
    from the book's configuration as its section declares it (``BOOK = dict(...)`` in its file),
    whose bands hold for that configuration only."""
    flags = metrics.get("flags", {})
    if quick or flags.get("quick") or not BOOK[entry.name].bands:
        return "—"
    differ = differences(declared(entry.name).book, flags)
    if differ:
        return f"not compared: your configuration differs: {', '.join(differ)}"
    measured = entry.measured(metrics)
    if not any(measured.values()):  # only a learner's own variants
        return "—"
    reference = BOOK[entry.name]
    missed = [
        (band, value)
        for band, values in measured.items()
        for value in values
        if not within(entry.name, band, value)
    ]
    if not missed:
        return "yes"
    said = [f"{band} {value:.3g} not in {reference.bands[band]}" for band, value in missed]
    spread = (reference.seed_spread or {}) if (flags.get("seeds") or 1) == 1 else {}

    def explained(band, value):
        low, high = reference.bands[band]
        s = spread.get(band)
        return s is not None and low - 2 * s < value < high + 2 * s

    if all(explained(band, value) for band, value in missed):
        spreads = ", ".join(f"{band} ± {spread[band]:.3f}" for band in dict(missed))
        return (
            f"within one seed's spread ({spreads}): {'; '.join(said)}; the band holds for "
            "the mean of seeds (--seeds 5)"
        )
    return "**no**: " + "; ".join(said)


def comparison(name: str, metrics: dict, *, quick: bool = False) -> str:
    """A Markdown table: our headline figures, the book's, and whether ours are in its bands."""
    entry = BY_NAME[name]
    rows = [
        ("jaxdl", entry.headline(metrics)),
        ("book", BOOK[name].result),
        ("in the book's band", band_check(entry, metrics, quick)),
    ]
    lines = ["| | |", "|---|---|"] + [f"| {k} | {v.replace('|', chr(92) + '|')} |" for k, v in rows]
    return "\n".join(lines)

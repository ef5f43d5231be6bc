"""The chapter-2 experiments, run as a user would; figures from the book
(experiments/harness/reference.py)."""

import math

import numpy as np
import pytest

# The slow tier (pytest -m slow): each section's runs; the default tier runs each once on
# tiny data (test_sections.py).
pytestmark = pytest.mark.slow

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_ndarray(run_experiment):
    m, stdout, _ = run_experiment("ndarray")
    assert m["arange"] == list(range(12))
    assert m["shape"] == [12] and m["size"] == 12
    assert m["reshape_shape"] == [3, 4] and m["reshape_inferred_shape"] == [3, 4]
    assert m["flatten_shape"] == [12]
    assert m["zeros_shape"] == [2, 3, 4] and m["ones_shape"] == [2, 3, 4]
    assert m["normal"] == {
        "shape": [3, 4],
        "same_key_same_values": True,
        "split_key_new_values": True,
    }
    assert m["from_list"] == [[2, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]]
    e = m["elementwise"]
    assert e["add"] == [3, 4, 6, 10] and e["sub"] == [-1, 0, 2, 6]
    assert e["mul"] == [2, 4, 8, 16] and e["div"] == [0.5, 1, 2, 4]
    assert e["pow"] == [1, 4, 16, 64]
    np.testing.assert_allclose(e["exp"], [math.exp(v) for v in (1, 2, 4, 8)], rtol=1e-6)
    X = np.arange(12.0).reshape(3, 4)
    Y = np.array([[2.0, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])
    assert m["concat_axis0"] == np.vstack([X, Y]).tolist()
    assert m["concat_axis1"] == np.hstack([X, Y]).tolist()
    assert m["equal"] == [[False, True, False, True], [False] * 4, [False] * 4]
    assert m["sum"] == 66
    assert m["broadcast"] == [[0, 1], [1, 2], [2, 3]]
    assert m["last_row"] == [8, 9, 10, 11] and m["rows_1_2"] == [[4, 5, 6, 7], [8, 9, 10, 11]]
    assert m["set_element"] == [[0, 1, 2, 3], [4, 5, 9, 7], [8, 9, 10, 11]]
    assert m["set_rows"] == [[12] * 4, [12] * 4, [8, 9, 10, 11]]
    assert m["original_unchanged"] is True
    assert m["add_makes_new_array"] is True and m["augmented_assign_makes_new_array"] is True
    assert m["donation"]["input_deleted"] is True and m["donation"]["result_correct"] is True
    assert isinstance(m["donation"]["buffer_reused"], bool)
    assert m["numpy"] == {
        "to_numpy_type": "ndarray",
        "from_numpy_type": "ArrayImpl",
        "round_trip_equal": True,
    }
    assert m["scalar"] == {"item": 3.5, "float": 3.5, "int": 3}
    devices = m["devices"]
    assert devices["available"] and devices["platform"] in {"cpu", "gpu", "tpu"}
    assert devices["array_devices"][0] in devices["available"]
    assert "is_deleted(): True" in stdout and "RuntimeError" in stdout


def test_preprocessing(run_experiment):
    m, stdout, out = run_experiment("preprocessing")
    assert (out / "house_tiny.csv").read_text() == (
        "NumRooms,Alley,Price\nNA,Pave,127500\n2,NA,106000\n4,NA,178100\nNA,NA,140000\n"
    )
    assert m["csv"] == "house_tiny.csv" and m["num_rows"] == 4
    assert m["missing_per_column"] == {"NumRooms": 2, "Alley": 3, "Price": 0}
    assert m["fill_values"] == {"NumRooms": 3.0}
    assert m["feature_names"] == ["NumRooms", "Alley_Pave", "Alley_nan"]
    assert m["X"] == [[3, 1, 0], [2, 0, 1], [4, 0, 1], [3, 0, 1]]
    assert m["y"] == [127500, 106000, 178100, 140000]
    assert m["dtype"] == "float32"
    assert "Alley_nan" in stdout


def test_linear_algebra(run_experiment):
    m, _, _ = run_experiment("linear_algebra")
    assert m["scalars"] == {"x": 3, "y": 2, "add": 5, "mul": 6, "div": 1.5, "pow": 9}
    assert m["vector"] == {"x": [0, 1, 2, 3], "x[3]": 3, "len": 4, "shape": [4]}
    A = np.arange(20.0).reshape(5, 4)
    assert m["matrix"]["A"] == A.tolist() and m["matrix"]["A.T"] == A.T.tolist()
    assert m["symmetric"] == [[True] * 3] * 3
    assert m["tensor_shape"] == [2, 3, 4] and m["scalar_plus_tensor_shape"] == [2, 3, 4]
    assert m["hadamard"] == (A * A).tolist()
    assert m["copy"]["equal"] is True
    s = m["sums"]
    assert s["x"] == 6 and s["A"] == 190 and s["axes01"] == 190
    assert s["axis0"] == [40, 45, 50, 55] and s["axis1"] == [6, 22, 38, 54, 70]
    assert s["mean"] == 9.5 and s["sum_over_size"] == 9.5
    assert s["mean_axis0"] == [8, 9, 10, 11]
    assert s["keepdims_axis1"] == [[6], [22], [38], [54], [70]] and s["keepdims_shape"] == [5, 1]
    np.testing.assert_allclose(s["A_over_row_sums"], A / A.sum(axis=1, keepdims=True), rtol=1e-6)
    assert s["cumsum_axis0"] == np.cumsum(A, axis=0).tolist()
    assert m["dot"] == 6 and m["dot_as_sum"] == 6
    assert m["matvec"] == [14, 38, 62, 86, 110]
    assert m["matmul"] == [[6] * 3, [22] * 3, [38] * 3, [54] * 3, [70] * 3]
    n = m["norms"]
    assert m["l2_norm"] == 5 and m["l1_norm"] == 7 and m["frobenius_norm"] == 6
    assert n["l2_reference"] == 5 and n["l1_reference"] == 7 and n["frobenius_reference"] == 6
    assert n["grad_l2_at_zero"] == [0, 0] and n["grad_l1_at_zero"] == [0, 0]
    assert n["grad_frobenius_at_zero_max_abs"] == 0
    assert n["naive_grad_at_zero_is_nan"] is True


def test_calculus(run_experiment):
    m, stdout, out = run_experiment("calculus")
    book = ["2.30000", "2.03000", "2.00300", "2.00030", "2.00003"]
    assert [f"{v:.5f}" for v in m["limits"]] == book
    np.testing.assert_allclose(m["h"], [0.1, 0.01, 1e-3, 1e-4, 1e-5], rtol=1e-12)
    for h, limit in zip(m["h"], m["limits"], strict=True):
        assert limit == pytest.approx(2 + 3 * h, rel=1e-9)  # (f(1+h) - f(1)) / h by hand
    lines = [
        f"h={h}, numerical limit={v}"
        for h, v in zip(["0.10000", "0.01000", "0.00100", "0.00010", "0.00001"], book, strict=True)
    ]
    assert stdout.splitlines()[:5] == lines
    assert len(m["limits_float32"]) == 5
    assert m["x"] == 1.0 and m["derivative"] == 2.0
    assert m["tangent"] == {"slope": 2.0, "intercept": -3.0}
    g = m["gradients"]
    np.testing.assert_allclose(g["exercise"]["closed_form"], [6.0, 5 * math.exp(2.0)])
    for name in ("exercise", "quadratic_form", "squared_norm"):
        assert g[name]["max_rel_diff_numerical"] < 1e-6, name
        assert g[name]["max_rel_diff_closed_form"] < 1e-6, name
        assert len(g[name]["autodiff"]) == len(g[name]["x"])
    # jax.grad's values themselves, against the closed forms worked by hand here.
    np.testing.assert_allclose(g["exercise"]["autodiff"], [6.0, 5 * math.exp(2.0)], rtol=1e-6)
    np.testing.assert_allclose(
        g["squared_norm"]["autodiff"], 2 * np.asarray(g["squared_norm"]["x"]), rtol=1e-6
    )
    np.testing.assert_allclose(
        g["squared_norm"]["closed_form"], 2 * np.asarray(g["squared_norm"]["x"])
    )
    assert (out / "calculus.png").read_bytes()[:8] == PNG_MAGIC


def test_autograd(run_experiment):
    m, _, _ = run_experiment("autograd")
    assert m["x"] == [0, 1, 2, 3]
    assert m["y"] == 28
    assert m["grad"] == [0, 4, 8, 12]
    assert m["grad_equals_4x"] is True
    assert m["grad_of_sum"] == [1, 1, 1, 1]
    assert m["grad_of_sum_of_squares"] == [0, 2, 4, 6]
    assert m["vjp_ones"] == [0, 2, 4, 6] and m["vjp_equals_2x"] is True
    d = m["detach"]
    assert d["u"] == [0, 1, 4, 9] and d["grad"] == [0, 1, 4, 9] and d["grad_equals_u"] is True
    assert d["grad_without_stop"] == [0, 3, 12, 27]
    c = m["control_flow"]
    assert c["grad_equals_f_over_a"] is True
    assert c["grad"] == pytest.approx(c["f_a"] / c["a"], rel=1e-6)
    # f is linear in a: f(a) = 2^(doublings + 1) a, or 100 times that when the result is negative.
    k = 2.0 ** (c["doublings"] + 1) * (1 if c["a"] > 0 else 100)
    assert c["grad"] == k
    assert abs(c["f_a"]) >= 1000
    p = m["per_example"]
    assert p["grads_shape"] == [p["batch_size"], p["num_features"]]
    assert p["max_abs_diff_closed_form"] < 1e-5 and p["mean_equals_batch_grad"] is True

"""The builders' guide, sections 5.1–5.4 (model construction, parameters, deferred
initialization, custom layers), run as a user runs them (``--quick``), and
``jaxdl.params``. Parameter counts are worked by hand here (in·out + out per dense layer),
outputs and gradients recomputed in NumPy from the values the scripts record."""

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.errors import InputTypeError
from jaxdl.params import num_params, param_table


def dense(n_in: int, n_out: int) -> int:
    """Parameters of one dense layer, by hand: a [n_in, n_out] kernel and an [n_out] bias."""
    return n_in * n_out + n_out


def table(*rows) -> list:
    """A parameter table as metrics.json holds it: ``[[path, [dims]], ...]``."""
    return [[path, list(shape)] for path, shape in rows]


def relu(z):
    return np.maximum(z, 0.0)


def float64_params(params: dict) -> dict:
    """``{layer: {name: values}}`` from metrics.json as float64 NumPy arrays."""
    return {
        k: {n: np.array(v, np.float64) for n, v in layer.items()} for k, layer in params.items()
    }


# jaxdl.params


class Pair(NamedTuple):
    first: object
    second: object


def test_param_table_and_num_params_by_hand():
    tree = {
        "b": {"kernel": jnp.zeros((3, 4)), "bias": jnp.zeros(4)},
        "a": [jnp.zeros(2), {"w": jnp.zeros((5, 1, 2))}, None],
        "c": Pair(jnp.zeros(()), np.zeros((2, 2), np.float32)),
    }
    assert param_table(tree) == [
        ("a/0", (2,)),
        ("a/1/w", (5, 1, 2)),
        ("b/bias", (4,)),
        ("b/kernel", (3, 4)),
        ("c/first", ()),
        ("c/second", (2, 2)),
    ]
    assert num_params(tree) == 2 + 10 + 4 + 12 + 1 + 4
    assert isinstance(num_params(tree), int)
    assert param_table(jnp.zeros((2, 3))) == [("", (2, 3))]
    assert num_params({}) == 0 and param_table({"a": None}) == []


def test_num_params_of_flax_and_abstract_parameters():
    x = jnp.ones((1, 5))
    mlp = nn.Sequential([nn.Dense(7), nn.relu, nn.Dense(3)])
    params = mlp.init(jax.random.key(0), x)["params"]
    assert num_params(params) == dense(5, 7) + dense(7, 3)
    abstract = jax.eval_shape(mlp.init, jax.random.key(0), x)["params"]
    assert param_table(abstract) == param_table(params)
    assert param_table(params)[1] == ("layers_0/kernel", (5, 7))


def test_num_params_under_jit():
    tree = {"w": jnp.ones((4, 3)), "b": jnp.ones(3)}

    @jax.jit
    def size_times_sum(tree):
        return num_params(tree) * jnp.sum(tree["b"])

    assert float(size_times_sum(tree)) == 15 * 3


@pytest.mark.parametrize(
    "tree, where",
    [({"w": 3.0}, "float 3.0 at 'w'"), ("abc", "str 'abc' at the root"), ([[1]], "at '0/0'")],
)
def test_a_leaf_that_is_not_an_array_is_refused(tree, where):
    for fn in (num_params, param_table):
        with pytest.raises(InputTypeError) as error:
            fn(tree)
        assert str(error.value).startswith("tree: expected a pytree of arrays")
        assert where in str(error.value)
    assert issubclass(InputTypeError, TypeError)


# 5.1 model construction

MLP_COUNT = dense(20, 256) + dense(256, 10)


@pytest.mark.slow
def test_model_construction(run_experiment):
    m, stdout, _ = run_experiment("model_construction")
    assert MLP_COUNT == 7946
    assert m["x_shape"] == [2, 20]
    tables = {
        "pure": table(("hidden/W", (20, 256)), ("hidden/b", (256,)), ("out/W", (256, 10)),
                      ("out/b", (10,))),
        "sequential": table(("layers_0/bias", (256,)), ("layers_0/kernel", (20, 256)),
                            ("layers_2/bias", (10,)), ("layers_2/kernel", (256, 10))),
        "mlp_class": table(("hidden/bias", (256,)), ("hidden/kernel", (20, 256)),
                           ("out/bias", (10,)), ("out/kernel", (256, 10))),
        "my_sequential": table(("0/W", (20, 256)), ("0/b", (256,)), ("2/W", (256, 10)),
                               ("2/b", (10,))),
    }  # fmt: skip
    assert set(m["mlp"]) == set(tables)
    for name, expected in tables.items():
        assert m["mlp"][name]["output_shape"] == [2, 10], name
        assert m["mlp"][name]["num_params"] == MLP_COUNT, name
        assert m["mlp"][name]["table"] == expected, name
    assert m["same_function_max_abs_diff"] < 1e-6

    f = m["fixed_hidden"]
    assert f["num_params"] == dense(20, 20)  # one Linear(20, 20), used twice
    assert f["num_constants"] == 20 * 20  # the constant weight, not a parameter
    assert f["grad_table"] == table(("linear/bias", (20,)), ("linear/kernel", (20, 20)))
    # The loop halves h times: the smallest h with ‖X‖₁ / 2^h <= 1; the result is sum(X) / 2^h.
    h = f["halvings"]
    assert f["before_loop_l1"] / 2**h <= 1
    assert h == 0 or f["before_loop_l1"] / 2 ** (h - 1) > 1
    assert h == max(0, int(np.ceil(np.log2(f["before_loop_l1"]))))
    assert f["output"] == pytest.approx(f["before_loop_sum"] / 2**h, rel=1e-5)
    for key in ("output_eager", "book_loop_jit", "python_loop"):
        assert f[key] == pytest.approx(f["output"], rel=1e-5, abs=1e-7), key
    assert abs(f["output"]) <= 1 and f["loops_agree"] is True
    assert "Reverse-mode differentiation does not work" in f["grad_through_while_loop_error"]
    assert f["grad_finite"] is True

    nest = dense(20, 64) + dense(64, 32) + dense(32, 16)
    assert nest == 3952
    assert m["nest_mlp"]["num_params"] == nest and m["nest_mlp"]["output_shape"] == [2, 16]
    c = m["chimera"]
    assert c["num_params"] == nest + dense(16, 20) + dense(20, 20) == 4712
    assert c["num_constants"] == 400 and c["output_shape"] == [] and abs(c["output"]) <= 1
    assert ["layers_2/linear/kernel", [20, 20]] in c["table"]
    assert len(c["table"]) == 10
    assert "ValueError" not in stdout.split("jax.grad(book_loop)")[0]


# 5.2 parameter management


@pytest.mark.slow
def test_parameters(run_experiment):
    m, stdout, _ = run_experiment("parameters")
    assert m["output_shape"] == [2, 1]
    assert m["layers_2"]["kernel_shape"] == [8, 1] and m["layers_2"]["bias_shape"] == [1]
    assert m["table"] == table(
        ("layers_0/bias", (8,)),
        ("layers_0/kernel", (4, 8)),
        ("layers_2/bias", (1,)),
        ("layers_2/kernel", (8, 1)),
    )
    assert m["layers_0_table"] == table(("bias", (8,)), ("kernel", (4, 8)))
    assert m["num_params"] == dense(4, 8) + dense(8, 1) == 49
    assert m["grad_table_equals_table"] is True and m["bias_by_path_equal"] is True

    r = m["rgnet"]
    block1 = dense(4, 8) + dense(8, 4)
    assert r["num_params"] == 4 * block1 + dense(4, 1) == 309
    assert len(r["table"]) == 4 * 2 * 2 + 2
    assert ["layers_0/layers_1/layers_0/bias", [8]] in r["table"]
    assert ["layers_1/kernel", [4, 1]] in r["table"]
    assert r["nested_bias_shape"] == [8] and r["output_shape"] == [2, 1]

    i = m["init"]
    assert 0.005 < i["normal"]["kernel_std"] < 0.02  # 40 draws of N(0, 0.01²)
    assert i["normal"]["biases_zero"] is True
    assert i["constant"]["weight0"] == [1, 1, 1, 1] and i["constant"]["bias0"] == 0
    bound = np.sqrt(6 / (4 + 8))  # Xavier uniform for a [4, 8] kernel
    assert i["xavier_42"]["xavier_bound"] == pytest.approx(bound)
    assert 0 < i["xavier_42"]["xavier_max_abs"] <= bound
    assert all(abs(w) <= bound for w in i["xavier_42"]["weight0"])
    assert i["xavier_42"]["layers_2_kernel"] == [42] * 8

    my = m["my_init"]
    assert my["kernel_shapes"] == [[4, 8], [8, 1]]
    assert "Init kernel (4, 8)\nInit kernel (8, 1)" in stdout
    rows = np.array(my["weight_rows"])
    assert rows.shape == (2, 4)
    assert np.all((rows == 0) | ((np.abs(rows) >= 5) & (np.abs(rows) <= 10)))
    assert my["zero_or_at_least_5"] is True and 0 < my["fraction_zero"] < 1

    s = m["set"]
    expected = np.array(s["weight0_before"]) + 1
    expected[0] = 42
    np.testing.assert_allclose(s["weight0_after"], expected, rtol=1e-6)
    assert s["original_unchanged"] is True


def test_tied_gradient_is_the_sum_of_both_uses_by_hand(run_experiment):
    t = run_experiment("parameters")[0]["tied"]
    assert t["num_params"] == dense(4, 8) + dense(8, 8) + dense(8, 1) == 121
    assert t["untied_num_params"] == t["num_params"] + dense(8, 8) == 193
    assert [path for path, _ in t["table"]] == [
        f"layers_{i}/{name}" for i in (0, 2, 6) for name in ("bias", "kernel")
    ]
    # Backpropagation by hand in float64, the shared layer's two uses as two copies.
    p = float64_params(t["params"])
    x = np.array(t["x"], np.float64)
    w0, b0 = p["layers_0"]["kernel"], p["layers_0"]["bias"]
    ws, bs = p["layers_2"]["kernel"], p["layers_2"]["bias"]
    w6 = p["layers_6"]["kernel"]
    z1 = x @ w0 + b0
    h1 = relu(z1)
    z2 = h1 @ ws + bs
    h2 = relu(z2)
    z3 = h2 @ ws + bs
    h3 = relu(z3)
    dy = np.ones((2, 1))  # d sum(y) / dy
    dz3 = (dy @ w6.T) * (z3 > 0)
    dz2 = (dz3 @ ws.T) * (z2 > 0)
    dz1 = (dz2 @ ws.T) * (z1 > 0)
    first, second = h1.T @ dz2, h2.T @ dz3  # the kernel's two uses
    assert np.linalg.norm(first) > 0 and np.linalg.norm(second) > 0  # both contribute
    g = t["grad"]
    tol = {"rtol": 1e-5, "atol": 1e-6}
    np.testing.assert_allclose(t["grad_first_use"], first, **tol)
    np.testing.assert_allclose(t["grad_second_use"], second, **tol)
    np.testing.assert_allclose(g["layers_2"]["kernel"], first + second, **tol)
    np.testing.assert_allclose(g["layers_2"]["bias"], dz2.sum(0) + dz3.sum(0), **tol)
    np.testing.assert_allclose(g["layers_6"]["kernel"], h3.T @ dy, **tol)
    np.testing.assert_allclose(g["layers_6"]["bias"], dy.sum(0), **tol)
    np.testing.assert_allclose(g["layers_0"]["kernel"], x.T @ dz1, **tol)
    np.testing.assert_allclose(g["layers_0"]["bias"], dz1.sum(0), **tol)
    assert t["grad_equals_sum_of_copies"] is True and t["max_abs_diff"] < 1e-6


# 5.3 deferred initialization


@pytest.mark.slow
def test_deferred_init(run_experiment):
    m, _, _ = run_experiment("deferred_init")
    assert m["declared"] == {"features": 256}
    assert "unbound" in m["before_init_error"]
    for width in (20, 30):
        count = dense(width, 256) + dense(256, 10)
        f, p = m["flax"], m["pure"]
        assert f[f"table_{width}"] == table(
            ("layers_0/bias", (256,)),
            ("layers_0/kernel", (width, 256)),
            ("layers_2/bias", (10,)),
            ("layers_2/kernel", (256, 10)),
        )
        assert p[f"table_{width}"] == table(
            ("hidden/W", (width, 256)), ("hidden/b", (256,)), ("out/W", (256, 10)), ("out/b", (10,))
        )
        for v in (f, p):
            assert v[f"num_params_{width}"] == count
            assert v[f"output_shape_{width}"] == [2, 10]
    assert m["flax"]["num_params_20"] == 7946 and m["flax"]["num_params_30"] == 10506
    assert m["abstract_table_20"] == m["flax"]["table_20"] and m["abstract_equals_init"] is True
    wrong = m["flax"]["wrong_width_error"]
    assert wrong["type"] == "ScopeParamShapeError"
    assert "(30, 256)" in wrong["message"] and "(20, 256)" in wrong["message"]
    wrong = m["pure"]["wrong_width_error"]
    assert wrong["type"] == "TypeError"
    assert "(30,)" in wrong["message"] and "(20,)" in wrong["message"]


# 5.4 custom layers


@pytest.mark.slow
def test_custom_layer(run_experiment):
    m, _, _ = run_experiment("custom_layer")
    c = m["centered"]
    x = np.array([1.0, 2, 3, 4, 5])
    assert c["input"] == x.tolist()
    assert c["output"] == c["pure_output"] == (x - x.mean()).tolist() == [-2, -1, 0, 1, 2]
    n = m["centered_net"]
    assert n["output_shape"] == [4, 128] and n["num_params"] == dense(8, 128)
    assert abs(n["mean"]) < 1e-6 and n["mean_abs"] == abs(n["mean"])

    lin = m["my_linear"]
    assert lin["weight_shape"] == [5, 3] and lin["bias_shape"] == [3]
    assert lin["num_params"] == dense(5, 3)
    w, b, x = (np.array(lin[k], np.float64) for k in ("weight", "bias", "x"))
    z = x @ w + b
    np.testing.assert_allclose(lin["output"], relu(z), rtol=1e-5, atol=1e-6)
    # d sum(relu(x W + b)) / dW = xᵀ 1[z > 0], / db = the column sums of 1[z > 0]
    np.testing.assert_allclose(lin["grad"]["weight"], x.T @ (z > 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lin["grad"]["bias"], (z > 0).sum(0), rtol=1e-6)
    assert lin["pure_equals_flax"] is True

    net = m["my_linear_net"]
    assert net["num_params"] == dense(64, 8) + dense(8, 1) == 529
    expected_table = table(
        ("layers_0/bias", (8,)),
        ("layers_0/weight", (64, 8)),
        ("layers_1/bias", (1,)),
        ("layers_1/weight", (8, 1)),
    )
    assert net["table"] == net["grad_table"] == expected_table
    p = float64_params(net["params"])
    h = relu(np.array(net["x"]) @ p["layers_0"]["weight"] + p["layers_0"]["bias"])
    y = relu(h @ p["layers_1"]["weight"] + p["layers_1"]["bias"])
    np.testing.assert_allclose(net["output"], y, rtol=1e-5, atol=1e-5)
    assert net["output_shape"] == net["pure_output_shape"] == [2, 1]
    # W and b drawn N(0, 1) as torch.randn (flax's default kernel would have std 1/8 here)
    assert 0.85 < np.std(p["layers_0"]["weight"]) < 1.15
    assert net["pure_equals_flax"] is True and net["grad_finite"] is True


def test_a_seed_gives_the_same_results_and_another_seed_others(run_experiment):
    first, _, _ = run_experiment("custom_layer")
    again, _, _ = run_experiment("custom_layer")
    other, _, _ = run_experiment("custom_layer", "--seed", "1")
    for m in (first, again, other):
        m.pop("timing")
    assert first == again
    assert other["my_linear"]["weight"] != first["my_linear"]["weight"]
    assert other["seed"] == 1

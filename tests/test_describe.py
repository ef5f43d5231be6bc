"""Descriptions of what defines a run (``jaxdl._describe``): values, arrays, partials, closures,
dataclasses; each against the value it describes, written out by hand."""

import dataclasses
import functools
import hashlib
import json

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl._describe import describe, number
from jaxdl.losses import huber_loss
from jaxdl.optim import l2_penalty


def test_plain_values_are_themselves():
    for value in (None, True, 3, "relu", 0.25):
        assert describe(value) == value
    assert describe(float("nan")) == "nan" and describe(float("-inf")) == "-inf"
    assert describe((1, [2.5, "a"], {"k": None})) == [1, [2.5, "a"], {"k": None}]


def test_numpy_scalars_and_float32_as_the_shortest_same_number():
    assert describe(np.int64(7)) == 7 and isinstance(describe(np.int64(7)), int)
    assert describe(np.float32(0.1)) == 0.1  # not 0.10000000149011612
    assert number(np.float32(0.3)) == 0.3 and np.float32(number(np.float32(0.3))) == np.float32(0.3)
    assert describe(np.float64(0.1)) == 0.1


def test_small_arrays_by_value_large_ones_by_digest():
    assert describe(jnp.array([0.5, 2.0])) == [0.5, 2.0]
    assert describe(np.array([[1, 2], [3, 4]], np.int32)) == [[1, 2], [3, 4]]
    assert describe(jnp.asarray(0.1, jnp.float32)) == 0.1
    big = np.arange(100, dtype=np.float32).reshape(10, 10)
    assert describe(big) == {
        "shape": [10, 10],
        "dtype": "float32",
        "sha256": hashlib.sha256(big.tobytes()).hexdigest(),
    }
    assert describe(big) != describe(big + 1)
    assert describe(np.array([True, False])) == [True, False]


def test_traced_values_are_unknown():
    seen = []
    jax.jit(lambda x: seen.append(describe({"lam": x})) or x)(1.0)
    assert seen == [{"lam": None}]


def test_dtypes_by_name():
    assert describe(jnp.float32) == "float32"
    assert describe(np.dtype("int8")) == "int8"


def test_a_partial_with_its_arguments():
    assert describe(functools.partial(huber_loss, delta=2.0)) == {
        "function": "jaxdl.huber_loss",
        "keywords": {"delta": 2.0},
    }
    assert describe(functools.partial(optax.huber_loss)) == {"function": "optax.huber_loss"}
    nested = describe(functools.partial(functools.partial(max, 1), 2))  # Python flattens it
    assert nested == {"function": "builtins.max", "args": [1, 2]}


def test_a_function_is_its_name_alone_whatever_it_holds():
    """What a function closes over, reads from its module or binds as a method is not read: a
    run declares the values that define it (its configuration), and its record holds those."""

    def penalty(lam, which):
        return lambda params: lam * l2_penalty(params[which])

    described = describe(penalty(3.0, "w"))
    assert described.endswith("penalty.<locals>.<lambda>") and described.startswith("test")
    assert describe(penalty(0.5, "w")) == described
    assert describe(l2_penalty) == "jaxdl.l2_penalty"
    namespace = {"LAMBDA": 3.0, "l2_penalty": l2_penalty, "np": np}
    exec("def penalty(p):\n    return LAMBDA * l2_penalty(p)", namespace)  # a notebook's cell
    namespace["penalty"].__module__ = "__main__"
    assert describe(namespace["penalty"]) == "__main__.penalty"


class Block(nn.Module):
    """A module with a partial field, as flax's ResNet takes its normalisation."""

    width: int = 4
    norm: object = functools.partial(nn.BatchNorm, momentum=0.9)

    @nn.compact
    def __call__(self, x):
        return x


def test_a_flax_module_by_its_fields_with_partial_keywords():
    described = describe(Block())
    assert described == {
        "name": "Block",
        "width": 4,
        "norm": {"function": "flax.BatchNorm", "keywords": {"momentum": 0.9}},
    }
    other = describe(Block(norm=functools.partial(nn.BatchNorm, momentum=0.8)))
    assert other["norm"]["keywords"] == {"momentum": 0.8}


def test_a_plain_dataclass_and_a_class():
    @dataclasses.dataclass
    class Config:
        rate: float
        sizes: tuple

    assert describe(Config(0.5, (1, 2))) == {"name": "Config", "rate": 0.5, "sizes": [1, 2]}
    assert describe(nn.Dense) == "flax.Dense"


def test_an_object_of_another_kind_by_its_kind():
    assert describe(object()) == "<builtins.object>"


@pytest.mark.parametrize(
    "value",
    [np.float32(0.1), jnp.ones(3), functools.partial(huber_loss, delta=1.0), Block()],
)
def test_descriptions_are_json(value):
    assert json.loads(json.dumps(describe(value))) == describe(value)


def test_a_random_key_by_its_data():
    assert describe(jax.random.key(3)) == {"key": [0, 3]}
    assert describe({"k": jax.random.split(jax.random.key(0), 2)})["k"]["key"] == (
        np.asarray(jax.random.key_data(jax.random.split(jax.random.key(0), 2))).tolist()
    )


def test_arrays_of_any_float_dtype():
    big = jnp.arange(64, dtype=jnp.bfloat16)
    described = describe(big)
    assert described["dtype"] == "bfloat16"
    assert (
        described["sha256"] == hashlib.sha256(np.asarray(big).view(np.uint16).tobytes()).hexdigest()
    )
    assert describe(np.longdouble(0.5)) == 0.5
    assert describe(np.array([0.25, 2.0], np.longdouble)) == [0.25, 2.0]
    assert describe(jnp.array([1.5], jnp.float16)) == [1.5]


def test_keys_that_are_not_strings_hold_no_address():
    key = object()
    described = describe({key: 1, 2: "b", huber_loss: 3})
    assert described == {"<builtins.object>": 1, "2": "b", "jaxdl.huber_loss": 3}
    assert "0x" not in json.dumps(described)


def test_a_value_inside_itself_is_a_cycle():
    a = [1]
    a.extend([a] * 6)
    assert describe(a) == [1] + ["<cycle>"] * 6


def test_a_librarys_function_is_its_name_alone():
    assert describe(huber_loss) == "jaxdl.huber_loss"  # not its default delta, nor globals
    assert describe(optax.softmax_cross_entropy_with_integer_labels) == (
        "optax.softmax_cross_entropy_with_integer_labels"
    )

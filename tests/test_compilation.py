"""The compilation cache's settings, compile counts, and sweeps compiled once."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl.compilation import ENV_VAR, cache_dir, compile_stats, default_cache_dir, use_cache
from jaxdl.data.synthetic import polynomial_data
from jaxdl.optim import sgd
from jaxdl.selection import cross_validate, masked_linear


def test_cache_dir_flag_then_variable_then_default(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "from-env"))
    assert cache_dir(str(tmp_path / "flag")) == tmp_path / "flag"
    assert cache_dir(None) == tmp_path / "from-env"
    assert cache_dir("off") is None
    monkeypatch.setenv(ENV_VAR, "off")
    assert cache_dir(None) is None
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir(None) == default_cache_dir() == tmp_path / "xdg" / "jaxdl" / "jax"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "jaxdl" / "jax"


def test_compile_stats_count_each_new_program_once():
    x3, x5 = np.ones(3, np.float32), np.ones(5, np.float32)
    f = jax.jit(lambda x: jnp.sin(x) * 7.0 + 2.0)
    before = compile_stats()
    f(x3).block_until_ready()
    f(x3).block_until_ready()  # compiled already
    f(x5).block_until_ready()  # another shape: another program
    seen = compile_stats() - before
    # Compiled by XLA or read from the session's persistent cache: two programs in all.
    assert seen.compilations + seen.cache_hits == 2
    assert seen.seconds > 0


def _cross_validate(model, **options):
    (x, y), _ = polynomial_data(jax.random.key(0), [5.0, 1.2, -3.4, 5.6])
    return cross_validate(
        model,
        optax.squared_error,
        sgd(0.01),
        (x, y),
        k=5,
        epochs=3,
        batch_size=10,
        key=jax.random.key(1),
        **options,
    )


def _cross_validate_candidates(count: int):
    masks = np.arange(20)[None, :] < np.arange(1, count + 1)[:, None]
    return _cross_validate(masked_linear, candidates=masks.astype(np.float32))


@pytest.mark.slow
def test_candidates_train_as_one_program_whatever_their_number():
    _cross_validate_candidates(2)  # the small helper programs, compiled once
    before = compile_stats()
    three = _cross_validate_candidates(3)
    middle = compile_stats()
    _cross_validate_candidates(7)
    three_programs, seven_programs = middle - before, compile_stats() - middle
    count = lambda s: s.compilations + s.cache_hits  # noqa: E731
    assert count(seven_programs) == count(three_programs) >= 1  # not one per candidate
    assert three.val_loss.shape == (3, 5) and three.history["val_loss"].shape == (3, 5, 3)


@pytest.mark.slow
def test_candidates_equal_one_cross_validation_per_candidate():
    together = _cross_validate_candidates(4)
    for i in range(4):
        alone = _cross_validate(masked_linear(np.arange(20) < i + 1))
        # The mask is data in one and a constant in the other: equal to float32 rounding.
        np.testing.assert_allclose(together.val_loss[i], alone.val_loss, rtol=2e-6)
        np.testing.assert_allclose(together.train_loss[i], alone.train_loss, rtol=2e-6)


def test_candidates_refuse_sequential_folds():
    with pytest.raises(ValueError, match="vmap: expected True with candidates"):
        cross_validate(
            masked_linear,
            optax.squared_error,
            sgd(0.01),
            (np.ones((10, 2), np.float32), np.ones(10, np.float32)),
            k=2,
            epochs=1,
            batch_size=2,
            key=jax.random.key(0),
            candidates=np.ones((2, 2), np.float32),
            vmap=False,
        )


@pytest.mark.parametrize("word", ["off", "OFF", "0", "no", "false", "False", "none"])
def test_every_word_for_off_turns_the_cache_off(monkeypatch, word):
    assert cache_dir(word) is None
    monkeypatch.setenv(ENV_VAR, word)
    assert cache_dir(None) is None  # not a folder named "false" in the working directory


@pytest.fixture
def session_cache_restored():
    """use_cache changes the process's JAX settings: put the test session's cache back."""
    from conftest import SESSION_CACHE

    yield
    use_cache(SESSION_CACHE)


def test_a_cache_folder_that_cannot_be_made_warns_once_and_turns_the_cache_off(
    tmp_path, session_cache_restored
):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.warns(UserWarning, match=r"^compilation cache: cannot use .*a-file/cache .*; "):
        assert use_cache(blocker / "cache") is None
    assert not jax.config.jax_enable_compilation_cache
    assert use_cache(tmp_path / "fine") == tmp_path / "fine"
    assert jax.config.jax_enable_compilation_cache

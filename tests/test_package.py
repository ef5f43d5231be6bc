"""The package's public face and the tree's hygiene."""

import importlib
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import jaxdl
import jaxdl.data
import jaxdl.engine
import jaxdl.models

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("module", [jaxdl, jaxdl.data, jaxdl.engine, jaxdl.models])
def test_every_public_name_imports(module):
    assert module.__all__, module.__name__
    assert len(set(module.__all__)) == len(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None, name


def test_public_names_are_documented():
    for name in jaxdl.__all__:
        obj = getattr(jaxdl, name)
        if callable(obj):
            assert (obj.__doc__ or "").strip(), f"jaxdl.{name} has no docstring"


def _python(code):
    """Runs ``code`` in a fresh interpreter, where nothing of jaxdl is imported yet."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.strip()


def test_import_jaxdl_imports_nothing_heavy():
    """Public names are imported on first use: ``import jaxdl`` loads none of these."""
    heavy = ("matplotlib", "pandas", "flax", "orbax", "tensorflow_datasets", "tqdm", "optax")
    code = f"import jaxdl, sys; print(sorted(m for m in {heavy} if m in sys.modules))"
    assert _python(code) == "[]"


def test_lazy_names_resolve_on_first_use():
    """Names resolve on first use, and every dotted import of a module gives the module (no
    module holds a public name of its own name, which the import system would shadow)."""
    code = """
        import sys
        import types
        import jaxdl.models.mlp as m
        import jaxdl.engine.drivers as drivers
        from jaxdl.engine import fit
        import jaxdl

        assert isinstance(m, types.ModuleType) and m.concise_mlp.__module__ == m.__name__
        assert "jaxdl.plotting" not in sys.modules and "jaxdl.data.tabular" not in sys.modules
        assert jaxdl.fit is fit is drivers.fit, jaxdl.fit
        assert jaxdl.models.mlp is m
        assert jaxdl.plot.__module__ == "jaxdl.plotting"
        assert jaxdl.data.load_csv.__module__ == "jaxdl.data.tabular"
        assert jaxdl.engine.train is jaxdl.train  # modules are attributes, as when eager
        assert "plot" in dir(jaxdl) and "load_csv" in dir(jaxdl.data)
        print("ok")
    """
    assert _python(code) == "ok"


def test_no_module_holds_a_public_name_of_its_own_name():
    """``import jaxdl.a.b as m`` must give the module ``b``: no module ``b`` may hold a public
    name ``b``, which a package's lazy name of that name would shadow."""
    for info in pkgutil.walk_packages(jaxdl.__path__, "jaxdl."):
        module = importlib.import_module(info.name)
        leaf = info.name.rsplit(".", 1)[1]
        assert leaf.startswith("_") or leaf not in vars(module), info.name
        parent = importlib.import_module(info.name.rsplit(".", 1)[0])
        assert getattr(parent, leaf) is module, info.name


@pytest.mark.parametrize("args", [["check", "."], ["format", "--check", "."]])
def test_tree_is_ruff_clean(args):
    """ruff comes with the test extra; the whole tree is formatted and lint-free."""
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

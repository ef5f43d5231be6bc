"""The package's public face and the tree's hygiene."""

import subprocess
import sys
from pathlib import Path

import pytest

import jaxdl
import jaxdl.data

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("module", [jaxdl, jaxdl.data])
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


@pytest.mark.parametrize("args", [["check", "."], ["format", "--check", "."]])
def test_tree_is_ruff_clean(args):
    """ruff comes with the test extra; the whole tree is formatted and lint-free."""
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

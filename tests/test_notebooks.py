"""Every book section runs top to bottom as a notebook: jupytext reads the script, nbclient
executes it in a Jupyter kernel (small sizes), and the outputs hold no error, an image for each
figure the section draws, and our headline figures next to the book's."""

import json
import os
import shlex
from pathlib import Path

import jupytext
import nbclient
import pytest

from common import NOTEBOOK_ARGS
from report import BY_NAME, EXPERIMENTS

ROOT = Path(__file__).resolve().parents[1]
# Every experiment of the main job (tests/test_run_all.py checks that it holds every script).
SECTIONS = [entry.name for entry in EXPERIMENTS]
# Small sizes: --quick everywhere; the Fashion-MNIST sections train 2 epochs on 2000 images,
# the modern networks one of them (tests/test_modern.py trains others).
SMALL = {
    name: ["--epochs", "2"]
    for name in ("softmax_regression", "mlp", "dropout", "initialization", "lenet", "batch_norm")
} | {"modern_cnns": ["--models", "resnet18"]}


def execute(name: str, out) -> dict:
    """Executes ``experiments/NAME.py`` as a notebook with ``--quick --out OUT``."""
    notebook = jupytext.read(ROOT / "experiments" / f"{name}.py")
    flags = ["--quick", "--out", str(out), *SMALL.get(name, [])]
    os.environ[NOTEBOOK_ARGS] = shlex.join(flags)
    try:
        client = nbclient.NotebookClient(
            notebook,
            kernel_name="python3",
            timeout=600,
            resources={"metadata": {"path": str(ROOT / "experiments")}},
        )
        client.execute()
    finally:
        del os.environ[NOTEBOOK_ARGS]
    return notebook


@pytest.mark.parametrize("name", SECTIONS)
def test_section_runs_as_a_notebook(tmp_path, name):
    notebook = execute(name, tmp_path)  # raises CellExecutionError on an error cell
    cells = notebook.cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# ")
    assert sum(c.cell_type == "markdown" for c in cells) >= 3  # the section reads as prose
    outputs = [o for c in cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    figures = sorted(tmp_path.glob("*.png"))
    assert len(images) >= len(figures), (len(images), [f.name for f in figures])
    # The run wrote its results, and the comparison cell shows our headline figures.
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    shown = "\n".join(
        o.get("text", "") + o.get("data", {}).get("text/markdown", "") for o in outputs
    )
    assert BY_NAME[name].headline(metrics) in shown.replace("\\|", "|")  # Markdown's \| is |

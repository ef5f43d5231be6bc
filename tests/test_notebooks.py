"""Every book section runs top to bottom as a notebook: jupytext reads the script, nbclient
executes it in a Jupyter kernel (small sizes), and the outputs hold no error, an image for each
figure the section draws, and our headline figures next to the book's."""

import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from sizes import TINY

from jaxdl.data.time_machine import DIR_ENV_VAR as TIME_MACHINE_DIR

from harness import NOTEBOOK_ARGS
from harness.notebooks import as_notebook, write_copies
from harness.report import BY_NAME, EXPERIMENTS
from harness.run_all import notebook_client

ROOT = Path(__file__).resolve().parents[1]
# Every experiment of the main job (tests/test_run_all.py checks that it holds every script).
SECTIONS = [entry.name for entry in EXPERIMENTS]
# The sections' smallest settings (tests/sizes.py), with 2 epochs where the test counts the
# board's draws. The values are checked in-process (tests/test_sections.py and the detailed
# tests); here, that each runs and shows its outputs in a kernel, which compiles at XLA:CPU's
# lowest optimisation level as the default tier does (compiling is most of a small run).
XLA_FLAGS = f"{os.environ.get('XLA_FLAGS', '')} --xla_backend_optimization_level=0".strip()


# A learner's own variant, trained and reported beside the book's (the headline lists it).
LEARNERS_CELLS = {
    "mlp": 'variants["mine"] = '
    '(scratch_mlp((64,), activation="tanh"), cross_entropy, sgd(config.lr))'
}
# The live training board: how often each section's board is drawn in its one display while
# it trains, at the sizes above (2 epochs): after every epoch of each variant (the
# classifiers) or of the vmapped sweep (initialization, which then draws its final frame, the
# diverged models left out, in the same display from a later cell).
EPOCH_DRAWS = {name: 2 * 2 for name in ("softmax_regression", "dropout", "lenet", "batch_norm")} | {
    "mlp": 2 * 3,
    "initialization": 2,
}
FINAL_DRAWS = {"initialization": 1}
# The sections whose notebooks train the book's from-scratch loop beside the engine.
BOOK_LOOPS = ("softmax_regression", "mlp")


@pytest.fixture(scope="module")
def kernel():
    """One kernel for the notebooks a test worker runs: a kernel of each notebook's own spent
    most of its time starting and importing JAX (8 s of a small notebook's 14 s here). Before
    each notebook its namespace is emptied (``%reset -f``), so that a notebook sees the names a
    fresh kernel's would; the modules it imports stay loaded, as they would load anew."""
    client = notebook_client(nbformat.v4.new_notebook(), ROOT / "experiments")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XLA_FLAGS", XLA_FLAGS)
        client.km.start_kernel(
            cwd=str(ROOT / "experiments"),
            extra_arguments=[f"--HistoryManager.hist_file={client.ipython_hist_file}"],
        )
    kc = client.km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        yield client.km, kc
    finally:
        kc.stop_channels()
        client.km.shutdown_kernel(now=True)


def execute(name: str, out, kernel) -> tuple[dict, list[dict]]:
    """Executes section NAME's notebook, as a learner's working copy has it, with ``--quick
    --out OUT``, in ``kernel`` (the fixture's); returns it with the display messages the kernel
    sent as they came (``{"cell", "type", "id", "png"}``: a figure shown, or a shown one
    updated in place)."""
    notebook = as_notebook(name)
    if name in LEARNERS_CELLS:  # a learner adds a cell of their own after the variants
        at = next(i for i, c in enumerate(notebook.cells) if c.source.startswith("variants = "))
        notebook.cells.insert(at + 1, nbformat.v4.new_code_cell(LEARNERS_CELLS[name]))
    epochs = ["--epochs", "2"] if name in EPOCH_DRAWS else []
    flags = ["--quick", "--out", str(out), *TINY.get(name, []), *epochs]
    client = notebook_client(notebook, ROOT / "experiments")
    client.km, client.kc = kernel
    # The kernel started before this test's fixtures set its environment: the section's flags
    # and the test's data folders go in now.
    env = {NOTEBOOK_ARGS: shlex.join(flags), TIME_MACHINE_DIR: os.environ[TIME_MACHINE_DIR]}
    fresh = f"%reset -f\n__import__('os').environ.update({env!r})"
    reply = client.kc.execute_interactive(fresh, timeout=60, output_hook=lambda msg: None)
    assert reply["content"]["status"] == "ok", reply["content"]
    displays, process = [], client.process_message

    def record(msg, cell, cell_index):
        if msg["msg_type"] in ("display_data", "update_display_data"):
            content = msg["content"]
            displays.append(
                {
                    "cell": cell_index,
                    "type": msg["msg_type"],
                    "id": content.get("transient", {}).get("display_id"),
                    "png": content["data"].get("image/png"),
                }
            )
        return process(msg, cell, cell_index)

    client.process_message = record
    client.execute()
    return notebook, displays


@pytest.mark.slow
@pytest.mark.parametrize("name", SECTIONS)
def test_section_runs_as_a_notebook(tmp_path, name, kernel):
    notebook, displays = execute(
        name, tmp_path, kernel
    )  # raises CellExecutionError on an error cell
    cells = notebook.cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# ")
    assert sum(c.cell_type == "markdown" for c in cells) >= 3  # the section reads as prose
    outputs = [o for c in cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # No warning in a red box: nothing written to standard error (a progress bar, a library's
    # warning).
    assert not [o.text for o in outputs if o.get("name") == "stderr"]
    # The working copy: a named kernel, no command-line documentation in its first code cell.
    assert notebook.metadata.kernelspec.name == "python3"
    first = next(c for c in cells if c.cell_type == "code")
    assert not first.source.startswith('"""')  # the section opens with its code, no CLI spec
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    figures = sorted(tmp_path.glob("*.png"))
    assert len(images) >= len(figures), (len(images), [f.name for f in figures])
    # The run wrote its results, and the comparison cell shows our headline figures.
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    shown = "\n".join(
        o.get("text", "") + o.get("data", {}).get("text/markdown", "") for o in outputs
    )
    assert BY_NAME[name].headline(metrics) in shown.replace("\\|", "|")  # Markdown's \| is |
    if name == "dropout":  # the book-sized dropout_layer draws the library's masks
        assert "the same as the library's jaxdl.models.dropout.dropout_layer: True" in shown
    if name in LEARNERS_CELLS:
        assert "mine: test acc" in shown and "| in the book's band | — |" in shown  # --quick
    # The book-sized code (net, loss, a value_and_grad step, the loop over data_iter) trains one
    # epoch to the weights of the engine's first epoch: the notebook prints the largest
    # difference, held here to float32 rounding.
    if name in BOOK_LOOPS:
        found = re.search(r"the book's loop against the engine: (\S+)", shown)
        assert found and float(found.group(1)) < 1e-6, shown
    # The training curves are one display, drawn as each epoch ends and redrawn in place, from
    # the training cell.
    if name in EPOCH_DRAWS:
        ids = [d["id"] for d in displays if d["id"] is not None]
        board = [d for d in displays if d["id"] == ids[0]]
        draws = EPOCH_DRAWS[name] + FINAL_DRAWS.get(name, 0)
        assert [d["type"] for d in board] == ["display_data"] + ["update_display_data"] * (
            draws - 1
        )
        training = board[: EPOCH_DRAWS[name]]
        assert len({d["png"] for d in training}) == len(training)  # each draw shows more
        assert len({d["cell"] for d in training}) == 1
        source = cells[training[0]["cell"]].source
        assert ("sweep(stds" if name == "initialization" else "classifiers.train") in source


def test_jupyterlab_opens_the_scripts_as_text_and_the_working_copies_as_notebooks(tmp_path):
    """experiments/jupytext.toml: JupyterLab's contents manager (jupytext's, as JupyterLab with
    jupytext serves files) gives the scripts as plain files, so a notebook's autosave cannot
    write them; the working copies are the notebooks. A learner's copy is kept, and with
    ``--force`` moved aside before it is written anew."""
    import asyncio

    from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
    from jupytext.async_contentsmanager import build_async_jupytext_contents_manager_class
    from tornado.web import HTTPError

    experiments = tmp_path / "experiments"  # jupyter lab at the top of a copy of the tree
    experiments.mkdir()
    for name in ("mlp.py", "jupytext.toml"):
        shutil.copy(ROOT / "experiments" / name, experiments / name)
    copy = experiments / "10-mlp.ipynb"
    assert write_copies(["mlp"], experiments) == [f"wrote {copy}"]
    manager = build_async_jupytext_contents_manager_class(AsyncLargeFileManager)(
        root_dir=str(tmp_path)
    )

    async def get(path, **kwargs):
        return await manager.get(f"experiments/{path}", **kwargs)

    assert asyncio.run(get("mlp.py"))["type"] == "file"
    with pytest.raises(HTTPError, match="Unreadable Notebook"):
        asyncio.run(get("mlp.py", type="notebook"))
    assert asyncio.run(get("10-mlp.ipynb"))["type"] == "notebook"

    copy.write_text(copy.read_text().replace("784-", "my-784-"))  # a learner's edit
    assert write_copies(["mlp"], experiments) == [f"kept {copy} (yours; --force writes it anew)"]
    assert "my-784-" in copy.read_text()
    # --force writes it anew and moves the learner's copy aside, never losing it; a copy
    # equal to the new one is written over without a backup.
    backup = experiments / "10-mlp.backup-1.ipynb"
    assert write_copies(["mlp"], experiments, force=True) == [
        f"wrote {copy} (the copy there before: {backup})"
    ]
    assert "my-784-" not in copy.read_text() and "my-784-" in backup.read_text()
    assert write_copies(["mlp"], experiments, force=True) == [f"wrote {copy}"]
    copy.write_text(copy.read_text().replace("784-", "again-784-"))
    write_copies(["mlp"], experiments, force=True)
    assert "again-784-" in (experiments / "10-mlp.backup-2.ipynb").read_text()


def test_notebooks_py_fails_in_one_line_without_jupytext_or_a_writable_folder(monkeypatch, capsys):
    """Where the working copies cannot be written (a read-only or full folder) or jupytext is
    missing, notebooks.py says so in one line with the fix, not with a traceback."""
    import jaxdl.results

    from harness import notebooks

    def refuse(path, text):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(jaxdl.results, "write_text", refuse)
    with pytest.raises(SystemExit) as info:
        notebooks.main(["--only", "mlp"])
    assert str(info.value).startswith("notebooks.py: cannot write the working copies in ")
    assert str(info.value).endswith(
        "10-mlp.ipynb); run it in a copy of the repository you can write"
    )
    monkeypatch.setitem(sys.modules, "jupytext", None)  # import jupytext: ImportError
    with pytest.raises(SystemExit, match=r"^notebooks.py: needs the notebooks extra \(pip install"):
        notebooks.main(["--only", "mlp"])

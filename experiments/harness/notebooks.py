"""Working copies of the book's sections as notebooks, for a learner to run, edit and keep.

Each section's script, ``experiments/NAME.py``, is the source that ``run_all.py`` runs in the
book's configuration: edited in place, it would change the book's run. So JupyterLab does not
open the scripts as notebooks here (``experiments/jupytext.toml``); this command writes each
section as a notebook beside them instead, ``experiments/NN-NAME.ipynb`` (NN its place in the
book's order, so that JupyterLab lists the sections in order, ahead of the scripts), which git
ignores: edit and save those freely. A copy that exists is kept (``--force`` writes it anew).

A working copy is the script as jupytext reads it, with a kernel named (no "Select Kernel"
prompt). ``run_all.py --notebooks`` executes the same notebooks.

Command: ``python experiments/harness/notebooks.py [--only NAME ...] [--force]``, then
``jupyter lab`` (at the top of the repository: ``experiments/`` for the notebooks, ``results/``
for what they write).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# run as a script: the harness imported from experiments/, as the sections import it
if __name__ == "__main__":
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from harness import SECTIONS

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def working_copy(name: str, folder: Path = SECTIONS) -> Path:
    """The path of section ``name``'s working copy: ``folder/NN-NAME.ipynb``."""
    from harness.report import EXPERIMENTS

    order = [entry.name for entry in EXPERIMENTS].index(name) + 1
    return folder / f"{order:02d}-{name}.ipynb"


def as_notebook(name: str, folder: Path = SECTIONS):
    """Section ``name`` (``folder/NAME.py``) as a notebook (``nbformat.NotebookNode``): the
    kernel named, a line under the title saying whose copy this is."""
    import jupytext

    notebook = jupytext.read(folder / f"{name}.py")
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    notebook.cells[0].source += (
        f"\n\n*A working copy of `experiments/{name}.py`, which git ignores: edit and save it "
        f"freely. `python experiments/harness/notebooks.py --only {name} --force` writes it anew.*"
    )
    return notebook


def write_copies(names: list[str], folder: Path = SECTIONS, force: bool = False) -> list[str]:
    """Writes the working copy of each section in ``names`` and returns a line per section
    saying what it did. One that exists is kept; with ``force`` it is written anew, and a copy
    that differs from the new one (a learner's edits) is first moved aside to
    ``NAME.backup-N.ipynb``, never lost."""
    import jupytext

    from jaxdl.results import write_text

    said = []
    for name in names:
        path = working_copy(name, folder)
        if path.exists() and not force:
            said.append(f"kept {path} (yours; --force writes it anew)")
            continue
        text = jupytext.writes(as_notebook(name, folder), "ipynb")
        kept = ""
        if path.exists() and _cells(path.read_text(encoding="utf-8")) != _cells(text):
            backup = _free_backup(path)
            path.rename(backup)
            kept = f" (the copy there before: {backup})"
        write_text(path, text)
        said.append(f"wrote {path}{kept}")
    return said


def _cells(text: str) -> list:
    """A notebook's cells as what a learner sees and changes (kind, source, outputs): its cell
    ids are new at every writing."""
    import nbformat

    try:
        notebook = nbformat.reads(text, as_version=4)
    except (
        ValueError,
        KeyError,
        nbformat.ValidationError,
    ):  # not a notebook any more: a learner's file all the same
        return [text]
    return [(c.cell_type, c.source, c.get("outputs")) for c in notebook.cells]


def _free_backup(path: Path) -> Path:
    """``NAME.backup-N.ipynb`` beside ``path``, N the first number not taken."""
    n = 1
    while (backup := path.with_name(f"{path.stem}.backup-{n}{path.suffix}")).exists():
        n += 1
    return backup


def main(argv=None) -> None:
    from harness.report import EXPERIMENTS

    names = [entry.name for entry in EXPERIMENTS]
    p = argparse.ArgumentParser(
        prog="notebooks.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--only", nargs="+", choices=names, help="only these sections")
    p.add_argument(
        "--force",
        action="store_true",
        help="write existing working copies anew (an edited one is kept as NAME.backup-N.ipynb)",
    )
    args = p.parse_args(argv)
    try:
        said = write_copies(args.only or names, force=args.force)
    except ImportError as error:
        raise SystemExit(
            f"notebooks.py: needs the notebooks extra (pip install -e '.[notebooks]'): {error}"
        ) from error
    except OSError as error:  # a read-only or full folder
        raise SystemExit(
            f"notebooks.py: cannot write the working copies in {SECTIONS}: {error.strerror} "
            f"({error.filename}); run it in a copy of the repository you can write"
        ) from error
    for line in said:
        print(line)
    print("open them with: jupyter lab (at the top of the repository), then experiments/")


if __name__ == "__main__":
    main()

"""What the sections share: their configuration, the training door, the report against the
book, and the commands that run them all (``run_all``), time them (``benchmark``,
``device_check``) and write their notebooks (``notebooks``)."""

from pathlib import Path

SECTIONS = Path(__file__).resolve().parents[1]  # experiments/: one script per book section
RESULTS_ROOT = SECTIONS.parent / "results"  # one results folder, whoever runs

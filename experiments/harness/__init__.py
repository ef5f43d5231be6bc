"""What the sections share: their start and finish (:mod:`~harness.section`), their declared
configuration (:mod:`~harness.config`), the classifiers' training door
(:mod:`~harness.classifiers`), the book's figures and bands (:mod:`~harness.reference`) and
the report against them, and the commands that run every section (``run_all``), time them
(``benchmark``, ``device_check``) and write their notebooks (``notebooks``).

A section imports the package and calls ``harness.start(...)``, ``harness.show(fig)``,
``harness.finish(...)``; each name loads its module on first use, so that ``run_all``'s job
imports no JAX.
"""

from pathlib import Path

from jaxdl._lazy import attach

SECTIONS = Path(__file__).resolve().parents[1]  # experiments/: one script per book section
RESULTS_ROOT = SECTIONS.parent / "results"  # one results folder, whoever runs
# A notebook's flags, as its kernel's environment holds them (run_all --notebooks, the tests).
NOTEBOOK_ARGS = "JAXDL_NOTEBOOK_ARGS"

__all__ = attach(
    __name__,
    {
        "config": ["Config", "Setting", "probability"],
        "section": [
            "compare_with_book",
            "finish",
            "print_value",
            "show",
            "show_source",
            "start",
            "time_machine_text",
        ],
    },
)

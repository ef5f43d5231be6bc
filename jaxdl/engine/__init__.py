"""The training engine: one pure epoch function (:mod:`~jaxdl.engine.epoch`), checked and set up
by :mod:`~jaxdl.engine.setup`, run by two drivers (:mod:`~jaxdl.engine.drivers`: ``train``, a
``lax.scan`` over epochs, and ``fit``, from the host), on the key schedule of
:mod:`~jaxdl.engine.keys`, with the run record (:mod:`~jaxdl.engine.record`), checkpoints,
divergence checks and progress beside them.

Each public name is imported from its module on first use (PEP 562): ``from jaxdl.engine
import fit`` loads neither orbax (checkpoints) nor the progress board.
"""

from jaxdl._lazy import attach

__all__ = attach(
    __name__,
    {
        "checkpoint": ["Checkpointer"],
        "divergence": ["check_finite", "divergences"],
        "drivers": ["Result", "estimate_epoch_seconds", "fit", "train"],
        "epoch": ["make_epoch"],
        "keys": ["RunKeys", "run_keys", "shuffle_key", "step_key"],
        "progress": ["ProgressBoard"],
        "record": ["Run"],
        "setup": ["Setup", "prepare"],
    },
)

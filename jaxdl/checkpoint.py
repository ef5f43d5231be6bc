"""Checkpoints of a training run, written with orbax-checkpoint after every epoch.

A checkpoint holds the TrainState (parameters, optimizer state, step), the number of epochs
done, the run's identity (:class:`jaxdl.run.Run`) and its history. orbax writes each one to a
temporary folder and renames it when complete, so a run killed mid-save leaves the previous
checkpoint intact; only the last few are kept. A run started again with the same folder resumes
after the last complete epoch. A checkpoint that is damaged, or was written by another run (any
setting other than the number of epochs), gives a ValueError naming the folder and, for another
run, each differing setting; never a silent fresh start.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

from jaxdl._checks import check_int
from jaxdl.run import Run

FORMAT = "jaxdl-checkpoint-2"


def _signature(state) -> list[str]:
    """The structure, shapes and dtypes of a TrainState: what a resumed run must match."""
    leaves, treedef = jax.tree.flatten(state)
    return [str(treedef)] + [f"{tuple(a.shape)}:{a.dtype}" for a in leaves]


class Checkpointer:
    """Saves and restores one run's checkpoints in ``directory`` (kept: the last ``keep``).

    Args:
      directory: folder of the run's checkpoints; made when missing.
      keep: how many of the most recent checkpoints to keep, >= 1.
    """

    def __init__(self, directory: str | os.PathLike, *, keep: int = 3):
        import orbax.checkpoint as ocp  # imported on use: it is slow to import

        check_int(keep, "keep", low=1)
        self.directory = Path(directory).absolute()
        if self.directory.exists() and not self.directory.is_dir():
            raise ValueError(f"checkpoint_dir: expected a folder, got the file {self.directory}")
        self._ocp = ocp
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep, create=True, enable_async_checkpointing=False
        )
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def save(self, epochs_done: int, state, run: Run, history: dict) -> None:
        """Writes the checkpoint after ``epochs_done`` epochs and waits until it is complete.

        Args:
          epochs_done: epochs trained so far.
          state: the TrainState after them.
          run: the run's identity.
          history: ``{key: [one float per epoch done]}``.
        """
        ocp = self._ocp
        meta = {
            "format": FORMAT,
            "epochs_done": epochs_done,
            "run": run.to_dict(),
            "signature": _signature(state),
            "history": history,
        }
        self._manager.save(
            epochs_done,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)
            ),
        )
        self._manager.wait_until_finished()

    def restore(self, template, run: Run):
        """The latest checkpoint as ``(epochs_done, state, history)``, or None when there is none.

        Args:
          template: a TrainState of the run (gives structure, shapes, dtypes and placement).
          run: the identity of the run that resumes; the checkpoint's must be the same but for
            the number of epochs, which must be at least the epochs done.

        Raises:
          ValueError: for a damaged checkpoint, or one of another run.
        """
        ocp = self._ocp
        step = self._manager.latest_step()
        if step is None:
            if any(self.directory.iterdir()):
                raise ValueError(
                    f"checkpoint_dir: {self.directory} holds files but no complete checkpoint; "
                    "point to an empty folder or to one written by this training"
                )
            return None
        where = self.directory / str(step)
        try:
            meta = self._manager.restore(
                step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())
            )["meta"]
        except Exception as error:  # orbax raises many kinds for unreadable files
            raise ValueError(f"checkpoint {where} is damaged: cannot read its metadata") from error
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"checkpoint {where} was not written by jaxdl (format {FORMAT})")
        try:
            saved = Run.from_dict(meta["run"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"checkpoint {where} is damaged: cannot read its run") from error
        run.check_resume(saved, meta["epochs_done"], str(where))
        if meta["signature"] != _signature(template):
            raise ValueError(
                f"checkpoint {where} was written for another model or optimizer: its parameter "
                "and state shapes differ from this run's"
            )
        try:
            state = self._manager.restore(
                step, args=ocp.args.Composite(state=ocp.args.StandardRestore(template))
            )["state"]
        except Exception as error:
            raise ValueError(f"checkpoint {where} is damaged: cannot read its arrays") from error
        if jax.tree.structure(state) != jax.tree.structure(template):
            raise ValueError(f"checkpoint {where} is damaged: its state has another structure")
        return meta["epochs_done"], state, meta["history"]

    def close(self) -> None:
        """Releases the manager's resources."""
        self._manager.close()

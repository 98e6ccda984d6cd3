"""The exception types for bad input: the CLI turns them into `symnn: error: ...` and exit 2."""

from __future__ import annotations


class UserInputError(ValueError):
    """Bad input from a user: the message names the problem and how to fix it, on one line."""


class FileWriteError(UserInputError, OSError):
    """A file could not be written (missing or read-only folder, a directory in the way, a full disk).

    An OSError too, so code that catches OSError around a save still catches it.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class TrainingDiverged(UserInputError):
    """Training produced a non-finite loss or weights and was stopped.

    The model keeps the last finite weights; `history` holds the losses of the epochs before.
    """

    def __init__(self, message: str, history: dict | None = None, epoch: int | None = None) -> None:
        super().__init__(message)
        self.history = history or {}
        self.epoch = epoch

    @classmethod
    def at(cls, epoch: int, value: float, lr: float, history: dict, cause: str,
           kept_epoch: int | None = None) -> TrainingDiverged:
        """The error for a fit whose loss or weights became NaN or inf in `epoch` (1-based); the model
        keeps its weights from after `kept_epoch` (default: the epoch before). `cause` starting
        with "activation:" names an activation that gave NaN or inf from finite inputs."""
        kept_epoch = epoch - 1 if kept_epoch is None else kept_epoch
        kept = f"the model keeps its weights from after epoch {kept_epoch}" if kept_epoch else \
            "the model keeps the weights it had before this fit"
        if cause.startswith("activation:"):
            message = (f"training stopped in epoch {epoch}: {cause[len('activation:'):]}, so the loss is "
                       f"{value}; use an activation that is finite for every x (e.g. softplus rather than "
                       f"log), or lower the learning rate if the weights grew (it is {lr:g}); {kept}")
        else:
            message = (f"training diverged in epoch {epoch}: the loss became {value} ({cause}); lower the "
                       f"learning rate (it is {lr:g}), or check that the activation is finite for every x; {kept}")
        return cls(message, history=history, epoch=epoch)

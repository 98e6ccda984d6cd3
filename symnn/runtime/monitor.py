"""What happens at the end of each epoch, the same on both training paths: the validation loss (and
accuracy), the user's callback, early stopping.

`fit` makes one `EpochEnd` per call; the per-layer loop and the fused loop (which then runs its
compiled epochs one call per epoch) call `after_epoch` with the model's parameters current, and
`finish` once at the end, which puts back the best weights when early stopping asks for them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from symnn.errors import UserInputError


@dataclass
class EarlyStopping:
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs in a row.

    `monitor`: "val_loss" (the default where validation data is given), "loss", or "val_accuracy"
    (higher is better). `restore_best`: when training ends, the weights of the best epoch are put
    back (the optimizer's state stays as the last epoch left it, as in Keras).
    """

    patience: int = 5
    monitor: str = "auto"
    min_delta: float = 0.0
    restore_best: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.patience, bool) or not isinstance(self.patience, (int, np.integer)) or self.patience < 0:
            raise UserInputError(f"EarlyStopping: patience must be a whole number >= 0, got {self.patience!r}")
        if self.monitor not in ("auto", "loss", "val_loss", "val_accuracy"):
            raise UserInputError(f"EarlyStopping: monitor must be 'loss', 'val_loss' or 'val_accuracy', "
                                 f"got {self.monitor!r}")
        if not isinstance(self.min_delta, (int, float)) or not math.isfinite(self.min_delta) or self.min_delta < 0:
            raise UserInputError(f"EarlyStopping: min_delta must be a finite number >= 0, got {self.min_delta!r}")


def resolve_early_stopping(value: object) -> EarlyStopping | None:
    """fit's `early_stopping`: None, an EarlyStopping, or a patience (`early_stopping=5`)."""
    if value is None or value is False:
        return None
    if isinstance(value, EarlyStopping):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return EarlyStopping(patience=int(value))
    raise UserInputError(f"early_stopping must be a patience (a whole number) or symnn.EarlyStopping(...), "
                         f"got {value!r}")


class EpochEnd:
    """The end-of-epoch work of one fit: fills `history` and says when to stop."""

    def __init__(self, model, validation: object, callback: Callable[[int, dict], object] | None,
                 early_stopping: EarlyStopping | None, history: dict) -> None:
        self.model, self.callback, self.history = model, callback, history
        self.validation = None
        if validation is not None:
            if not isinstance(validation, (tuple, list)) or len(validation) != 2:
                raise UserInputError("validation must be a pair (X_val, y_val)")
            vx = model._inputs(validation[0], rows_needed=True)
            self.validation = (vx, model._targets(validation[1], vx.shape[0]))
            history["val_loss"] = []
            self.labels = None  # the classes val_accuracy compares the predictions with
            if model.loss_fn.classification:
                vy = np.asarray(validation[1])
                self.labels = vy if vy.ndim == 1 else np.argmax(vy, axis=1) if vy.shape[1] > 1 else vy[:, 0]
                history["val_accuracy"] = []
        if callback is not None and not callable(callback):
            raise UserInputError(f"callback must be a function callback(epoch, history), got {callback!r}")
        self.stopping = early_stopping
        if early_stopping is not None:
            monitor = early_stopping.monitor
            if monitor == "auto":
                monitor = "val_loss" if self.validation is not None else "loss"
            if monitor.startswith("val_") and self.validation is None:
                raise UserInputError(f"early stopping on {monitor} needs validation data: pass "
                                     "validation=(X_val, y_val), or EarlyStopping(monitor='loss')")
            if monitor == "val_accuracy" and not model.loss_fn.classification:
                raise UserInputError(f"early stopping on val_accuracy needs a classification loss, not "
                                     f"{model.loss_fn.name}; monitor 'val_loss'")
            self.monitor = monitor
            self.best = -math.inf if monitor == "val_accuracy" else math.inf
            self.best_epoch, self.waited, self.best_params = -1, 0, None

    @property
    def active(self) -> bool:
        """Whether Python runs after each epoch (then the fused loop returns after every epoch; it
        evaluates the validation data itself)."""
        return self.callback is not None or self.stopping is not None

    def record_validation(self, losses: list[float], hits: list[int]) -> None:
        """The validation metrics of epochs evaluated elsewhere (the fused loop): their mean losses,
        and for a classification loss the rows predicted right."""
        self.history["val_loss"] += losses
        if self.labels is not None:
            self.history["val_accuracy"] += [h / self.labels.shape[0] for h in hits]

    def after_epoch(self, epoch: int, params: list[np.ndarray], validated: bool = False) -> bool:
        """Record the epoch's validation metrics (unless `validated`: recorded already), call the
        callback, update early stopping; True to stop.

        The history's "loss" already holds this epoch's loss; `params` are the model's, current."""
        if self.validation is not None and not validated:
            vx, vt = self.validation
            out = self.model._forward(vx).values[-1]
            self.history["val_loss"].append(self.model.loss_fn.value(out, vt))
            if self.labels is not None:
                self.history["val_accuracy"].append(float(np.mean(self.model.loss_fn.predict(out) == self.labels)))
        stop = False
        if self.stopping is not None:
            stop = self._no_longer_improving(epoch, params)
        if self.callback is not None and self.callback(epoch, self.history):
            stop = True  # a callback returning True stops training (as an XGBoost callback does)
        return stop

    def _no_longer_improving(self, epoch: int, params: list[np.ndarray]) -> bool:
        value = self.history[self.monitor][-1]
        delta = self.stopping.min_delta
        better = value > self.best + delta if self.monitor == "val_accuracy" else value < self.best - delta
        if better:
            self.best, self.best_epoch, self.waited = value, epoch, 0
            if self.stopping.restore_best:
                if self.best_params is None:
                    self.best_params = [p.copy() for p in params]
                else:
                    for saved, p in zip(self.best_params, params):
                        np.copyto(saved, p)
            return False
        self.waited += 1
        return self.waited > self.stopping.patience

    def finish(self, params: list[np.ndarray] | None, epochs_run: int) -> None:
        """After the last epoch: the best weights back (if asked), and where training stopped.
        `params`: the model's parameters (None: asked of the model, only where there is work)."""
        if self.stopping is None or self.best_epoch < 0:
            return
        if params is None:
            params = self.model.parameters()
        self.history["best_epoch"] = self.best_epoch
        self.history["stopped_epoch"] = epochs_run - 1
        if self.stopping.restore_best and self.best_params is not None:
            for p, saved in zip(params, self.best_params):
                np.copyto(p, saved)


__all__ = ["EarlyStopping", "EpochEnd", "resolve_early_stopping"]

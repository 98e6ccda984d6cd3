"""Learning-rate schedules stepped once per epoch: torch.optim.lr_scheduler's forms.

``schedule.lr(epoch)`` is the learning rate to use during epoch ``epoch`` (0-based):
epoch 0 runs at ``base_lr``, as under a torch scheduler created before training and
stepped after each epoch. A schedule made with ``base_lr=None`` stands for "the
optimizer's lr"; the training loop fills it in with :meth:`Schedule.with_base_lr`.
"""

from __future__ import annotations

import copy
import math
from numbers import Integral, Real

from symnn.errors import UserInputError

SCHEDULES: tuple[str, ...] = ("constant", "step", "exponential", "cosine")


def _check_lr(label: str, value: float | None, *, allow_none: bool) -> float | None:
    """A learning rate is a finite real >= 0 (as in torch.optim), or None if allowed."""
    if value is None and allow_none:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not math.isfinite(value)
        or value < 0
    ):
        raise UserInputError(f"{label} must be a finite number >= 0, got {value!r}")
    return float(value)


def _check_positive_int(label: str, value: int) -> int:
    """Step sizes and periods count epochs: positive integers."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise UserInputError(f"{label} must be a positive integer, got {value!r}")
    return int(value)


def _check_gamma(value: float) -> float:
    """A decay factor must be a finite number > 0."""
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise UserInputError(f"gamma must be a finite number > 0, got {value!r}")
    return float(value)


class Schedule:
    """Base class: the learning rate as a function of the 0-based epoch and base_lr."""

    def __init__(self, base_lr: float | None = None) -> None:
        if hasattr(base_lr, "step") and hasattr(base_lr, "lr"):  # torch's habit: StepLR(optimizer, ...)
            base_lr = base_lr.lr
        self.base_lr = _check_lr("base_lr", base_lr, allow_none=True)

    def lr(self, epoch: int) -> float:
        """The learning rate to use during epoch ``epoch`` (0-based)."""
        if isinstance(epoch, bool) or not isinstance(epoch, Integral) or epoch < 0:
            raise UserInputError(f"epoch must be an integer >= 0, got {epoch!r}")
        if self.base_lr is None:
            raise UserInputError(
                f"{type(self).__name__} has no base_lr; pass one, "
                "or call with_base_lr(optimizer_lr)"
            )
        return float(self._lr(int(epoch), self.base_lr))

    def _lr(self, epoch: int, base_lr: float) -> float:
        raise NotImplementedError

    def with_base_lr(self, optimizer_lr: float) -> Schedule:
        """This schedule if it has a base_lr, else a copy with base_lr=optimizer_lr."""
        if self.base_lr is not None:
            return self
        bound = copy.copy(self)
        bound.base_lr = _check_lr("the optimizer's lr", optimizer_lr, allow_none=False)
        return bound

    def _params(self) -> dict[str, object]:
        """The constructor arguments, in order, for ``__repr__`` and ``__eq__``."""
        return {"base_lr": self.base_lr}

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self._params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule) or type(other) is not type(self):
            return NotImplemented
        return self._params() == other._params()

    def __hash__(self) -> int:
        return hash((type(self), tuple(self._params().items())))


class Constant(Schedule):
    """The same learning rate every epoch."""

    def _lr(self, epoch: int, base_lr: float) -> float:
        return base_lr


class StepLR(Schedule):
    """``base_lr * gamma ** (epoch // step_size)``: torch's StepLR."""

    def __init__(
        self, base_lr: float | None = None, step_size: int | None = None, gamma: float = 0.1
    ) -> None:
        super().__init__(base_lr)
        if step_size is None:
            raise UserInputError("StepLR needs step_size (epochs between decays), e.g. StepLR(step_size=10, gamma=0.5)")
        self.step_size = _check_positive_int("step_size", step_size)
        self.gamma = _check_gamma(gamma)

    def _lr(self, epoch: int, base_lr: float) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)

    def _params(self) -> dict[str, object]:
        return {**super()._params(), "step_size": self.step_size, "gamma": self.gamma}


class ExponentialLR(Schedule):
    """``base_lr * gamma ** epoch``: torch's ExponentialLR."""

    def __init__(self, base_lr: float | None = None, gamma: float | None = None) -> None:
        super().__init__(base_lr)
        if gamma is None:
            raise UserInputError("ExponentialLR needs gamma (the factor per epoch), e.g. ExponentialLR(gamma=0.95)")
        self.gamma = _check_gamma(gamma)

    def _lr(self, epoch: int, base_lr: float) -> float:
        return base_lr * self.gamma**epoch

    def _params(self) -> dict[str, object]:
        return {**super()._params(), "gamma": self.gamma}


class CosineAnnealingLR(Schedule):
    """torch's CosineAnnealingLR, closed form:
    ``eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``.

    Past ``T_max`` the rate is not held at ``eta_min``: it follows the same cosine back
    up, with period ``2 * T_max`` (``base_lr`` again at epoch ``2 * T_max``), as torch's
    closed form does and as its recursive ``step()`` does up to rounding (about 1e-14
    over hundreds of epochs). No warm restarts (that is CosineAnnealingWarmRestarts).
    """

    def __init__(self, base_lr: float | None = None, T_max: int | None = None, eta_min: float = 0.0) -> None:
        super().__init__(base_lr)
        if T_max is None:
            raise UserInputError("CosineAnnealingLR needs T_max (epochs of the half cosine), e.g. "
                                 "CosineAnnealingLR(T_max=50)")
        self.T_max = _check_positive_int("T_max", T_max)
        self.eta_min = _check_lr("eta_min", eta_min, allow_none=False)

    def _lr(self, epoch: int, base_lr: float) -> float:
        cosine = (1.0 + math.cos(math.pi * epoch / self.T_max)) / 2.0
        return self.eta_min + (base_lr - self.eta_min) * cosine

    def _params(self) -> dict[str, object]:
        return {**super()._params(), "T_max": self.T_max, "eta_min": self.eta_min}


def make_schedule(name: str, base_lr: float | None, epochs: int, *, step_size: int | None = None,
                  gamma: float | None = None, eta_min: float = 0.0) -> Schedule:
    """The CLI's ``--schedule NAME`` for a run of ``epochs`` epochs, with its defaults.

    ``step``: step_size ``max(1, epochs // 3)``, gamma 0.1; ``exponential``: gamma 0.95;
    ``cosine``: ``T_max = epochs`` (so the last epoch is just above eta_min 0). ``step_size``,
    ``gamma`` and ``eta_min`` override those defaults (``--step-size``, ``--gamma``, ``--eta-min``).
    """
    if not isinstance(name, str) or name not in SCHEDULES:
        raise UserInputError(
            f"unknown schedule {name!r}; choose one of: {', '.join(SCHEDULES)}"
        )
    epochs = _check_positive_int("epochs", epochs)
    if name == "constant":
        return Constant(base_lr)
    if name == "step":
        return StepLR(base_lr, step_size=step_size or max(1, epochs // 3), gamma=0.1 if gamma is None else gamma)
    if name == "exponential":
        return ExponentialLR(base_lr, gamma=0.95 if gamma is None else gamma)
    return CosineAnnealingLR(base_lr, T_max=epochs, eta_min=eta_min)


#: The schedule classes by name, for error messages.
_CLASSES = {"constant": Constant, "step": StepLR, "exponential": ExponentialLR, "cosine": CosineAnnealingLR}


def resolve_schedule(schedule: object, epochs: int) -> Schedule | None:
    """fit's ``schedule``: None, a Schedule, or a name (``"cosine"``) with make_schedule's defaults
    for ``epochs`` epochs, its base_lr the optimizer's. Anything else: a UserInputError naming them."""
    if schedule is None or isinstance(schedule, Schedule):
        return schedule
    if isinstance(schedule, str) and schedule in SCHEDULES:
        return make_schedule(schedule, None, max(1, int(epochs)))
    if isinstance(schedule, type) and issubclass(schedule, Schedule):
        if schedule is Constant:
            return Constant()
        raise UserInputError(f"schedule={schedule.__name__} needs its parameters: pass "
                             f"symnn.{schedule.__name__}(...) or a name ({', '.join(SCHEDULES)})")
    classes = ", ".join(f"symnn.{c.__name__}(...)" for c in _CLASSES.values() if c is not Constant)
    raise UserInputError(f"schedule {schedule!r} is not one symnn knows; pass a name ({', '.join(SCHEDULES)}) "
                         f"or a schedule ({classes})")

"""Optimizers with torch.optim's update rules, defaults and keywords, run by the generated kernels.

Each `step(params, grads)` updates the parameter arrays in place: one fused kernel call per array
(`symnn.generated.optimizers.<name>`), on flat views, with the per-parameter state created on the
parameter's first step and kept by position in the list. This module imports NumPy and the
generated kernels only, never SymPy: a generated module's `KERNELS`, `STEP_INPUTS` and
`STEP_SCALARS` say how to call its kernels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any

import numpy as np

from symnn.errors import UserInputError
from symnn.runtime import kernels

#: The optimizer names the command line accepts.
OPTIMIZER_NAMES: tuple[str, ...] = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")

_PLANS: dict[str, tuple] = {}


def _plan(module: str, kernel: str) -> tuple:
    """(kernel, state array names, scalar names, per-step function or None, its inputs, outputs)."""
    if kernel not in _PLANS:
        mod = kernels.generated(f"optimizers.{module}")
        arrays, scalars = mod.KERNELS[kernel]
        step_fn = getattr(mod, f"{module}_scalars", None) if mod.STEP_SCALARS else None
        _PLANS[kernel] = (getattr(mod, kernel), arrays, scalars, step_fn, mod.STEP_INPUTS, mod.STEP_SCALARS)
    return _PLANS[kernel]


def _number(owner: str, key: str, value: Any, low: float | None = 0.0, high: float | None = None) -> float:
    """A finite real in [low, high) (either bound optional), as a float; else a UserInputError."""
    ok = isinstance(value, Real) and not isinstance(value, (bool, np.bool_)) and math.isfinite(value)
    ok = ok and (low is None or value >= low) and (high is None or value < high)
    if not ok:
        bounds = ("a finite number" + (f" >= {low:g}" if low is not None and high is None else "")
                  + (f" in [{low:g}, {high:g})" if high is not None else ""))
        raise UserInputError(f"{owner}: {key} must be {bounds}, got {value!r}")
    return float(value)


def _flag(owner: str, key: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise UserInputError(f"{owner}: {key} must be True or False, got {value!r}")
    return bool(value)


def _betas(owner: str, betas: Any) -> tuple[float, float]:
    if not isinstance(betas, Sequence) or isinstance(betas, str) or len(betas) != 2:
        raise UserInputError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}")
    return (_number(owner, "betas[0]", betas[0], 0.0, 1.0), _number(owner, "betas[1]", betas[1], 0.0, 1.0))


class Optimizer:
    """The base class: a settable `lr`, per-parameter state, and `step` calling the kernels."""

    #: The generated module (and kernel-name prefix): symnn.generated.optimizers.<module>.
    module = ""

    def __init__(self, lr: float) -> None:
        self.lr = lr
        self._state: list[dict[str, Any]] = []

    @property
    def lr(self) -> float:
        """The learning rate; schedules set it between epochs."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _number(type(self).__name__, "lr", value)

    def hyperparameters(self) -> dict[str, Any]:
        """The constructor's keywords and their values, in torch's order."""
        raise NotImplementedError

    def _variant(self) -> str:
        """The kernel-name suffix of the options in effect ("" for the plain rule)."""
        return ""

    def _scalars(self) -> dict[str, float]:
        """The scalar kernel arguments by the names the generated kernels use."""
        return {k: v for k, v in self.hyperparameters().items() if isinstance(v, float)}

    def _initial(self, array: str) -> float:
        """The value a state array starts at."""
        return 0.0

    @property
    def state(self) -> list[dict[str, Any]]:
        """Per parameter, by position: its step count and flat state arrays (torch's names)."""
        return self._state

    def reset(self) -> None:
        """Forget all state: the next step is every parameter's first."""
        self._state = []

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        """One update of every parameter array, in place, from its gradient."""
        params, grads = list(params), list(grads)
        if len(params) != len(grads):
            raise UserInputError(f"{len(params)} parameter arrays but {len(grads)} gradients")
        variant = self._variant()
        kernel, arrays, scalar_names, step_fn, inputs, outputs = _plan(
            self.module, f"{self.module}_{variant}_step" if variant else f"{self.module}_step")
        # Check every array (and its state) before updating any.
        flat = [self._flat(i, p, g) for i, (p, g) in enumerate(zip(params, grads, strict=True))]
        states = [self._state_for(i, p, arrays) for i, (p, _) in enumerate(flat)]
        scalars = self._scalars()
        for (p, g), (state, created) in zip(flat, states, strict=True):
            state["step"] += 1
            values = dict(scalars, t=state["step"], first=int(created))
            if step_fn is not None:
                values.update(zip(outputs, step_fn(*(values[k] for k in inputs)), strict=True))
            kernel(p, g, *(state[a] for a in arrays), *(values[k] for k in scalar_names))

    def _flat(self, i: int, p: Any, g: Any) -> tuple[np.ndarray, np.ndarray]:
        """Flat views of a parameter (updated in place) and of its gradient, in the parameter's dtype."""
        if not isinstance(p, np.ndarray) or p.dtype not in (np.float32, np.float64):
            raise UserInputError(f"parameter {i} must be a float32 or float64 numpy array, got "
                                 f"{getattr(p, 'dtype', type(p).__name__)}")
        if not p.flags.c_contiguous or not p.flags.writeable:
            raise UserInputError(f"parameter {i} must be a writeable C-contiguous array (it is updated in "
                                 "place); pass np.ascontiguousarray(p) and keep that array")
        g = np.ascontiguousarray(g, dtype=p.dtype)
        if g.shape != p.shape:
            raise UserInputError(f"gradient {i} has shape {g.shape} but its parameter {p.shape}")
        return p.reshape(-1), g.reshape(-1)

    def _state_for(self, i: int, p: np.ndarray, arrays: Sequence[str]) -> tuple[dict[str, Any], bool]:
        """Parameter i's state, with every array the kernel needs; True if any was created now."""
        while len(self._state) <= i:
            self._state.append({"step": 0, "size": None, "dtype": None})
        state = self._state[i]
        if state["size"] is None:
            state["size"], state["dtype"] = p.shape[0], p.dtype
        elif (state["size"], state["dtype"]) != (p.shape[0], p.dtype):
            raise UserInputError(
                f"parameter {i} has {p.shape[0]} {p.dtype} elements, but the optimizer's state for it has "
                f"{state['size']} {state['dtype']}; call reset() before stepping different parameters")
        created = False
        for a in arrays:
            if a not in state:
                state[a] = np.full(p.shape[0], self._initial(a), dtype=p.dtype)
                created = True
        return state, created

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """torch.optim.SGD: momentum (buffer starts at g), dampening, Nesterov, L2 weight decay."""

    module = "sgd"

    def __init__(self, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False) -> None:
        super().__init__(lr)
        self.momentum = _number("SGD", "momentum", momentum)
        self.dampening = _number("SGD", "dampening", dampening, None)
        self.weight_decay = _number("SGD", "weight_decay", weight_decay)
        self.nesterov = _flag("SGD", "nesterov", nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise UserInputError("SGD: nesterov=True needs momentum > 0 and dampening = 0")

    def hyperparameters(self) -> dict[str, Any]:
        return {"lr": self.lr, "momentum": self.momentum, "dampening": self.dampening,
                "weight_decay": self.weight_decay, "nesterov": self.nesterov}

    def _variant(self) -> str:
        return "" if self.momentum == 0 else "nesterov" if self.nesterov else "momentum"


class Adagrad(Optimizer):
    """torch.optim.Adagrad: lr / (1 + (t - 1) lr_decay), over the root of the summed g^2."""

    module = "adagrad"

    def __init__(self, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10) -> None:
        super().__init__(lr)
        self.lr_decay = _number("Adagrad", "lr_decay", lr_decay)
        self.weight_decay = _number("Adagrad", "weight_decay", weight_decay)
        self.initial_accumulator_value = _number("Adagrad", "initial_accumulator_value",
                                                 initial_accumulator_value)
        self.eps = _number("Adagrad", "eps", eps)

    def hyperparameters(self) -> dict[str, Any]:
        return {"lr": self.lr, "lr_decay": self.lr_decay, "weight_decay": self.weight_decay,
                "initial_accumulator_value": self.initial_accumulator_value, "eps": self.eps}

    def _initial(self, array: str) -> float:
        return self.initial_accumulator_value if array == "state_sum" else 0.0


class RMSprop(Optimizer):
    """torch.optim.RMSprop: g over the root of a running mean of g^2, optionally centered, momentum."""

    module = "rmsprop"

    def __init__(self, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0,
                 momentum: float = 0, centered: bool = False) -> None:
        super().__init__(lr)
        self.alpha = _number("RMSprop", "alpha", alpha)
        self.eps = _number("RMSprop", "eps", eps)
        self.weight_decay = _number("RMSprop", "weight_decay", weight_decay)
        self.momentum = _number("RMSprop", "momentum", momentum)
        self.centered = _flag("RMSprop", "centered", centered)

    def hyperparameters(self) -> dict[str, Any]:
        return {"lr": self.lr, "alpha": self.alpha, "eps": self.eps, "weight_decay": self.weight_decay,
                "momentum": self.momentum, "centered": self.centered}

    def _variant(self) -> str:
        parts = (["centered"] if self.centered else []) + (["momentum"] if self.momentum > 0 else [])
        return "_".join(parts)


class Adam(Optimizer):
    """torch.optim.Adam: bias-corrected moment estimates; weight_decay is L2 added to the gradient."""

    module = "adam"

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False) -> None:
        super().__init__(lr)
        name = type(self).__name__
        self.betas = _betas(name, betas)
        self.eps = _number(name, "eps", eps)
        self.weight_decay = _number(name, "weight_decay", weight_decay)
        self.amsgrad = _flag(name, "amsgrad", amsgrad)

    def hyperparameters(self) -> dict[str, Any]:
        return {"lr": self.lr, "betas": self.betas, "eps": self.eps, "weight_decay": self.weight_decay,
                "amsgrad": self.amsgrad}

    def _scalars(self) -> dict[str, float]:
        return {"lr": self.lr, "beta1": self.betas[0], "beta2": self.betas[1], "eps": self.eps,
                "weight_decay": self.weight_decay}

    def _variant(self) -> str:
        return "amsgrad" if self.amsgrad else ""


class AdamW(Adam):
    """torch.optim.AdamW: Adam with decoupled weight decay, p <- p (1 - lr weight_decay) first."""

    module = "adamw"

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(lr, betas, eps, weight_decay, amsgrad)


_FACTORIES: dict[str, Callable[[dict[str, float]], Optimizer]] = {
    "sgd": lambda kw: SGD(**kw),
    "momentum": lambda kw: SGD(momentum=0.9, **kw),
    "nesterov": lambda kw: SGD(momentum=0.9, nesterov=True, **kw),
    "adagrad": lambda kw: Adagrad(**kw),
    "rmsprop": lambda kw: RMSprop(**kw),
    "adam": lambda kw: Adam(**kw),
    "adamw": lambda kw: AdamW(**kw),
}


def make_optimizer(name: str, lr: float | None = None) -> Optimizer:
    """The optimizer a command-line name stands for; lr None keeps the optimizer's default."""
    if name not in _FACTORIES:
        raise UserInputError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZER_NAMES)}")
    return _FACTORIES[name]({} if lr is None else {"lr": lr})


def resolve_optimizer(optimizer: Any) -> Any:
    """fit's `optimizer`: an Optimizer as it is; a name (`"adam"`) or a class (`symnn.Adam`) with its defaults.

    An object of one's own with `step(params, grads)` and a numeric `lr` is used as it is (the per-layer
    loop calls just those). Anything else (a torch optimizer, a function) is a UserInputError naming
    what is accepted.
    """
    if isinstance(optimizer, Optimizer):
        return optimizer
    if callable(getattr(optimizer, "step", None)) and isinstance(getattr(optimizer, "lr", None), Real) \
            and not isinstance(optimizer, type):
        return optimizer
    if isinstance(optimizer, str) and optimizer.strip().lower() in _FACTORIES:
        return make_optimizer(optimizer.strip().lower())
    if isinstance(optimizer, type) and issubclass(optimizer, Optimizer) and optimizer is not Optimizer:
        return optimizer()
    classes = ", ".join(f"symnn.{c.__name__}" for c in (SGD, Adagrad, RMSprop, Adam, AdamW))
    raise UserInputError(f"optimizer {optimizer!r} is not one symnn knows; pass an optimizer such as "
                         f"symnn.Adam(lr=1e-3), a class ({classes}) or a name ({', '.join(OPTIMIZER_NAMES)})")


__all__ = ["OPTIMIZER_NAMES", "SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "make_optimizer",
           "resolve_optimizer"]

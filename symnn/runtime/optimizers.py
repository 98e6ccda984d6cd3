"""Optimizers with torch.optim's update rules, defaults and keywords, run by the generated kernels.

Each `step(params, grads)` updates the parameter arrays in place: one fused kernel call per array
(`symnn.generated.optimizers.<name>`), on flat views, with the per-parameter state created on the
parameter's first step and kept by position in the list. This module imports NumPy and the
generated kernels only, never SymPy. Every fact it uses (the classes and their keywords, defaults
and constraints, which options select which kernel, the state, the per-step scalars) is declared in
`symnn.symbolic.optimizers` and read here from the generated modules: a new optimizer there is a
new class here, after `symnn generate`.

`Optimizer.plan()` is the one public description of a step (kernel, state, scalars, how to compute
the per-step ones), used by `step` and by the fused training loop.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

import numpy as np

from symnn.errors import UserInputError
from symnn.generated import optimizers as _index
from symnn.runtime import kernels


@dataclass(frozen=True)
class OptimizerPlan:
    """What one step of a built-in optimizer does, for its options: everything a caller needs to run
    the kernel (Optimizer.step, the fused loop).

    The kernel is called as `kernel_fn(param, grad, *state arrays, *scalars)` with every scalar in
    `scalars`: `lr` from the learning rate, the `hyper` ones from `hyper_values()`, the `per_step`
    ones from a row of `step_scalars`.
    """

    module: str  # the generated module: symnn.generated.optimizers.<module>
    kernel: str  # "adam_amsgrad_step"
    state: tuple[str, ...]  # state arrays after param and grad, torch's names, in call order
    scalars: tuple[str, ...]  # the kernel's scalar arguments, in call order
    hyper: tuple[str, ...]  # scalars fixed during a fit (neither lr nor per-step)
    per_step: tuple[str, ...]  # scalars that change per step (and SGD's "first")
    initial: dict[str, float]  # state array -> the value it starts at
    values: dict[str, float] = field(repr=False)  # every hyper-parameter scalar by kernel name, lr aside
    #: step t -> the recurrences' values after it (only the latest kept): continuing costs one row.
    _carried: dict[int, tuple[float, ...]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def kernel_fn(self) -> Callable[..., None]:
        """The compiled kernel (its module imported on first use)."""
        return getattr(kernels.generated(f"optimizers.{self.module}"), self.kernel)

    def hyper_values(self) -> dict[str, float]:
        """The `hyper` scalars' values, by name."""
        return {k: self.values[k] for k in self.hyper}

    def step_scalars(self, lrs: np.ndarray, t0: int, created: bool) -> np.ndarray:
        """(len(lrs), len(per_step)) float64: row k holds the per-step scalars of step t0 + 1 + k at
        learning rate lrs[k] ("first" is 1 only on row 0, and only when the state was `created`).

        Computed step by step in Python floats by the generated per-step function, as torch does,
        recurrences (NAdam's mu_product) carried from row to row; the same code serves `step`.
        """
        lrs = np.asarray(lrs, dtype=np.float64).reshape(-1)
        out = np.zeros((lrs.shape[0], len(self.per_step)), np.float64)
        if not self.per_step:
            return out
        if "first" in self.per_step and created and lrs.shape[0]:
            out[0, self.per_step.index("first")] = 1.0
        mod = kernels.generated(f"optimizers.{self.module}")
        if not mod.STEP_SCALARS:
            return out
        fn = getattr(mod, f"{self.module}_scalars")
        carried_names = tuple(mod.STEP_CARRIED)
        carried = self._carried_after(fn, mod, t0)
        args = dict(self.values)
        columns = [(k, mod.STEP_SCALARS.index(name)) for k, name in enumerate(self.per_step)
                   if name in mod.STEP_SCALARS]
        where = [mod.STEP_SCALARS.index(name) for name in carried_names]
        for row, lr in enumerate(lrs.tolist()):
            args.update(zip(carried_names, carried), lr=lr, t=t0 + 1 + row)
            results = fn(*(args[k] for k in mod.STEP_INPUTS))
            carried = tuple(results[i] for i in where)
            for k, i in columns:
                out[row, k] = results[i]
        if carried_names:
            self._carried.clear()
            self._carried[t0 + lrs.shape[0]] = carried
        return out

    def step_table(self, lrs: np.ndarray, t0: int, created: bool) -> np.ndarray:
        """`step_scalars` for many steps at once, as the fused loop takes them: the per-step function
        run once on NumPy arrays of step counts and learning rates (where it has no recurrence),
        which costs a few microseconds for thousands of steps where a Python call per step would
        cost as much as training on small networks. NumPy computes `x ** 0.5` of an array as a square
        root where Python calls C's pow, so a row can differ from `step_scalars`' in the last bit
        (measured: for about 0.5% of Adam's step counts past ~1000)."""
        mod = kernels.generated(f"optimizers.{self.module}")
        lrs = np.asarray(lrs, dtype=np.float64).reshape(-1)
        if mod.STEP_CARRIED or not mod.STEP_SCALARS or not self.per_step:
            return self.step_scalars(lrs, t0, created)
        out = np.zeros((lrs.shape[0], len(self.per_step)), np.float64)
        args = dict(self.values, lr=lrs, t=np.arange(t0 + 1, t0 + lrs.shape[0] + 1, dtype=np.float64))
        results = dict(zip(mod.STEP_SCALARS, getattr(mod, f"{self.module}_scalars")(
            *(args[k] for k in mod.STEP_INPUTS)), strict=True))
        for k, name in enumerate(self.per_step):
            if name == "first":
                out[0, k] = 1.0 if created and lrs.shape[0] else 0.0
            else:
                out[:, k] = results[name]
        return out

    def _carried_after(self, fn: Callable, mod: Any, t0: int) -> tuple[float, ...]:
        """The recurrences' values after step t0: from their start, or from the latest step known.
        They do not read lr (the definitions are checked), so any lr serves to run them forward."""
        names = tuple(mod.STEP_CARRIED)
        if not names:
            return ()
        t, carried = max(((t, c) for t, c in self._carried.items() if t <= t0),
                         default=(0, tuple(mod.STEP_CARRIED.values())))
        args = dict(self.values, lr=1.0)
        where = [mod.STEP_SCALARS.index(name) for name in names]
        while t < t0:
            t += 1
            args.update(zip(names, carried), t=t)
            results = fn(*(args[k] for k in mod.STEP_INPUTS))
            carried = tuple(results[i] for i in where)
        return carried


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


def _betas(owner: str, key: str, betas: Any) -> tuple[float, float]:
    if not isinstance(betas, Sequence) or isinstance(betas, str) or len(betas) != 2:
        raise UserInputError(f"{owner}: {key} must be a pair (beta1, beta2), got {betas!r}")
    return (_number(owner, f"{key}[0]", betas[0], 0.0, 1.0), _number(owner, f"{key}[1]", betas[1], 0.0, 1.0))


#: How a keyword of each kind (generated HYPERPARAMETERS) is checked and stored.
_KINDS: dict[str, Callable[[str, str, Any], Any]] = {
    "nonneg": lambda owner, key, v: _number(owner, key, v),
    "real": lambda owner, key, v: _number(owner, key, v, None),
    "flag": _flag,
    "betas": _betas,
}
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b, ">": lambda a, b: a > b, "==": lambda a, b: a == b}


class Optimizer:
    """The base class: validated keywords, a settable `lr`, per-parameter state, and `step`.

    The built-in classes below are made from the generated facts (`_define`); each keeps torch's
    keywords, defaults and order in its signature.
    """

    #: The generated optimizer module this class runs (symnn.generated.optimizers.<kind>).
    kind = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not self.kind:
            raise TypeError("Optimizer is the base class; use one of symnn's optimizers, e.g. symnn.Adam")
        owner = type(self).__name__
        bound = _SIGNATURES[self.kind].bind(*args, **kwargs)
        bound.apply_defaults()
        self._state: list[dict[str, Any]] = []
        self._plans: dict[tuple, OptimizerPlan] = {}
        for key, value in bound.arguments.items():
            if key == "lr":
                self.lr = value
            else:
                setattr(self, key, _KINDS[_index.HYPERPARAMETERS[key]](owner, key, value))
        for option, key, op, value in _index.REQUIRES.get(self.kind, ()):
            if getattr(self, option) and not _OPS[op](getattr(self, key), value):
                raise UserInputError(f"{owner}: {option}=True needs "
                                     + " and ".join(_requirements(self.kind, option)))

    @property
    def lr(self) -> float:
        """The learning rate; schedules set it between epochs."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _number(type(self).__name__, "lr", value)

    def hyperparameters(self) -> dict[str, Any]:
        """The constructor's keywords and their values, in torch's order."""
        return {key: getattr(self, key) for key in _index.DEFAULTS[self.kind]}

    def plan(self) -> OptimizerPlan | None:
        """What `step` does with the current options, or None when a subclass overrides `step`
        (its steps are its own: nothing may run the built-in kernel in its place)."""
        return self._plan() if type(self).step is Optimizer.step else None

    def _plan(self) -> OptimizerPlan:
        """The plan for the current hyper-parameters (lr aside), kept while they stay the same."""
        hp = self.hyperparameters()
        key = tuple((k, v) for k, v in hp.items() if k != "lr")
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) > 8:
                self._plans.clear()
            plan = self._plans[key] = _make_plan(self.kind, hp)
        return plan

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
        plan = self._plan()
        # Check every array (and its state) before updating any.
        flat = [self._flat(i, p, g) for i, (p, g) in enumerate(zip(params, grads, strict=True))]
        states = [self._state_for(i, p, plan) for i, (p, _) in enumerate(flat)]
        kernel, lr = plan.kernel_fn, self.lr
        fixed = dict(plan.hyper_values(), lr=lr)
        rows: dict[tuple[int, bool], dict[str, Any]] = {}  # (step before, created) -> per-step scalars
        for (p, g), (state, created) in zip(flat, states, strict=True):
            key = (state["step"], created)
            if key not in rows:
                row = plan.step_scalars(np.array([lr]), *key)[0].tolist()
                rows[key] = dict(fixed, **dict(zip(plan.per_step, row, strict=True)))
                if "first" in rows[key]:
                    rows[key]["first"] = int(rows[key]["first"])  # an integer kernel argument
            state["step"] += 1
            values = rows[key]
            kernel(p, g, *(state[a] for a in plan.state), *(values[k] for k in plan.scalars))

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

    def _state_for(self, i: int, p: np.ndarray, plan: OptimizerPlan) -> tuple[dict[str, Any], bool]:
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
        for a in plan.state:
            if a not in state:
                state[a] = np.full(p.shape[0], plan.initial[a], dtype=p.dtype)
                created = True
        return state, created

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"


def _requirements(kind: str, option: str) -> list[str]:
    return [f"{key} {'=' if op == '==' else op} {value:g}"
            for opt, key, op, value in _index.REQUIRES.get(kind, ()) if opt == option]


def _make_plan(kind: str, hp: dict[str, Any]) -> OptimizerPlan:
    """The plan of optimizer `kind` with hyper-parameters `hp`, from its generated module's facts."""
    mod = kernels.generated(f"optimizers.{kind}")
    on = {option for option in mod.OPTIONS if hp[option]}
    kernel = next((k for k, options in mod.VARIANTS.items() if set(options) == on), None)
    if kernel is None:
        raise UserInputError(f"{_index.CLASSES[kind]}: no kernel for {', '.join(sorted(on))} together; "
                             f"the kernels cover {', '.join(map(str, mod.VARIANTS.values()))}")
    roles = kernel_roles(mod, kernel)
    values: dict[str, float] = {}
    for key, value in hp.items():
        if key in _index.SPLIT:
            values.update(zip(_index.SPLIT[key], value, strict=True))
        elif key != "lr" and not isinstance(value, bool):
            values[key] = value
    initial = {a: float(hp[v]) if isinstance(v, str) else float(v)
               for a, v in mod.INITIAL.items() if a in roles["state"]}
    return OptimizerPlan(kind, kernel, roles["state"], roles["scalars"], roles["hyper"], roles["per_step"],
                         initial, values)


def kernel_roles(mod: Any, kernel: str) -> dict[str, tuple[str, ...]]:
    """A generated optimizer kernel's arguments after param and grad, by where a caller takes them:
    `state` arrays, every scalar in call order (`scalars`), those fixed for a fit (`hyper`: not lr,
    not per-step) and those made per step (`per_step`: the module's STEP_SCALARS, and SGD's "first").
    `mod`: the generated module, or anything with its KERNELS and STEP_SCALARS."""
    state, scalars = mod.KERNELS[kernel]
    per_step = tuple(s for s in scalars if s in mod.STEP_SCALARS or s == "first")
    return {"state": tuple(state), "scalars": tuple(scalars), "per_step": per_step,
            "hyper": tuple(s for s in scalars if s != "lr" and s not in per_step)}


def _signature(kind: str) -> inspect.Signature:
    return inspect.Signature([inspect.Parameter(key, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=value)
                              for key, value in _index.DEFAULTS[kind].items()])


_SIGNATURES: dict[str, inspect.Signature] = {kind: _signature(kind) for kind in _index.NAMES}


def _define(kind: str) -> type[Optimizer]:
    """The class of a generated optimizer: torch's name, keywords and defaults."""
    name = _index.CLASSES[kind]
    sig = _SIGNATURES[kind]

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: N807 (the class's own)
        Optimizer.__init__(self, *args, **kwargs)

    __init__.__signature__ = sig.replace(parameters=[  # type: ignore[attr-defined]
        inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *sig.parameters.values()])
    defaults = ", ".join(f"{k}={v!r}" for k, v in _index.DEFAULTS[kind].items())
    doc = f"torch.optim.{name}({defaults}): {_index.DESCRIPTIONS[kind]}."
    return type(name, (Optimizer,), {"kind": kind, "__init__": __init__, "__doc__": doc,
                                     "__module__": __name__, "__qualname__": name})


#: The built-in optimizer classes, by generated name: SGD, Adagrad, RMSprop, Adam, AdamW, NAdam, ...
CLASSES: dict[str, type[Optimizer]] = {kind: _define(kind) for kind in _index.NAMES}
SGD, Adagrad, RMSprop, Adam, AdamW, NAdam = (CLASSES[k] for k in ("sgd", "adagrad", "rmsprop", "adam", "adamw",
                                                                  "nadam"))


def __getattr__(name: str) -> type[Optimizer]:
    """Any other generated optimizer's class by its name, as soon as `symnn generate` wrote it."""
    if name.startswith("__"):  # the import system's look-ups (__path__, ...): no class is named so
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    for cls in CLASSES.values():
        if cls.__name__ == name:
            return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _names() -> tuple[str, ...]:
    """Command-line names: each optimizer, followed by the presets built on it."""
    return tuple(n for kind in _index.NAMES
                 for n in (kind, *(p for p, (base, _, _) in _index.PRESETS.items() if base == kind)))


#: The optimizer names the command line accepts.
OPTIMIZER_NAMES: tuple[str, ...] = _names()


def make_optimizer(name: str, lr: float | None = None) -> Optimizer:
    """The optimizer a command-line name stands for; lr None keeps the optimizer's default."""
    if name not in OPTIMIZER_NAMES:
        raise UserInputError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZER_NAMES)}")
    kind, preset = (_index.PRESETS[name][0], _index.PRESETS[name][1]) if name in _index.PRESETS else (name, {})
    return CLASSES[kind](**preset, **({} if lr is None else {"lr": lr}))


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
    if isinstance(optimizer, str) and optimizer.strip().lower() in OPTIMIZER_NAMES:
        return make_optimizer(optimizer.strip().lower())
    if isinstance(optimizer, type) and issubclass(optimizer, Optimizer) and optimizer is not Optimizer:
        return optimizer()
    classes = ", ".join(f"symnn.{c.__name__}" for c in CLASSES.values())
    raise UserInputError(f"optimizer {optimizer!r} is not one symnn knows; pass an optimizer such as "
                         f"symnn.Adam(lr=1e-3), a class ({classes}) or a name ({', '.join(OPTIMIZER_NAMES)})")


__all__ = ["CLASSES", "OPTIMIZER_NAMES", "SGD", "Adagrad", "Adam", "AdamW", "NAdam", "Optimizer", "OptimizerPlan",
           "RMSprop", "make_optimizer", "resolve_optimizer"]

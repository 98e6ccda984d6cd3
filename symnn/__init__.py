"""symnn: neural-network gradients derived by SymPy, trained with the Numba kernels generated from them.

The training API (Sequential, Dense, Activation, the optimizers) imports NumPy and the generated
kernels only; `symnn.derive` loads SymPy on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Sequential": "symnn.runtime.model",
    "Dense": "symnn.runtime.layers",
    "Activation": "symnn.runtime.layers",
    "StepLR": "symnn.runtime.schedules",
    "ExponentialLR": "symnn.runtime.schedules",
    "CosineAnnealingLR": "symnn.runtime.schedules",
    "Perceptron": "symnn.runtime.perceptron",
    "EarlyStopping": "symnn.runtime.monitor",
    "set_flush_denormal": "symnn.runtime.denormals",
    "UserInputError": "symnn.errors",
    "SymnnClassifier": "symnn.estimators",
    "SymnnRegressor": "symnn.estimators",
}

#: Submodules reachable as attributes without an explicit import (`symnn.datasets.load("xor")`).
_SUBMODULES = ("datasets", "estimators", "plotting", "optviz", "display")



def _optimizers() -> dict[str, type]:
    """The optimizer classes by their names (torch's: `symnn.Adam`), one per generated optimizer: a new
    optimizer's definition and `symnn generate` are all it takes to be `symnn.<Name>`."""
    from symnn.runtime.optimizers import CLASSES

    return {cls.__name__: cls for cls in CLASSES.values()}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    if name in _SUBMODULES:
        return import_module(f"symnn.{name}")
    if name == "__all__":  # `from symnn import *` (the optimizers are read from the generated index)
        return sorted([*_EXPORTS, *_optimizers(), "derive", "load", "datasets", "sweep"])
    if name[:1].isupper() and name in _optimizers():
        return _optimizers()[name]
    raise AttributeError(f"module 'symnn' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names too (they load lazily), so tab completion offers them."""
    return sorted(set(globals()) | set(__getattr__("__all__")) | set(_SUBMODULES))


def derive(name_or_expr: str):
    """The Derivation of a registered name, or of a formula in x ('x*tanh(softplus(x))')."""
    from symnn.symbolic.api import derive as _derive

    return _derive(name_or_expr)


def load(path: str):
    """A model saved with `model.save` or `symnn train --save`."""
    from symnn.runtime.files import load_model

    return load_model(path)


def sweep(grid=None, **options):
    """Many trainings at once: every combination of `grid` x seeds (x folds), on joblib or Dask.

    See `symnn.sweeps.api.sweep` (and `symnn sweep --help`); returns a SweepResult.
    """
    from symnn.sweeps.api import sweep as _sweep

    return _sweep(grid, **options)

"""A loss as the runtime uses it: targets prepared once, the generated kernels, predictions."""

from __future__ import annotations

import math

import numpy as np

from symnn.errors import UserInputError
from symnn.runtime import kernels
from symnn.runtime import parameters as params

#: The losses whose outputs are classes (from the losses' facts, generated/losses/__init__.py).
CLASSIFICATION: tuple[str, ...] = tuple(kernels.generated("losses").CLASSIFIES)


def width_error(name: str, n_outputs: int) -> str | None:
    """Why a model with n_outputs outputs cannot end in loss `name` (its facts' OUTPUTS), or None."""
    facts = kernels.generated("losses")
    if name not in facts.OUTPUTS:  # a formula in z and t: elementwise, any width
        return None
    low, high = facts.OUTPUTS[name]
    if low <= n_outputs and (high is None or n_outputs <= high):
        return None
    need = (f"{low} output{'s' if low > 1 else ''}" if low == high else
            f"at least {low} outputs (one per class)" if high is None else f"{low} to {high} outputs")
    instead = facts.INSTEAD.get(name)
    return f"{name} needs {need}, the model has {n_outputs}" + (f"; {instead}" if instead else "")


def parse_choice(loss: object) -> tuple[object, dict]:
    """A loss as `Sequential(loss=...)` takes it: a name ("huber"), the CLI's spelling
    ("huber:delta=2"), or (name, {parameter: value}) -> (name, the parameters given)."""
    if isinstance(loss, tuple) and len(loss) == 2 and isinstance(loss[1], dict):
        return loss[0], dict(loss[1])
    if isinstance(loss, str) and ":" in loss:
        return params.split(loss)
    return loss, {}


class Loss:
    """Mean loss over a batch with PyTorch's semantics, for a model with `n_outputs` outputs.

    `parameters`: a parameterised loss's values by name (huber's delta), torch's defaults otherwise;
    every value runs the same compiled kernels (the value is their argument)."""

    def __init__(self, name: str, n_outputs: int, parameters: dict | None = None) -> None:
        self.name, self.n_outputs = name, n_outputs
        if name in kernels.builtin_names("losses"):
            kernel = kernels.loss_kernel(name, n_outputs)[1]
            self.values = params.resolve("losses", kernel, parameters or {})
        elif parameters:  # a formula's numbers are in the formula
            raise UserInputError(f"the loss formula {name!r} takes no parameters; write their values into it")
        else:
            kernel, self.values = None, ()
        self._forward, self._backward, self._value_and_grad, self._rows = (
            kernels.loss(name, n_outputs, parameterised=True) if self.values else kernels.loss(name, n_outputs))
        #: The parameters that differ from torch's defaults (repr, model files; the fused loop runs none).
        self.options = params.options("losses", kernel, self.values) if kernel else {}
        why = width_error(name, n_outputs)
        if why is not None:
            raise UserInputError(why)

    @property
    def classification(self) -> bool:
        return self.name in CLASSIFICATION

    def targets(self, y: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """Targets as a C-contiguous (N, n_outputs) array: class indices become one-hot rows."""
        y = np.asarray(y)
        k = self.n_outputs
        if y.ndim == 1 and k > 1:
            labels = y if y.dtype.kind in "iu" else y.astype(np.int64)
            if labels is not y and not np.array_equal(labels, y) \
                    or labels.min(initial=0) < 0 or labels.max(initial=0) >= k:
                raise UserInputError(f"targets must be class indices 0..{k - 1} for {k} outputs")
            return np.eye(k, dtype=dtype)[labels]  # one-hot rows
        if y.ndim == 0:
            raise UserInputError("targets must be an array with one row per input row, not a scalar")
        cols = math.prod(y.shape[1:])  # (an empty y has no -1 to infer)
        out = np.ascontiguousarray(y.reshape(y.shape[0], cols), dtype=dtype)
        if out.shape[1] != k:
            raise UserInputError(f"targets have {out.shape[1]} columns, the model {k} outputs")
        if k == 1 and self.name == "binary_cross_entropy" and not _unit_interval(out):
            raise UserInputError("binary_cross_entropy needs targets in [0, 1]: 0/1 labels or probabilities")
        if k == 1 and self.name == "hinge" and not _zero_one(y, out):
            raise UserInputError("hinge needs 0/1 targets")
        return out

    def value(self, z: np.ndarray, t: np.ndarray) -> float:
        v = self.values
        return float(self._forward(z, t, *v) if self._rows else self._forward(z.reshape(-1), t.reshape(-1), *v))

    def gradient(self, z: np.ndarray, t: np.ndarray, out: np.ndarray) -> None:
        if self._rows:
            self._backward(z, t, out, *self.values)
        else:
            self._backward(z.reshape(-1), t.reshape(-1), out.reshape(-1), *self.values)

    def value_and_gradient(self, z: np.ndarray, t: np.ndarray, out: np.ndarray) -> float:
        """`value(z, t)`, and `gradient(z, t, out)` written into out, in one pass over z."""
        if self._rows:
            return float(self._value_and_grad(z, t, out, *self.values))
        return float(self._value_and_grad(z.reshape(-1), t.reshape(-1), out.reshape(-1), *self.values))

    def choice(self) -> object:
        """The loss as `Sequential(loss=...)` takes it back: its name, or (name, parameters)."""
        return (self.name, dict(self.options)) if self.options else self.name

    def predict(self, z: np.ndarray) -> np.ndarray:
        """Class labels for classification losses, the outputs otherwise."""
        if not self.classification:
            return z
        if z.shape[1] == 1:
            return (z[:, 0] > 0).astype(np.int64)
        return np.argmax(z, axis=1)


def _unit_interval(out: np.ndarray) -> bool:
    """Whether every target lies in [0, 1] (NaN does not): two reductions, no temporaries."""
    return bool(out.min(initial=0) >= 0 and out.max(initial=1) <= 1)


def _zero_one(y: np.ndarray, out: np.ndarray) -> bool:
    """Whether every target is 0 or 1: integer labels are checked as they are (one pass), other
    targets after conversion."""
    if y.dtype.kind == "b":
        return True
    if y.dtype.kind in "iu":  # as unsigned, a negative label is huge: one comparison covers both ends
        return not (y.view(f"u{y.dtype.itemsize}") > 1).any()
    return bool(((out == 0) | (out == 1)).all())

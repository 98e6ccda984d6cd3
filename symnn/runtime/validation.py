"""Checks of what a user hands the model: arrays of finite real numbers, whole-number options.

Each check raises UserInputError (a ValueError) naming the array or option, where the problem is,
and what to do; none of them copies an array that is already of the right dtype and layout.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from symnn.errors import UserInputError

_REAL_KINDS = "biuf"


def _where(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(i) for i in index) + "]"


def _first_unconvertible(name: str, a: np.ndarray) -> str:
    """Why an object or string array does not convert to floats: its first bad element, and where."""
    for index in np.ndindex(a.shape):
        value = a[index]
        try:
            if value is None:
                raise TypeError
            float(value)
        except (TypeError, ValueError):
            if value is None:
                return f"{name}{_where(index)} is None; fill in the missing values (or drop those rows) first"
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
            return f"{name}{_where(index)} is {shown}, not a real number; pass real numbers only"
    return f"{name} does not convert to numbers; pass an array of numbers"


def real_array(name: str, values: object) -> np.ndarray:
    """`values` as an array of real numbers (bool, int or float); refuses complex, strings, objects."""
    try:
        a = np.asarray(values)
    except (ValueError, TypeError) as exc:  # e.g. rows of different lengths
        detail = "rows of different lengths" if "inhomogeneous" in str(exc) else str(exc).splitlines()[0][:80]
        raise UserInputError(f"{name} is not a rectangular array of numbers ({detail}); "
                             "give every row the same length") from None
    kind = a.dtype.kind
    if kind in _REAL_KINDS:
        return a
    if kind == "c":
        raise UserInputError(f"{name} is complex ({a.dtype}); symnn trains on real numbers: pass "
                             f"{name}.real or np.abs({name}) explicitly")
    if kind in "US":
        raise UserInputError(f"{name} holds strings ({a.dtype}); convert it to numbers first, "
                             f"e.g. np.asarray({name}, dtype=float)")
    if kind == "O":
        if any(v is None for v in a.reshape(-1)):
            raise UserInputError(_first_unconvertible(name, a))
        try:
            return a.astype(np.float64)
        except (TypeError, ValueError):
            raise UserInputError(_first_unconvertible(name, a)) from None
    raise UserInputError(f"{name} has dtype {a.dtype}; pass an array of numbers (float32 or float64)")


def all_finite(a: np.ndarray) -> bool:
    """Whether every element is finite. Small arrays: one isfinite pass; large ones: a sum first
    (NaN and inf survive it; no temporary array), exact only if that fails."""
    if a.dtype.kind != "f" or a.size == 0:
        return True
    if a.size <= 1 << 16:
        return bool(np.isfinite(a).all())
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(float(np.add.reduce(a, axis=None))):
            return True
    return bool(np.isfinite(a).all())


def require_finite(name: str, converted: np.ndarray, original: np.ndarray | None = None) -> None:
    """Refuse NaN and inf, saying where; `original` (before a cast) tells an overflow from a NaN."""
    if all_finite(converted):
        return
    index = tuple(int(i) for i in np.argwhere(~np.isfinite(converted))[0])
    value = converted[index]
    bad = int(np.count_nonzero(~np.isfinite(converted)))
    more = f" ({bad} non-finite values in all)" if bad > 1 else ""
    if original is not None and original.shape == converted.shape:
        before = original[index]
        if np.isfinite(before):
            limit = float(np.finfo(converted.dtype).max)
            raise UserInputError(f"{name}{_where(index)} = {float(before):g} is beyond {converted.dtype}'s "
                                 f"range (±{limit:.3g}){more}; scale the data down or use dtype='float64'")
    what = "NaN" if np.isnan(value) else "inf" if value > 0 else "-inf"
    raise UserInputError(f"{name}{_where(index)} is {what}{more}; replace or drop the missing or "
                         "infinite values before training")


def whole_number(name: str, value: object, low: int) -> int:
    """An integer option (a whole float such as 10.0 is accepted) of at least `low`."""
    if type(value) is int and value >= low:  # the common case, without the ABC checks below
        return value
    if isinstance(value, bool):
        raise UserInputError(f"{name} must be a whole number >= {low}, not {value!r}")
    if isinstance(value, numbers.Integral):
        number = int(value)
    elif isinstance(value, numbers.Real) and math.isfinite(float(value)) and float(value).is_integer():
        number = int(value)
    else:
        raise UserInputError(f"{name} must be a whole number >= {low}, not {value!r}")
    if number < low:
        raise UserInputError(f"{name} must be a whole number >= {low}, not {value!r}")
    return number


def seed(value: object) -> object:
    """A random seed: None, an integer >= 0, or what numpy.random.default_rng accepts beyond that."""
    if type(value) is int and value >= 0:  # the common case, without the ABC checks below
        return value
    if value is None or isinstance(value, (np.random.Generator, np.random.SeedSequence, np.random.BitGenerator)):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 0:
        raise UserInputError(f"seed must be None or a whole number >= 0, not {value!r}")
    return int(value)


__all__ = ["all_finite", "real_array", "require_finite", "seed", "whole_number"]


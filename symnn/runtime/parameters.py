"""Parameters of built-in definitions (leaky_relu's slope, huber's delta), as the runtime reads them.

The facts (names, torch's defaults, valid ranges) are declared beside the definitions
(symnn.symbolic.activations.PARAMETERS, symnn.symbolic.losses) and read here from the generated
indexes (`PARAMETERS`, `RANGES`), so training needs no SymPy. One spelling serves the CLI, sweeps,
estimators and model files: `name:key=value[,key=value]` (`leaky_relu:slope=0.2`, `huber:delta=2`).
"""

from __future__ import annotations

import importlib
import math

from symnn.errors import UserInputError
from symnn.runtime import kernels

#: A range key (symnn.symbolic.derivation.RANGES) -> whether a finite value lies in it.
_IN_RANGE = {"finite": lambda v: True, "positive": lambda v: v > 0}


def declared(kind: str, name: str) -> tuple[tuple[str, float], ...]:
    """((parameter, default), ...) of a built-in `kind` ("activations" or "losses") name; () if none."""
    return tuple(kernels.generated(kind).PARAMETERS.get(name, ()))


def split(text: str) -> tuple[str, dict[str, float]]:
    """`name:key=value,...` -> (name, {key: value}); a text without ':' is a name alone."""
    name, colon, rest = text.partition(":")
    if not colon:
        return text.strip(), {}
    given: dict[str, float] = {}
    for item in rest.split(","):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise UserInputError(f"{text!r}: write parameters as {name.strip()}:NAME=VALUE[,NAME=VALUE], "
                                 f"e.g. leaky_relu:slope=0.2")
        given[key] = _number(name.strip(), key, value.strip())
    return name.strip(), given


def _number(name: str, key: str, value: object) -> float:
    try:
        if isinstance(value, bool):
            raise TypeError
        return float(value)
    except (TypeError, ValueError):
        raise UserInputError(f"{name} parameter {key}={value!r} is not a number; give e.g. {key}=0.5") from None


def resolve(kind: str, name: str, given: dict) -> tuple[float, ...]:
    """The values of every declared parameter of `name` in declared order (defaults filled in),
    each checked against its range: a one-line UserInputError naming the parameter and the fix."""
    params = declared(kind, name)
    known = dict(params)
    for key in given:
        if key not in known:
            hint = (f"its parameters are {', '.join(known)}" if known else "it takes no parameters")
            raise UserInputError(f"{name} has no parameter {key!r}; {hint}")
    ranges = kernels.generated(kind).RANGES.get(name, {}) if known else {}
    values = []
    for key, default in params:
        value = _number(name, key, given.get(key, default))
        where, text = ranges[key]
        if not (math.isfinite(value) and _IN_RANGE[where](value)):
            raise UserInputError(f"{name} parameter {key}={value!r} is out of range: {key} must be {text} "
                                 f"(default {default:g})")
        values.append(value)
    return tuple(values)


def options(kind: str, name: str, values: tuple[float, ...]) -> dict[str, float]:
    """The values that differ from the defaults, by parameter name (what repr and files show)."""
    return {key: v for (key, default), v in zip(declared(kind, name), values) if v != default}


def spelling(name: str, given: dict[str, float]) -> str:
    """`name:key=value,...` (just `name` without parameters): the CLI's spelling of a choice."""
    return name if not given else f"{name}:" + ",".join(f"{k}={v!r}" for k, v in given.items())


def described(kind: str) -> dict[str, str]:
    """name -> "key=default, ..." for every parameterised name of a kind (the CLI's help): read from
    the generated index alone, so that `--help` loads no kernel."""
    table = importlib.import_module(f"symnn.generated.{kind}").PARAMETERS
    return {name: ", ".join(f"{k}={d:g}" for k, d in ps) for name, ps in table.items()}


__all__ = ["declared", "described", "options", "resolve", "spelling", "split"]

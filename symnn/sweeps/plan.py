"""Planning a sweep: the grid's values parsed like `symnn train`'s options, and the list of runs.

A run is one configuration (the base options with one combination of the grid's values), one seed
and, with cross-validation, one fold. Its `id` hashes everything that decides its result, so
`--resume` can tell which runs a results file already holds, and that they belong to this sweep.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields

from symnn.errors import UserInputError
from symnn.runtime.training import TrainConfig

#: TrainConfig fields a grid may sweep, by their `symnn train` option names (without the dashes).
SWEEPABLE = {f.name.replace("_", "-"): f.name for f in fields(TrainConfig) if f.name != "seed"}


@dataclass(frozen=True)
class Run:
    """One training of a sweep: the swept values, the seed and the fold (None without --cv)."""

    config: dict  # swept option name (as on the command line) -> value
    seed: int
    fold: int | None
    id: str

    def train_config(self, base: TrainConfig) -> TrainConfig:
        """The full TrainConfig of this run."""
        values = asdict(base)
        values.update({SWEEPABLE[name]: value for name, value in self.config.items()})
        values["seed"] = self.seed
        return TrainConfig(**values)


def split_values(text: str) -> list[str]:
    """`a,b,max(x,0)` -> ['a', 'b', 'max(x,0)']: commas inside parentheses belong to a formula."""
    values, depth, current = [], 0, []
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            values.append("".join(current))
            current = []
        else:
            current.append(ch)
    values.append("".join(current))
    return [v.strip() for v in values]


def parse_grid_option(text: str, train_options: argparse.ArgumentParser) -> tuple[str, list]:
    """One `--grid NAME=V1,V2,...` -> (NAME, values converted as `symnn train --NAME` converts them)."""
    name, sep, rest = text.partition("=")
    name = name.strip().replace("_", "-")
    if not sep or not name or not rest.strip():
        raise UserInputError(f"--grid {text!r}: write NAME=V1,V2,..., e.g. --grid lr=1e-3,1e-2")
    return name, [convert(name, value, train_options) for value in split_values(rest)]


def convert(name: str, value: object, train_options: argparse.ArgumentParser) -> object:
    """A grid value for option `name`, checked and converted by that option's own type and choices.

    Strings are converted as on the command line (layers written `64-32-10`, since commas separate
    the values); other Python values are taken as they are.
    """
    if name == "seed":
        raise UserInputError("the grid cannot sweep seed; use --seeds N (seeds --seed, --seed + 1, ...)")
    if name not in SWEEPABLE:
        raise UserInputError(f"--grid {name}: not a train option; sweep one of {', '.join(SWEEPABLE)}")
    if not isinstance(value, str):
        return list(value) if name == "layers" else value
    if value == "":
        raise UserInputError(f"--grid {name}: an empty value; separate values by single commas")
    action = next(a for a in train_options._actions if a.dest == SWEEPABLE[name])
    text = value.replace("-", ",") if name == "layers" else value
    try:
        converted = action.type(text) if action.type else text
    except (argparse.ArgumentTypeError, ValueError) as e:
        hint = " (write layers as 64-32-10: commas separate the values)" if name == "layers" else ""
        raise UserInputError(f"--grid {name}={value}: {e}{hint}") from None
    if action.choices and converted not in action.choices:
        raise UserInputError(f"--grid {name}={value}: choose from {', '.join(map(str, action.choices))}")
    return converted


def normalise_grid(grid: Mapping[str, Sequence], train_options: argparse.ArgumentParser) -> dict[str, list]:
    """A Python grid {"lr": [1e-3, 1e-2], "batch_size": [32]} with command-line names and checked values."""
    out: dict[str, list] = {}
    for raw, values in grid.items():
        name = str(raw).replace("_", "-")
        if isinstance(values, str) or not isinstance(values, Sequence):
            values = split_values(values) if isinstance(values, str) else [values]
        if not values:
            raise UserInputError(f"grid {name}: give at least one value")
        if name in out:
            raise UserInputError(f"grid {name}: given twice; list all its values once")
        out[name] = [convert(name, v, train_options) for v in values]
    return out


def plan(base: TrainConfig, grid: Mapping[str, list], seeds: int = 1, cv: int | None = None) -> list[Run]:
    """Every combination of the grid's values (in the grid's order) x seeds x folds."""
    if seeds < 1:
        raise UserInputError("--seeds must be at least 1")
    if cv is not None and cv < 2:
        raise UserInputError("--cv K needs K >= 2 folds")
    names = list(grid)
    folds: list[int | None] = list(range(cv)) if cv else [None]
    runs = []
    for combo in itertools.product(*(grid[n] for n in names)):
        config = dict(zip(names, combo))
        for seed in range(base.seed, base.seed + seeds):
            for fold in folds:
                runs.append(Run(config, seed, fold, run_id(base, config, seed, fold, cv)))
    if len({r.id for r in runs}) != len(runs):
        raise UserInputError("the grid lists a value twice; give each value once")
    return runs


def run_id(base: TrainConfig, config: dict, seed: int, fold: int | None, cv: int | None) -> str:
    """A short hash of everything that decides a run's result (base options, swept values, seed, fold)."""
    full = asdict(base)
    full.update({SWEEPABLE[n]: v for n, v in config.items()})
    full["seed"] = seed
    key = json.dumps({"train": full, "fold": fold, "cv": cv, "cv_seed": base.seed if cv else None},
                     sort_keys=True, default=str)
    return hashlib.sha256(key.encode()).hexdigest()[:16]

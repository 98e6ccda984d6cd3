"""Planning a sweep: the grid read like `symnn train`'s options, runs = grid x seeds x folds."""

from __future__ import annotations

import numpy as np
import pytest

from symnn.cli import train_options_parser
from symnn.errors import UserInputError
from symnn.runtime.training import TrainConfig
from symnn.sweeps.plan import normalise_grid, parse_grid_option, plan, split_values
from symnn.sweeps.worker import fold_rows

PARSER = train_options_parser()


def test_values_split_on_commas_outside_a_formulas_parentheses():
    assert split_values("relu,tanh,x*tanh(softplus(x))") == ["relu", "tanh", "x*tanh(softplus(x))"]
    assert split_values("max(x, 0),relu") == ["max(x, 0)", "relu"]


def test_grid_values_are_converted_by_the_train_options_own_types():
    assert parse_grid_option("lr=1e-3,1e-2", PARSER) == ("lr", [1e-3, 1e-2])
    assert parse_grid_option("batch-size=16,64", PARSER) == ("batch-size", [16, 64])
    assert parse_grid_option("batch_size=16", PARSER) == ("batch-size", [16])
    assert parse_grid_option("layers=2-8-1,2-16-16-1", PARSER) == ("layers", [[2, 8, 1], [2, 16, 16, 1]])
    assert parse_grid_option("dtype=float64", PARSER) == ("dtype", ["float64"])


@pytest.mark.parametrize("text, problem", [
    ("lr=abc", "not a number"), ("lr=-1", ">= 0"), ("epochs=0", "at least 1"), ("nosuch=1", "not a train option"),
    ("seed=1,2", "--seeds"), ("lr", "NAME=V1,V2"), ("lr=", "NAME=V1,V2"), ("lr=1,,2", "empty value"),
    ("dtype=float16", "choose from"), ("layers=2,8,1", "64-32-10"),
])
def test_a_bad_grid_is_bad_input_naming_the_problem(text, problem):
    with pytest.raises(UserInputError, match=problem):
        parse_grid_option(text, PARSER)


def test_python_grids_take_values_as_they_are_and_strings_as_on_the_command_line():
    grid = normalise_grid({"lr": [0.1, "1e-2"], "batch_size": 8, "activation": "relu,tanh"}, PARSER)
    assert grid == {"lr": [0.1, 0.01], "batch-size": [8], "activation": ["relu", "tanh"]}


def test_runs_are_every_combination_times_seeds_times_folds():
    base = TrainConfig(seed=7)
    runs = plan(base, {"lr": [0.1, 0.01], "activation": ["relu", "tanh", "elu"]}, seeds=2, cv=3)
    assert len(runs) == 2 * 3 * 2 * 3
    assert {r.seed for r in runs} == {7, 8} and {r.fold for r in runs} == {0, 1, 2}
    assert len({r.id for r in runs}) == len(runs)
    assert runs[0].train_config(base).lr == 0.1 and runs[0].train_config(base).seed == 7
    assert plan(base, {}, seeds=1) and plan(base, {})[0].fold is None


def test_a_runs_id_changes_with_anything_that_decides_its_result():
    ids = lambda base: [r.id for r in plan(base, {"lr": [0.1]}, seeds=2)]  # noqa: E731
    assert ids(TrainConfig()) == ids(TrainConfig())
    assert ids(TrainConfig(epochs=5)) != ids(TrainConfig())
    assert set(ids(TrainConfig(seed=1))) & set(ids(TrainConfig())) == {ids(TrainConfig())[1]}  # seed 1 in both


def test_a_value_given_twice_or_no_seed_is_refused():
    with pytest.raises(UserInputError, match="twice"):
        plan(TrainConfig(), {"lr": [0.1, 0.1]})
    with pytest.raises(UserInputError, match="--seeds"):
        plan(TrainConfig(), {}, seeds=0)
    with pytest.raises(UserInputError, match="K >= 2"):
        plan(TrainConfig(), {}, cv=1)


def test_folds_partition_the_rows_and_keep_the_class_proportions():
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    folds = [fold_rows(y, 5, k, seed=3) for k in range(5)]
    together = np.concatenate(folds)
    assert sorted(together) == list(range(100))
    for rows in folds:
        assert np.bincount(y[rows], minlength=3).tolist() == [12, 6, 2]
    assert not np.array_equal(fold_rows(y, 5, 0, seed=3), fold_rows(y, 5, 0, seed=4))
    targets = np.linspace(0, 1, 23)  # regression: shuffled, sizes differ by at most one
    sizes = [len(fold_rows(targets, 4, k, seed=0)) for k in range(4)]
    assert sum(sizes) == 23 and max(sizes) - min(sizes) <= 1

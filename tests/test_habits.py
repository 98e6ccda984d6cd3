"""Habits from PyTorch and scikit-learn get what they expect, or a ValueError that names the choices."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import symnn
from symnn.cli import main
from symnn.runtime.optimizers import OPTIMIZER_NAMES


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 2))
    return X, (X[:, 0] * X[:, 1] > 0).astype(int)


def _model():
    return symnn.Sequential([symnn.Dense(2, 8), symnn.Activation("tanh"), symnn.Dense(8, 1)], loss="binary_cross_entropy")


@pytest.mark.parametrize("given, expected", [
    ("adam", symnn.Adam()), ("Adam", symnn.Adam()), (symnn.Adam, symnn.Adam()), (symnn.RMSprop, symnn.RMSprop()),
    ("momentum", symnn.SGD(momentum=0.9)), ("nesterov", symnn.SGD(momentum=0.9, nesterov=True)),
])
def test_an_optimizer_by_name_or_class_takes_its_defaults(given, expected) -> None:
    X, y = _data()
    a, b = _model(), _model()
    a.fit(X, y, optimizer=given, epochs=3, verbose=False)
    b.fit(X, y, optimizer=expected, epochs=3, verbose=False)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("bad", ["adamax", object(), symnn.StepLR, 0.1, lambda p, g: None])
def test_other_optimizer_objects_are_a_value_error_naming_the_choices(bad) -> None:
    X, y = _data()
    with pytest.raises(ValueError) as info:
        _model().fit(X, y, optimizer=bad, epochs=1, verbose=False)
    assert all(name in str(info.value) for name in OPTIMIZER_NAMES) and "symnn.Adam" in str(info.value)


def test_a_torch_optimizer_is_refused_with_the_choices() -> None:
    torch = pytest.importorskip("torch")
    X, y = _data()
    opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    with pytest.raises(ValueError, match="symnn.Adam"):
        _model().fit(X, y, optimizer=opt, epochs=1, verbose=False)


def test_schedules_without_base_lr_and_by_name() -> None:
    X, y = _data()
    step = symnn.StepLR(step_size=1, gamma=0.5)
    assert step.base_lr is None and step.with_base_lr(0.1).lr(2) == pytest.approx(0.025)
    assert symnn.ExponentialLR(gamma=0.9).with_base_lr(1.0).lr(1) == pytest.approx(0.9)
    assert symnn.CosineAnnealingLR(T_max=4).with_base_lr(1.0).lr(4) == pytest.approx(0.0)
    opt = symnn.SGD(lr=0.1)
    _model().fit(X, y, optimizer=opt, epochs=3, schedule=step, verbose=False)
    assert opt.lr == pytest.approx(0.1 * 0.5 ** 2)  # the last epoch's rate
    named = symnn.SGD(lr=0.1)
    _model().fit(X, y, optimizer=named, epochs=4, schedule="cosine", verbose=False)
    assert named.lr == pytest.approx(0.1 * (1 + np.cos(np.pi * 3 / 4)) / 2)
    with pytest.raises(ValueError, match="step_size"):
        symnn.StepLR(gamma=0.5)
    with pytest.raises(ValueError, match="constant, step, exponential, cosine"):
        _model().fit(X, y, schedule="linear", epochs=1, verbose=False)
    torch_style = symnn.StepLR(symnn.SGD(lr=0.3), step_size=2)
    assert torch_style.base_lr == 0.3


def test_dir_and_all_list_the_public_names_and_datasets_loads_lazily() -> None:
    names = dir(symnn)
    for name in ("Sequential", "Dense", "Adam", "StepLR", "SymnnClassifier", "SymnnRegressor", "derive", "datasets"):
        assert name in names and name in symnn.__all__
    assert all(hasattr(symnn, name) for name in symnn.__all__)
    code = "import symnn; print(symnn.datasets.load('xor').X.shape)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "(400, 2)"


def test_derive_takes_a_model_spec_and_the_train_optimizer_names() -> None:
    d = symnn.derive("dense(2,3) tanh dense(3,1) mse")
    assert d.kind == "model" and set(d.gradients) == {"W1", "b1", "W2", "b2"}
    assert "momentum=0.9" in str(symnn.derive("momentum")) and "nesterov=True" in str(symnn.derive("nesterov"))


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_derive_lists_what_train_accepts(capsys) -> None:
    code, out, _ = _run(capsys, "derive", "--list")
    listed = {line.split()[0]: line.split()[1:] for line in out.splitlines()}
    assert set(OPTIMIZER_NAMES) <= set(listed["optimizers"]) and "multi_margin" in listed["losses"]
    code, out, _ = _run(capsys, "derive", "momentum")
    assert code == 0 and "momentum=0.9" in out


def test_cli_train_the_lectures_xor_set_up_and_multi_margin(capsys) -> None:
    import json

    code, out, err = _run(capsys, "train", "--data", "xor", "--layers", "2,2,1", "--loss", "mse", "--activation", "tanh",
                          "--optimizer", "sgd", "--momentum", "0.9", "--lr", "0.1", "--epochs", "5", "--json")
    assert code == 0, err
    assert json.loads(out)["epochs"] == 5  # mse regresses on the 0/1 labels (training.as_task_of_loss)
    code, out, err = _run(capsys, "train", "--data", "moons", "--loss", "multi_margin", "--epochs", "3")
    assert code == 0, err
    assert "2-16-16-2" in out and "multi_margin" in out


def test_cli_train_noise_size_and_schedule_options(capsys) -> None:
    import json

    code, out, err = _run(capsys, "train", "--data", "moons", "--noise", "0.4", "--n-samples", "100", "--epochs", "4",
                          "--schedule", "step", "--step-size", "2", "--gamma", "0.5", "--json")
    assert code == 0, err
    assert json.loads(out)["epochs"] == 4
    code, out, _ = _run(capsys, "train", "--data", "moons", "--noise", "0.4", "--n-samples", "100", "--epochs", "1")
    assert "80 training rows" in out
    code, _, err = _run(capsys, "train", "--optimizer", "adam", "--momentum", "0.9", "--epochs", "1")
    assert code == 2 and "--momentum applies to sgd" in err


def test_every_option_has_help_and_train_and_optviz_show_their_defaults() -> None:
    import argparse

    from symnn.cli import _Help, build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for command, parser in sub.choices.items():
        formatter = _Help(command)
        for action in parser._actions:
            if action.dest == "help":
                continue
            assert action.help, (command, action.dest)
            text = formatter._get_help_string(action) % {"default": action.default}
            valued = action.option_strings and action.nargs != 0 and action.dest not in ("save", "plot", "out", "model",
                                                                                        "expr", "loss_expr")
            if command in ("train", "optviz") and valued:
                assert "default" in text, (command, action.dest, text)

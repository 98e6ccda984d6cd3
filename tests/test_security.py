"""Nothing a user typed, and nothing read from a file, reaches generated source as code."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import numpy as np
import pytest

from symnn.codegen.emit import docstring_text, header
from symnn.errors import UserInputError

PAYLOADS = [
    'x # """;import os; os.system("touch {marker}");"""',
    "x # ''';import os; os.system('touch {marker}');'''",
    'x + 0*1 """;open("{marker}", "w");"""',
    'relu(x) # \\""";open("{marker}", "w")#',
    "x\n__import__('os').system('touch {marker}')",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_formula_with_code_in_it_is_refused_on_the_command_line(tmp_path, payload):
    marker = tmp_path / "ran"
    result = subprocess.run([sys.executable, "-m", "symnn", "train", "--epochs", "1", "--activation",
                             payload.format(marker=marker)], capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("symnn: error:") and "Traceback" not in result.stderr
    assert not marker.exists()


#: The payloads as loss formulas: the same hostile texts, written in the loss's variable z.
LOSS_PAYLOADS = PAYLOADS + [p.replace("x", "z") for p in PAYLOADS]


@pytest.mark.parametrize("payload", LOSS_PAYLOADS)
def test_a_loss_formula_with_code_in_it_is_refused_on_the_command_line(tmp_path, payload):
    marker = tmp_path / "ran"
    for argv in (["train", "--epochs", "1", "--loss-expr"], ["derive", "--loss-expr"], ["train", "--epochs", "1",
                                                                                       "--loss"]):
        result = subprocess.run([sys.executable, "-m", "symnn", *argv, payload.format(marker=marker)],
                                capture_output=True, text=True)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("symnn: error:") and "Traceback" not in result.stderr
        assert result.stderr.count("\n") == 1
    assert not marker.exists()


def _model_file(path, activation: str = "tanh", loss: str = "mse") -> None:
    """A model file as `Sequential.save` writes it, with `activation` as the hidden activation and
    `loss` as its loss (each written into the saved description, as a tampered file would hold it)."""
    import symnn

    model = symnn.Sequential([symnn.Dense(2, 3), symnn.Activation("tanh"), symnn.Dense(3, 1)], loss="mse")
    model.save(str(path))
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    desc = json.loads(str(arrays["description"]))
    assert desc["layers"][1]["name"] == "tanh" and desc["loss"] == "mse"
    desc["layers"][1]["name"], desc["loss"] = activation, loss
    arrays["description"] = np.array(json.dumps(desc))
    np.savez(path, **arrays)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_model_file_with_code_in_its_activation_is_refused(tmp_path, payload):
    import symnn

    marker = tmp_path / "ran"
    path = tmp_path / "m.npz"
    _model_file(path, payload.format(marker=marker))
    with pytest.raises(ValueError):
        symnn.load(str(path)).forward(np.zeros((1, 2)))
    assert not marker.exists()


@pytest.mark.parametrize("payload", LOSS_PAYLOADS)
def test_a_model_file_with_code_in_its_loss_is_refused(tmp_path, payload):
    import symnn

    marker = tmp_path / "ran"
    path = tmp_path / "m.npz"
    _model_file(path, loss=payload.format(marker=marker))
    with pytest.raises(ValueError):
        symnn.load(str(path)).loss(np.zeros((1, 2)), np.zeros(1))
    assert not marker.exists()


def test_a_model_file_with_a_loss_formula_in_x_is_refused_naming_the_fix(tmp_path):
    import symnn

    path = tmp_path / "m.npz"
    _model_file(path, loss="(x - t)**2")
    with pytest.raises(ValueError, match="no x"):
        symnn.load(str(path))


def _docstring_of(module_text: str) -> str:
    tree = ast.parse(module_text)
    assert len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr)
    return tree.body[0].value.value


@pytest.mark.parametrize("text", ['"""', "'''", '\\"""', "\\", "a\\\nb", "\x00\u2028\r", '"""; import os #', "é ∂ 𝑥"])
def test_header_text_is_inert_whatever_it_holds(text):
    module = header(text, text, [text, "y = " + text])
    doc = _docstring_of(module)  # exactly one statement: the docstring, nothing after it
    assert text in doc
    assert docstring_text(text).isascii()


def test_a_formula_module_names_the_parsed_expression_not_the_typed_text(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMNN_CACHE_DIR", str(tmp_path))
    from symnn.runtime import custom

    custom.activation_kernels("x*tanh(x)   +0")
    (path,) = (tmp_path / "activations").glob("act_*.py")
    text = path.read_text()
    assert "x*tanh(x)   +0" not in text and "parsed as y = x*tanh(x)" in text


def test_a_loss_formula_module_names_the_parsed_expression_not_the_typed_text(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMNN_CACHE_DIR", str(tmp_path))
    from symnn.runtime import custom

    typed = 'log(cosh(z - t))   +0'
    text = custom.loss_module_path(typed).read_text()
    words = " ".join(text.split())  # the docstring may wrap the formula over lines
    assert typed not in text and "parsed as l(z, t) = log(cosh(t - z))" in words


def test_formula_comments_are_refused_with_a_clear_message():
    from symnn.symbolic.parse import parse_expression

    with pytest.raises(UserInputError, match="comments"):
        parse_expression("x # a note")

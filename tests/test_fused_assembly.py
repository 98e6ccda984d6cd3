"""How the fused loop is assembled: the template, the kernels read as statements, nothing read as text patterns."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import symnn
from symnn import ir
from symnn.runtime.fused import assemble, loader, session, template

ROOT = Path(symnn.__file__).parent


def _reformatted(module: str) -> str:
    """A generated module as a formatter might leave it: other spacing and brackets, no comments."""
    return ast.unparse(ast.parse(assemble.installed_source(module))) + "\n"


def _fit(model_args: tuple, monkeypatch, source=None) -> tuple[list[float], list[np.ndarray]]:
    acts, loss, n_out, opt = model_args
    rng = np.random.default_rng(2)
    X = rng.standard_normal((45, 3))
    y = rng.integers(0, n_out, 45) if n_out > 1 else rng.standard_normal(45)
    layers = [symnn.Dense(3, 6)]
    for i, act in enumerate(acts):
        layers += [symnn.Activation(act), symnn.Dense(6, 6 if i < len(acts) - 1 else n_out)]
    model = symnn.Sequential(layers, loss=loss, seed=4)
    if source is not None:
        spec = symnn.runtime.fused.spec_of(model, opt())
        mod = loader._load_source(assemble.fused_module(spec, direct_gemm=False, source=source))
        monkeypatch.setattr(session, "load_module", lambda spec: mod)
    history = model.fit(X, y, optimizer=opt(), epochs=3, batch_size=8, seed=1, verbose=False, fused=True)
    return history["loss"], model.parameters()


@pytest.mark.parametrize("case", [
    (("gelu", "sigmoid"), "huber", 1, lambda: symnn.Adam(lr=0.01)),
    (("elu",), "hinge", 3, lambda: symnn.RMSprop(centered=True, momentum=0.5)),
    (("tanh",), "cross_entropy", 3, lambda: symnn.NAdam()),
], ids=["gelu-sigmoid-huber-adam", "elu-multi_margin-rmsprop", "tanh-ce-nadam"])
def test_a_reformatted_kernel_text_trains_to_the_same_numbers(case, monkeypatch):
    """The loop reads the kernels as statements (Python's parser), not as text: reformatted, they
    assemble into a loop that computes exactly the same numbers."""
    with monkeypatch.context() as m:
        m.setattr(loader, "_by_spec", {})
        ref_loss, ref_params = _fit(case, m, source=assemble.installed_source)
    assert _reformatted("layers.dense") != assemble.installed_source("layers.dense")
    loss, params = _fit(case, monkeypatch, source=_reformatted)
    assert loss == ref_loss
    for p, q in zip(params, ref_params, strict=True):
        np.testing.assert_array_equal(p, q)


def test_every_placeholder_of_the_template_is_replaced():
    spec = {"layers": [("dense", 2, 4), ("activation", "relu"), ("dense", 4, 3)], "loss": "cross_entropy",
            "optimizer": "adam_step"}
    for direct in (True, False):
        text = assemble.fused_module(spec, direct_gemm=direct)
        called = {node.func.id for node in ast.walk(ast.parse(text))
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
        placeholders = {name for name, value in vars(template).items() if value is template._placeholder}
        assert placeholders and not called & placeholders
        assert "LOSS_ROWS" not in text


def test_a_loop_without_validation_data_has_none_of_the_validation_code():
    """The assembly's flags choose code: only a fit with validation data compiles the larger loop."""
    spec = {"layers": [("dense", 2, 4), ("activation", "relu"), ("dense", 4, 3)], "loss": "cross_entropy",
            "optimizer": "adam_step"}
    plain, validated = (assemble.fused_module(spec | {"validation": v}, direct_gemm=True) for v in (False, True))
    names = {"XV", "YV", "VL", "val_batch", "val_losses", "val_hits"}
    loops = [next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef)) for text in (plain, validated)]
    mentioned = [{node.id for node in ast.walk(loop) if isinstance(node, ast.Name)} | {a.arg for a in loop.args.args}
                 for loop in loops]
    assert not mentioned[0] & names and mentioned[1] >= names
    assert "VALIDATION = False" in plain and "VALIDATION = True" in validated
    assert not {"VALIDATION", "LOSS_ROWS"} & (mentioned[0] | mentioned[1])
    assert assemble.fused_module(spec, direct_gemm=True) == plain


def test_a_fit_without_validation_compiles_no_validation_code_and_runs_on_a_loop_that_has_it():
    X = np.random.default_rng(0).standard_normal((30, 2))
    y = (X[:, 0] > 0).astype(np.int64)
    model = symnn.Sequential([symnn.Dense(2, 4), symnn.Activation("relu"), symnn.Dense(4, 2)], loss="cross_entropy")
    loops, histories = [], []
    for validation in (None, (X, y), None, (X, y)):
        histories.append(model.fit(X, y, epochs=2, verbose=False, fused=True, validation=validation))
        loops.append(model._fused_session.mod)
    assert not loops[0].VALIDATION and loops[1].VALIDATION
    assert loops[1] is loops[2] is loops[3]  # no session made anew as fits take turns
    assert "val_loss" not in histories[2] and len(histories[3]["val_loss"]) == 2


def test_each_inlined_kernel_is_labelled_where_it_came_from():
    spec = {"layers": [("dense", 2, 4), ("activation", "tanh"), ("dense", 4, 1)], "loss": "mse",
            "optimizer": "sgd_nesterov_step"}
    text = assemble.fused_module(spec, direct_gemm=True)
    for label in ("# dense_forward, inlined", "# tanh_forward, inlined", "# tanh_backward, inlined",
                  "# mse_value_and_grad, inlined", "# sgd_nesterov_step, inlined", "# Nesterov momentum",
                  "# X*W.T"):
        assert label in text


def test_the_template_run_as_it_is_says_it_is_a_template():
    with pytest.raises(NotImplementedError, match="placeholder"):
        template.train_epochs(np.zeros((1, 1)), np.zeros((1, 1)), np.zeros((1, 1), np.int64), np.zeros(1),
                              np.zeros((1, 0)), np.zeros(0), 1, np.zeros(1),
                              np.zeros((1, len(template.PROG_COLUMNS)), np.int64), np.zeros(1), np.zeros(1),
                              np.zeros((0, 1)), np.zeros(4), np.zeros(4), np.zeros(0), np.zeros(0),
                              np.zeros((0, 1)), np.zeros((0, 1)), np.zeros(0, np.int64), 1, np.zeros(0),
                              np.zeros(0, np.int64), 0)


def test_the_loops_of_the_generated_kernels_all_read_as_kernel_statements():
    for path in sorted((ROOT.parent / "generated").rglob("*.py")):
        ir.read_functions(path.read_text())  # raises on anything that is not a kernel statement


def _imports(package: Path) -> set[str]:
    out = set()
    for path in [package] if package.is_file() else package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                out.add(node.module)
            elif isinstance(node, ast.Import):
                out |= {a.name for a in node.names}
    return out


def test_codegen_imports_nothing_from_the_runtime_and_the_fused_engine_no_sympy_nor_re():
    assert not {m for m in _imports(ROOT / "codegen") if m.startswith("symnn.runtime")}
    fused = _imports(ROOT / "runtime" / "fused") | _imports(ROOT / "ir.py")
    assert not {m for m in fused if m.split(".")[0] in ("sympy", "re") or m.startswith("symnn.codegen")}


def test_a_spec_cannot_name_a_formula_kernel_of_its_own():
    """Formula kernels are named by the formula's hash: a spec naming one otherwise (text that would reach
    the module's header) is refused."""
    spec = {"layers": [("dense", 2, 4), ("activation", 'x"""; import os'), ("dense", 4, 1)], "loss": "mse",
            "optimizer": "adam_step", "formulas": {'x"""; import os': "x*tanh(x)"}}
    with pytest.raises(ValueError, match="no formula kernel"):
        assemble.fused_module(spec)

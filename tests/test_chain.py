"""The chain rule of a whole network: parsing the model spec, and the printed chain being right."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from symnn.errors import UserInputError
from symnn.symbolic import chain, dense, registry
from symnn.symbolic.chain import derive_model, parse_model_spec
from symnn.symbolic.derivation import Derivation

EXAMPLE = "dense(2,3) tanh dense(3,1) mse"


def refusal(spec: str) -> str:
    """The message parse_model_spec refuses ``spec`` with; every refusal is one line."""
    with pytest.raises(UserInputError) as caught:
        parse_model_spec(spec)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.fixture(scope="module")
def example() -> Derivation:
    return derive_model(EXAMPLE)


def step(derivation: Derivation, label: str) -> sp.Basic:
    """The value of the one step whose label starts with ``label``."""
    (value,) = [v for lab, v in derivation.steps if lab.startswith(label)]
    return value


# -- parsing ----------------------------------------------------------------------------------------


def test_contract_example_parses() -> None:
    assert parse_model_spec(EXAMPLE) == [
        ("dense", 2, 3), ("activation", "tanh"), ("dense", 3, 1), ("loss", "mse")]


def test_spaces_inside_parentheses_are_allowed() -> None:
    assert parse_model_spec("  dense( 2 , 3 )\ttanh dense (3, 1)  mse ") == parse_model_spec(EXAMPLE)


def test_unknown_token_is_refused_naming_it_and_the_choices() -> None:
    message = refusal("dense(2,3) foo dense(3,1) mse")
    assert "unknown layer 'foo'" in message
    assert "dense(n_in,n_out)" in message and "tanh" in message and "mse" in message


def test_sizes_that_do_not_chain_are_refused_with_the_fix() -> None:
    message = refusal("dense(2,4) tanh dense(3,1) mse")
    assert "dense(3,1) follows a layer with 4 outputs" in message
    assert "write dense(4,1)" in message


def test_spec_without_a_loss_at_the_end_is_refused() -> None:
    message = refusal("dense(2,3) tanh dense(3,1)")
    assert "must end with a loss (mse, mae" in message
    assert "'dense(3,1)'" in message


def test_loss_in_the_middle_is_refused() -> None:
    message = refusal("dense(2,3) mse dense(3,1) mse")
    assert "'mse'" in message and "move it to the end" in message


def test_activation_first_is_refused() -> None:
    message = refusal("tanh dense(2,3) dense(3,1) mse")
    assert "'tanh'" in message and "start with dense(n_in,n_out)" in message


def test_python_code_as_a_token_is_refused_and_nothing_runs(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    assert "unknown layer \"__import__('os')\"" in refusal("__import__('os')")
    refusal(f"dense(2,1) __import__('pathlib').Path('{target}').touch() mse")
    assert not target.exists()


def test_parser_never_evaluates_text() -> None:
    source = inspect.getsource(chain)
    assert not re.search(r"(?<![\w.])(eval|exec|sympify|parse_expr|compile)\(", source)


@pytest.mark.parametrize("spec", ["", "   \n\t"])
def test_empty_spec_is_refused(spec: str) -> None:
    assert "model spec is empty" in refusal(spec)


@pytest.mark.parametrize(("spec", "expected"), [
    ("dense(0,3) mse", "'dense(0,3)'"),
    ("dense(2) mse", "'dense(2)'"),
    ("dense(a,b) mse", "'dense(a,b)'"),
    ("dense(2.5,1) mse", "'dense(2.5,1)'"),
    ("dense mse", "'dense' in model spec needs its sizes"),
    ("dense(2,3 mse", "'dense(2,3' in model spec: unbalanced parentheses"),
    ("dense(2,1) tanh(1) mse", "'tanh(1)'"),
    ("dense(2,1) Tanh mse", "did you mean 'tanh'"),
    ("mse", "no layer before the loss 'mse'"),
    ("dense(2,1) multi_margin", "end with 'hinge'"),
])
def test_other_bad_specs_are_refused_naming_the_token(spec: str, expected: str) -> None:
    assert expected in refusal(spec)


# -- the printed chain ------------------------------------------------------------------------------


def test_one_weight_gradient_per_dense_layer(example: Derivation) -> None:
    assert example.kind == "model"
    chains = [label for label, _ in example.steps if label.endswith("by the chain rule")]
    assert chains == ["dL/dW_2 by the chain rule", "dL/dW_1 by the chain rule"]
    assert list(example.gradients) == ["W1", "b1", "W2", "b2"]


def test_text_lists_the_factors_in_chain_order(example: Derivation) -> None:
    text = example.render("text")
    assert "Eq(dL/dW_1, dL/dx_3 * dx_3/dx_2 * dx_2/dx_1 * dx_1/dW_1)" in text
    assert "Eq(dL/dW_2, dL/dx_3 * dx_3/dW_2)" in text


def test_text_substitutes_tanhs_derivative_from_the_registry(example: Derivation) -> None:
    tanh_grad = registry.derivation("tanh").gradients["x"]
    assert sp.sstr(tanh_grad) == "1 - y**2"
    text = example.render("text")
    assert "Eq(dx_2/dx_1, diag(1 - x_2**2))" in text
    assert "W_2 * diag(1 - x_2**2) * x_0.T" in text


def test_text_contains_mses_gradient(example: Derivation) -> None:
    text = example.render("text")
    assert "Eq(dL/dx_3, (-2*t + 2*x_3)/n)" in text
    assert "Eq(dL/dW_1, (-2*t + 2*x_3)/n * W_2 * diag(1 - x_2**2) * x_0.T)" in text


def test_text_shows_the_batch_rules(example: Derivation) -> None:
    text = example.render("text")
    for rule in ("Eq(G_3[i, j], (-2*T[i, j] + 2*X_3[i, j])/N)", "Eq(G_2, G_3*W_2)",
                 "Eq(G_1, HadamardProduct(G_2, Lambda(y, 1 - y**2).(X_2)))",
                 "Eq(dL/dW_1, G_1.T*X_0)", "Eq(dL/db_1, G_1.T*1)", "Eq(dL/dW_2, G_3.T*X_2)"):
        assert rule in text


@pytest.mark.parametrize("fmt", ["pretty", "latex", "text"])
def test_every_format_renders(example: Derivation, fmt: str) -> None:
    out = example.render(fmt)
    assert out.startswith(EXAMPLE + " (model)")
    expected = {"pretty": "∂L/∂W₁ = ∂L/∂x₃ ⋅ ∂x₃/∂x₂ ⋅ ∂x₂/∂x₁ ⋅ ∂x₁/∂W₁",
                "latex": r"\frac{\partial L}{\partial W_{1}} = \frac{\partial L}{\partial x_{3}} \cdot",
                "text": "dL/dx_3 * dx_3/dx_2"}[fmt]
    assert expected in out


def test_jupyter_latex_renders(example: Derivation) -> None:
    latex = example._repr_latex_()  # the title above an aligned block (tests/test_katex.py renders it)
    assert latex.startswith("$\\begin{array}{l}") and "\\begin{aligned}" in latex and latex.endswith("$")


@pytest.mark.parametrize("spec", [
    "dense(2,3) relu dense(3,4) sigmoid dense(4,3) cross_entropy",
    "dense(2,2) silu elu softplus leaky_relu gelu dense(2,1) binary_cross_entropy",
    "dense(3,2) step dense(2,2) hinge",
    "dense(1,1) identity huber",
    "dense(2,1) mae",
])
def test_every_activation_and_loss_derives_and_renders(spec: str) -> None:
    derivation = derive_model(spec)
    for fmt in ("pretty", "latex", "text"):
        assert derivation.render(fmt)
    assert len(derivation.gradients) == 2 * spec.count("dense(")


# -- the printed chain is right: NumPy and finite differences ---------------------------------------


def _network(seed: int = 0, n: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"X_0": rng.normal(size=(n, 2)), "T": rng.normal(size=(n, 1)),
            "W_1": rng.normal(size=(3, 2)), "b_1": rng.normal(size=3),
            "W_2": rng.normal(size=(1, 3)), "b_2": rng.normal(size=1)}


def _forward(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """tanh and mse in NumPy, torch's Linear on rows."""
    x1 = p["X_0"] @ p["W_1"].T + p["b_1"]
    x2 = np.tanh(x1)
    x3 = x2 @ p["W_2"].T + p["b_2"]
    return {**p, "X_1": x1, "X_2": x2, "X_3": x3, "L": np.mean((x3 - p["T"]) ** 2)}


def _finite_differences(p: dict[str, np.ndarray], eps: float = 1e-6) -> dict[str, np.ndarray]:
    out = {}
    for name in ("W_1", "b_1", "W_2", "b_2"):
        grad = np.zeros_like(p[name])
        for index in np.ndindex(p[name].shape):
            up, down = ({k: v.copy() for k, v in p.items()} for _ in range(2))
            up[name][index] += eps
            down[name][index] -= eps
            grad[index] = (_forward(up)["L"] - _forward(down)["L"]) / (2 * eps)
        out[name.replace("_", "")] = grad
    return out


def test_batch_rules_as_printed_match_finite_differences() -> None:
    p = _forward(_network())
    n_elements = p["X_3"].size
    g3 = 2 * (p["X_3"] - p["T"]) / n_elements      # G_3[i, j] = (2 X_3[i, j] - 2 T[i, j]) / (N*1)
    g2 = g3 @ p["W_2"]                              # G_2 = G_3 W_2
    g1 = g2 * (1 - p["X_2"] ** 2)                   # G_1 = G_2 o (y -> 1 - y**2)(X_2)
    ours = {"W2": g3.T @ p["X_2"], "b2": g3.sum(axis=0),  # dL/dW_2 = G_3.T X_2; column sums
            "W1": g1.T @ p["X_0"], "b1": g1.sum(axis=0)}
    for name, expected in _finite_differences(p).items():
        np.testing.assert_allclose(ours[name], expected, rtol=1e-6, atol=1e-9, err_msg=name)


def _evaluate(expr: sp.Basic, arrays: dict[str, np.ndarray], **scalars: int) -> np.ndarray:
    """A printed matrix expression with every MatrixSymbol replaced by its array, evaluated by SymPy."""
    values: dict[sp.Basic, sp.Basic] = {
        s: sp.ImmutableMatrix(np.atleast_2d(arrays[s.name]).reshape(-1, s.shape[1]))
        for s in expr.atoms(sp.MatrixSymbol)}
    values.update({s: sp.Integer(v) for s in expr.free_symbols for k, v in scalars.items() if s.name == k})
    return np.array(expr.xreplace(values).doit().evalf(), dtype=float)


def test_printed_sympy_gradients_match_finite_differences(example: Derivation) -> None:
    p = _forward(_network(seed=1, n=4))
    rule = step(example, "G_3 = dL/dX_3")
    element = rule.lhs
    g3 = np.array([[float(_evaluate(rule.rhs, p, N=4, i=a, j=b)) for b in range(1)] for a in range(4)])
    assert element.parent.name == "G_3"
    arrays = {**p, "G_3": g3, "1": np.ones((4, 1))}
    expected = _finite_differences(p)
    for name, gradient in example.gradients.items():
        np.testing.assert_allclose(_evaluate(gradient, arrays).reshape(expected[name].shape),
                                   expected[name], rtol=1e-6, atol=1e-9, err_msg=name)


def test_one_sample_chain_with_the_derived_factors_matches_finite_differences(example: Derivation) -> None:
    p = _forward(_network(seed=2, n=1))
    column = {name: p[f"X_{k}"].T for k, name in enumerate(["x_0", "x_1", "x_2", "x_3"])}
    values = {**column, "W_2": p["W_2"], "t": p["T"].T, "n": 1}
    expected = _finite_differences(p)
    for i in (1, 2):
        factors = step(example, f"dL/dW_{i} with the derived factors").rhs.args
        evaluated = []
        for factor in factors:
            symbols = sorted(factor.free_symbols, key=lambda s: s.name)
            f = sp.lambdify(symbols, factor, modules=[{"diag": lambda v: np.diag(np.ravel(v))}, "numpy"])
            evaluated.append(np.asarray(f(*(values[s.name] for s in symbols)), dtype=float))
        row = np.atleast_2d(evaluated[0]).T            # dL/dx_3 as a row vector
        for jacobian in evaluated[1:-1]:
            row = row @ jacobian                       # times dx_(k+1)/dx_k, left to right
        outer = row.T @ evaluated[-1]                  # (dL/dx_k).T times dx_k/dW_i = x_(k-1).T
        np.testing.assert_allclose(outer, expected[f"W{i}"], rtol=1e-6, atol=1e-9)


def test_dense_factors_are_read_from_the_registrys_rules(example: Derivation) -> None:
    rules = registry.derivation("dense").gradients
    assert rules["X"] == dense.G * dense.W and rules["W"] == dense.G.T * dense.X
    assert sp.sstr(step(example, "dx_3/dx_2").rhs) == "W_2"
    assert sp.sstr(step(example, "dx_1/dW_1").rhs) == "x_0.T"

"""Your own loss, typed as a formula in the output z and the target t.

Parsed safely, derived by sympy.diff, generated into the cache folder as `loss_<hash>` (the three
kernels of a built-in elementwise loss), averaged over every element as torch's reduction='mean',
a regression loss, kept by model files, and loaded from a warm cache without SymPy.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import sympy as sp

import symnn
from symnn.cli import main
from symnn.errors import UserInputError
from symnn.runtime import custom
from symnn.runtime.losses import Loss
from symnn.symbolic.api import derive_loss_formula
from symnn.symbolic.loss_formula import parse_loss, t, z

LOGCOSH = "log(cosh(z - t))"
PINBALL = "max(0.9*(t - z), (0.9 - 1)*(t - z))"  # the 0.9 quantile

#: formula -> the same loss written with torch (z and t tensors; the mean is taken outside).
FORMULAS = {
    LOGCOSH: lambda torch, z, t: torch.log(torch.cosh(z - t)),
    PINBALL: lambda torch, z, t: torch.maximum(0.9 * (t - z), (0.9 - 1) * (t - z)),
    "abs(z - t)**1.5": lambda torch, z, t: torch.abs(z - t) ** 1.5,
    "sqrt(1 + (z - t)**2) - 1": lambda torch, z, t: torch.sqrt(1 + (z - t) ** 2) - 1,
    "softplus(z - t) - (z - t)/2": lambda torch, z, t: torch.nn.functional.softplus(z - t) - (z - t) / 2,
    "exp(z) - t*z": lambda torch, z, t: torch.exp(z) - t * z,
}

#: (rtol, atol) of values and gradients against torch, per dtype.
TOL = {np.float64: (1e-12, 1e-15), np.float32: (2e-6, 1e-8)}


def _data(seed=0, n=16, k=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, k)), rng.normal(size=(n, k))


def _ours(formula, zv, tv, dtype):
    loss = Loss(formula, zv.shape[1])
    target = loss.targets(tv, dtype)
    zz = zv.astype(dtype)
    grad = np.full_like(zz, np.nan)
    return loss.value_and_gradient(zz, target, grad), grad, loss, zz, target


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("formula", FORMULAS)
def test_value_and_gradient_match_pytorch(formula, dtype):
    torch = pytest.importorskip("torch")
    zv, tv = _data()
    value, grad, loss, zz, target = _ours(formula, zv, tv, dtype)
    zt = torch.tensor(zz, requires_grad=True)
    out = FORMULAS[formula](torch, zt, torch.tensor(target)).mean()
    out.backward()
    rtol, atol = TOL[dtype]
    assert grad.dtype == dtype
    assert value == pytest.approx(out.item(), rel=rtol, abs=atol)
    assert loss.value(zz, target) == pytest.approx(out.item(), rel=rtol, abs=atol)
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=rtol, atol=atol)
    backward = np.full_like(zz, np.nan)
    loss.gradient(zz, target, backward)
    np.testing.assert_allclose(backward, grad, rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_quantile_loss_splits_its_gradient_at_a_tie_as_torch_maximum(dtype):
    torch = pytest.importorskip("torch")
    zv = np.array([[-2.0], [0.0], [3.0]])
    _, grad, _, zz, target = _ours(PINBALL, zv, zv.copy(), dtype)
    zt = torch.tensor(zz, requires_grad=True)
    FORMULAS[PINBALL](torch, zt, torch.tensor(target)).mean().backward()
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=TOL[dtype][0])
    assert grad[0, 0] == pytest.approx((0.5 * 0.1 - 0.5 * 0.9) / 3, rel=1e-6)


@pytest.mark.parametrize("formula", FORMULAS)
def test_the_kernels_gradient_is_sympy_diff_over_the_element_count(formula):
    zv, tv = _data(seed=1, n=4, k=2)
    _, grad, _, _, _ = _ours(formula, zv, tv, np.float64)
    dldz = sp.diff(parse_loss(formula), z)
    expected = [[float(dldz.subs({z: a, t: b})) / zv.size for a, b in zip(row_z, row_t)]
                for row_z, row_t in zip(zv, tv)]
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("formula", FORMULAS)
def test_the_derivation_is_the_mean_and_sympy_diff(formula):
    d = derive_loss_formula(formula)
    n = sp.Symbol("n", positive=True, integer=True)
    assert d.kind == "loss" and d.forward == parse_loss(formula)
    assert sp.simplify(d.gradients["z"] - sp.diff(d.forward, z) / n) == 0


def test_log_cosh_derives_to_tanh():
    assert derive_loss_formula(LOGCOSH).gradients["z"] == sp.tanh(z - t) / sp.Symbol("n", positive=True, integer=True)


def test_symnn_derive_takes_a_formula_in_z_and_t_as_a_loss():
    d = symnn.derive(LOGCOSH)
    assert d.kind == "loss" and "z" in d.gradients


def test_the_module_is_generated_once_into_the_cache_named_by_the_formula(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMNN_CACHE_DIR", str(tmp_path))
    formula = "abs(z - t)**1.5   +0"
    name = custom.loss_name(formula)
    assert re.fullmatch(r"loss_[0-9a-f]{16}", name)
    path = custom.loss_module_path(formula)
    assert path == tmp_path / "losses" / f"{name}.py"
    text = path.read_text()
    for kernel in ("forward", "backward", "value_and_grad"):
        assert f"def {name}_{kernel}(z_in, t_in" in text
    # The header names the parsed expression (its docstring may wrap it over lines), never the typed text.
    assert formula not in text and "parsed as l(z, t) = Abs(t - z)**(3/2)" in " ".join(text.split())
    stamp = path.stat().st_mtime_ns
    assert custom.loss_module_path(formula) == path and path.stat().st_mtime_ns == stamp


def test_activation_modules_have_the_same_path_and_name_functions(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMNN_CACHE_DIR", str(tmp_path))
    name = custom.activation_name("x*tanh(x)")
    path = custom.activation_module_path("x*tanh(x)")
    assert re.fullmatch(r"act_[0-9a-f]{16}", name) and path == tmp_path / "activations" / f"{name}.py"
    assert f"def {name}_forward(x_in, y_out)" in path.read_text()


def _regression(seed=0, n=64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    return X, np.sin(X[:, 0]) + 0.5 * X[:, 1]


def _model(loss, dtype="float64"):
    return symnn.Sequential([symnn.Dense(2, 8), symnn.Activation("tanh"), symnn.Dense(8, 1)], loss=loss, dtype=dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_model_trains_on_a_formula_loss(dtype):
    X, y = _regression()
    model = _model(LOGCOSH, dtype)
    assert not model.loss_fn.classification
    history = model.fit(X, y, optimizer=symnn.Adam(lr=0.05), epochs=30, batch_size=16, verbose=False)
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert model.predict(X).shape == (len(X), 1)


def test_a_fit_with_a_formula_loss_gives_the_per_layer_numbers():
    X, y = _regression()
    a, b = _model(PINBALL), _model(PINBALL)
    ha = a.fit(X, y, optimizer="adam", epochs=3, verbose=False)
    hb = b.fit(X, y, optimizer="adam", epochs=3, verbose=False, fused=False)
    np.testing.assert_allclose(ha["loss"], hb["loss"], rtol=1e-12)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-15)


def test_a_formula_loss_is_fused():
    from symnn.runtime.fused.spec import spec_of

    model = _model(LOGCOSH)
    assert spec_of(model, symnn.Adam()) is not None
    X, y = _regression()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X, y, optimizer="adam", epochs=1, verbose=False, fused=True)
    assert model._fused_session is not None


def test_a_formula_loss_takes_any_number_of_outputs():
    model = symnn.Sequential([symnn.Dense(2, 3)], loss=LOGCOSH)
    X = np.ones((4, 2))
    assert np.isfinite(model.loss(X, np.zeros((4, 3))))
    with pytest.raises(UserInputError, match="3 outputs"):
        model.loss(X, np.zeros((4, 2)))


def test_a_model_file_keeps_the_formula(tmp_path):
    X, y = _regression()
    model = _model(PINBALL)
    model.fit(X, y, optimizer="adam", epochs=2, verbose=False)
    path = str(tmp_path / "m.npz")
    model.save(path)
    loaded = symnn.load(path)
    assert loaded.loss_fn.name == PINBALL
    assert loaded.loss(X, y) == model.loss(X, y)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_the_regressor_estimator_takes_a_formula_loss():
    X, y = _regression()
    est = symnn.SymnnRegressor(hidden_layer_sizes=(8,), loss=LOGCOSH, learning_rate_init=0.05, max_iter=40,
                               random_state=0)
    with warnings.catch_warnings():  # 40 epochs may end unconverged, which MLPRegressor's warning says
        warnings.simplefilter("ignore")
        est.fit(X, y)
    assert est.loss_curve_[-1] < 0.5 * est.loss_curve_[0] and est.score(X, y) > 0.5


@pytest.mark.parametrize("formula,message", [
    ("x**2", "no x"),
    ("(y - z)**2", "target is t"),
    ("2*pi", "neither z nor t"),
    ("t**2", "does not depend on z"),
    ("huber(z - t)", "function 'huber' is not allowed"),
    ("z - q", "refers to 'q'"),
    ("log(cosh(z - t)", "does not parse"),
    ("__import__('os').system('true')", "not allowed"),
])
def test_a_bad_formula_is_refused_in_one_line_naming_the_fix(formula, message):
    with pytest.raises(UserInputError, match=re.escape(message)) as info:
        symnn.Sequential([symnn.Dense(2, 1)], loss=formula)
    assert "\n" not in str(info.value)


def test_an_unknown_plain_name_is_an_unknown_loss_offering_a_formula():
    with pytest.raises(UserInputError, match="unknown loss 'msee'.*formula in z"):
        symnn.Sequential([symnn.Dense(2, 1)], loss="msee")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_derive_loss_expr_prints_the_derivation(capsys):
    code, out, _ = run(capsys, "derive", "--loss-expr", LOGCOSH, "--format", "text")
    assert code == 0 and "Eq(l, log(cosh(t - z)))" in out and "-tanh(t - z)/n" in out


def test_derive_loss_expr_in_latex(capsys):
    code, out, _ = run(capsys, "derive", "--loss-expr", LOGCOSH, "--format", "latex")
    assert code == 0 and r"\tanh" in out


def test_train_loss_expr_trains_a_regression(capsys):
    code, out, _ = run(capsys, "train", "--data", "moons", "--loss-expr", LOGCOSH, "--epochs", "5", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["loss"] < summary["history"][0] and "train_accuracy" not in summary


def test_train_with_both_loss_and_loss_expr_is_bad_input(capsys):
    code, _, err = run(capsys, "train", "--loss", "mse", "--loss-expr", LOGCOSH, "--epochs", "1")
    assert code == 2 and err.startswith("symnn: error:") and "not both" in err


@pytest.mark.parametrize("command", ["train", "derive"])
def test_a_bad_loss_expr_is_bad_input_in_one_line(capsys, command):
    code, _, err = run(capsys, command, "--loss-expr", "x**2", *(["--epochs", "1"] if command == "train" else []))
    assert code == 2 and err.startswith("symnn: error:") and err.count("\n") == 1 and "no x" in err


def test_a_warm_cache_trains_a_formula_loss_without_importing_sympy(tmp_path):
    script = ("import sys, numpy as np, symnn\n"
              "X = np.random.default_rng(0).normal(size=(32, 2))\n"
              "m = symnn.Sequential([symnn.Dense(2, 4), symnn.Activation('tanh'), symnn.Dense(4, 1)], "
              f"loss={PINBALL!r})\n"
              "h = m.fit(X, X[:, 0], optimizer='adam', epochs=2, verbose=False)\n"
              "print(np.isfinite(h['loss'][-1]), 'sympy' in sys.modules)\n")
    env = {"SYMNN_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    cold = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert cold.stdout.split() == ["True", "True"]  # the first process derives the formula: SymPy
    warm = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert warm.stdout.split() == ["True", "False"]

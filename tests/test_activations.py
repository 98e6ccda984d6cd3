"""Activations: derived gradients against sympy.diff, compiled kernels against finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from symnn.runtime import kernels
from symnn.runtime.layers import Activation
from symnn.symbolic.activations import ACTIVATIONS, PARAMETERS, x
from symnn.symbolic.derivation import defaults, y
from symnn.symbolic.registry import derivation

NAMES = list(ACTIVATIONS)
SMOOTH_POINTS = [-2.5, -0.7, -0.01, 0.3, 1.9]


def _compiled(name, xs, dtype=np.float64):
    """The activation's values and gradients by its kernels (parameters at their defaults)."""
    layer = Activation(name)
    xs = np.asarray(xs, dtype)
    ys = np.empty_like(xs)
    layer.forward(xs, ys)
    gx = np.empty_like(xs)
    layer.backward(xs, ys, np.ones_like(xs), gx, [])
    return ys, gx


@pytest.mark.parametrize("name", NAMES)
def test_derived_gradient_equals_sympy_diff_of_the_forward_form(name):
    at = defaults(PARAMETERS.get(name, ()))  # a parameterised definition, checked at its defaults
    f = ACTIVATIONS[name][0]
    derived = derivation(name).gradients["x"].subs(y, f).subs(at)
    reference = sp.diff(f, x).subs(at)
    for point in SMOOTH_POINTS:
        if reference.has(sp.DiracDelta):
            assert derived.subs(x, point).has(sp.DiracDelta) or derived.subs(x, point) == 0
            continue
        assert float(derived.subs(x, point)) == pytest.approx(float(reference.subs(x, point)), rel=1e-12)


def test_sigmoid_shows_its_output_form_but_computes_the_accurate_one():
    d = derivation("sigmoid")
    assert any(value == y * (1 - y) for _, value in d.steps)  # the textbook form, shown
    assert y not in d.gradients["x"].free_symbols  # y*(1 - y) is 0 where y rounds to 1 (x > 37)
    _, gx = _compiled("sigmoid", np.array([40.0, -40.0, 0.0]))
    np.testing.assert_allclose(gx, [math.exp(-40) / (1 + math.exp(-40)) ** 2] * 2 + [0.25], rtol=1e-14)


def test_tanh_gradient_is_written_in_its_output():
    assert derivation("tanh").gradients["x"] == 1 - y**2


def test_elu_negative_branch_is_exp_x_not_the_cancelling_y_plus_1():
    alpha = PARAMETERS["elu"][0].symbol
    assert derivation("elu").gradients["x"].args[0] == (alpha * sp.exp(x), x <= 0)
    xs = np.array([-40.0, -9.0, -1e-3])
    for dtype in (np.float64, np.float32):
        _, gx = _compiled("elu", xs, dtype)
        np.testing.assert_allclose(gx, np.exp(xs.astype(dtype)), rtol=2e-7 if dtype == np.float32 else 1e-15)


@pytest.mark.parametrize("formula, wrong", [("tanh(x)*tanh(x)", "2*sqrt(y)*(1 - y)")])
def test_an_output_form_solved_on_the_wrong_branch_is_not_used(formula, wrong):
    from symnn.symbolic.api import derive_formula

    d = derive_formula(formula)
    assert sp.sstr(d.gradients["x"]) != wrong
    assert float(d.gradients["x"].subs(y, d.forward).subs(x, -1)) == pytest.approx(float(sp.diff(d.forward, x).subs(x, -1)))


@pytest.mark.parametrize("name", NAMES)
def test_compiled_gradient_matches_central_finite_differences(name):
    rng = np.random.default_rng(1)
    xs = rng.uniform(-4, 4, 200)
    xs = xs[np.abs(xs) > 1e-3]
    h = 1e-6
    _, gx = _compiled(name, xs)
    up, _ = _compiled(name, xs + h)
    down, _ = _compiled(name, xs - h)
    np.testing.assert_allclose(gx, (up - down) / (2 * h), rtol=1e-6, atol=1e-8)


def test_relu_gradient_at_exactly_zero_is_zero_as_in_pytorch():
    _, gx = _compiled("relu", [0.0])
    assert gx[0] == 0.0


def test_step_has_a_dirac_derivative_and_a_zero_kernel_gradient():
    d = derivation("step")
    assert d.gradients["x"].has(sp.DiracDelta)
    assert any("perceptron" in note for note in d.notes)
    _, gx = _compiled("step", [-1.0, 0.5, 2.0])
    assert np.all(gx == 0)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_stay_finite_at_extreme_inputs(name, dtype):
    ys, gx = _compiled(name, [-1000.0, -100.0, -89.0, 89.0, 100.0, 1000.0], dtype)
    assert np.all(np.isfinite(gx)), gx
    if name not in ("identity",):
        assert np.all(np.isfinite(ys) | (np.asarray([-1000, -100, -89, 89, 100, 1000]) > 0)), ys


@pytest.mark.parametrize("name", NAMES)
def test_float32_kernels_compute_in_float32(name):
    ys, gx = _compiled(name, np.linspace(-3, 3, 7), np.float32)
    assert ys.dtype == np.float32 and gx.dtype == np.float32
    from numba import njit

    for kernel in kernels.activation(name, parameterised=True):  # recompiled uncached: cached code cannot be inspected
        fresh = njit(error_model="numpy")(kernel.py_func)
        arrays = 2 if "_forward" in kernel.__name__ else 4
        parameters = len(PARAMETERS.get(name, ()))  # scalars of the arrays' dtype (the kernel casts others)
        fresh(*[np.zeros(4, np.float32)] * arrays, *[np.float32(0.5)] * parameters)
        (llvm,) = fresh.inspect_llvm().values()
        # a scalar argument is unboxed from a Python float (a double) and narrowed: not arithmetic
        computed = [line for line in llvm.splitlines()
                    if "PyFloat_AsDouble" not in line and "fptrunc double" not in line]
        assert not any("fpext" in line or "double" in line for line in computed), f"{name}: float32 promoted to float64"


TORCH = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu", "leaky_relu": "leaky_relu", "elu": "elu",
         "softplus": "softplus", "silu": "silu", "gelu": "gelu", "mish": "mish", "selu": "selu"}


@pytest.mark.parametrize("name", list(TORCH))
def test_forward_and_gradient_match_pytorch(name):
    torch = pytest.importorskip("torch")
    xs = np.concatenate([np.linspace(-30, 30, 301), [0.0]])
    ys, gx = _compiled(name, xs)
    t = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    out = getattr(torch.nn.functional, TORCH[name])(t)
    out.sum().backward()
    # softplus too: it returns x itself above its threshold 20, as torch's
    np.testing.assert_allclose(ys, out.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gx, t.grad.numpy(), rtol=1e-10, atol=1e-12)

"""The dense layer: its derived rules, and its kernels against NumPy and finite differences."""

from __future__ import annotations

import numpy as np
import sympy as sp
from finite_differences import central_difference

from symnn.runtime import kernels
from symnn.symbolic import dense


def test_derived_rules_are_the_backpropagation_rules():
    d = dense.derive_dense()
    assert d.gradients["X"] == dense.G * dense.W
    assert d.gradients["W"] == dense.G.T * dense.X
    assert d.gradients["b"] == dense.G.T * dense.ones


def test_derived_rules_hold_elementwise_on_a_small_explicit_case():
    X = sp.Matrix(2, 3, sp.symbols("x:6"))
    W = sp.Matrix(2, 3, sp.symbols("w:6"))
    b = sp.Matrix(2, 1, sp.symbols("b:2"))
    G = sp.Matrix(2, 2, sp.symbols("g:4"))
    Y = X * W.T + sp.ones(2, 1) * b.T
    L = sum(G[i, j] * Y[i, j] for i in range(2) for j in range(2))
    assert sp.Matrix(2, 3, lambda i, j: sp.diff(L, W[i, j])) == G.T * X
    assert sp.Matrix(2, 3, lambda i, j: sp.diff(L, X[i, j])) == G * W
    assert sp.Matrix(2, 1, lambda i, _: sp.diff(L, b[i])) == G.T * sp.ones(2, 1)


def test_kernels_compute_what_numpy_computes():
    rng = np.random.default_rng(0)
    k = kernels.dense()
    x, w, b, g = rng.normal(size=(7, 3)), rng.normal(size=(5, 3)), rng.normal(size=5), rng.normal(size=(7, 5))
    y, gx, gw, gb = np.empty((7, 5)), np.empty_like(x), np.empty_like(w), np.empty_like(b)
    k.dense_forward(x, w, b, y)
    k.dense_grad_input(w, g, gx)
    k.dense_grad_params(x, g, gw, gb)
    np.testing.assert_allclose(y, x @ w.T + b, rtol=1e-12)
    np.testing.assert_allclose(gx, g @ w, rtol=1e-12)
    np.testing.assert_allclose(gw, g.T @ x, rtol=1e-12)
    np.testing.assert_allclose(gb, g.sum(axis=0), rtol=1e-12)


def test_weight_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    k = kernels.dense()
    x, w, b, g = rng.normal(size=(4, 3)), rng.normal(size=(2, 3)), rng.normal(size=2), rng.normal(size=(4, 2))

    def objective(w_):
        y = np.empty((4, 2))
        k.dense_forward(x, np.ascontiguousarray(w_), b, y)
        return float(np.sum(g * y))

    gw, gb = np.empty_like(w), np.empty_like(b)
    k.dense_grad_params(x, g, gw, gb)
    numeric = central_difference(objective, w)
    np.testing.assert_allclose(gw, numeric, rtol=1e-7)


def test_float32_stays_float32():
    k = kernels.dense()
    x, w, b = (np.ones((3, 2), np.float32), np.ones((4, 2), np.float32), np.ones(4, np.float32))
    y = np.empty((3, 4), np.float32)
    k.dense_forward(x, w, b, y)
    assert y.dtype == np.float32 and np.all(y == 3)

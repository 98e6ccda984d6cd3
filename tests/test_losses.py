"""Losses: PyTorch's definitions with reduction='mean', fused forms checked by SymPy."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from finite_differences import central_difference

from symnn.runtime.losses import Loss
from symnn.symbolic import losses as defs

CASES = [("mse", 2), ("mae", 2), ("huber", 2), ("binary_cross_entropy", 1), ("hinge", 1), ("hinge", 4),
         ("cross_entropy", 4)]


def _data(name, k, rng, n=6):
    if name == "cross_entropy" or (name == "hinge" and k > 1):
        labels = rng.integers(0, k, n)
    elif name in ("binary_cross_entropy", "hinge"):
        labels = rng.integers(0, 2, n)
    else:
        labels = rng.normal(size=(n, k))
    return rng.normal(scale=2, size=(n, k)), labels


def _value_and_grad(name, k, z, labels):
    loss = Loss(name, k)
    t = loss.targets(labels, np.float64)
    g = np.empty_like(z)
    loss.gradient(z, t, g)
    return loss.value(z, t), g, loss, t


@pytest.mark.parametrize("name,k", CASES)
def test_gradient_matches_central_finite_differences(name, k):
    rng = np.random.default_rng(3)
    z, labels = _data(name, k, rng)
    _, g, loss, t = _value_and_grad(name, k, z, labels)
    numeric = central_difference(lambda zz: loss.value(zz, t), z)
    np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-9)


def _torch_loss(torch, name, k, z, labels):
    F = torch.nn.functional
    if name == "mse":
        return F.mse_loss(z, torch.tensor(labels))
    if name == "mae":
        return F.l1_loss(z, torch.tensor(labels))
    if name == "huber":
        return F.huber_loss(z, torch.tensor(labels), delta=1.0)
    if name == "binary_cross_entropy":
        return F.binary_cross_entropy_with_logits(z[:, 0], torch.tensor(labels, dtype=torch.float64))
    if name == "cross_entropy":
        return F.cross_entropy(z, torch.tensor(labels))
    if name == "hinge" and k == 1:
        s = 2 * torch.tensor(labels, dtype=torch.float64) - 1
        return torch.clamp(1 - s * z[:, 0], min=0).mean()
    return F.multi_margin_loss(z, torch.tensor(labels), margin=1.0)


@pytest.mark.parametrize("name,k", CASES)
def test_value_and_gradient_match_pytorch(name, k):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    z, labels = _data(name, k, rng, n=16)
    value, g, _, _ = _value_and_grad(name, k, z, labels)
    zt = torch.tensor(z, requires_grad=True)
    out = _torch_loss(torch, name, k, zt, labels)
    out.backward()
    assert value == pytest.approx(out.item(), rel=1e-12, abs=1e-14)
    np.testing.assert_allclose(g, zt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_cross_entropy_accepts_probability_targets_like_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    z = rng.normal(size=(5, 3))
    p = rng.dirichlet(np.ones(3), size=5)
    value, g, _, _ = _value_and_grad("cross_entropy", 3, z, p)
    zt = torch.tensor(z, requires_grad=True)
    out = torch.nn.functional.cross_entropy(zt, torch.tensor(p))
    out.backward()
    assert value == pytest.approx(out.item(), rel=1e-12)
    np.testing.assert_allclose(g, zt.grad.numpy(), rtol=1e-10)


def test_softmax_cross_entropy_raw_derivative_equals_the_fused_form():
    assert defs.fused_gradient_holds()


def test_binary_cross_entropy_raw_derivative_equals_sigmoid_minus_target():
    loss = defs.ELEMENTWISE_LOSSES["binary_cross_entropy"]
    raw = sp.diff(loss.forward, defs.z)
    assert sp.simplify(raw - loss.fused_gradient) == 0


def test_binary_cross_entropy_stable_form_equals_the_textbook_form():
    loss = defs.ELEMENTWISE_LOSSES["binary_cross_entropy"]
    for zv in (-3.2, -0.4, 0.0, 0.9, 5.0):
        for tv in (0, 1):
            point = {defs.z: zv, defs.t: tv}
            textbook = float(loss.forward.subs(point))
            stable = float(loss.stable.rewrite(sp.log).subs(point))
            assert stable == pytest.approx(textbook, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name,k", [("binary_cross_entropy", 1), ("cross_entropy", 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_losses_stay_finite_at_huge_logits(name, k, dtype):
    z = np.array([[1000.0] * k, [-1000.0] * k], dtype)
    z[:, 0] *= -1
    loss = Loss(name, k)
    t = loss.targets(np.array([0, 1]), dtype)
    g = np.empty_like(z)
    loss.gradient(z, t, g)
    assert np.isfinite(loss.value(z, t)) and np.all(np.isfinite(g))

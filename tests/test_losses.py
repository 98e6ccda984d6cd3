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


# --- value_and_grad: forward and backward in one pass -------------------------------------------

#: (rtol, atol) for the cross-entropy gradient, computed as e/s instead of exp(z - lse).
CE_GRADIENT_TOL = {np.float32: (1e-5, 1e-8), np.float64: (1e-13, 1e-17)}


def _three_kernels(name, k, dtype, seed=6, n=33):
    """(loss, t, z, forward value, backward gradient, value_and_grad value, its gradient)."""
    z, labels = _data(name, k, np.random.default_rng(seed), n=n)
    loss = Loss(name, k)
    t = loss.targets(labels, dtype)
    z = z.astype(dtype)
    g_backward, g_joint = np.empty_like(z), np.full_like(z, np.nan)
    loss.gradient(z, t, g_backward)
    value_joint = loss.value_and_gradient(z, t, g_joint)
    return loss, t, z, loss.value(z, t), g_backward, value_joint, g_joint


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,k", CASES)
def test_value_and_grad_value_equals_the_forward_kernels_summed_in_the_arrays_dtype(name, k, dtype):
    """The same terms in the same order; value_and_grad (once per training batch) sums them in the
    arrays' dtype, _forward (any number of rows) in float64: equal in float64, within the float32
    rounding of a sum of n terms in float32."""
    _, _, z, value_forward, _, value_joint, _ = _three_kernels(name, k, dtype)
    if dtype == np.float64:
        assert value_joint == value_forward
    else:
        assert np.float32(value_joint) == value_joint
        assert value_joint == pytest.approx(value_forward, rel=z.size * 2.0**-24)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,k", CASES)
def test_value_and_grad_gradient_equals_the_backward_kernels(name, k, dtype):
    _, _, _, _, g_backward, _, g_joint = _three_kernels(name, k, dtype)
    assert g_joint.dtype == dtype
    if name == "cross_entropy":
        rtol, atol = CE_GRADIENT_TOL[dtype]
        np.testing.assert_allclose(g_joint, g_backward, rtol=rtol, atol=atol)
    else:
        np.testing.assert_array_equal(g_joint, g_backward)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,k", CASES)
def test_value_and_grad_matches_pytorch(name, k, dtype):
    torch = pytest.importorskip("torch")
    z, labels = _data(name, k, np.random.default_rng(4), n=16)
    z = z.astype(dtype)
    loss = Loss(name, k)
    g = np.empty_like(z)
    value = loss.value_and_gradient(z, loss.targets(labels, dtype), g)
    zt = torch.tensor(z.astype(np.float64), requires_grad=True)
    out = _torch_loss(torch, name, k, zt, labels)
    out.backward()
    rtol, atol = (1e-12, 1e-14) if dtype == np.float64 else (1e-5, 1e-7)
    assert value == pytest.approx(out.item(), rel=rtol, abs=atol)
    np.testing.assert_allclose(g, zt.grad.numpy(), rtol=rtol, atol=atol)


#: Logits of +-1000 (exp overflows at 89 in float32, 710 in float64), right and wrong classes.
HUGE = {
    "cross_entropy": (np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0], [0.0, 1000.0, -1000.0]]),
                      np.array([0, 0, 2])),
    "binary_cross_entropy": (np.array([[1000.0], [-1000.0], [1000.0], [-1000.0]]), np.array([1, 1, 0, 0])),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(HUGE))
def test_value_and_grad_is_finite_and_correct_at_huge_logits(name, dtype):
    torch = pytest.importorskip("torch")
    z, labels = HUGE[name]
    k = z.shape[1]
    loss = Loss(name, k)
    g = np.empty(z.shape, dtype)
    value = loss.value_and_gradient(z.astype(dtype), loss.targets(labels, dtype), g)
    zt = torch.tensor(z, requires_grad=True)
    out = _torch_loss(torch, name, k, zt, labels)
    out.backward()
    assert np.isfinite(value) and np.all(np.isfinite(g))
    assert value == pytest.approx(out.item(), rel=1e-6)
    np.testing.assert_allclose(g, zt.grad.numpy(), rtol=1e-6, atol=1e-12)


def test_cross_entropy_value_and_grad_computes_one_exp_per_element():
    from symnn import ir
    from symnn.runtime.fused.assemble import installed_source

    source = ir.print_function(ir.read_functions(installed_source("losses.cross_entropy"))["cross_entropy_value_and_grad"])
    assert source.count("math.exp(") == 1
    assert source.count("math.log(") == 1


def test_every_loss_has_a_value_and_grad_kernel_beside_forward_and_backward():
    from symnn import ir
    from symnn.runtime.fused.assemble import installed_source

    for name in ("mse", "mae", "huber", "binary_cross_entropy", "hinge", "cross_entropy"):
        fns = ir.read_functions(installed_source(f"losses.{name}"))
        forwards = {f.removesuffix("_forward") for f in fns if f.endswith("_forward")}
        assert forwards and all({f"{f}_backward", f"{f}_value_and_grad"} <= set(fns) for f in forwards), name


def test_cross_entropy_gradient_from_stored_exps_is_s_times_e_over_s_minus_t_over_n():
    grad = defs.cross_entropy_gradient_from_stored_exps()
    assert defs.lse not in grad.free_symbols
    assert sp.simplify(grad - (defs.target_sum * defs.stored_exp / defs.exp_sum - defs.t) / defs.n) == 0


@pytest.mark.parametrize("z, y", [
    ([[1.0, 2.0, 0.5]], [[0.2, 0.9, 0.4]]),  # probabilities that do not sum to 1
    ([[3e16, 3e16, 0.0]], [0]),  # large logits: log(2) must not vanish next to 3e16
    ([[-np.inf, 1.0, 2.0]], [2]),  # a masked logit
    ([[1e4, -1e4, 0.0], [-30.0, 20.0, 1.0]], [1, 0]),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cross_entropy_value_and_gradient_are_torchs_for_any_targets(z, y, dtype):
    torch = pytest.importorskip("torch")
    import symnn

    z, y = np.asarray(z, dtype), np.asarray(y)
    zt = torch.tensor(z, requires_grad=True)
    yt = torch.tensor(y) if y.ndim == 1 else torch.tensor(y.astype(dtype))
    out = torch.nn.functional.cross_entropy(zt, yt)
    out.backward()
    loss = symnn.runtime.losses.Loss("cross_entropy", 3)
    t = loss.targets(y, np.dtype(dtype))
    g1, g2 = np.empty_like(z), np.empty_like(z)
    loss.gradient(z, t, g1)
    value = loss.value_and_gradient(z, t, g2)
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    assert loss.value(z, t) == pytest.approx(out.item(), rel=rtol)
    assert value == pytest.approx(out.item(), rel=rtol)
    for g in (g1, g2):
        np.testing.assert_allclose(g, zt.grad.numpy(), rtol=rtol, atol=1e-7 if dtype == np.float32 else 1e-15)


def test_a_stored_exp_rewrite_that_is_not_an_identity_is_refused_by_the_generator(monkeypatch):
    from symnn.codegen import emit

    wrong = {sp.exp(defs.z - defs.lse): defs.stored_exp / defs.exp_sum ** 2}
    monkeypatch.setattr(defs, "EXP_FROM_STORED", wrong)
    with pytest.raises(ArithmeticError, match="does not turn"):
        emit.cross_entropy_module("test")


def test_joint_statements_compute_a_subexpression_common_to_value_and_gradient_once():
    from symnn.codegen.printer import joint_statements

    x = sp.Symbol("x", real=True)
    lines = joint_statements([("total", sp.log(1 + sp.exp(x)), "+="), ("g", sp.exp(x) / (1 + sp.exp(x)), "=")])
    assert sum(line.count("vexp(") for line in lines) == 1
    assert lines[-2:] == [line for line in lines if line.startswith(("total +=", "g ="))]


def test_a_masked_logit_with_zero_probability_adds_nothing():
    """torch gives NaN here (0 * -inf); symnn takes 0 log 0 = 0, the loss without that column."""
    torch = pytest.importorskip("torch")

    z = np.array([[-np.inf, 1.0, 2.0], [-np.inf, 0.0, 0.5]])
    t = np.array([[0.0, 0.3, 0.7], [0.0, 0.5, 0.4]])
    zt = torch.tensor(z[:, 1:], requires_grad=True)
    out = -(torch.tensor(t[:, 1:]) * torch.log_softmax(zt, dim=1)).sum(dim=1).mean()
    out.backward()
    grad = np.empty_like(z)
    value = Loss("cross_entropy", 3).value_and_gradient(z, t, grad)
    assert value == pytest.approx(out.item(), rel=1e-12)
    np.testing.assert_allclose(grad[:, 1:], zt.grad.numpy(), rtol=1e-12)
    assert np.all(grad[:, 0] == 0)

"""`symnn gradcheck`: it passes on the generated kernels and catches a wrong one."""

from __future__ import annotations

import numpy as np

from symnn.runtime import gradcheck, kernels


def test_every_builtin_kernel_passes():
    rows = gradcheck.check()
    assert rows and all(r.ok for r in rows)
    assert {r.kind for r in rows} == {"activation", "loss", "layer", "optimizer"}


def test_a_wrong_activation_gradient_is_reported(monkeypatch):
    forward, backward = kernels.activation("tanh")

    def off_by_a_bit(x, y, gy, gx):
        backward(x, y, gy, gx)
        gx *= 1.01

    monkeypatch.setattr(kernels, "activation", lambda name: (forward, off_by_a_bit))
    (row,) = gradcheck.check(["tanh"])
    assert not row.ok and row.max_abs_error > 1e-4


def test_a_wrong_value_and_grad_gradient_is_reported(monkeypatch):
    forward, backward, value_and_grad, rows = kernels.loss("mse", 1)

    def off_by_a_bit(z, t, g):
        value = value_and_grad(z, t, g)
        g *= 1.01
        return value

    monkeypatch.setattr(kernels, "loss", lambda name, n: (forward, backward, off_by_a_bit, rows))
    rows_checked = gradcheck.check(["mse"])
    assert {r.name: r.ok for r in rows_checked if r.kind == "loss"} == {"mse": True, "mse value_and_grad": False}


def test_a_wrong_optimizer_update_is_reported(monkeypatch):
    import symnn.generated.optimizers.sgd as sgd

    original = sgd.sgd_step

    def wrong(param, grad, lr, weight_decay):
        original(param, grad, lr * 1.5, weight_decay)

    monkeypatch.setattr(sgd, "sgd_step", wrong)
    rows = gradcheck.check(["sgd"])
    assert [r.ok for r in rows if r.name == "sgd_step param"] == [False]


def test_table_ends_with_the_count():
    rows = [gradcheck.Row("a", "loss", 0.0, 0.0, True), gradcheck.Row("b", "loss", 1.0, 1.0, False)]
    assert gradcheck.table(rows).splitlines()[-1] == "1 passed, 1 failed"
    assert np.isfinite(rows[0].max_abs_error)

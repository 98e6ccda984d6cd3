"""Every built-in loss, optimizer and option fits on the fused loop: none falls back silently."""

from __future__ import annotations

import pytest

import symnn
from symnn.runtime import fused, kernels

OPTIMIZERS = [symnn.SGD(lr=0.1), symnn.SGD(lr=0.1, momentum=0.9), symnn.SGD(lr=0.1, momentum=0.9, nesterov=True),
              symnn.Adagrad(), symnn.RMSprop(), symnn.RMSprop(momentum=0.9), symnn.RMSprop(centered=True),
              symnn.RMSprop(centered=True, momentum=0.5), symnn.Adam(), symnn.Adam(amsgrad=True), symnn.AdamW(),
              symnn.AdamW(amsgrad=True), symnn.NAdam(), symnn.NAdam(decoupled_weight_decay=True)]


def test_the_optimizers_below_reach_every_generated_kernel():
    kernels_reached = {o.plan().kernel for o in OPTIMIZERS}
    every = {k for m in kernels.builtin_names("optimizers") for k in kernels.generated(f"optimizers.{m}").KERNELS}
    assert kernels_reached == every


@pytest.mark.parametrize("loss", kernels.builtin_names("losses"))
@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=repr)
def test_every_builtin_configuration_has_a_fused_spec(loss, optimizer):
    n_out = 1 if loss in ("binary_cross_entropy", "mse") else 3
    model = symnn.Sequential([symnn.Dense(2, 4), symnn.Activation("tanh"), symnn.Dense(4, n_out)], loss=loss)
    spec = fused.spec_of(model, optimizer)
    assert spec is not None and spec["loss"] == loss


def test_a_subclass_that_changes_the_step_is_not_fused():
    class Mine(symnn.SGD):
        def step(self, params, grads):  # a user's own rule
            super().step(params, grads)

    model = symnn.Sequential([symnn.Dense(2, 1)], loss="mse")
    assert fused.spec_of(model, Mine(lr=0.1)) is None

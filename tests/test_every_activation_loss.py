"""Every built-in activation with every built-in loss, against torch autograd in float64.

The names come from `symnn.generated` (what `symnn generate` wrote), so a new activation or loss is
in this table the moment it is generated; it then needs its torch counterpart and its targets in
torch_reference.py. Each case is a whole network, 3 -> 5 -> act -> 4 -> act -> k, on a random batch:
the loss and the gradient of every weight and bias, as `model.loss` and `model.gradients` give them,
equal torch's (tolerances in torch_reference.py). The loss cases include cross_entropy on
probability targets and hinge with several outputs (multi_margin_loss).
"""

from __future__ import annotations

import numpy as np
import pytest
from symnn.generated import ACTIVATIONS, LOSSES
from torch_reference import check_network_against_torch, loss_cases, targets

import symnn


@pytest.mark.parametrize("case", loss_cases(LOSSES))
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_a_networks_loss_and_gradients_are_torchs(activation, case):
    rng = np.random.default_rng(7)
    loss, k, y = targets(case, rng, 8)
    model = symnn.Sequential([symnn.Dense(3, 5), symnn.Activation(activation), symnn.Dense(5, 4),
                              symnn.Activation(activation), symnn.Dense(4, k)], loss=loss, dtype="float64", seed=2)
    X = rng.normal(size=(8, 3)) * 1.5
    check_network_against_torch(model, X, y, f"{activation} x {case}")

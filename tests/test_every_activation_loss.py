"""Every built-in activation with every built-in loss, against torch autograd in float64.

The names come from `symnn.generated` (what `symnn generate` wrote), so a new activation or loss is
in this table the moment it is generated; it then needs its torch counterpart in torch_reference.py
and, for a loss, its targets below. Each case is a whole network, 3 -> 5 -> act -> 4 -> act -> k,
on a random batch: the loss and the gradient of every weight and bias, as `model.loss` and
`model.gradients` give them, equal torch's (tolerances in torch_reference.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from symnn.generated import ACTIVATIONS, LOSSES
from torch_reference import check_network_against_torch

import symnn

N = 8  # rows in the batch

#: Per target kind: the number of outputs k and the targets of a batch of N rows for it.
TARGETS: dict[str, tuple[int, Callable[[np.random.Generator], np.ndarray]]] = {
    "mse": (3, lambda rng: rng.normal(size=(N, 3)) * 2),
    "mae": (3, lambda rng: rng.normal(size=(N, 3)) * 2),
    "huber": (3, lambda rng: rng.normal(size=(N, 3)) * 2),  # both sides of delta = 1
    "cross_entropy": (3, lambda rng: rng.integers(0, 3, N)),  # class indices
    "cross_entropy/probabilities": (3, lambda rng: rng.dirichlet(np.ones(3), N)),
    "binary_cross_entropy": (1, lambda rng: rng.integers(0, 2, (N, 1)).astype(float)),
    "hinge": (1, lambda rng: rng.integers(0, 2, (N, 1)).astype(float)),  # 0/1 labels, one output
    "hinge/multi_margin": (3, lambda rng: rng.integers(0, 3, N)),  # C outputs: multi_margin_loss
    "poisson_nll": (3, lambda rng: rng.poisson(2.0, (N, 3)).astype(float)),  # counts; outputs are log-rates
}

#: Every loss of symnn.generated, with each target kind it takes (a new loss without one shows as a failure).
LOSS_CASES = [case for loss in LOSSES for case in ([k for k in TARGETS if k.split("/")[0] == loss] or [loss])]


@pytest.mark.parametrize("case", LOSS_CASES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_a_networks_loss_and_gradients_are_torchs(activation, case):
    if case not in TARGETS:
        pytest.fail(f"loss {case!r} has no targets: add them to TARGETS in {__name__}")
    loss, (k, targets) = case.split("/")[0], TARGETS[case]
    model = symnn.Sequential([symnn.Dense(3, 5), symnn.Activation(activation), symnn.Dense(5, 4),
                              symnn.Activation(activation), symnn.Dense(4, k)], loss=loss, dtype="float64", seed=2)
    rng = np.random.default_rng(7)
    X = rng.normal(size=(N, 3)) * 1.5
    check_network_against_torch(model, X, targets(rng), f"{activation} x {case}")


"""Whole networks against PyTorch autograd: random architectures (depth, widths, activations, loss),
the loss and every parameter's gradient (`model.loss`, `model.gradients`)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from torch_reference import check_network_against_torch

import symnn

#: The activations the random architectures draw from (the list fixes the architectures of the seeds).
ACTIVATIONS = ["elu", "gelu", "identity", "leaky_relu", "relu", "sigmoid", "silu", "softplus", "tanh"]


def _targets(loss: str, rng: np.random.Generator, n: int, k: int):
    if loss == "cross_entropy":
        return rng.integers(0, k, n)
    if loss == "poisson_nll":
        return rng.poisson(2.0, (n, k)).astype(float)
    if loss in ("binary_cross_entropy", "hinge"):
        return rng.integers(0, 2, (n, 1)).astype(float) if k == 1 else rng.integers(0, k, n)
    return rng.normal(size=(n, k)) * 3


def _architecture(seed: int):
    rng = random.Random(seed)
    loss = rng.choice(["mse", "mae", "huber", "cross_entropy", "binary_cross_entropy", "hinge", "poisson_nll"])
    k = {"cross_entropy": rng.randint(2, 5), "binary_cross_entropy": 1}.get(loss, rng.choice([1, 3]))
    widths = [rng.randint(1, 6) for _ in range(rng.randint(1, 3))]
    acts = [rng.choice(ACTIVATIONS) for _ in widths]
    return loss, [rng.randint(1, 5), *widths, k], acts


@pytest.mark.parametrize("seed", range(24))
def test_random_networks_give_torchs_loss_and_gradients(seed):
    loss, sizes, acts = _architecture(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(symnn.Dense(a, b))
        if i < len(acts):
            layers.append(symnn.Activation(acts[i]))
    model = symnn.Sequential(layers, loss=loss, dtype="float64", seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(7, sizes[0])) * 2
    y = _targets(loss, rng, 7, sizes[-1])
    check_network_against_torch(model, X, y, f"{loss} {sizes} {acts}")

"""Whole networks against PyTorch autograd: random architectures, every activation and loss, the loss
and every parameter's gradient, per-layer (`gradients`) and after a fused `fit` step."""

from __future__ import annotations

import random

import numpy as np
import pytest

import symnn

torch = pytest.importorskip("torch")
F = torch.nn.functional

ACTIVATIONS = {"identity": lambda x: x, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": F.relu,
               "leaky_relu": F.leaky_relu, "elu": F.elu, "softplus": F.softplus, "silu": F.silu, "gelu": F.gelu}


def _targets(loss: str, rng: np.random.Generator, n: int, k: int):
    if loss == "cross_entropy":
        return rng.integers(0, k, n)
    if loss in ("binary_cross_entropy", "hinge"):
        return rng.integers(0, 2, (n, 1)).astype(float) if k == 1 else rng.integers(0, k, n)
    return rng.normal(size=(n, k)) * 3


def _torch_loss(loss: str, z, y, k: int):
    if loss == "mse":
        return F.mse_loss(z, y)
    if loss == "mae":
        return F.l1_loss(z, y)
    if loss == "huber":
        return F.huber_loss(z, y)
    if loss == "cross_entropy":
        return F.cross_entropy(z, y)
    if loss == "binary_cross_entropy":
        return F.binary_cross_entropy_with_logits(z, y)
    if k == 1:  # hinge, one output: mean of max(0, 1 - s z), s = 2t - 1
        return torch.clamp(1 - (2 * y - 1) * z, min=0).mean()
    return F.multi_margin_loss(z, y)


def _architecture(seed: int):
    rng = random.Random(seed)
    loss = rng.choice(["mse", "mae", "huber", "cross_entropy", "binary_cross_entropy", "hinge"])
    k = {"cross_entropy": rng.randint(2, 5), "binary_cross_entropy": 1}.get(loss, rng.choice([1, 3]))
    widths = [rng.randint(1, 6) for _ in range(rng.randint(1, 3))]
    acts = [rng.choice(sorted(ACTIVATIONS)) for _ in widths]
    return loss, [rng.randint(1, 5), *widths, k], acts


@pytest.mark.parametrize("seed", range(16))
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
    params = [torch.tensor(p.copy(), requires_grad=True) for p in model.parameters()]
    h = torch.tensor(X)
    for i in range(len(sizes) - 1):
        h = h @ params[2 * i].T + params[2 * i + 1]
        if i < len(acts):
            h = ACTIVATIONS[acts[i]](h)
    yt = torch.tensor(y) if np.issubdtype(np.asarray(y).dtype, np.integer) else torch.tensor(y, dtype=torch.float64)
    out = _torch_loss(loss, h, yt, sizes[-1])
    out.backward()
    assert model.loss(X, y) == pytest.approx(out.item(), rel=1e-10), (loss, sizes, acts)
    for ours, theirs in zip(model.gradients(X, y), params):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-8, atol=1e-12, err_msg=f"{loss} {sizes} {acts}")

"""NAdam: symnn.NAdam against torch.optim.NAdam, from its one definition in symbolic/optimizers.py."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import symnn
from symnn.runtime.optimizers import NAdam, make_optimizer

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (5,), (2, 2, 2)]
STEPS = 25
CASES = [
    {},
    {"lr": 0.01, "weight_decay": 0.1},
    {"lr": 0.01, "weight_decay": 0.05, "decoupled_weight_decay": True},
    {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "momentum_decay": 0.01},
]
IDS = ["-".join(f"{k}={v}" for k, v in kw.items()) or "defaults" for kw in CASES]


def _problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s) for s in SHAPES], [[rng.normal(size=s) for s in SHAPES] for _ in range(STEPS)]


def _ours(kwargs, params0, grads_seq, dtype):
    opt = NAdam(**kwargs)
    params = [np.array(p, dtype=dtype) for p in params0]
    out = []
    for grads in grads_seq:
        opt.step(params, [g.astype(dtype) for g in grads])
        out.append([p.copy() for p in params])
    return out


def _torchs(kwargs, params0, grads_seq, dtype):
    tdtype = getattr(torch, np.dtype(dtype).name)
    tensors = [torch.tensor(p, dtype=tdtype) for p in params0]
    opt = torch.optim.NAdam(tensors, **kwargs)
    out = []
    for grads in grads_seq:
        for p, g in zip(tensors, grads, strict=True):
            p.grad = torch.tensor(g, dtype=tdtype)
        opt.step()
        out.append([p.numpy().copy() for p in tensors])
    return out


@pytest.mark.parametrize("kwargs", CASES, ids=IDS)
@pytest.mark.parametrize(("dtype", "ulps"), [(np.float64, 4), (np.float32, 4)])
def test_trajectory_matches_torch_nadam(kwargs, dtype, ulps):
    """Every step's parameters within a few ulps of torch's (its CPU kernels fuse multiply-adds)."""
    params0, grads = _problem()
    for step, (ours, theirs) in enumerate(zip(_ours(kwargs, params0, grads, dtype),
                                              _torchs(kwargs, params0, grads, dtype), strict=True)):
        for a, b in zip(ours, theirs, strict=True):
            assert a.dtype == dtype
            np.testing.assert_allclose(a, b, rtol=0, atol=ulps * np.finfo(dtype).eps * np.abs(b).max(),
                                       err_msg=f"step {step + 1}")


def test_defaults_and_keywords_are_torchs():
    ours = {k: v.default for k, v in inspect.signature(NAdam).parameters.items()}
    theirs = {k: v.default for k, v in inspect.signature(torch.optim.NAdam).parameters.items() if k in ours}
    assert ours == theirs == {"lr": 2e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0,
                              "momentum_decay": 4e-3, "decoupled_weight_decay": False}


def test_mu_product_is_carried_across_calls_and_blocks_as_one_sequence():
    """The per-step scalars of steps 1..8 are the same computed at once, or from any step on."""
    plan = NAdam().plan()
    at_once = plan.step_scalars(np.full(8, 2e-3), 0, True)
    fresh = NAdam().plan()
    assert np.array_equal(fresh.step_scalars(np.full(3, 2e-3), 5, False), at_once[5:])
    assert np.array_equal(fresh.step_scalars(np.full(5, 2e-3), 0, False), at_once[:5])
    mu = [0.9 * (1 - 0.5 * 0.96 ** (t * 4e-3)) for t in range(1, 9)]
    product = np.cumprod(np.array(mu, np.float32), dtype=np.float32)  # torch's float32 mu_product
    k = plan.per_step.index("grad_coef")
    assert at_once[:, k].tolist() == [-2e-3 * (1 - m) / (1 - float(p)) for m, p in zip(mu, product)]


def test_nadam_is_public_and_trains():
    assert symnn.NAdam is NAdam and type(make_optimizer("nadam")) is NAdam
    assert NAdam(decoupled_weight_decay=True).plan().kernel == "nadam_decoupled_step"
    X = np.random.default_rng(0).normal(size=(64, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    model = symnn.Sequential([symnn.Dense(2, 8), symnn.Activation("tanh"), symnn.Dense(8, 1)],
                             loss="binary_cross_entropy", dtype="float64", seed=0)
    history = model.fit(X, y, optimizer="nadam", epochs=30, batch_size=16, verbose=False)
    assert history["loss"][-1] < history["loss"][0]

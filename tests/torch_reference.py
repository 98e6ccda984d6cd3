"""PyTorch as the oracle: one check of a symnn function's values and gradients against torch autograd.

`check_against_torch(ours, theirs, inputs, label)` runs symnn's function and torch's on the same
inputs and compares every output and every input's gradient with `assert_close`: one tolerance per
dtype (`TOLERANCE`), NaN where torch gives NaN, the same infinity where torch gives one, and a
failure message naming the output, the element, the inputs there and both values. The torch
counterparts of symnn's activations, losses and networks (`TORCH_ACTIVATIONS`, `torch_loss`,
`torch_network`) are declared here once for every test that compares with torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional


@dataclass(frozen=True)
class Tolerance:
    """|symnn - torch| <= rtol * |torch| + atol * (the largest finite |torch| of the same output)."""

    rtol: float
    atol: float


#: Why these: symnn and torch compute the same functions by different formulas (a derived, simplified
#: gradient against torch's chain rule of primitives, a stable rewrite against torch's own kernel),
#: summation orders and libm calls, so they agree to some roundings, not bit for bit. A real error (a
#: wrong branch, constant or term) is off by far more than either tolerance.
#: float64, rtol 1e-10: the largest differences measured when this was set, 4.3e-11 and 1.3e-11, came
#: from softplus's threshold 20 (torch returns x above it), which symnn's softplus now has too; every
#: whole network agreed to 1e-12.
#: float32, rtol 1e-5 (about 80 ulps): the largest difference is 3.8e-6, d/dx tanh(x)**2 at x = 3,
#: where 1 - y**2 cancels (torch's own float32 answer is 1.9e-6 off the float64 one). Since torch's
#: float32 chain rule can cancel where a derived form does not (x/(1 + |x|) at 1000), agreement with
#: torch's float64 result at the same float32 inputs counts too.
#: atol, relative to the output's largest finite |torch|: an element that cancels to almost zero
#: (torch's y*(1 - y) at x = 50 is 0, the exact value 5e-22; a gradient summed over a batch) may be
#: off by a few roundings of its neighbours.
TOLERANCE: dict[np.dtype, Tolerance] = {
    np.dtype(np.float64): Tolerance(rtol=1e-10, atol=1e-13),
    np.dtype(np.float32): Tolerance(rtol=1e-5, atol=1e-7),
}


def tolerance(dtype: object) -> Tolerance:
    """The tolerance of a dtype (np.float32, "float64", ...)."""
    return TOLERANCE[np.dtype(dtype)]


def mismatches(ours: np.ndarray, theirs: np.ndarray, tol: Tolerance) -> np.ndarray:
    """Where ours is not torch's: NaN-aware (NaN only where torch's is NaN, the same infinities)."""
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    finite = np.isfinite(theirs)
    scale = np.abs(theirs[finite]).max(initial=0.0)
    with np.errstate(invalid="ignore", over="ignore"):
        close = np.abs(ours - theirs) <= tol.rtol * np.abs(theirs) + tol.atol * scale
    return ((finite & ~close) | (np.isinf(theirs) & (ours != theirs))
            | (np.isnan(theirs) & ~np.isnan(ours)))


def assert_close(what: str, ours: object, theirs: object, dtype: object,
                 inputs: dict[str, np.ndarray] | None = None) -> None:
    """`ours` is torch's `theirs` to `dtype`'s tolerance (`mismatches`). `theirs` is torch's result, or
    the list [torch's in dtype, torch's in float64] of which either counts. On failure: the elements,
    the named inputs of the same shape there, and both values."""
    ours = np.asarray(ours)
    references = [np.asarray(t) for t in theirs] if isinstance(theirs, list) else [np.asarray(theirs)]
    bad = np.ones(ours.shape, bool)
    for ref in references:
        bad &= mismatches(ours, ref.astype(ours.dtype) if ours.dtype.kind == "f" else ref, tolerance(dtype))
    if bad.any():
        raise AssertionError(_message(what, ours, references, bad, np.dtype(dtype), inputs or {}))


def _message(what: str, ours: np.ndarray, references: list[np.ndarray], bad: np.ndarray, dtype: np.dtype,
             inputs: dict[str, np.ndarray]) -> str:
    where = [tuple(int(i) for i in idx) for idx in np.argwhere(bad)] if ours.ndim else [()]
    tol = tolerance(dtype)
    lines = [f"{what} ({dtype.name}): symnn differs from torch at {len(where)} of {max(ours.size, 1)} "
             f"elements (tolerance: rtol {tol.rtol:g}, atol {tol.atol:g} x the largest |torch|)"]
    for idx in where[:6]:
        at = ", ".join(f"{name}{list(idx)} = {a[idx]}" for name, a in inputs.items()
                       if a.shape == ours.shape and a.ndim)
        with np.errstate(all="ignore"):
            rel = np.abs(np.float64(ours[idx]) - references[0][idx]) / np.abs(np.float64(references[0][idx]))
        torch_values = " or (float64) ".join(str(r[idx]) for r in references)
        lines.append(f"  {'at ' + str(list(idx)) if idx else ''}{', where ' + at if at else ''}"
                     f"{': ' if idx else ''}symnn {ours[idx]}, torch {torch_values} (relative difference {rel:.2g})")
    return "\n".join(lines)


def check_against_torch(ours: Callable[..., tuple[object, Sequence[np.ndarray]]],
                        theirs: Callable[..., object], inputs: dict[str, np.ndarray], label: str) -> None:
    """symnn's function gives torch's values and autograd gradients.

    ours(*arrays) -> (value, gradients of value.sum() with respect to each input, in order);
    theirs(*tensors) -> torch's value (a tensor). Both see the inputs in their own dtype (float32 or
    float64: the tolerance's); in float32 torch's float64 result at the same inputs counts too. An
    input's gradient is not compared where that input is NaN (torch's is NaN or the upstream
    gradient, by its code path); a gradient torch leaves as None (the value does not depend on the
    input) is zero.
    """
    arrays = [np.asarray(a) for a in inputs.values()]
    dtype = arrays[0].dtype
    value, grads = ours(*(a.copy() for a in arrays))
    references = [_torch_value_and_grads(theirs, arrays, dt) for dt in dict.fromkeys([dtype, np.dtype(np.float64)])]
    named = dict(zip(inputs, arrays, strict=True))
    assert_close(f"{label}: value", value, [r[0] for r in references], dtype, named)
    for k, (name, a) in enumerate(named.items()):
        grad = np.array(grads[k], copy=True)
        refs = [r[1][k].copy() for r in references]
        for r in [grad, *refs]:
            r[np.isnan(a)] = 0.0
        assert_close(f"{label}: gradient with respect to {name}", grad, refs, dtype, {name: a})


def _torch_value_and_grads(theirs: Callable[..., object], arrays: list[np.ndarray],
                           dtype: np.dtype) -> tuple[np.ndarray, list[np.ndarray]]:
    tensors = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    value = theirs(*tensors)
    value.backward(torch.ones_like(value))
    grads = [np.zeros(a.shape, dtype) if t.grad is None else t.grad.numpy() for a, t in zip(arrays, tensors)]
    return value.detach().numpy(), grads


class _Step(torch.autograd.Function):
    """torch.heaviside(x, 0) with the step's gradient, zero (torch.heaviside has no backward)."""

    @staticmethod
    def forward(ctx, x):
        return torch.heaviside(x, torch.zeros((), dtype=x.dtype))

    @staticmethod
    def backward(ctx, grad):
        return torch.zeros_like(grad)


#: torch's function for each of symnn's built-in activations (the same definitions and constants).
TORCH_ACTIVATIONS: dict[str, Callable] = {
    "identity": lambda x: x * 1, "step": _Step.apply, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": F.relu,
    "leaky_relu": F.leaky_relu, "elu": F.elu, "softplus": F.softplus, "silu": F.silu, "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"), "mish": F.mish, "selu": F.selu,
}

#: torch's function of a parameterised activation at symnn's parameter values (symnn's names -> torch's keywords).
TORCH_PARAMETERISED: dict[str, Callable] = {
    "leaky_relu": lambda x, slope: F.leaky_relu(x, negative_slope=slope),
    "elu": lambda x, alpha: F.elu(x, alpha=alpha),
    "softplus": lambda x, beta, threshold: F.softplus(x, beta=beta, threshold=threshold),
}


def torch_activation(name: str) -> Callable:
    """torch's function of a built-in activation; a new activation must be added above."""
    if name not in TORCH_ACTIVATIONS:
        pytest.fail(f"activation {name!r} has no torch counterpart: add it to tests/torch_reference.py TORCH_ACTIVATIONS")
    return TORCH_ACTIVATIONS[name]


def torch_loss(loss: str, z, t, **parameters):
    """torch's loss (reduction='mean') of symnn's built-in loss, on logits/outputs z and targets t
    (class indices for cross_entropy and a multi-output hinge, floats otherwise); `parameters`:
    a parameterised loss's values (huber's delta)."""
    if loss == "mse":
        return F.mse_loss(z, t)
    if loss == "mae":
        return F.l1_loss(z, t)
    if loss == "huber":
        return F.huber_loss(z, t, delta=parameters.get("delta", 1.0))
    if loss == "cross_entropy":
        return F.cross_entropy(z, t)
    if loss == "binary_cross_entropy":
        return F.binary_cross_entropy_with_logits(z, t)
    if loss == "poisson_nll":
        return F.poisson_nll_loss(z, t)
    if loss == "hinge" and z.shape[1] == 1:  # mean of max(0, 1 - s z), s = 2t - 1 from 0/1 labels
        return torch.clamp(1 - (2 * t - 1) * z, min=0).mean()
    if loss == "hinge":  # C outputs: multi_margin_loss, margin 1
        return F.multi_margin_loss(z, t)
    pytest.fail(f"loss {loss!r} has no torch counterpart: add it to tests/torch_reference.py torch_loss")


#: Targets suited to each built-in loss, as a case name ("loss" or "loss/variant") -> (outputs k,
#: targets of n rows drawn from rng). Classes are indices; the elementwise losses' targets are spread
#: over both sides of huber's delta; poisson_nll's are counts (its outputs are log-rates).
TARGETS: dict[str, tuple[int, Callable[[np.random.Generator, int], np.ndarray]]] = {
    "mse": (3, lambda rng, n: rng.normal(size=(n, 3)) * 2),
    "mae": (3, lambda rng, n: rng.normal(size=(n, 3)) * 2),
    "huber": (3, lambda rng, n: rng.normal(size=(n, 3)) * 2),
    "cross_entropy": (3, lambda rng, n: rng.integers(0, 3, n)),
    "cross_entropy/probabilities": (3, lambda rng, n: rng.dirichlet(np.ones(3), n)),
    "binary_cross_entropy": (1, lambda rng, n: rng.integers(0, 2, (n, 1)).astype(float)),
    "hinge": (1, lambda rng, n: rng.integers(0, 2, (n, 1)).astype(float)),  # one output: 0/1 labels
    "hinge/multi_margin": (3, lambda rng, n: rng.integers(0, 3, n)),  # C outputs: multi_margin_loss
    "poisson_nll": (3, lambda rng, n: rng.poisson(2.0, (n, 3)).astype(float)),
}


def loss_cases(losses: Sequence[str]) -> list[str]:
    """Every target case of each loss named (a loss without one is its own case, failing in `targets`)."""
    return [case for loss in losses for case in ([c for c in TARGETS if c.split("/")[0] == loss] or [loss])]


def targets(case: str, rng: np.random.Generator, n: int) -> tuple[str, int, np.ndarray]:
    """(loss name, outputs k, targets of n rows) of a case of `loss_cases`."""
    if case not in TARGETS:
        pytest.fail(f"loss {case!r} has no targets: add them to tests/torch_reference.py TARGETS")
    k, draw = TARGETS[case]
    return case.split("/")[0], k, draw(rng, n)


def torch_network(model, X: np.ndarray) -> Callable:
    """torch's function of a symnn model's parameters (W1, b1, W2, b2, ...): its layers, as the
    model describes them (what its file records), applied to X (Dense: x W^T + b, torch.nn.Linear);
    the outputs are the logits for the cross-entropy losses."""
    layers = model.describe()["layers"]

    def forward(*params):
        h, k = torch.tensor(X, dtype=params[0].dtype), 0
        for layer in layers:
            if layer["type"] == "dense":
                h, k = h @ params[k].T + params[k + 1], k + 2
            else:
                h = torch_activation(layer["name"])(h)
        return h

    return forward


def torch_targets(y: np.ndarray, dtype):
    """Targets as torch takes them: class indices stay integers, the rest in the network's torch dtype."""
    y = np.asarray(y)
    return torch.tensor(y) if y.dtype.kind in "iu" else torch.tensor(y, dtype=dtype)


def check_network_against_torch(model, X: np.ndarray, y: np.ndarray, label: str) -> None:
    """A model's loss and every parameter's gradient (`model.loss`, `model.gradients`) against
    torch autograd on the same network, parameters, batch and targets."""
    params = model.parameters()

    def ours(*arrays):
        for p, a in zip(params, arrays, strict=True):
            p[...] = a
        return np.float64(model.loss(X, y)), model.gradients(X, y)

    net, loss = torch_network(model, X), model.describe()["loss"]

    def theirs(*tensors):
        return torch_loss(loss, net(*tensors), torch_targets(y, tensors[0].dtype))

    names = [f"{'W' if i % 2 == 0 else 'b'}{i // 2 + 1}" for i in range(len(params))]
    check_against_torch(ours, theirs, dict(zip(names, (p.copy() for p in params), strict=True)), label)

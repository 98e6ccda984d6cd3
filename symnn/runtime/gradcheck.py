"""`symnn gradcheck`: every compiled gradient against central finite differences, in float64."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from symnn.errors import UserInputError
from symnn.runtime import kernels

H = 1e-6
RTOL, ATOL = 1e-5, 1e-7


class Row(NamedTuple):
    name: str
    kind: str
    max_abs_error: float
    max_rel_error: float
    ok: bool


def _row(name: str, kind: str, analytic: np.ndarray, numeric: np.ndarray) -> Row:
    err = np.abs(analytic - numeric)
    rel = err / np.maximum(np.abs(numeric), 1e-12)
    ok = bool(np.all(err <= ATOL + RTOL * np.abs(numeric)))
    return Row(name, kind, float(err.max(initial=0.0)), float(np.where(err > ATOL, rel, 0).max(initial=0.0)), ok)


def _away_from_kinks(rng: np.random.Generator, n: int) -> np.ndarray:
    """Points in [-3, 3] at least 0.01 from 0, where piecewise definitions switch branch."""
    x = rng.uniform(-3, 3, n)
    return np.where(np.abs(x) < 0.01, 0.5, x)


def check_activation(name: str, rng: np.random.Generator) -> Row:
    """The activation's kernels: a name's (parameters at their defaults), or with `name:key=value`
    the kernels taking parameters (symnn.runtime.kernels.activation), at those values."""
    if ":" in name:
        from symnn.runtime.layers import Activation

        layer = Activation(name)
        forward = lambda x, y: layer.forward(x, y)  # noqa: E731
        backward = lambda x, y, g, gx: layer.backward(x, y, g, gx, [])  # noqa: E731
    else:
        forward, backward = kernels.activation(name)
    x = _away_from_kinks(rng, 64)
    y = np.empty_like(x)
    forward(x, y)
    g = rng.normal(size=x.shape)
    analytic = np.empty_like(x)
    backward(x, y, g, analytic)
    yp, ym = np.empty_like(x), np.empty_like(x)
    forward(x + H, yp)
    forward(x - H, ym)
    return _row(name, "activation", analytic, g * (yp - ym) / (2 * H))


def _numeric_gradient(f, z: np.ndarray) -> np.ndarray:
    out = np.empty_like(z)
    flat, grad = z.reshape(-1), out.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + H
        up = f(z)
        flat[i] = keep - H
        down = f(z)
        flat[i] = keep
        grad[i] = (up - down) / (2 * H)
    return out


def check_loss(name: str, rng: np.random.Generator, n_outputs: int) -> list[Row]:
    """Two rows: the backward kernel against differences of the forward kernel's value, and the
    one-pass value_and_grad kernel's gradient against differences of its own value."""
    from symnn.runtime.losses import Loss

    loss = Loss(name, n_outputs)
    n = 8
    _, kernel, rows = kernels.loss_kernel(name, n_outputs)
    if kernel in kernels.generated("losses").CLASSIFIES:
        labels = rng.integers(0, n_outputs if rows else 2, n)  # class indices, or 0/1 labels
    else:
        labels = rng.normal(size=(n, n_outputs))
    t = loss.targets(labels, np.float64)
    z = rng.normal(size=(n, n_outputs))
    if name == "huber":  # keep |z - t| away from the switch at 1
        d = z - t
        z = np.where(np.abs(np.abs(d) - 1) < 0.01, t + 0.5, z)
    analytic = np.empty_like(z)
    loss.gradient(z, t, analytic)
    numeric = _numeric_gradient(lambda zz: loss.value(zz, t), z)
    label = name if kernel == name else f"{name} ({kernel})"
    joint, scratch = np.empty_like(z), np.empty_like(z)
    loss.value_and_gradient(z, t, joint)
    joint_numeric = _numeric_gradient(lambda zz: loss.value_and_gradient(zz, t, scratch), z)
    return [_row(label, "loss", analytic, numeric),
            _row(f"{label} value_and_grad", "loss", joint, joint_numeric)]


def check_dense(rng: np.random.Generator) -> list[Row]:
    k = kernels.dense()
    x, w, b = rng.normal(size=(5, 3)), rng.normal(size=(4, 3)), rng.normal(size=4)
    g = rng.normal(size=(5, 4))

    def objective(x_, w_, b_) -> float:
        y = np.empty((x_.shape[0], w_.shape[0]))
        k.dense_forward(np.ascontiguousarray(x_), np.ascontiguousarray(w_), b_, y)
        return float(np.sum(g * y))

    gx, gw, gb = np.empty_like(x), np.empty_like(w), np.empty_like(b)
    k.dense_grad_input(w, g, gx)
    k.dense_grad_params(x, g, gw, gb)
    return [
        _row("dense dL/dX", "layer", gx, _numeric_gradient(lambda xx: objective(xx, w, b), x)),
        _row("dense dL/dW", "layer", gw, _numeric_gradient(lambda ww: objective(x, ww, b), w)),
        _row("dense dL/db", "layer", gb, _numeric_gradient(lambda bb: objective(x, w, bb), b)),
    ]


#: Values for the optimizers' scalar arguments in `check_optimizer` (any valid ones would do;
#: a scalar not listed takes _OTHER_SCALAR).
_OPTIMIZER_SCALARS = {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01, "beta1": 0.9,
                      "beta2": 0.999, "eps": 1e-8, "alpha": 0.99, "bias_correction1": 0.19,
                      "bias_correction2": 0.004, "clr": 0.04, "step_size": 0.26,
                      "bias_correction2_sqrt": 0.063, "one_minus_beta1": 0.1, "one_minus_beta2": 0.001}
_OTHER_SCALAR = 0.3


def check_optimizer(name: str, rng: np.random.Generator) -> list[Row]:
    """Each compiled update kernel of an optimizer against its SymPy lines evaluated by NumPy.

    Not a gradient, but the same question: does the compiled code compute its derivation?
    """
    import sympy as sp

    from symnn.symbolic.optimizers import OPTIMIZERS

    module = kernels.generated(f"optimizers.{name}")
    rows = []
    for kernel in OPTIMIZERS[name].kernels():
        for first in ((0, 1) if any(s.name == "first" for s in kernel.scalars) else (0,)):
            arrays = {a.symbol: rng.uniform(0.1, 1.0, 16) for a in kernel.arrays}
            arrays[kernel.arrays[1].symbol] = rng.normal(size=16)  # the gradient
            for a in kernel.arrays:  # a running mean of g stays below sqrt of the mean of g**2
                if a.arg == "grad_avg":
                    arrays[a.symbol] = rng.uniform(-0.3, 0.3, 16)
            scalars = {s: (first if s.name == "first" else _OPTIMIZER_SCALARS.get(s.name, _OTHER_SCALAR))
                       for s in kernel.scalars}
            expected = dict(arrays)
            for line in kernel.lines:
                fn = sp.lambdify(list(expected) + list(scalars), line.value, modules="numpy")
                value = fn(*expected.values(), *scalars.values())
                expected[line.target] = np.broadcast_to(np.asarray(value, dtype=np.float64), (16,)).copy()
            compiled = {sym: values.copy() for sym, values in arrays.items()}
            getattr(module, kernel.name)(*compiled.values(), *scalars.values())
            for array in kernel.written():
                label = f"{kernel.name} {array.arg}" + (" (first step)" if first else "")
                rows.append(_row(label, "optimizer", compiled[array.symbol], expected[array.symbol]))
    return rows


def _widths(name: str) -> tuple[int, ...]:
    """The output counts a loss is checked at, from its facts: 1 where it takes one output, 3
    where it takes several classes (or becomes its wide form), 2 for a regression loss."""
    facts = kernels.generated("losses")
    low, high = facts.OUTPUTS[name]
    several = 3 if name in facts.WIDE or (low > 1 and name in facts.CLASSIFIES) else 2
    return ((1,) if low == 1 else ()) + ((several,) if high is None else ())


def check(names: list[str] | None = None, seed: int = 0) -> list[Row]:
    """Rows for the named definitions (None: every built-in one, optimizer updates included)."""
    rng = np.random.default_rng(seed)
    activations = kernels.builtin_names("activations")
    losses = kernels.builtin_names("losses")
    optimizers = kernels.builtin_names("optimizers")
    rows: list[Row] = []
    for name in names or [*activations, *losses, "dense", *optimizers]:
        if name in optimizers:
            rows += check_optimizer(name, rng)
        elif name == "dense":
            rows += check_dense(rng)
        elif name in losses:
            rows += [row for k in _widths(name) for row in check_loss(name, rng, k)]
        elif name.partition(":")[0] in activations or any(ch in name for ch in "x("):
            rows.append(check_activation(name, rng))
        else:
            raise UserInputError(f"unknown name {name!r} for gradcheck; use an activation, a loss, dense, "
                                 f"or a formula in x")
    return rows


def table(rows: list[Row]) -> str:
    """A plain-text table, one row per checked gradient."""
    width = max(len(r.name) for r in rows)
    lines = [f"{'name':{width}}  {'kind':10}  {'max abs err':>11}  {'max rel err':>11}  result"]
    for r in rows:
        lines.append(f"{r.name:{width}}  {r.kind:10}  {r.max_abs_error:11.2e}  {r.max_rel_error:11.2e}  "
                     f"{'ok' if r.ok else 'MISMATCH'}")
    bad = sum(not r.ok for r in rows)
    lines.append(f"{len(rows) - bad} passed, {bad} failed" if bad else f"all {len(rows)} checks pass: gradients "
                 f"against central finite differences, optimizer updates against their SymPy lines "
                 f"(rtol {RTOL:g}, atol {ATOL:g})")
    return "\n".join(lines)

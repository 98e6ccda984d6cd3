"""Loss functions, each written once as its forward form, with PyTorch's reduction='mean'.

Elementwise losses l(z, t) are averaged over all n elements, so dL/dz_i = diff(l, z)/n.
Softmax and sigmoid cross-entropy are also given in the stable, fused forms the kernels use;
`fused_gradient_holds` checks by SymPy that the fused form equals the raw derivative.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symnn.symbolic.activations import parameter_exports
from symnn.symbolic.derivation import Derivation, Parameter, simplest
from symnn.symbolic.rules import apply_conventions, log1p

z = sp.Symbol("z", real=True)  # the model's output (a logit for the cross-entropy losses)
t = sp.Symbol("t", real=True)  # the target
n = sp.Symbol("n", positive=True, integer=True)  # elements (or rows) averaged over


def _sigmoid(a: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-a))


@dataclass(frozen=True)
class LossFacts:
    """What the runtime needs to know of a loss, beside its kernels (exported by `symnn generate`)."""

    #: "elements": the kernels take flat arrays, the mean over every element; "rows": (N, C) arrays.
    layout: str = "elements"
    #: Whether the outputs are classes (predict gives labels, accuracy is reported).
    classifies: bool = False
    #: How many outputs a model may have: (at least, at most or None).
    outputs: tuple[int, int | None] = (1, None)
    #: The loss it becomes with more than one output (hinge -> multi_margin).
    wide: str | None = None
    #: The generated module holding its kernels, when not its own name (multi_margin: hinge).
    module: str | None = None
    #: What to use instead, said when the output width does not fit.
    instead: str = ""


@dataclass(frozen=True)
class ElementwiseLoss:
    """l(z, t) per element; `stable` and `fused_gradient` replace the textbook form in kernels."""

    name: str
    description: str
    forward: sp.Expr
    stable: sp.Expr | None = None
    fused_gradient: sp.Expr | None = None
    targets: str = "values"
    facts: LossFacts = LossFacts()
    #: Symbols of `forward` other than z and t (huber's delta): kernel arguments, with torch's defaults.
    parameters: tuple[Parameter, ...] = ()

    def gradient(self) -> sp.Expr:
        """dl/dz: the fused form where one is given (checked equal by tests), else derived."""
        return self.fused_gradient if self.fused_gradient is not None else self.derived_gradient()

    def derived_gradient(self) -> sp.Expr:
        raw = apply_conventions(sp.diff(self.forward, z))
        return simplest([raw, sp.simplify(raw)])


#: huber's delta (torch huber_loss): where the loss turns from quadratic to linear.
HUBER_DELTA = Parameter("delta", 1.0, "positive", "where the loss turns from quadratic to linear")
_delta = HUBER_DELTA.symbol

ELEMENTWISE_LOSSES: dict[str, ElementwiseLoss] = {
    "mse": ElementwiseLoss("mse", "mean squared error (torch mse_loss)", (z - t) ** 2),
    "mae": ElementwiseLoss("mae", "mean absolute error (torch l1_loss)", sp.Abs(z - t)),
    "huber": ElementwiseLoss(
        "huber", "Huber loss, delta 1 by default (torch huber_loss)",
        # A NaN residual takes the quadratic branch (`otherwise`): its gradient is NaN, as torch's.
        sp.Piecewise((_delta * (sp.Abs(z - t) - _delta / 2), sp.Abs(z - t) >= _delta),
                     (sp.Rational(1, 2) * (z - t) ** 2, True)),
        parameters=(HUBER_DELTA,)),
    "binary_cross_entropy": ElementwiseLoss(
        "binary_cross_entropy",
        "sigmoid + binary cross-entropy on logits (torch binary_cross_entropy_with_logits)",
        -(t * sp.log(_sigmoid(z)) + (1 - t) * sp.log(1 - _sigmoid(z))),
        stable=sp.Max(z, 0) - z * t + log1p(sp.exp(-sp.Abs(z))),
        fused_gradient=_sigmoid(z) - t,
        targets="0/1 labels",
        facts=LossFacts(classifies=True, outputs=(1, 1), instead="use cross_entropy for several classes")),
    "hinge": ElementwiseLoss(
        "hinge", "hinge loss max(0, 1 - s z) with s = 2t - 1 = +-1 from 0/1 labels (one output)",
        sp.Max(0, 1 - (2 * t - 1) * z), targets="0/1 labels",
        facts=LossFacts(classifies=True, wide="multi_margin")),
    "poisson_nll": ElementwiseLoss(
        "poisson_nll", "Poisson negative log-likelihood of counts t with log-rate z (torch poisson_nll_loss, "
        "log_input=True, full=False)", sp.exp(z) - t * z, targets="counts"),
}


# Softmax cross-entropy over C classes, shown and checked with C = 3 symbols.
C_SHOWN = 3
zs = sp.symbols(f"z1:{C_SHOWN + 1}", real=True)
ts = sp.symbols(f"t1:{C_SHOWN + 1}", real=True)
lse = sp.Symbol("lse", real=True)  # log-sum-exp of the row, computed after subtracting its max


def softmax(j: int) -> sp.Expr:
    return sp.exp(zs[j]) / sum(sp.exp(a) for a in zs)


CROSS_ENTROPY_FORWARD = -sum(ts[j] * sp.log(softmax(j)) for j in range(C_SHOWN))
CROSS_ENTROPY_FACTS = LossFacts("rows", classifies=True, outputs=(2, None),
                                instead="use binary_cross_entropy for one output")

#: One pass over a row, one exp per element: the row maximum m, each e_j = exp(z_j - m) stored
#: while summing s = sum_j e_j and the row's target sum S (1 for one-hot rows).
row_max = sp.Symbol("m", real=True)
exp_sum = sp.Symbol("s", positive=True)
stored_exp = sp.Symbol("e", positive=True)
target_sum = sp.Symbol("S", real=True)
shifted = sp.Symbol("w", real=True)  # z - m: the logit less the row maximum
STORED_EXP = sp.exp(shifted)
LSE_FROM_SUM = row_max + sp.log(exp_sum)
#: exp(z - lse) -> e/s, the rewrite that lets the gradient reuse the stored exponentials.
EXP_FROM_STORED = {sp.exp(z - lse): stored_exp / exp_sum}

#: Per element of a row, lse = log(sum(exp(z))): t_j*(lse - z_j), computed as t_j*(log(s) - (z_j - m))
#: (lse itself rounds away log(s) next to a large m); 0 where t_j = 0, so a masked -inf logit adds
#: nothing instead of 0*inf = NaN.
CROSS_ENTROPY_STABLE_TERM = sp.Piecewise((0, sp.Eq(t, 0)), (t * (sp.log(exp_sum) - shifted), True))
#: dL/dz_j = (softmax(z)_j * S - t_j)/n: diff of -sum t log softmax for any targets (torch's).
CROSS_ENTROPY_FUSED_GRADIENT = (sp.exp(z - lse) * target_sum - t) / n


def cross_entropy_gradient_from_stored_exps() -> sp.Expr:
    """CROSS_ENTROPY_FUSED_GRADIENT with exp(z - lse) replaced by e/s: (S*e/s - t)/n.

    Raises ArithmeticError unless SymPy finds the rewrite an identity, i.e. unless the result, with
    e = exp(z - m), equals the fused gradient with lse = m + log(s), and no lse is left in it.
    """
    grad = CROSS_ENTROPY_FUSED_GRADIENT.subs(EXP_FROM_STORED)
    identity = (grad.subs(stored_exp, sp.exp(z - row_max))
                - CROSS_ENTROPY_FUSED_GRADIENT.subs(lse, LSE_FROM_SUM))
    if lse in grad.free_symbols or sp.simplify(identity) != 0:
        raise ArithmeticError(f"exp(z - lse) = e/s does not turn {CROSS_ENTROPY_FUSED_GRADIENT} into an "
                              f"equal expression in e and s: got {grad}")
    return grad


def cross_entropy_raw_gradient(j: int) -> sp.Expr:
    """d/dz_j of the textbook softmax cross-entropy, by `sympy.diff`."""
    return sp.diff(CROSS_ENTROPY_FORWARD, zs[j])


def fused_gradient_holds() -> bool:
    """sympy.diff of -sum t log softmax equals softmax*S - t, S = t1 + t2 + t3, for any targets."""
    total = sum(ts)
    return all(sp.simplify(cross_entropy_raw_gradient(j) - (softmax(j) * total - ts[j])) == 0
               for j in range(C_SHOWN))


# Multi-class hinge (torch multi_margin_loss, margin 1): sum over i != y of max(0, 1 - z_y + z_i) / C.
z_y, z_i = sp.symbols("z_y z_i", real=True)
MARGIN_TERM = sp.Max(0, 1 - z_y + z_i)
MULTI_MARGIN_FACTS = LossFacts("rows", classifies=True, outputs=(2, None), module="hinge",
                               instead="use hinge, which is multi_margin with more than one output")


def margin_gradients() -> tuple[sp.Expr, sp.Expr]:
    """d(term)/dz_y and d(term)/dz_i, by `sympy.diff`."""
    return (apply_conventions(sp.diff(MARGIN_TERM, z_y)),
            apply_conventions(sp.diff(MARGIN_TERM, z_i)))


def derive_elementwise_loss(loss: ElementwiseLoss) -> Derivation:
    """L = (1/n) sum l(z_i, t_i), and dL/dz_i."""
    raw = apply_conventions(sp.diff(loss.forward, z))
    steps: list[tuple[str, object]] = [
        ("forward, per element (L is its mean over all n elements)", sp.Eq(sp.Symbol("l"), loss.forward)),
        *(("parameter", p.describe()) for p in loss.parameters),
        ("dl/dz = diff(l, z)", raw),
    ]
    derived = loss.derived_gradient()
    if derived != raw:
        steps.append(("simplified", derived))
    if loss.fused_gradient is not None:
        steps.append(("fused form (equal, and it does not overflow)", loss.fused_gradient))
    if loss.stable is not None:
        steps.append(("stable forward form computed by the kernel", loss.stable))
    steps.append(("dL/dz_i", loss.gradient() / n))
    return Derivation(loss.name, "loss", f"{loss.description}; targets: {loss.targets}",
                      loss.forward, {"z": loss.gradient() / n}, None, steps, parameters=loss.parameters)


def derive_cross_entropy() -> Derivation:
    """Softmax cross-entropy: the textbook form, its raw derivative, and softmax(z) - t."""
    raw = cross_entropy_raw_gradient(0)
    steps: list[tuple[str, object]] = [
        ("forward, per row (shown for C = 3 classes; L is the mean over the n rows)",
         sp.Eq(sp.Symbol("l"), CROSS_ENTROPY_FORWARD)),
        ("dl/dz1 = diff(l, z1)", raw),
        ("fused: dl/dz_j = softmax(z)_j (t1 + t2 + t3) - t_j; softmax(z)_j - t_j for one-hot rows",
         sp.factor_terms(sp.simplify(raw))),
        ("stable forward per element, w = z - max(z), s = sum(exp(w))", CROSS_ENTROPY_STABLE_TERM),
        ("dL/dz_j = (softmax(z) S - t)/n, S the row's target sum (softmax(z) - t over n for one-hot rows)",
         CROSS_ENTROPY_FUSED_GRADIENT),
    ]
    return Derivation(
        "cross_entropy", "loss",
        "softmax + negative log-likelihood on logits (torch cross_entropy); targets: class "
        "indices or probabilities", CROSS_ENTROPY_FORWARD,
        {"z": CROSS_ENTROPY_FUSED_GRADIENT}, None, steps)


def derive_multi_margin() -> Derivation:
    """The multi-class hinge's per-pair term and its two derivatives."""
    dzy, dzi = margin_gradients()
    steps: list[tuple[str, object]] = [
        ("forward per row with label y: l = (1/C) sum over i != y of", MARGIN_TERM),
        ("d term / dz_y", dzy),
        ("d term / dz_i", dzi),
    ]
    return Derivation("multi_margin", "loss",
                      "multi-class hinge for C outputs (torch multi_margin_loss, margin 1); "
                      "used by 'hinge' when the model has more than one output",
                      MARGIN_TERM, {"z_y": dzy, "z_i": dzi}, None, steps)


LOSS_NAMES = ("mse", "mae", "huber", "cross_entropy", "binary_cross_entropy", "hinge", "poisson_nll")
#: Every loss kernel's facts by name (multi_margin too: the kernels hinge uses with several outputs).
FACTS: dict[str, LossFacts] = {
    **{name: ELEMENTWISE_LOSSES[name].facts if name in ELEMENTWISE_LOSSES else CROSS_ENTROPY_FACTS
       for name in LOSS_NAMES},
    "multi_margin": MULTI_MARGIN_FACTS,
}


def exports() -> dict[str, object]:
    """The facts as `generated/losses/__init__.py` holds them (read by the runtime and the CLI)."""
    return {
        "NAMES": LOSS_NAMES,
        "LAYOUT": {name: f.layout for name, f in FACTS.items()},
        "CLASSIFIES": tuple(name for name, f in FACTS.items() if f.classifies),
        "OUTPUTS": {name: f.outputs for name, f in FACTS.items()},
        "WIDE": {name: f.wide for name, f in FACTS.items() if f.wide},
        "MODULES": {name: f.module or name for name, f in FACTS.items()},
        "INSTEAD": {name: f.instead for name, f in FACTS.items() if f.instead},
        **parameter_exports({name: loss.parameters for name, loss in ELEMENTWISE_LOSSES.items() if loss.parameters}),
    }

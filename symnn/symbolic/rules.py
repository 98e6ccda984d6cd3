"""Rewrite rules, kept as data: each names what it does, so `derive` can show which were applied.

Two kinds:
- conventions: where calculus leaves a choice (the derivative at a kink), PyTorch's choice;
- stable forms: algebraically equal expressions that do not overflow, applied before printing code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp


class _Rewritten(sp.Function):
    """A function that stands for a plain SymPy form (`_eval_rewrite_as_log`/`_exp`): numbers
    evaluate through that form, so `softplus(2)` in a formula is a number like any other."""

    def _eval_evalf(self, prec):  # noqa: D102
        return self.rewrite(sp.log).rewrite(sp.exp)._eval_evalf(prec)


class softplus_stable(_Rewritten):  # noqa: N801 - printed name
    """log(1 + exp(a)) computed as max(a, 0) + log1p(exp(-|a|)): finite for every float a."""

    nargs = 1

    def _eval_rewrite_as_log(self, a, **kwargs):  # noqa: D102
        return sp.log(1 + sp.exp(a))

    def fdiff(self, argindex=1):  # noqa: D102 - the chain rule through the rewrite, derived
        a = sp.Dummy("a", real=True)
        return sp.diff(sp.log(1 + sp.exp(a)), a).subs(a, self.args[0])


class log1p(_Rewritten):  # noqa: N801 - printed name
    """log(1 + a), accurate for small a."""

    nargs = 1

    def _eval_rewrite_as_log(self, a, **kwargs):  # noqa: D102
        return sp.log(1 + a)

    def fdiff(self, argindex=1):  # noqa: D102
        return 1 / (1 + self.args[0])


#: The symbol `exp(-|x|)` is bound to in kernels that `exp_sign_split` rewrote.
U = sp.Symbol("u", positive=True)


def _linear_exps(expr: sp.Expr, x: sp.Symbol) -> dict[sp.Expr, sp.Expr] | None:
    """exp(k*x) -> k for every exponential in expr, or None if one is not of that form."""
    found = {}
    for e in expr.atoms(sp.exp):
        k = sp.simplify(e.args[0] / x)
        if not (k.is_number and k.is_real) or k == 0:
            return None
        found[e] = k
    return found


def exp_sign_split(expr: sp.Expr, x: sp.Symbol) -> sp.Expr:
    """Rewrite exp(k*x) through u = exp(-|x|) <= 1 on each side of 0, so nothing overflows.

    x*exp(-x)/(1 + exp(-x))**2 is NaN at x = -1000 (inf/inf); with u it is x*u/(u + 1)**2 there.
    Returns a Piecewise in x and the symbol U, or expr unchanged where the rule does not apply.
    """
    if isinstance(expr, sp.Piecewise) or expr.free_symbols != {x}:
        return expr
    exps = _linear_exps(expr, x)
    if not exps:
        return expr
    positive = _grouped(sp.cancel(expr.xreplace({e: U ** (-k) for e, k in exps.items()})), x)
    negative = _grouped(sp.cancel(expr.xreplace({e: U ** k for e, k in exps.items()})), x)
    return sp.Piecewise((positive, x >= 0), (negative, True))


def _grouped(fraction: sp.Expr, x: sp.Symbol) -> sp.Expr:
    """`cancel`'s numerator with its terms in x collected: Mish's -t*t*x + t*u + t + x is 0 at
    x = 1e20 (t = 1), x*(1 - t*t) + t*u + t is 1."""
    num, den = sp.fraction(fraction)
    return sp.collect(sp.expand(num), x) / den


class expm1(_Rewritten):  # noqa: N801 - printed name
    """exp(a) - 1, accurate for small a (1 - exp(-y) at y = 1e-13 keeps its digits)."""

    nargs = 1

    def fdiff(self, argindex=1):  # noqa: D102
        return sp.exp(self.args[0])

    def _eval_rewrite_as_exp(self, a, **kwargs):  # noqa: D102
        return sp.exp(a) - 1


def _expm1(expr: sp.Expr) -> sp.Expr:
    """c*exp(a) - c -> c*expm1(a), c a number (exp(a) - 1, 1 - exp(a), SELU's 1.7581*exp(x) - 1.7581),
    wherever a sum holds them."""

    def rewrite(e: sp.Add) -> sp.Expr:
        terms = list(e.args)
        for term in terms:
            c, rest = term.as_coeff_Mul()
            if isinstance(rest, sp.exp) and -c in terms and c != 0:
                terms.remove(term)
                terms.remove(-c)
                return sp.Add(c * expm1(rest.args[0]), *terms)
        return e

    return expr.replace(lambda e: isinstance(e, sp.Add), rewrite)


@dataclass(frozen=True)
class Rule:
    """A named rewrite: `apply(expr)` returns an equal expression."""

    name: str
    description: str
    apply: Callable[[sp.Expr], sp.Expr]


def _is_tie(a: sp.Expr) -> bool:
    """Whether Heaviside(a) compares two varying branches (max(f, g) -> H(f - g)), not a value
    against a constant (relu: max(0, x) -> H(x))."""
    return isinstance(a, sp.Add) and sum(1 for term in a.args if term.free_symbols) >= 2


def _heaviside_at_zero(expr: sp.Expr) -> sp.Expr:
    return expr.replace(
        lambda e: isinstance(e, sp.Heaviside) and (len(e.args) == 1 or e.args[1] == sp.S.Half),
        lambda e: sp.Heaviside(e.args[0], sp.S.Half if _is_tie(e.args[0]) else 0),
    )


def _dirac_to_zero(expr: sp.Expr) -> sp.Expr:
    return expr.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)


def _softplus(expr: sp.Expr) -> sp.Expr:
    """log(c + exp(a)), c > 0 a number, as log(c) + softplus_stable(a - log(c)) (for c = 1, softplus
    itself): SymPy folds softplus(softplus(x)) into log(exp(x) + 2), which overflows as written."""
    w, c = sp.Wild("w"), sp.Wild("c", properties=[lambda k: k.is_number and k.is_positive])

    def match(e: sp.Basic):
        if not isinstance(e, sp.log) or e.args[0].is_number:
            return None
        m = e.args[0].match(c + sp.exp(w))
        return m if m is not None and m[w] != 0 else None

    def rewrite(e: sp.log) -> sp.Expr:
        m = match(e)
        return softplus_stable(m[w]) if m[c] == 1 else sp.log(m[c]) + softplus_stable(m[w] - sp.log(m[c]))

    return expr.replace(lambda e: match(e) is not None, rewrite)


#: Conventions applied to every derived gradient (display and code alike).
CONVENTIONS: tuple[Rule, ...] = (
    Rule(
        "heaviside_at_zero",
        "the derivative at a kink is taken as 0, as PyTorch does (ReLU'(0) = 0); where max or min "
        "ties two varying branches, each gets half (torch.maximum)",
        _heaviside_at_zero,
    ),
)

#: Rules applied only to the expressions that are printed as code.
KERNEL_RULES: tuple[Rule, ...] = (
    Rule(
        "dirac_is_zero",
        "DiracDelta has no value to compute: it is 0 everywhere except a single point",
        _dirac_to_zero,
    ),
    Rule(
        "expm1",
        "exp(a) - 1 -> expm1(a): no cancellation when exp(a) is close to 1",
        _expm1,
    ),
    Rule(
        "stable_softplus",
        "log(1 + exp(a)) -> max(a, 0) + log1p(exp(-|a|)), finite for large a",
        _softplus,
    ),
)


def _heaviside_value(expr: sp.Expr) -> sp.Expr:
    def branches(e: sp.Heaviside) -> sp.Expr:
        arg, h0 = e.args[0], (e.args[1] if len(e.args) > 1 else sp.S.Half)
        if h0 == 0:
            return sp.Piecewise((1, arg > 0), (0, True))
        return sp.Piecewise((1, arg > 0), (h0, sp.Eq(arg, 0)), (0, True))

    return expr.replace(lambda e: isinstance(e, sp.Heaviside), branches)


#: Rules applied only to a function's value (an activation's forward), not to its derivative.
VALUE_RULES: tuple[Rule, ...] = (
    Rule(
        "heaviside_value",
        "H(a) as a value is 1 where a > 0 and 0 otherwise, NaN included, as torch.heaviside(a, 0); "
        "as a derivative factor, NaN passes the gradient, as torch's relu backward",
        _heaviside_value,
    ),
)


def apply_conventions(expr: sp.Expr) -> sp.Expr:
    """PyTorch's choices where the derivative is not unique."""
    for rule in CONVENTIONS:
        expr = rule.apply(expr)
    return expr


def kernel_form(expr: sp.Expr) -> tuple[sp.Expr, tuple[str, ...]]:
    """The form printed as code, and the names of the rules that changed it."""
    applied = []
    for rule in KERNEL_RULES:
        new = rule.apply(expr)
        if new != expr:
            applied.append(rule.name)
        expr = new
    return expr, tuple(applied)


def stable_elementwise(expr: sp.Expr, x: sp.Symbol, value: bool = False) -> tuple[sp.Expr, tuple[str, ...]]:
    """`kernel_form`, then `exp_sign_split` in the variable x: the form an elementwise kernel computes
    (`value`: the expression is a function's value, not a derivative: VALUE_RULES first)."""
    value_applied: tuple[str, ...] = ()
    for rule in VALUE_RULES if value else ():
        new = rule.apply(expr)
        if new != expr:
            value_applied += (rule.name,)
        expr = new
    expr, applied = kernel_form(expr)
    applied = value_applied + applied
    split = exp_sign_split(expr, x)
    if split != expr:
        applied += ("exp_sign_split",)
    return split, applied

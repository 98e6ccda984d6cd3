"""A user's loss typed as a formula in the output z and the target t (``log(cosh(z - t))``).

Parsed like an activation formula (`symnn.symbolic.parse`: never evaluated, bounded work), in the
variables z and t only; dl/dz by `sympy.diff` with the built-in losses' conventions; averaged over
every element like the elementwise losses (torch's reduction='mean'). It is a regression loss: no
classes, and the model has as many outputs as the targets have columns. The kernels are the
built-in elementwise losses' (`symnn.codegen.emit.elementwise_loss_module`), from `as_loss`.
"""

from __future__ import annotations

import sympy as sp

from symnn.errors import UserInputError
from symnn.symbolic.derivation import SIMPLIFY_LIMIT, Derivation, simplest
from symnn.symbolic.losses import ElementwiseLoss, n, t, z
from symnn.symbolic.parse import parse_expression
from symnn.symbolic.rules import VALUE_RULES, apply_conventions

#: The variables a loss formula is written in: the model's output and the target.
VARIABLES = ("z", "t")
#: The formula error messages suggest.
EXAMPLE = "log(cosh(z - t))"
DESCRIPTION = "a user's loss, averaged over all n elements (torch reduction='mean'); targets: values"

_FIX = f"write a loss in z (the model's output) and t (the target), such as {EXAMPLE!r}"
#: Names from other formulas a user may type in a loss, each refused with what to write instead.
MISPLACED = {
    "x": f"a loss formula has no x (x is an activation's input); {_FIX}",
    "y": f"a loss formula has no y: the target is t and the model's output z; {_FIX}",
}


def parse_loss(text: str) -> sp.Expr:
    """The formula l(z, t), parsed safely; refused (one line, naming the fix) unless it depends on z."""
    expr = parse_expression(text, VARIABLES, example=EXAMPLE, misplaced=MISPLACED)
    if not expr.free_symbols:
        raise UserInputError(f"loss formula {_short(text)} depends on neither z nor t; {_FIX}")
    if z not in expr.free_symbols:
        raise UserInputError(f"loss formula {_short(text)} does not depend on z, the model's output, so its "
                             f"gradient is 0 and nothing would train; {_FIX}")
    return expr


def _short(text: str) -> str:
    quoted = repr(str(text).strip())
    return quoted if len(quoted) <= 60 else quoted[:56] + "...'"


def derived_gradient(forward: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """(dl/dz as `sympy.diff` gives it with the conventions applied, the form the kernels use): the
    simpler of it and `sympy.simplify` of it, as for the built-in elementwise losses, but a large
    derivative is left unsimplified (`SIMPLIFY_LIMIT`) so that any formula derives in seconds."""
    raw = apply_conventions(sp.diff(forward, z))
    if sp.count_ops(raw) > SIMPLIFY_LIMIT:
        return raw, raw
    return raw, simplest([raw, sp.simplify(raw)])


def _value_form(forward: sp.Expr) -> sp.Expr:
    """The forward as a value is computed (a step is 0 or 1 there, NaN included): VALUE_RULES."""
    for rule in VALUE_RULES:
        forward = rule.apply(forward)
    return forward


def as_loss(text: str, name: str) -> ElementwiseLoss:
    """The formula as an elementwise loss named `name` (its kernels' prefix), its gradient derived
    once here (the loss carries it, so the emitter simplifies nothing again)."""
    forward = parse_loss(text)
    _, gradient = derived_gradient(forward)
    value = _value_form(forward)
    return ElementwiseLoss(name, DESCRIPTION, forward, stable=value if value != forward else None,
                           fused_gradient=gradient)


def derive_loss(text: str) -> Derivation:
    """L = (1/n) sum l(z_i, t_i) for the user's l, and dL/dz_i: what `symnn derive --loss-expr` prints."""
    forward = parse_loss(text)
    raw, gradient = derived_gradient(forward)
    steps: list[tuple[str, object]] = [
        ("forward, per element (L is its mean over all n elements)", sp.Eq(sp.Symbol("l"), forward)),
        ("dl/dz = diff(l, z)", raw),
    ]
    if gradient != raw:
        steps.append(("simplified", gradient))
    value = _value_form(forward)
    if value != forward:
        steps.append(("forward computed by the kernel", value))
    steps.append(("dL/dz_i", gradient / n))
    return Derivation(str(text).strip(), "loss", DESCRIPTION, forward, {"z": gradient / n}, None, steps)


__all__ = ["EXAMPLE", "VARIABLES", "as_loss", "derive_loss", "derived_gradient", "parse_loss", "t", "z"]

"""`symnn.derive`: a registered name or a user's formula -> its Derivation."""

from __future__ import annotations

from symnn.symbolic import registry
from symnn.symbolic.derivation import Derivation, derive_elementwise


def derive(name_or_expr: str) -> Derivation:
    """Registered names first; anything else is parsed as a formula in x."""
    text = str(name_or_expr).strip()
    if text in registry.names():
        return registry.derivation(text)
    return derive_formula(text)


def derive_formula(text: str) -> Derivation:
    """A user's elementwise activation in x, parsed safely (never eval'd) and derived."""
    from symnn.symbolic.parse import parse_expression

    expr = parse_expression(text, ("x",))
    (x,) = expr.free_symbols or (None,)
    if x is None:
        from symnn.errors import UserInputError

        raise UserInputError(f"expression {text!r} does not depend on x; write a formula in x such as 'x*tanh(x)'")
    return derive_elementwise(text, expr, x, "a user's activation", kind="activation")

"""`symnn.derive`: a registered name or a user's formula -> its Derivation."""

from __future__ import annotations

import re
from dataclasses import replace

from symnn.symbolic import registry
from symnn.symbolic.derivation import Derivation, derive_elementwise

#: `symnn train --optimizer` names that are options of a registered optimizer: name -> (its
#: derivation's name, the options the train name sets).
OPTIMIZER_ALIASES = {"momentum": ("sgd", "momentum=0.9"), "nesterov": ("sgd", "momentum=0.9, nesterov=True")}

#: A model spec has a dense layer: 'dense(2,3) tanh dense(3,1) mse'.
_MODEL_SPEC = re.compile(r"\bdense\s*\(", re.IGNORECASE)
#: A formula naming z or t and no x is a loss ('log(cosh(z - t))'), else an activation in x.
_LOSS_VARIABLE, _X = re.compile(r"\b[zt]\b"), re.compile(r"\bx\b")


def derive(name_or_expr: str) -> Derivation:
    """A registered name, an optimizer name `train` accepts (momentum, nesterov), a model spec
    ('dense(2,3) tanh dense(3,1) mse': the whole chain rule), a loss formula in z and t (one naming
    z or t and no x: 'log(cosh(z - t))'), or else a formula in x."""
    text = str(name_or_expr).strip()
    if text in registry.names():
        return registry.derivation(text)
    if text in OPTIMIZER_ALIASES:
        base, options = OPTIMIZER_ALIASES[text]
        d = registry.derivation(base)
        return replace(d, name=text, description=f"{d.description}; '{text}' is torch.optim.SGD with {options} "
                       f"(symnn train --optimizer {text}): the lines marked 'if momentum > 0' apply",
                       notes=[*d.notes, f"{text}: torch.optim.SGD({options})"])
    if _MODEL_SPEC.search(text):
        from symnn.symbolic.chain import derive_model

        return derive_model(text)
    if _LOSS_VARIABLE.search(text) and not _X.search(text):
        return derive_loss_formula(text)
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


def derive_loss_formula(text: str) -> Derivation:
    """A user's loss in the output z and target t, parsed safely (never eval'd) and derived: the mean
    over all elements of l(z, t), and dL/dz_i (`symnn derive --loss-expr`)."""
    from symnn.symbolic.loss_formula import derive_loss

    return derive_loss(text)

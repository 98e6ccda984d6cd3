"""A formula's work is bounded: refused at once, or derived and compiled within seconds."""

from __future__ import annotations

import time

import pytest

from symnn.errors import UserInputError
from symnn.symbolic.api import derive_formula

REFUSED = {
    "abs(abs(abs(abs(abs(abs(abs(abs(x))))))))": "kinks",
    "exp(exp(exp(exp(exp(exp(exp(exp(exp(exp(exp(exp(exp(exp(exp(exp(exp(exp(exp(exp(x))))))))))))))))))))":
        "nests function calls",
    "max(x, 2*x-1, 3*x-2, 4*x-3, 5*x-4, 6*x-5, 7*x-6, 8*x-7, 9*x-8, 10*x-9, 11*x-10, 12*x-11)": "kinks",
    " + ".join(f"tanh({k}*x)*exp(-{k}*x*x)" for k in range(1, 25)): "functions",
}


@pytest.mark.parametrize("formula, reason", REFUSED.items(), ids=[f[:30] for f in REFUSED])
def test_formulas_that_would_take_minutes_are_refused_at_once(formula, reason):
    start = time.perf_counter()
    with pytest.raises(UserInputError, match=reason):
        derive_formula(formula)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("formula", [
    " + ".join(f"tanh({k}*x)" for k in range(1, 13)),  # a sum of 12 tanh(k*x): left unsimplified
    "exp(exp(exp(exp(exp(exp(x))))))",
    "max(x, 2*x - 1, 3*x - 2, 4*x - 3)",
    "abs(abs(abs(abs(x))))*abs(x - 1)*abs(x + 1)",
    "x**x**x",  # its exact value at x = 1e20 has an exponent of 1e21 digits: skipped, not computed
])
def test_large_formulas_are_derived_in_seconds(formula):
    start = time.perf_counter()
    d = derive_formula(formula)
    assert d.gradients["x"].free_symbols
    assert time.perf_counter() - start < 20  # a generous bound for a loaded 2-core machine (minutes before)

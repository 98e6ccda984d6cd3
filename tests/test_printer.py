"""The kernel printer against SymPy: printed code evaluates to the expression it was printed from.

Random expression trees (powers in denominators, nested quotients, unary minus, max/min, branches)
are printed, run as Python, and compared with SymPy's own evaluation at random points.
"""

from __future__ import annotations

import math
import random

import pytest
import sympy as sp

from symnn import ir, vecmath
from symnn.codegen.printer import lower, print_expr

#: The printed kernels' vectorisable functions, by the names they print (libm's for a Python float).
VECMATH = {f.__name__: f for f in vecmath.FUNCTIONS.values()}

x, g = sp.symbols("x g", real=True)

_UNARY = [sp.exp, sp.tanh, sp.Abs, sp.sin, lambda a: sp.log(1 + a * a), lambda a: sp.sqrt(1 + a * a), sp.erf]
_POWERS = [sp.Integer(k) for k in (-4, -3, -2, -1, 2, 3, 4, 5)] + [ sp.Rational(1, 2), sp.Rational(-1, 2), sp.Rational(3, 2)]


def _tree(rng: random.Random, depth: int) -> sp.Expr:
    if depth == 0 or rng.random() < 0.2:
        return rng.choice([x, g, x, sp.Integer(rng.randint(-3, 3)) or sp.Integer(2), sp.Rational(rng.randint(1, 9), 4)])
    kind = rng.randrange(8)
    a, b = _tree(rng, depth - 1), _tree(rng, depth - 1)
    if kind == 0:
        return a + b
    if kind == 1:
        return a - b
    if kind == 2:
        return a * b
    if kind == 3:
        return a / (1 + b * b)  # a quotient whose denominator is never 0
    if kind == 4:
        e = rng.choice(_POWERS)
        base = 1 + a * a if (e < 0 or not e.is_integer) else a
        return base**e
    if kind == 5:
        return rng.choice(_UNARY)(a)
    if kind == 6:
        return rng.choice([sp.Max, sp.Min])(a, b)
    return -a / (2 + sp.Abs(b)) ** rng.randint(1, 4)


def _run(code: str, xv: float, gv: float) -> float:
    env = {"T": float, "math": math, "abs": abs, "max": max, "min": min, "x": xv, "g": gv, **VECMATH}
    return eval(code, env)  # our printer's output, in a test: the thing under test


def _close(got: float, want: float) -> bool:
    return math.isclose(got, want, rel_tol=1e-7, abs_tol=1e-9 * max(1.0, abs(want)))


@pytest.mark.parametrize("seed", range(6))
def test_printed_random_trees_evaluate_to_the_expression(seed):
    rng = random.Random(seed)
    checked = 0
    for _ in range(60):
        expr = _tree(rng, 4)
        code = print_expr(expr)
        for _ in range(3):
            xv, gv = rng.uniform(-2.5, 2.5), rng.uniform(-2.5, 2.5)
            exact = complex(sp.N(expr.subs({x: xv, g: gv}), 30))
            if exact.imag or not math.isfinite(exact.real) or abs(exact.real) > 1e12:
                continue
            try:
                got = _run(code, xv, gv)
            except (OverflowError, ZeroDivisionError):
                continue
            # Either the exact value, or what the same tree gives in floats through SymPy's own printer.
            floats = sp.lambdify((x, g), expr, modules="math")(xv, gv)
            assert _close(got, exact.real) or _close(got, floats), (sp.sstr(expr), code, xv, gv)
            checked += 1
    assert checked > 100


@pytest.mark.parametrize("expr, at, want", [
    (g / x**2, {x: 2.0, g: 1.0}, 0.25),
    (-2 * x / (1 + x**2) ** 2, {x: 2.0}, -0.16),
    (x / (1 + sp.Abs(x)) ** 2, {x: 2.0}, 2 / 9),
    (g / (x**3 * (1 + x)), {x: 2.0, g: 3.0}, 0.125),
])
def test_a_power_in_a_denominator_keeps_its_brackets(expr, at, want):
    assert _run(print_expr(expr), at.get(x, 0.0), at.get(g, 0.0)) == pytest.approx(want)


def test_branches_lower_to_an_if_chain_that_computes_the_same_values():
    expr = sp.Piecewise((x / (1 + x) ** 2, x > 0), (g / x**2, x < -1), (x * g, True))
    (chain,) = lower("out", expr)
    assert isinstance(chain, ir.If) and [test is None for test, _ in chain.branches] == [False, False, True]
    lines = ir.print_block([chain], "")
    for xv in (2.0, -3.0, -0.5, 0.0):
        env = {"T": float, "math": math, "abs": abs, "max": max, "min": min, "x": xv, "g": 1.5, **VECMATH}
        exec("\n".join(lines), env)
        assert env["out"] == pytest.approx(float(expr.subs({x: xv, g: 1.5})))


@pytest.mark.parametrize("expr", ["0.96**(t*m)", "2**(t + 1)", "t**(-m)", "(t + 1)**m", "t**(m/3)", "t**(-1.5)"])
def test_a_power_with_a_compound_exponent_is_bracketed(expr):
    """`2**(t + 1)` printed as `2**t + 1` would be another number (** binds tighter than + and *)."""
    t, m = sp.symbols("t m", real=True)
    e = sp.sympify(expr, locals={"t": t, "m": m})
    value = eval(print_expr(e), {"T": float, "math": math, "t": 1.7, "m": 0.3, **VECMATH})
    assert value == pytest.approx(float(e.subs({t: 1.7, m: 0.3})), rel=1e-14)

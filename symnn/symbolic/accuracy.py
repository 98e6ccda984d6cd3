"""How accurately a kernel would compute a derivative: its form evaluated in float64 against the exact
value (mpmath, 40 digits), at points spread over the whole line.

Used to choose among equal forms of a derivative: a form written in the output y (ELU's `y + 1`,
`exp(sigmoid(x))`'s `y*(1 - log(y))*log(y)`) may cancel where the form in x does not, and one that
SymPy solved for the wrong branch (`tanh(x)**2` -> `2*sqrt(y)*(1 - y)`) is not equal at all.
"""

from __future__ import annotations

import math

import mpmath
import sympy as sp

from symnn.symbolic.rules import U, expm1, log1p, softplus_stable, stable_elementwise

_MAGNITUDES = (0.0, 1e-8, 1e-4, 0.01, 0.1, 0.3, 0.5, 0.9, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 12.0, 17.0, 25.0, 37.0,
               50.0, 80.0, 200.0, 700.0, 1e4, 1e20)
#: Sample points: both signs of each magnitude, so a form right for x > 0 only is caught.
POINTS: tuple[float, ...] = tuple(sorted({s * m for m in _MAGNITUDES for s in (1.0, -1.0)}))


def _heaviside(a: float, h0: float = 0.5) -> float:
    return 1.0 if a > 0 else (h0 if a == 0 else 0.0)


def _float_function(expr: sp.Expr, x: sp.Symbol, y: sp.Symbol):
    """expr in (x, y) as the float64 function a kernel computes: its kernel form (the stable rewrites
    applied) printed by the kernel printer, statement for statement, so the order of operations,
    and so the rounding, is the kernel's."""
    from symnn.codegen.printer import statements  # printing is codegen's; imported when first used

    form, _ = stable_elementwise(expr, x)
    body = "\n".join(statements("out", form, "    "))
    source = f"def kernel({x.name}, {y.name}, {U.name}):\n{body}\n    return out\n"
    from symnn import vecmath

    env = {"T": float, "math": math, "abs": abs, "max": max, "min": min,
           **{f.__name__: f for f in vecmath.FUNCTIONS.values()}}  # float64: vecmath's forms (within MAX_ULP)
    exec(compile(source, "<kernel form>", "exec"), env)  # the printer's output of a parsed expression
    return env["kernel"]


def _call(func, *args: float) -> float:
    try:
        return float(func(*args))
    except OverflowError:
        return math.inf
    except (ZeroDivisionError, ValueError, TypeError):
        return math.nan


#: Past this argument exp, sinh and cosh overflow any float by far: the point is skipped, rather than
#: mpmath computing exp(exp(700)) with a 10**304-digit exponent.
_MP_ARGUMENT_LIMIT = 1e25


def _bounded(func):
    def call(a):
        if abs(a) > _MP_ARGUMENT_LIMIT:
            raise OverflowError("argument too large to evaluate exactly")
        return func(a)

    return call


def _power(a, b):
    """a**b, refused (as an overflow) where its exponent alone would be astronomically large:
    x**x**x at x = 1e20 would otherwise hold mpmath for ever."""
    if a != 0 and abs(b * mpmath.log(abs(a))) > _MP_ARGUMENT_LIMIT:
        raise OverflowError("power too large to evaluate exactly")
    return mpmath.power(a, b)


_MP_FUNCTIONS = {"Heaviside": _heaviside, "sign": mpmath.sign, "exp": _bounded(mpmath.exp),
                 "sinh": _bounded(mpmath.sinh), "cosh": _bounded(mpmath.cosh), "mp_power": _power}
_MP_POWER = sp.Function("mp_power")


def _exact(expr: sp.Expr, x: sp.Symbol):
    """expr as an mpmath function of x (DiracDelta, which no kernel computes, as 0)."""
    mp_expr = expr.replace(lambda e: isinstance(e, (softplus_stable, log1p, expm1)),
                           lambda e: e.rewrite(sp.log).rewrite(sp.exp))
    mp_expr = mp_expr.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
    mp_expr = mp_expr.replace(lambda e: isinstance(e, sp.Pow) and not e.exp.is_number,
                              lambda e: _MP_POWER(e.base, e.exp))
    return sp.lambdify(x, mp_expr, modules=[_MP_FUNCTIONS, "mpmath"])


#: A value this close to the exact one (relatively) counts as accurate.
ACCURATE = 1e-9


def inaccurate_points(f: sp.Expr, d: sp.Expr, forms: list[sp.Expr], x: sp.Symbol, y: sp.Symbol,
                      where: sp.Basic = sp.true, values: dict | None = None) -> list[int]:
    """For each form of the derivative d of f (forms in x and/or y), at how many of POINTS (where
    `where` holds) its float64 value is off by more than ACCURATE, y computed from f first.

    `values`: a number for each parameter symbol (a definition's defaults, such as leaky_relu's
    slope 1/100): the forms are compared at those values, where a float must be computed."""
    if values:
        f, d, where = f.subs(values), d.subs(values), where.subs(values)
        forms = [form.subs(values) for form in forms]
    exact_d = _exact(d, x)
    f_float = _float_function(f, x, y)
    funcs = [_float_function(form, x, y) for form in forms]
    worst = [0] * len(forms)
    with mpmath.workdps(40):
        for p in POINTS:
            if where is not sp.true and not bool(where.subs(x, p)):
                continue
            try:
                exact = complex(exact_d(mpmath.mpf(p)))
            except (ZeroDivisionError, ValueError, OverflowError, TypeError):
                continue
            if exact.imag or not math.isfinite(exact.real):
                continue
            yv = _call(f_float, p, math.nan, math.exp(-abs(p)))
            for i, func in enumerate(funcs):
                got = _call(func, p, yv, math.exp(-abs(p)))
                scale = max(abs(exact.real), 1e-300)
                err = 0.0 if got == exact.real else abs(got - exact.real) / scale
                worst[i] += not err <= ACCURATE
    return worst


def equal_everywhere(f: sp.Expr, d: sp.Expr, form: sp.Expr, x: sp.Symbol, y: sp.Symbol) -> bool:
    """Whether `form` (in y) is d for every real x: SymPy proves form(f(x)) - d(x) == 0."""
    try:
        return sp.simplify(form.subs(y, f) - d) == 0
    except (TypeError, ValueError, NotImplementedError, RecursionError):
        return False

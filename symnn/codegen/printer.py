"""SymPy -> Numba-compatible Python: expressions and statements for loop kernels.

Every number is printed as `T(value)`, where the kernel binds `T = <array>.dtype.type`, so float32
kernels compute in float32 (a bare `0.5` would be float64 in Numba). `lower` turns an assignment
into kernel statements (`symnn.ir`): a Piecewise becomes an `if` chain with common subexpressions
eliminated per branch, so no branch's temporaries run where its guard is false (log of a negative
number, say).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from symnn import ir


class KernelPrinter(PythonCodePrinter):
    """Prints scalar expressions with dtype-typed constants and math.* functions."""

    def __init__(self, vectorised: bool = True) -> None:
        super().__init__({"fully_qualified_modules": True, "standard": "python3"})
        self.vectorised = vectorised

    def _typed(self, value: str) -> str:
        return f"T({value})"

    def _print_Integer(self, expr: sp.Integer) -> str:
        return self._typed(str(int(expr)))

    _print_One = _print_Integer
    _print_Zero = _print_Integer
    _print_NegativeOne = _print_Integer

    def _print_Rational(self, expr: sp.Rational) -> str:
        return self._typed(repr(float(expr)))

    _print_Half = _print_Rational

    def _print_Float(self, expr: sp.Float) -> str:
        return self._typed(repr(float(expr)))

    def _print_NaN(self, expr: sp.Expr) -> str:
        return self._typed("math.nan")

    def _print_Pi(self, expr: sp.Expr) -> str:
        return self._typed("math.pi")

    def _print_Exp1(self, expr: sp.Expr) -> str:
        return self._typed("math.e")

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        base, e = expr.args
        b = self.parenthesize(base, sp.printing.precedence.PRECEDENCE["Mul"])
        if e.is_Integer and 1 <= abs(int(e)) <= 4:
            product = "*".join([b] * abs(int(e)))
            return product if e > 0 else f"T(1)/{product}" if e == -1 else f"T(1)/({product})"
        if e == sp.S.Half:
            return f"math.sqrt({bare(self._print(base))})"
        if e == -sp.S.Half:
            return f"T(1)/math.sqrt({bare(self._print(base))})"
        # Both sides bracketed unless atoms: `2**(t + 1)`, not `2**t + 1` (** binds tighter than +, *).
        prec = sp.printing.precedence.PRECEDENCE["Pow"]
        exponent = self._print(e) if e.is_Atom else f"({self._print(e)})"  # a number prints as the call T(...)
        return f"{self.parenthesize(base, prec)}**{exponent}"

    def _print_Mul(self, expr: sp.Mul) -> str:
        """SymPy prints a single denominator bare (`g/x**2`); ours prints x**2 as `x*x`, so it is
        bracketed: `g/(x*x)`, not `(g/x)*x`."""
        dens = [f for f in sp.Mul.make_args(expr) if f.is_Pow and f.exp.is_Rational and f.exp.is_negative]
        if len(dens) == 1:
            den = sp.Pow(dens[0].base, -dens[0].exp, evaluate=False)
            text = self._print(den)
            if not den.exp.is_Integer or den.exp == 1 or text.startswith(("math.", "v")):
                return super()._print_Mul(expr)
            num = sp.Mul(*[f for f in sp.Mul.make_args(expr) if f is not dens[0]])
            return f"{self.parenthesize(num, sp.printing.precedence.PRECEDENCE['Mul'], strict=True)}/({text})"
        return super()._print_Mul(expr)

    def parenthesize(self, item: sp.Basic, level: int, strict: bool = False) -> str:
        """SymPy's, without brackets around a number: ours print as the call `T(0.5)`, never `1/2`."""
        if isinstance(item, sp.Number):
            return self._print(item)
        return super().parenthesize(item, level, strict)

    def _print_Abs(self, expr: sp.Abs) -> str:
        return f"abs({bare(self._print(expr.args[0]))})"

    def _print_Max(self, expr: sp.Max) -> str:
        return self._nested(">", expr.args)

    def _print_Min(self, expr: sp.Min) -> str:
        return self._nested("<", expr.args)

    def _nested(self, op: str, args: tuple) -> str:
        """max/min that propagate NaN, as torch.maximum/minimum (Python's max(0, nan) is 0)."""
        out = self._print(args[-1])
        for a in reversed(args[:-1]):
            first = self._print(a)
            keep_first = f"{first} {op} {out}" if a.is_number else f"{first} != {first} or {first} {op} {out}"
            out = f"({first} if {keep_first} else {out})"
        return out

    def _print_softplus_stable(self, expr: sp.Expr) -> str:
        a = self._print(expr.args[0])
        return f"(max({bare(a)}, T(0)) + {self.function('log1p', self.function('exp', f'-abs({bare(a)})'))})"

    # exp, expm1, log, log1p, tanh and erf: symnn.vecmath's (branch-free forms within vecmath.MAX_ULP that
    # vectorise, in float32 and float64, where libm's scalar calls keep loops from SIMD), or libm's own
    # where the loop cannot vectorise anyway (see `libm`).
    def function(self, name: str, arg: str) -> str:
        """`name(arg)` as this printer calls it: `vexp(arg)` or `math.exp(arg)`."""
        return f"v{name}({bare(arg)})" if self.vectorised else f"math.{name}({bare(arg)})"

    def _print_exp(self, expr: sp.Expr) -> str:
        return self.function("exp", self._print(expr.args[0]))

    def _print_expm1(self, expr: sp.Expr) -> str:
        return self.function("expm1", self._print(expr.args[0]))

    def _print_log(self, expr: sp.Expr) -> str:
        if len(expr.args) != 1:
            return super()._print_log(expr)
        return self.function("log", self._print(expr.args[0]))

    def _print_log1p(self, expr: sp.Expr) -> str:
        return self.function("log1p", self._print(expr.args[0]))

    def _print_tanh(self, expr: sp.Expr) -> str:
        return self.function("tanh", self._print(expr.args[0]))

    def _print_erf(self, expr: sp.Expr) -> str:
        return self.function("erf", self._print(expr.args[0]))

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        if expr.args[-1].cond != sp.true:
            raise ValueError(f"Piecewise without a default branch cannot be printed: {expr}")
        out = self._print(expr.args[-1].expr)
        for e, c in reversed(expr.args[:-1]):
            out = f"({self._print(e)} if {self._print(c)} else {out})"
        return out


def bare(text: str) -> str:
    """`text` without the brackets around all of it, if it has them: `(a + b)` -> `a + b`, where they
    would be a second pair (`f((a + b))`) or stand alone around a statement's expression."""
    if not text.startswith("("):
        return text
    depth = 0
    for i, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if depth == 0:
            return text[1:-1] if i == len(text) - 1 else text
    return text


#: The printers, by whether they call symnn.vecmath; the last of _MODE is the one in use.
_PRINTERS = {True: KernelPrinter(vectorised=True), False: KernelPrinter(vectorised=False)}
_MODE = [True]


@contextmanager
def libm() -> Iterator[None]:
    """Print exp, log, tanh, erf... as libm's `math.*` inside this block. For the losses' loops: they sum
    as they go, a reduction LLVM does not vectorise without reassociating (fastmath), and there libm's
    scalar calls are faster than vecmath's branch-free forms (measured: benchmarks/README.md)."""
    _MODE.append(False)
    try:
        yield
    finally:
        _MODE.pop()


def function(name: str, arg: str) -> str:
    """`name(arg)` as the printer in use calls it (`vexp(x)` or `math.exp(x)`)."""
    return _PRINTERS[_MODE[-1]].function(name, arg)


#: Most Piecewise parts folded outwards into `if` statements: folding n of them makes up to 3**n
#: branches (max of 4 lines became 64 KB that Numba compiled for minutes). Past it they stay inline
#: as conditional expressions, linear in size.
FOLD_LIMIT = 2


def to_branches(expr: sp.Expr) -> sp.Expr:
    """Heaviside and sign as Piecewise, folded outwards so branches become `if` statements."""
    expr = expr.replace(lambda e: isinstance(e, sp.Heaviside), _heaviside_branches)
    expr = expr.replace(
        lambda e: isinstance(e, sp.sign),
        lambda e: sp.Piecewise((1, e.args[0] > 0), (-1, e.args[0] < 0), (0, True)),
    )
    if len(expr.atoms(sp.Piecewise)) <= FOLD_LIMIT:
        expr = _drop_redundant_branches(sp.piecewise_fold(expr))
    return _numbers_evaluated(_not_real_is_nan(expr))


def _not_real_is_nan(expr: sp.Expr) -> sp.Expr:
    """A branch whose value is not real (sqrt(sign(x)) is I where x < 0) computes NaN, as torch's
    sqrt of a negative number does, instead of turning the kernel complex."""
    if isinstance(expr, sp.Piecewise):
        return sp.Piecewise(*[(sp.nan if e.has(sp.I) else e, c) for e, c in expr.args])
    return sp.nan if expr.has(sp.I) else expr


def _heaviside_branches(e: sp.Heaviside) -> sp.Piecewise:
    """H(a) with H(0) = h0, NaN sent to the 1 branch as torch's backward kernels send it (relu's
    gradient at NaN passes g: `a <= 0 ? 0 : g`)."""
    a, h0 = e.args[0], (e.args[1] if len(e.args) > 1 else sp.S.Half)
    if h0 == 0:
        return sp.Piecewise((0, a <= 0), (1, True))
    if h0 == 1:
        return sp.Piecewise((0, a < 0), (1, True))
    return sp.Piecewise((0, a < 0), (h0, sp.Eq(a, 0)), (1, True))


def _drop_redundant_branches(expr: sp.Expr) -> sp.Expr:
    if not isinstance(expr, sp.Piecewise):
        return expr
    kept: list[tuple] = []
    for e, c in expr.args:
        if kept and kept[-1][0] == e and c == sp.true:
            kept[-1] = (e, sp.true)
        elif kept and kept[-1][0] == e:
            kept[-1] = (e, sp.Or(kept[-1][1], c))
        else:
            kept.append((e, c))
    if len(kept) == 1:
        return kept[0][0]
    return sp.Piecewise(*kept)


def _numbers_evaluated(expr: sp.Expr) -> sp.Expr:
    """sqrt(2)/sqrt(pi) -> 0.797...: constants computed once here, not per element."""
    return expr.replace(
        lambda e: isinstance(e, sp.Expr) and e.is_number and not e.is_Atom and not e.is_Rational,
        lambda e: sp.Float(sp.N(e, 17), 17),
    )


def print_expr(expr: sp.Expr) -> str:
    """One expression as Numba-compatible Python."""
    return _PRINTERS[_MODE[-1]].doprint(expr)


def lower(target: str, expr: sp.Expr, op: str = "=") -> list[ir.Stmt]:
    """Statements computing `target op expr`: an `if` chain where it branches, CSE inside each branch."""
    expr = to_branches(expr)
    if isinstance(expr, sp.Piecewise):
        return [ir.If(tuple((None if c == sp.true else bare(print_expr(c)), tuple(lower(target, e, op)))
                            for e, c in expr.args))]
    if op == "+=" and expr == 0:
        return [ir.Keyword("pass")]
    temps, (reduced,) = sp.cse([expr], symbols=sp.numbered_symbols("t"), order="canonical")
    return [_assign(str(s), v) for s, v in temps] + [_assign(target, reduced, op)]


def _assign(target: str, expr: sp.Expr, op: str = "=") -> ir.Assign:
    """`target op expr`, the expression without brackets around all of it (a statement needs none,
    and `ir.wrapped` gives it the ones it breaks in)."""
    return ir.Assign(target, bare(print_expr(expr)), op)


def lower_joint(parts: list[tuple[str, sp.Expr, str]]) -> list[ir.Stmt]:
    """Statements computing each `target op expr` of `parts`, in order, for one loop body.

    One CSE over all of them, so subexpressions common to (say) a loss and its gradient are
    computed once; when one of them branches, each is lowered by `lower` (per-branch CSE).
    """
    exprs = [to_branches(e) for _, e, _ in parts]
    if any(isinstance(e, sp.Piecewise) or (op == "+=" and e == 0) for e, (_, _, op) in zip(exprs, parts)):
        return [s for target, e, op in parts for s in lower(target, e, op)]
    temps, reduced = sp.cse(exprs, symbols=sp.numbered_symbols("t"), order="canonical")
    return [_assign(str(s), v) for s, v in temps] + [_assign(target, r, op) for (target, _, op), r in zip(parts, reduced)]


# Text forms, for callers that run the lines as Python (symnn.symbolic.accuracy) or read them.


def statements(target: str, expr: sp.Expr, indent: str = "", op: str = "=") -> list[str]:
    """`lower(target, expr, op)` printed as lines at `indent`."""
    return ir.print_block(lower(target, expr, op), indent)


def joint_statements(parts: list[tuple[str, sp.Expr, str]], indent: str = "") -> list[str]:
    """`lower_joint(parts)` printed as lines at `indent`."""
    return ir.print_block(lower_joint(parts), indent)

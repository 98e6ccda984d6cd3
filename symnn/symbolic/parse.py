"""Turn a user's formula (``x*tanh(softplus(x))``) into a SymPy expression, safely.

``sympy.sympify`` and ``sympy.parse_expr`` run Python's ``eval`` on their input, so a string
such as ``__import__('os').system(...)`` would run. Here the text is only ever handed to
``ast.parse``, which builds a syntax tree without running anything; we then walk that tree
ourselves and accept only numbers, the caller's variables, the constants ``pi`` and ``e``,
arithmetic (``+ - * / **``) and calls of the whitelisted functions in ``_FUNCTIONS``.
Everything else is refused with a one-line :class:`~symnn.errors.UserInputError` that says what
was refused and how to fix it.

The work a formula can cause is bounded: its length, its nesting depth, the size of its numbers
and of numeric exponents are all capped, and the length is checked before anything else reads
the text.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import sympy

from symnn.errors import UserInputError
from symnn.symbolic import rules

MAX_LENGTH = 1000
"""Longest formula accepted, in characters."""

MAX_DEPTH = 50
"""Deepest nesting accepted: brackets in the text, and operations/calls in the syntax tree."""

MAX_EXPONENT = 100
"""Largest absolute value of a numeric exponent (``x**100`` is fine, ``x**101`` is refused)."""

MAX_DIGITS = 300
"""Longest integer (numerator or denominator) a formula may contain or produce, in digits."""

_MAX_NUMBER = 10**MAX_DIGITS

MAX_CALL_DEPTH = 6
"""Deepest nesting of function calls (``exp(exp(...))``): the chain rule multiplies every level."""

MAX_BRANCHES = 6
"""Most kinks a formula may have: each abs, sign, relu or step, and each argument of max or min past
the first. Their derivatives become branches, and branches multiply when combined."""

MAX_CALLS = 40
"""Most function calls in one formula: each adds terms to the derivative that SymPy simplifies."""

_BRANCHING = {"abs": 1, "sign": 1, "relu": 1, "step": 1}


class _Function(NamedTuple):
    """One whitelisted function: how many positional arguments it takes and how to build it."""

    min_args: int
    max_args: int | None  # None: no upper limit
    build: Callable[..., sympy.Expr]
    hint: str = ""  # appended to an arity error


def _unary(func: Callable[[sympy.Expr], sympy.Expr]) -> _Function:
    return _Function(1, 1, func)


# The whitelist: the only functions a formula may call. Error messages and docs list it from here.
_FUNCTIONS: dict[str, _Function] = {
    "exp": _unary(sympy.exp),
    "log": _Function(1, 1, sympy.log, "natural logarithm; for base b write log(a)/log(b)"),
    "log1p": _unary(rules.log1p),
    "expm1": _unary(rules.expm1),
    "sqrt": _unary(sympy.sqrt),
    "abs": _unary(sympy.Abs),
    "sign": _unary(sympy.sign),
    "tanh": _unary(sympy.tanh),
    "sinh": _unary(sympy.sinh),
    "cosh": _unary(sympy.cosh),
    "sin": _unary(sympy.sin),
    "cos": _unary(sympy.cos),
    "tan": _unary(sympy.tan),
    "atan": _unary(sympy.atan),
    "asinh": _unary(sympy.asinh),
    "erf": _unary(sympy.erf),
    "max": _Function(2, None, sympy.Max),
    "min": _Function(2, None, sympy.Min),
    "sigmoid": _unary(lambda a: 1 / (1 + sympy.exp(-a))),
    "softplus": _unary(lambda a: sympy.log(1 + sympy.exp(a))),
    "relu": _unary(lambda a: sympy.Max(0, a)),
    "step": _unary(lambda a: sympy.Heaviside(a, 0)),
}

_CONSTANTS: dict[str, sympy.Expr] = {"pi": sympy.pi, "e": sympy.E}

ALLOWED_FUNCTIONS: tuple[str, ...] = tuple(sorted(_FUNCTIONS))
"""Names of the functions a formula may call, sorted."""

ALLOWED_CONSTANTS: tuple[str, ...] = tuple(sorted(_CONSTANTS, reverse=True))  # ("pi", "e")
"""Names of the constants a formula may use."""

# Names users reach for that we spell differently.
_ALIASES = {
    "ln": "log",
    "Abs": "abs",
    "Max": "max",
    "Min": "min",
    "arctan": "atan",
    "arcsinh": "asinh",
    "heaviside": "step",
    "Heaviside": "step",
    "logistic": "sigmoid",
}

_ADDITIVE = (ast.Add, ast.Sub)
_MULTIPLICATIVE = (ast.Mult, ast.Div)

# Operators that Python has but a formula may not use: the start of the refusal.
_REFUSED_BINOPS: dict[type[ast.operator], str] = {
    ast.Mod: "'%' (remainder) is",
    ast.FloorDiv: "'//' (floor division) is",
    ast.MatMult: "'@' (matrix product) is",
    ast.LShift: "'<<' is",
    ast.RShift: "'>>' is",
    ast.BitAnd: "'&' is",
    ast.BitOr: "'|' is",
}

# Syntax a formula may not use: the start of the refusal.
_REFUSED_NODES: dict[type[ast.AST], str] = {
    ast.Lambda: "lambda is",
    ast.ListComp: "comprehensions are",
    ast.SetComp: "comprehensions are",
    ast.DictComp: "comprehensions are",
    ast.GeneratorExp: "comprehensions are",
    ast.Subscript: "subscripts ('a[...]') are",
    ast.Slice: "slices ('a:b') are",
    ast.Starred: "argument unpacking ('*') is",
    ast.JoinedStr: "f-strings are",
    ast.FormattedValue: "f-strings are",
    ast.Compare: "comparisons ('<', '==', ...) are",
    ast.BoolOp: "'and' / 'or' are",
    ast.IfExp: "conditional expressions ('a if c else b') are",
    ast.NamedExpr: "assignment expressions (':=') are",
    ast.Tuple: "tuples ('a, b') are",
    ast.List: "lists ('[...]') are",
    ast.Set: "sets ('{...}') are",
    ast.Dict: "dicts ('{...: ...}') are",
    ast.Await: "await is",
    ast.Yield: "yield is",
    ast.YieldFrom: "yield is",
}

_VARIABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


def parse_expression(text: str, variables: tuple[str, ...] = ("x",), example: str | None = None,
                     misplaced: Mapping[str, str] | None = None) -> sympy.Expr:
    """Parse a user's formula in ``variables`` into a SymPy expression, without evaluating any code.

    Variables become real SymPy symbols (so ``diff(abs(x), x)`` is ``sign(x)``); float literals
    become exact rationals (``0.5`` -> ``1/2``) so derivations simplify and print like the
    built-in definitions. A formula that does not depend on the variables (a constant) is accepted.
    ``example``: the formula error messages suggest (default: one in the first variable);
    ``misplaced``: names a user may reach for that belong to another kind of formula (a loss's
    ``x``), each with the whole one-line refusal that says what to write instead.

    Raises :class:`~symnn.errors.UserInputError` (a ``ValueError``) with a one-line message
    naming what was refused and how to fix it.
    """
    if not isinstance(text, str):
        raise UserInputError(f"expression must be a string, not {type(text).__name__}")
    # Before anything else reads the text: a 10 MB string must be refused at once.
    if len(text) > MAX_LENGTH:
        raise UserInputError(f"expression is {len(text)} characters long; the limit is {MAX_LENGTH}")
    names = _check_variables(variables)
    parser = _Parser(text.strip(), names, example, dict(misplaced or {}))
    return parser.parse()


def _check_variables(variables: Sequence[str] | str) -> tuple[str, ...]:
    """Check the caller's variable names: plain identifiers shadowing no constant or function."""
    names = (variables,) if isinstance(variables, str) else tuple(variables)
    for name in names:
        if not isinstance(name, str) or not _VARIABLE_NAME.match(name):
            raise UserInputError(
                f"variable name {name!r} is not allowed; use letters, digits and '_', starting with a letter"
            )
        if name in _CONSTANTS or name in _FUNCTIONS:
            raise UserInputError(
                f"variable name {name!r} is already the name of a constant or function; choose another name"
            )
    return names


def _shorten(text: str, limit: int = 60) -> str:
    """``repr`` of ``text``, cut to ``limit`` characters: safe to put on one line of a message."""
    quoted = repr(text)
    return quoted if len(quoted) <= limit else quoted[: limit - 4] + "...'"


def _clip(name: str, limit: int = 40) -> str:
    """A name cut to ``limit`` characters, for a message."""
    return name if len(name) <= limit else name[: limit - 3] + "..."


def _and_list(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


class _Parser:
    """Walks the syntax tree of one formula, building the SymPy expression node by node."""

    def __init__(self, text: str, variables: tuple[str, ...], example: str | None = None,
                 misplaced: dict[str, str] | None = None) -> None:
        self.text = text  # already stripped of surrounding whitespace
        self.variables = variables
        self.example = example
        self.misplaced = misplaced or {}
        self.symbols = {name: sympy.Symbol(name, real=True) for name in variables}
        self.calls = self.branches = 0
        self.call_depth = 0

    # -- messages --------------------------------------------------------------------------------

    def _example(self) -> str:
        """A formula to show the user: the caller's, or one written in their first variable."""
        if self.example is not None:
            return repr(self.example)
        if not self.variables:
            return "'2*pi'"
        v = self.variables[0]
        return f"'{v}*tanh({v})'"

    def _allowed(self) -> str:
        """What a formula may contain, for the end of an error message."""
        parts = []
        if len(self.variables) == 1:
            parts.append(f"the variable {self.variables[0]}")
        elif self.variables:
            parts.append(f"the variables {_and_list(self.variables)}")
        parts.append(f"the constants {_and_list(ALLOWED_CONSTANTS)}")
        parts.append(f"and the functions {', '.join(ALLOWED_FUNCTIONS)}")
        return "use " + ", ".join(parts)

    def _refuse(self, subject: str) -> UserInputError:
        """The refusal of some syntax; ``subject`` ends with its verb: "lambda is", "lists are"."""
        return UserInputError(
            f"{subject} not allowed in an expression; write a formula such as {self._example()}"
        )

    # -- entry -----------------------------------------------------------------------------------

    def parse(self) -> sympy.Expr:
        text = self.text
        if not text:
            raise UserInputError(f"expression is empty; write a formula such as {self._example()}")
        if "#" in text:
            raise UserInputError(
                f"comments ('#') are not allowed in an expression; write only the formula, such as {self._example()}")
        self._check_bracket_depth(text)
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError as error:
            raise UserInputError(
                f"expression {_shorten(text)} does not parse: "
                f"{error.msg}{self._where(error, text)}; "
                f"write a formula such as {self._example()}"
            ) from None
        except (ValueError, RecursionError, MemoryError) as error:
            raise UserInputError(
                f"expression {_shorten(text)} does not parse ({type(error).__name__}); "
                f"write a formula such as {self._example()}"
            ) from None
        result = self._visit(tree.body, 0)
        self._check_result(result, text)
        return result

    @staticmethod
    def _where(error: SyntaxError, text: str) -> str:
        """`` at column N`` for a syntax error (1-based; the end when Python reports none)."""
        if not error.lineno:
            return ""
        lines = text.splitlines() or [""]
        lineno = error.lineno if error.lineno and 1 <= error.lineno <= len(lines) else len(lines)
        line = lines[lineno - 1]
        column = error.offset if error.offset and 1 <= error.offset <= len(line) + 1 else len(line) + 1
        if len(lines) > 1:
            return f" at line {lineno}, column {column}"
        return f" at column {column}"

    @staticmethod
    def _check_bracket_depth(text: str) -> None:
        """Refuse deep bracket nesting before ``ast.parse`` (the tree forgets redundant ones)."""
        depth = deepest = 0
        for char in text:
            if char in "([{":
                depth += 1
                deepest = max(deepest, depth)
            elif char in ")]}":
                depth -= 1
        if deepest > MAX_DEPTH:
            raise UserInputError(
                f"expression nests brackets {deepest} levels deep; the limit is {MAX_DEPTH}: "
                "remove redundant parentheses or split the formula"
            )

    def _check_result(self, result: sympy.Expr, text: str) -> None:
        """Refuse a formula that is undefined (``1/0``, ``log(0)``) or not real (``sqrt(-1)``)."""
        undefined = (
            sympy.S.ComplexInfinity,
            sympy.S.NaN,
            sympy.S.Infinity,
            sympy.S.NegativeInfinity,
        )
        if result.has(*undefined):
            raise UserInputError(
                f"expression {_shorten(text)} is undefined or infinite (a division by zero or a "
                "log(0)?); correct the formula"
            )
        if result.has(sympy.I):
            raise UserInputError(
                f"expression {_shorten(text)} has an imaginary part (sqrt or log of a negative "
                "number?); write a real-valued formula"
            )

    # -- the walk --------------------------------------------------------------------------------

    def _visit(self, node: ast.AST, depth: int) -> sympy.Expr:
        if depth > MAX_DEPTH:
            raise UserInputError(
                f"expression is nested more than {MAX_DEPTH} levels deep; simplify the formula"
            )
        if isinstance(node, ast.Constant):
            result = self._number(node)
        elif isinstance(node, ast.Name):
            result = self._name(node)
        elif isinstance(node, ast.UnaryOp):
            result = self._unary(node, depth)
        elif isinstance(node, ast.BinOp):
            result = self._binop(node, depth)
        elif isinstance(node, ast.Call):
            result = self._call(node, depth)
        elif isinstance(node, ast.Attribute):
            raise UserInputError(f"attribute access ('.{_clip(node.attr)}') is not allowed in an expression")
        else:
            raise self._refuse(_REFUSED_NODES.get(type(node), f"'{type(node).__name__}' syntax is"))
        self._check_size(result)
        return result

    def _number(self, node: ast.Constant) -> sympy.Expr:
        value = node.value
        if isinstance(value, str):
            raise self._refuse(f"a string ({_shorten(value, 30)}) is")
        if isinstance(value, bool) or value is None or value is Ellipsis:
            raise self._refuse(f"{value!r} is")
        if isinstance(value, complex):
            raise self._refuse(f"a complex number ({value!r}) is")
        if isinstance(value, int):
            return sympy.Integer(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise UserInputError(
                    f"number {_shorten(self._source(node), 30)} is too large; "
                    f"numbers are limited to {MAX_DIGITS} digits"
                )
            # Exact: repr is the shortest decimal that round-trips, i.e. what the user wrote.
            return sympy.Rational(repr(value))
        raise self._refuse(f"a {type(value).__name__} literal is")

    def _source(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text, node) or "?"

    def _name(self, node: ast.Name) -> sympy.Expr:
        name = node.id
        if name in self.symbols:
            return self.symbols[name]
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        if name in self.misplaced:
            raise UserInputError(self.misplaced[name])
        if name in _FUNCTIONS:
            example = self.variables[0] if self.variables else "1"
            raise UserInputError(
                f"'{name}' is a function: call it with an argument, as in '{name}({example})'"
            )
        alias = f" (did you mean '{_ALIASES[name]}(...)'?)" if name in _ALIASES else ""
        raise UserInputError(
            f"expression refers to '{_clip(name)}', which is not allowed{alias}; {self._allowed()}"
        )

    def _unary(self, node: ast.UnaryOp, depth: int) -> sympy.Expr:
        if isinstance(node.op, ast.USub):
            return -self._visit(node.operand, depth + 1)
        if isinstance(node.op, ast.UAdd):
            return self._visit(node.operand, depth + 1)
        operator = "'not' is" if isinstance(node.op, ast.Not) else "'~' (bitwise not) is"
        raise self._refuse(operator)

    def _binop(self, node: ast.BinOp, depth: int) -> sympy.Expr:
        op = node.op
        if isinstance(op, ast.Pow):
            return self._power(node, depth)
        if isinstance(op, ast.BitXor):
            raise UserInputError(
                "'^' is not a power in an expression (in Python it is bitwise xor); "
                "write '**' instead, as in 'x**2'"
            )
        if isinstance(op, (_ADDITIVE, _MULTIPLICATIVE)):
            return self._chain(node, depth)
        raise self._refuse(_REFUSED_BINOPS.get(type(op), f"operator '{type(op).__name__}' is"))

    def _chain(self, node: ast.BinOp, depth: int) -> sympy.Expr:
        """A run like ``a - b + c`` or ``a*b/c``: one nesting level, however long (a loop)."""
        family = _ADDITIVE if isinstance(node.op, _ADDITIVE) else _MULTIPLICATIVE
        steps: list[tuple[ast.operator, ast.AST]] = []
        left: ast.AST = node
        while isinstance(left, ast.BinOp) and isinstance(left.op, family):
            steps.append((left.op, left.right))
            left = left.left
        result = self._visit(left, depth + 1)
        for op, right in reversed(steps):
            value = self._visit(right, depth + 1)
            if isinstance(op, ast.Add):
                result = result + value
            elif isinstance(op, ast.Sub):
                result = result - value
            elif isinstance(op, ast.Mult):
                result = result * value
            else:
                result = result / value
            self._check_size(result)
        return result

    def _power(self, node: ast.BinOp, depth: int) -> sympy.Expr:
        base = self._visit(node.left, depth + 1)
        exponent = self._visit(node.right, depth + 1)
        if exponent.is_number and self._too_big(exponent):
            raise UserInputError(
                f"exponent {_shorten(self._source(node.right), 30)} is too large; "
                f"numeric exponents are limited to {MAX_EXPONENT} in absolute value"
            )
        result = base**exponent
        # (a**50)**50 becomes a**2500: the same limit applies to the exponent SymPy made.
        if result.is_Pow and result.exp.is_number and self._too_big(result.exp):
            raise UserInputError(
                f"{_shorten(self._source(node), 40)} makes the power {_shorten(str(result), 40)}; "
                f"numeric exponents are limited to {MAX_EXPONENT} in absolute value"
            )
        return result

    @staticmethod
    def _too_big(exponent: sympy.Expr) -> bool:
        """Whether a numeric exponent exceeds MAX_EXPONENT (complex/undefined: left to the end)."""
        if exponent.is_Rational:
            return bool(abs(exponent) > MAX_EXPONENT)
        try:
            return abs(complex(exponent.evalf(15))) > MAX_EXPONENT
        except (TypeError, ValueError, OverflowError):
            return False

    def _call(self, node: ast.Call, depth: int) -> sympy.Expr:
        func = node.func
        if not isinstance(func, ast.Name):
            if isinstance(func, (ast.Attribute, *_REFUSED_NODES)):
                self._visit(func, depth + 1)  # raises: attribute access, lambda, subscript, ...
            source = self._source(func)
            raise self._implicit_product(source if isinstance(func, ast.Constant) else f"({source})")
        name = func.id
        if name in self.symbols or name in _CONSTANTS:
            raise self._implicit_product(name)
        spec = _FUNCTIONS.get(name)
        if spec is None:
            alias = f"did you mean '{_ALIASES[name]}'? " if name in _ALIASES else ""
            raise UserInputError(
                f"function '{_clip(name)}' is not allowed; {alias}allowed functions: "
                f"{', '.join(ALLOWED_FUNCTIONS)}"
            )
        if node.keywords:
            keyword = node.keywords[0]
            if keyword.arg is None:
                raise self._refuse("argument unpacking ('**') is")
            raise UserInputError(
                f"keyword arguments ('{_clip(keyword.arg)}=') are not allowed in an expression; "
                f"pass arguments by position, as in '{name}(...)'"
            )
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self._refuse(_REFUSED_NODES[ast.Starred])
        count = len(node.args)
        if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
            raise UserInputError(
                f"function '{name}' takes {self._arity(spec)}, got {count}"
                + (f" ({spec.hint})" if spec.hint else "")
            )
        self._count_call(name, count)
        self.call_depth += 1
        if self.call_depth > MAX_CALL_DEPTH:
            raise UserInputError(
                f"expression nests function calls more than {MAX_CALL_DEPTH} deep; the derivative of such a "
                "chain is too large to derive and compile quickly: simplify the formula")
        args = [self._visit(arg, depth + 1) for arg in node.args]
        self.call_depth -= 1
        return spec.build(*args)

    def _count_call(self, name: str, count: int) -> None:
        """Bound the work a formula causes before SymPy sees it: calls and kinks are counted."""
        self.calls += 1
        self.branches += _BRANCHING.get(name, 0) + (count - 1 if name in ("max", "min") else 0)
        if self.calls > MAX_CALLS:
            raise UserInputError(f"expression calls more than {MAX_CALLS} functions; split it or simplify it")
        if self.branches > MAX_BRANCHES:
            raise UserInputError(
                f"expression has more than {MAX_BRANCHES} kinks (abs, sign, relu, step, and max/min arguments "
                "past the first); each one doubles the branches of the derivative: use fewer")

    @staticmethod
    def _arity(spec: _Function) -> str:
        if spec.max_args is None:
            return f"{spec.min_args} or more arguments"
        if spec.min_args == spec.max_args:
            return f"{spec.min_args} argument" + ("" if spec.min_args == 1 else "s")
        return f"{spec.min_args} to {spec.max_args} arguments"

    @staticmethod
    def _implicit_product(name: str) -> UserInputError:
        return UserInputError(f"'{name}(...)' is not a product in an expression; write '{name}*(...)'")

    @staticmethod
    def _check_size(value: sympy.Expr) -> None:
        """Refuse a number (or coefficient) over MAX_DIGITS digits, so later work on it is cheap."""
        if value.is_Mul:
            value = value.as_coeff_Mul()[0]
        elif value.is_Add:
            value = value.as_coeff_Add()[0]
        if value.is_Rational and (abs(value.p) >= _MAX_NUMBER or value.q >= _MAX_NUMBER):
            raise UserInputError(
                f"the expression makes a number with more than {MAX_DIGITS} digits; use smaller numbers"
            )

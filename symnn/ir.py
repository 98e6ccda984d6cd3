"""The one kernel representation: every loop of `generated/` and of the fused training loop is one.

A `Kernel` is a function's parameters, docstring and statements: assignments (`target op value`),
calls, matrix products, `for` loops over `range`, `if` chains, `return`. Each statement may carry a
label saying where it came from, printed as a comment above it. Expressions are text that a printer
made (SymPy's `KernelPrinter` at generation time), never text a user typed.

It is read and written three ways, all here, none needing SymPy or Numba:

- `print_function` prints a kernel as a module's function (what `symnn generate` writes);
- `read_functions` reads a module's functions back into kernels with Python's own parser (a kernel
  reformatted by hand or by a formatter reads back as the same statements);
- `Inliner.inline` turns a call of a kernel into its statements, names renamed only where they
  clash, for the fused training loop (`symnn.runtime.fused.assemble`), which prints with
  `print_function` too.

Matrix products are printed as `np.dot(a, b, out)` (NumPy through Numba, into SciPy's BLAS), or as
`gemm(...)` calls (the fused loop's intrinsic, straight into NumPy's OpenBLAS).
"""

from __future__ import annotations

import ast
import bisect
import functools
import io
import tokenize
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace

#: The name every kernel binds to its arrays' scalar type (`T = x.dtype.type`): constants print as `T(...)`.
DTYPE = "T"
#: Width a `def` line is wrapped at (under its opening parenthesis).
WIDTH = 100
#: The longest line any other statement is printed on: the project's ruff line-length, so that generated
#: code passes the lint hand-written code does. Longer ones break inside their brackets (`wrapped`).
LINE_LENGTH = 130


@dataclass(frozen=True)
class Assign:
    """`target op value`, op "=" or an augmented one ("+=")."""

    target: str
    value: str
    op: str = "="
    label: str = ""


@dataclass(frozen=True)
class Call:
    """A call as a statement: `func(args...)`."""

    func: str
    args: tuple[str, ...]
    label: str = ""


@dataclass(frozen=True)
class Product:
    """`out = op(a) op(b)` for C-contiguous 2-D arrays, op transposing where `trans_*`: one BLAS call."""

    out: str
    a: str
    b: str
    trans_a: bool = False
    trans_b: bool = False
    label: str = ""


@dataclass(frozen=True)
class For:
    """`for var in range(*bounds):` body."""

    var: str
    bounds: tuple[str, ...]
    body: tuple[Stmt, ...]
    label: str = ""


@dataclass(frozen=True)
class If:
    """`if`/`elif`/`else`: (test, body) pairs in order; the test of a final `else` is None."""

    branches: tuple[tuple[str | None, tuple[Stmt, ...]], ...]
    label: str = ""


@dataclass(frozen=True)
class Return:
    value: str
    label: str = ""


@dataclass(frozen=True)
class Keyword:
    """`pass`, `continue` or `break`."""

    word: str
    label: str = ""


Stmt = Assign | Call | Product | For | If | Return | Keyword


@dataclass(frozen=True)
class Kernel:
    """A function: its decorator line (or ""), name, parameters, docstring lines and statements."""

    name: str
    params: tuple[str, ...]
    doc: tuple[str, ...]
    body: tuple[Stmt, ...]
    decorator: str = ""

    @property
    def layout(self) -> str:
        """Its loop shape: "matrix" (it has a product), "rows" (nested loops) or "elementwise"."""
        if any(isinstance(s, Product) for s in walk(self.body)):
            return "matrix"
        if any(isinstance(s, For) and any(isinstance(b, For) for b in walk(s.body)) for s in self.body):
            return "rows"
        return "elementwise"


def walk(stmts: Iterable[Stmt]) -> Iterable[Stmt]:
    """Every statement, nested ones after their parent."""
    for s in stmts:
        yield s
        if isinstance(s, For):
            yield from walk(s.body)
        elif isinstance(s, If):
            for _, body in s.branches:
                yield from walk(body)


# -- printing ------------------------------------------------------------------------------------


def def_line(name: str, params: Iterable[str]) -> str:
    """`def name(params):`, wrapped under the opening parenthesis past WIDTH."""
    params = list(params)
    head = f"def {name}("
    rows, row = [], head
    for i, arg in enumerate(params):
        piece = arg + (", " if i < len(params) - 1 else "):")
        if len(row) + len(piece.rstrip()) > WIDTH and row.strip() != head.strip():
            rows.append(row.rstrip())
            row = " " * len(head)
        row += piece
    if not params:
        row += "):"
    rows.append(row)
    return "\n".join(rows)


def print_function(k: Kernel, products: str = "np.dot") -> str:
    """The kernel as a module's function (decorator, def line, docstring, body), ending in a newline."""
    lines = [k.decorator] if k.decorator else []
    lines.append(def_line(k.name, k.params))
    if k.doc:
        doc = ['    """' + k.doc[0]] + [f"    {line}" if line else "" for line in k.doc[1:]]
        lines += doc[:-1] + [doc[-1] + '"""']
    lines += print_block(k.body, "    ", products)
    return "\n".join(lines) + "\n"


def print_block(stmts: Iterable[Stmt], indent: str, products: str = "np.dot") -> list[str]:
    """Statements as lines at `indent`, each label as comment lines above its statement; a statement
    longer than LINE_LENGTH spans lines, broken inside its brackets (`wrapped`)."""
    out: list[str] = []
    for s in stmts:
        out += [f"{indent}# {line}" if line else f"{indent}#" for line in s.label.split("\n")] if s.label else []
        if isinstance(s, Assign):
            out += wrapped(f"{indent}{s.target} {s.op} ", s.value)
        elif isinstance(s, Call):
            out += wrapped(indent, f"{s.func}({', '.join(s.args)})")
        elif isinstance(s, Product):
            out += wrapped(indent, _product(s, products))
        elif isinstance(s, For):
            out += wrapped(f"{indent}for {s.var} in ", f"range({', '.join(s.bounds)})", ":")
            out += print_block(s.body, indent + "    ", products) or [f"{indent}    pass"]
        elif isinstance(s, If):
            for i, (test, body) in enumerate(s.branches):
                if test is None:
                    out.append(indent + "else:")
                else:
                    out += wrapped(f"{indent}{'if' if i == 0 else 'elif'} ", test, ":")
                out += print_block(body, indent + "    ", products) or [f"{indent}    pass"]
        elif isinstance(s, Return):
            out += wrapped(f"{indent}return ", s.value)
        elif isinstance(s, Keyword):
            out.append(indent + s.word)
        else:
            raise TypeError(f"not a kernel statement: {s!r}")
    return out


def _product(s: Product, products: str) -> str:
    a, b = s.a + (".T" if s.trans_a else ""), s.b + (".T" if s.trans_b else "")
    if products == "np.dot":
        return f"np.dot({a}, {b}, {s.out})"
    if products == "gemm":  # CBLAS, row major: c (m, n) = op(a) op(b), k the inner dimension
        k = f"{s.a}.shape[0]" if s.trans_a else f"{s.a}.shape[1]"
        flags = ", ".join("TRANS" if t else "NO_TRANS" for t in (s.trans_a, s.trans_b))
        return (f"gemm({flags}, {s.out}.shape[0], {s.out}.shape[1], {k}, {s.a}, {s.a}.shape[1], "
                f"{s.b}, {s.b}.shape[1], {s.out})")
    raise ValueError(f"products are printed as 'np.dot' or 'gemm', not {products!r}")


# -- breaking long lines -------------------------------------------------------------------------
#
# A long statement breaks where a reader would: inside its brackets, at the operators that bind least
# (after commas, then before `if`/`else`, `or`, `and`, comparisons, `+` and `-`, then `*` and `/`), each
# continuation line under the first character after its bracket. A break only ever replaces a space,
# so joining the lines with spaces again (`read_functions` does) gives back the one-line text.

_OPENERS, _CLOSERS = "([{", ")]}"
_KEYWORD_OPERATORS = {"if": 1, "else": 1, "for": 1, "or": 2, "and": 3, "in": 4, "is": 4, "not": 4}
_OPERATORS = {**_KEYWORD_OPERATORS, "<": 4, "<=": 4, ">": 4, ">=": 4, "==": 4, "!=": 4, "+": 5, "-": 5,
              "*": 6, "/": 6, "//": 6, "%": 6, "@": 6, "**": 7}
_NOT_OPERANDS = {"lambda", "return", "yield", "await"} | set(_KEYWORD_OPERATORS)


def wrapped(head: str, expr: str, tail: str = "") -> list[str]:
    """The line `head + expr + tail` (one statement, or a module-level `NAME = value`), as lines no
    longer than LINE_LENGTH where it can: `expr` breaks inside its brackets, and is bracketed first
    where it would break at an operator outside any (`x = (a + b\n     + c)`)."""
    if len(head) + len(expr) + len(tail) <= LINE_LENGTH:
        return [head + expr + tail]
    toks = _tokens(expr)
    if _breaks(toks, 0, len(toks)):
        toks = [("", "("), *toks, ("", ")")]
    indent = len(head) - len(head.lstrip(" "))
    lines = _Layout(toks).lines(0, len(toks), len(head), LINE_LENGTH - len(tail), indent)
    lines[0] = head + lines[0]
    lines[-1] += tail
    return lines


def _tokens(text: str) -> list[tuple[str, str]]:
    """One line of Python as (the space before it, token) pairs."""
    out: list[tuple[str, str]] = []
    col = 0
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT):
            continue
        if tok.start[0] != 1:
            raise ValueError(f"not one line of Python: {text!r}")
        out.append((text[col:tok.start[1]], tok.string))
        col = tok.end[1]
    return out


def _operand_end(tok: str) -> bool:
    return (tok[0] in _CLOSERS or tok[0].isalnum() or tok[0] in "_'\".") and tok not in _NOT_OPERANDS


def _breaks(toks: list[tuple[str, str]], lo: int, hi: int) -> list[tuple[int, int]]:
    """(how loosely it binds, index) of each token of toks[lo:hi] outside its brackets that a line may
    break before: a binary operator after an operand, or whatever follows a comma."""
    out, depth = [], 0
    for k in range(lo, hi):
        gap, tok = toks[k]
        if depth == 0 and k > lo and gap == " ":
            prev = toks[k - 1][1]
            if prev == ",":
                out.append((0, k))
            elif tok in _OPERATORS and _operand_end(prev):
                out.append((_OPERATORS[tok], k))
        depth += (tok in _OPENERS) - (tok in _CLOSERS)
    return out


class _Layout:
    """Lays out a range of tokens from a column: the first line's text, then whole indented lines."""

    def __init__(self, toks: list[tuple[str, str]]) -> None:
        self.toks = toks
        self.match: dict[int, int] = {}
        stack = []
        for k, (_, tok) in enumerate(toks):
            if tok in _OPENERS:
                stack.append(k)
            elif tok in _CLOSERS and stack:
                self.match[stack.pop()] = k

    def text(self, lo: int, hi: int) -> str:
        return "".join((gap if k > lo else "") + tok for k, (gap, tok) in enumerate(self.toks[lo:hi], start=lo))

    def lines(self, lo: int, hi: int, col: int, limit: int, indent: int, bracket: str = "") -> list[str]:
        """toks[lo:hi] from column `col` of a line indented by `indent`, inside `bracket` (a dict's
        entries, broken at all, are one a line)."""
        text = self.text(lo, hi)
        if col + len(text) <= limit:
            return [text]
        breaks = _breaks(self.toks, lo, hi)
        if breaks:
            loosest = min(b for b, _ in breaks)
            cuts = [lo] + [k for b, k in breaks if b == loosest] + [hi]
            out: list[str] = []
            for a, b in zip(cuts, cuts[1:]):
                piece = self.text(a, b)
                if out and _end(out, col) + 1 + len(piece) <= limit and not (loosest == 0 and bracket == "{"):
                    out[-1] += " " + piece
                elif out:
                    sub = self.lines(a, b, col, limit, col)
                    out += [" " * col + sub[0], *sub[1:]]
                else:
                    out = self.lines(a, b, col, limit, indent)
            return out
        # No space outside brackets (`g*(...)/(...)`, `f(...)`): break inside the groups that do not fit.
        out = [""]
        k = lo
        while k < hi:
            gap, tok = self.toks[k]
            gap = gap if k > lo else ""
            end = self.match.get(k, -1)
            if lo < end < hi and _end(out, col) + len(gap) + len(self.text(k, end + 1)) > limit:
                out[-1] += gap + tok
                line_indent = indent if len(out) == 1 else len(out[-1]) - len(out[-1].lstrip(" "))
                if end > k + 1:
                    start = _end(out, col)
                    sub = self.lines(k + 1, end, start, limit - 1, line_indent, tok)
                    hang = line_indent + 4
                    if hang < start and _longest(sub, start) > limit - 1:
                        # Too little room right of the bracket: the group starts on a line of its own.
                        sub = self.lines(k + 1, end, hang, limit - 1, hang, tok)
                        sub[0] = " " * hang + sub[0]
                        out.append("")
                    out[-1] += sub[0]
                    out += sub[1:]
                out[-1] += self.toks[end][0] + self.toks[end][1]
                k = end + 1
            else:
                out[-1] += gap + tok
                k += 1
        return out


def _longest(lines: list[str], col: int) -> int:
    """The column the longest of `lines` ends at (the first starts at `col`)."""
    return max(len(line) + (col if i == 0 else 0) for i, line in enumerate(lines))


def _end(lines: list[str], col: int) -> int:
    """The column the last of `lines` ends at (the first starts at `col`)."""
    return len(lines[-1]) + (col if len(lines) == 1 else 0)


# -- reading -------------------------------------------------------------------------------------


def read_functions(source: str, names: Iterable[str] | None = None) -> dict[str, Kernel]:
    """The module's top-level functions (or those of `names`) as kernels, by name. Comments above a
    statement, or after it on its line, become its label."""
    functions = ModuleFunctions(source)
    wanted = functions if names is None else [n for n in functions if n in set(names)]
    return {name: functions[name] for name in wanted}


class ModuleFunctions(Mapping):
    """A module's top-level functions as kernels, by name, each read (and its lines tokenized for
    their comments) only when first asked for: the fused loop reads a few kernels of each module."""

    def __init__(self, source: str) -> None:
        self._nodes = {node.name: node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}
        self._reader = _Reader(source)
        self._kernels: dict[str, Kernel] = {}

    def __getitem__(self, name: str) -> Kernel:
        if name not in self._kernels:
            self._kernels[name] = self._reader.kernel(self._nodes[name])
        return self._kernels[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._nodes)

    def __len__(self) -> int:
        return len(self._nodes)


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.lines = source.splitlines()
        self.comments: dict[int, str] = {}  # line -> its comment's text
        self.alone: set[int] = set()  # lines holding only a comment
        self.code: list[tokenize.TokenInfo] = []  # the tokens of code of the functions read, in order
        self.starts: list[tuple[int, int]] = []

    def _tokenize(self, first: int, last: int) -> None:
        """Find the comments and code tokens of lines first..last (1-based), a top-level function's."""
        code: list[tokenize.TokenInfo] = []
        segment = "\n".join(self.lines[first - 1:last]) + "\n"
        for tok in tokenize.generate_tokens(io.StringIO(segment).readline):
            line = tok.start[0] + first - 1
            if tok.type == tokenize.COMMENT:
                self.comments[line] = tok.string[1:].strip()
                self.alone.add(line)
            elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                                  tokenize.ENDMARKER):
                code.append(tok._replace(start=(line, tok.start[1]), end=(tok.end[0] + first - 1, tok.end[1])))
        self.alone -= {tok.start[0] for tok in code}
        at = bisect.bisect_left(self.starts, (first, 0))  # functions do not overlap: keep the tokens in order
        self.code[at:at] = code
        self.starts[at:at] = [tok.start for tok in code]

    def text(self, node: ast.AST) -> str:
        """The node's source as written, with the brackets around it; where it spans lines, joined
        into one (`joined`)."""
        if node.lineno != node.end_lineno:
            return self.joined(node)
        line = self.lines[node.lineno - 1]
        start, end = node.col_offset, node.end_col_offset
        while True:
            before, after = line[:start].rstrip(), line[end:].lstrip()
            if not (before.endswith("(") and after.startswith(")")) or _is_call(before[:-1]):
                return line[start:end]
            start, end = len(before) - 1, len(line) - len(after) + 1

    def joined(self, node: ast.AST) -> str:
        """A node spanning lines as one line: its tokens as written on each line, the lines joined by a
        space (none after an opening bracket or before a closing one), comments left out. That undoes
        `wrapped`; the brackets a wrapped statement's expression was given to break in are not the
        node's, so they are not read back."""
        start, end = (node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset)
        out, prev = [], None
        for tok in self.code[bisect.bisect_left(self.starts, start):]:
            if tok.end > end:
                break
            if prev is not None:
                if tok.start[0] == prev.end[0]:
                    out.append(self.lines[tok.start[0] - 1][prev.end[1]:tok.start[1]])
                elif prev.string not in _OPENERS and tok.string not in _CLOSERS:
                    out.append(" ")
            out.append(tok.string)
            prev = tok
        return "".join(out)

    def label(self, node: ast.stmt) -> str:
        above, line = [], node.lineno - 1
        while line in self.alone:
            above.insert(0, self.comments[line])
            line -= 1
        compound = isinstance(node, (ast.For, ast.If))
        last = node.lineno if compound else node.end_lineno  # a statement's header, or all its lines
        above += [self.comments[n] for n in range(node.lineno, last + 1) if n in self.comments and n not in self.alone]
        return "\n".join(above)

    def kernel(self, fn: ast.FunctionDef) -> Kernel:
        self._tokenize(min([fn.lineno] + [d.lineno for d in fn.decorator_list]), fn.end_lineno)
        a = fn.args
        if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs or a.defaults:
            raise ValueError(f"{fn.name}: a kernel takes plain positional parameters")
        body = list(fn.body)
        doc: tuple[str, ...] = ()
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            doc = tuple(ast.get_docstring(fn, clean=True).split("\n"))
            body = body[1:]
        decorator = "\n".join(f"@{self.text(d)}" for d in fn.decorator_list)
        return Kernel(fn.name, tuple(p.arg for p in a.args), doc, self.block(body, fn.name), decorator)

    def block(self, nodes: list[ast.stmt], where: str) -> tuple[Stmt, ...]:
        return tuple(self.stmt(n, where) for n in nodes)

    def stmt(self, n: ast.stmt, where: str) -> Stmt:
        label = self.label(n)
        if isinstance(n, ast.Assign) and len(n.targets) == 1:
            return Assign(self.text(n.targets[0]), self.text(n.value), "=", label)
        if isinstance(n, ast.AugAssign):
            op = _AUG[type(n.op)]
            return Assign(self.text(n.target), self.text(n.value), op, label)
        if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call) and not n.value.keywords:
            call = n.value
            if ast.unparse(call.func) == "np.dot" and len(call.args) == 3:
                (a, ta), (b, tb) = (_transposed(arg) for arg in call.args[:2])
                return Product(self.text(call.args[2]), self.text(a), self.text(b), ta, tb, label)
            return Call(self.text(call.func), tuple(self.text(x) for x in call.args), label)
        if isinstance(n, ast.For) and not n.orelse and isinstance(n.target, ast.Name) \
                and isinstance(n.iter, ast.Call) and ast.unparse(n.iter.func) == "range":
            return For(n.target.id, tuple(self.text(x) for x in n.iter.args), self.block(n.body, where), label)
        if isinstance(n, ast.If):
            branches = []
            node: ast.stmt | None = n
            while node is not None:
                branches.append((self.text(node.test), self.block(node.body, where)))
                rest = node.orelse
                if len(rest) == 1 and isinstance(rest[0], ast.If) and self._is_elif(rest[0]):
                    node = rest[0]
                else:
                    if rest:
                        branches.append((None, self.block(rest, where)))
                    node = None
            return If(tuple(branches), label)
        if isinstance(n, ast.Return) and n.value is not None:
            return Return(self.text(n.value), label)
        if isinstance(n, (ast.Pass, ast.Continue, ast.Break)):
            return Keyword(type(n).__name__.lower(), label)
        raise ValueError(f"{where}, line {n.lineno}: {type(n).__name__} is not a kernel statement")

    def _is_elif(self, node: ast.If) -> bool:
        """An `elif` (not an `else:` holding an `if`): the `if` keyword starts where `else` would."""
        line = self.lines[node.lineno - 1]
        return line[node.col_offset:].startswith("elif")


def _is_call(before: str) -> bool:
    """Whether a "(" after this text opens a call's arguments (`f(`, `x[0](`), not a bracket."""
    before = before.rstrip()
    return bool(before) and (before[-1].isalnum() or before[-1] in "_)]") and not before.endswith(
        tuple(f" {kw}" for kw in ("if", "elif", "return", "in", "and", "or", "not", "else"))) \
        and before not in ("if", "elif", "return", "not")


_AUG = {ast.Add: "+=", ast.Sub: "-=", ast.Mult: "*=", ast.Div: "/="}


def _transposed(node: ast.expr) -> tuple[ast.expr, bool]:
    if isinstance(node, ast.Attribute) and node.attr == "T":
        return node.value, True
    return node, False


# -- renaming and inlining -----------------------------------------------------------------------


def rename(text: str, names: dict[str, str]) -> str:
    """`text` (one line of Python) with every name in `names` replaced; attributes (`x.shape`) and
    keywords are left alone. Works on tokens, so the text keeps its spacing."""
    if not names:
        return text
    out, col, prev = [], 0, None
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.NAME and tok.string in names and not (prev is not None and prev.string == "."):
            start, end = tok.start[1], tok.end[1]
            out += [text[col:start], names[tok.string]]
            col = end
        if tok.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER):
            prev = tok
    out.append(text[col:])
    return "".join(out)


def rename_stmt(s: Stmt, names: dict[str, str]) -> Stmt:
    """A statement (and those inside it) with names replaced."""
    r = lambda text: rename(text, names)  # noqa: E731
    if isinstance(s, Assign):
        return replace(s, target=r(s.target), value=r(s.value))
    if isinstance(s, Call):
        return replace(s, func=r(s.func), args=tuple(map(r, s.args)))
    if isinstance(s, Product):
        return replace(s, out=r(s.out), a=r(s.a), b=r(s.b))
    if isinstance(s, For):
        return replace(s, var=names.get(s.var, s.var), bounds=tuple(map(r, s.bounds)),
                       body=tuple(rename_stmt(b, names) for b in s.body))
    if isinstance(s, If):
        return replace(s, branches=tuple((None if t is None else r(t), tuple(rename_stmt(b, names) for b in body))
                                         for t, body in s.branches))
    if isinstance(s, Return):
        return replace(s, value=r(s.value))
    return s


def names_in(stmts: Iterable[Stmt]) -> set[str]:
    """Every name the statements mention (read or written; attributes such as `x.shape` aside)."""
    texts: list[str] = []
    for s in walk(stmts):
        if isinstance(s, Assign):
            texts += [s.target, s.value]
        elif isinstance(s, Call):
            texts += [s.func, *s.args]
        elif isinstance(s, Product):
            texts += [s.out, s.a, s.b]
        elif isinstance(s, For):
            texts += [s.var, *s.bounds]
        elif isinstance(s, If):
            texts += [t for t, _ in s.branches if t is not None]
        elif isinstance(s, Return):
            texts.append(s.value)
    out: set[str] = set()
    for text in texts:
        prev = None
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.NAME and not (prev is not None and prev.string == "."):
                out.add(tok.string)
            if tok.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER):
                prev = tok
    return out


def bound_names(stmts: Iterable[Stmt]) -> tuple[set[str], set[str]]:
    """(names assigned, names bound only as `for` indices) by the statements."""
    assigned: set[str] = set()
    indices: set[str] = set()
    for s in walk(stmts):
        if isinstance(s, Assign):
            assigned |= _target_names(s.target)
        elif isinstance(s, For):
            indices.add(s.var)
    return assigned, indices - assigned


def without_unused(stmts: Iterable[Stmt]) -> tuple[Stmt, ...]:
    """The statements without the assignments `name = value` of a name no statement reads (a kernel's
    `T = x.dtype.type` where no constant is typed, a parameter inlined but not read): they compute
    nothing (a value is an expression without effects) and a linter calls them mistakes."""
    stmts = tuple(stmts)
    while True:
        dead = _assigned_only(stmts) - _read(stmts)
        if not dead:
            return stmts
        stmts = _dropped(stmts, dead)


def _assigned_only(stmts: Iterable[Stmt]) -> set[str]:
    return {s.target for s in walk(stmts) if _plain(s)}


def _plain(s: Stmt) -> bool:
    """Whether `s` is `name = value`."""
    return isinstance(s, Assign) and s.op == "=" and s.target.isidentifier()


def _read(stmts: Iterable[Stmt]) -> set[str]:
    """The names the statements read: all they mention but the targets of `name = value`."""
    texts: list[str] = []
    for s in walk(stmts):
        if isinstance(s, Assign):
            texts += [s.value] if _plain(s) else [s.target, s.value]
        elif isinstance(s, Call):
            texts += [s.func, *s.args]
        elif isinstance(s, Product):
            texts += [s.out, s.a, s.b]
        elif isinstance(s, For):
            texts += s.bounds
        elif isinstance(s, If):
            texts += [t for t, _ in s.branches if t is not None]
        elif isinstance(s, Return):
            texts.append(s.value)
    return set().union(*map(_mentions, texts))


def mentioned(stmts: Iterable[Stmt]) -> set[str]:
    """`names_in(stmts)`, each statement's text scanned once (cached): what a fused loop's assembly asks
    of every statement, twice."""
    texts: list[str] = []
    for s in walk(stmts):
        texts += [s.target] if isinstance(s, Assign) else [s.var] if isinstance(s, For) else []
    return _read(stmts) | set().union(*map(_mentions, texts))


@functools.lru_cache(maxsize=1 << 14)
def _mentions(text: str) -> frozenset[str]:
    """The names one line of Python mentions (as `names_of`, scanned by hand: it runs on every statement
    of a fused loop, where the tokenizer took longer than the rest of the assembly)."""
    out, i, n = set(), 0, len(text)
    while i < n:
        char = text[i]
        if char.isalpha() or char == "_":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            if not text[:i].rstrip().endswith("."):
                out.add(text[i:j])
            i = j
        elif char.isdigit():  # a number, 1e-08 or 0x1f: its letters are not names
            i += 1
            while i < n and (text[i].isalnum() or text[i] in "._" or (text[i] in "+-" and text[i - 1] in "eE")):
                i += 1
        elif char in "'\"":
            end = text.find(char, i + 1)
            while end > 0 and text[end - 1] == "\\":
                end = text.find(char, end + 1)
            i = n if end < 0 else end + 1
        else:
            i += 1
    return frozenset(out)


def _dropped(stmts: tuple[Stmt, ...], dead: set[str]) -> tuple[Stmt, ...]:
    """`stmts` without the assignments of `dead` names; a dropped statement's label goes to the next."""
    out: list[Stmt] = []
    label = ""
    for s in stmts:
        if _plain(s) and s.target in dead:
            label = "\n".join(x for x in (label, s.label) if x)
            continue
        if isinstance(s, For):
            s = replace(s, body=_dropped(s.body, dead))
        elif isinstance(s, If):
            s = replace(s, branches=tuple((t, _dropped(body, dead)) for t, body in s.branches))
        if label:
            s = replace(s, label="\n".join(x for x in (label, s.label) if x))
            label = ""
        out.append(s)
    if label:
        out.append(Keyword("pass", label))
    return tuple(out)


def names_of(source: str) -> set[str]:
    """Every name a module's code mentions (`math` in `math.exp(x)`), strings, comments and attributes aside."""
    out: set[str] = set()
    prev = None
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NAME and not (prev is not None and prev.string == "."):
            out.add(tok.string)
        if tok.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.COMMENT):
            prev = tok
    return out


def _target_names(target: str) -> set[str]:
    """The names a target binds: `x`, `a, b`; a subscript (`y[i]`) binds none."""
    node = ast.parse(target, mode="eval").body
    nodes = node.elts if isinstance(node, ast.Tuple) else [node]
    return {n.id for n in nodes if isinstance(n, ast.Name)}


@dataclass
class Inliner:
    """Inlines kernel calls into one function, renaming a kernel's name only where it clashes: with a
    name the host function binds, or one an earlier inlined kernel bound (`for` indices, ints in every
    loop, are shared). A kernel's own `T = x.dtype.type` is dropped: the host binds T once."""

    host: Kernel
    taken: set[str] = field(default_factory=set)
    indices: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        assigned, indices = bound_names(self.host.body)
        self.taken |= assigned | set(self.host.params)
        self.indices |= indices

    def inline(self, k: Kernel, args: Iterable[str], result: str | None = None) -> list[Stmt]:
        """Statements doing what `k(*args)` does (with `result = ` its return value); `args` are source
        text. A parameter the body never assigns takes a plain-name argument as it is; any other gets
        a variable of its own, bound first."""
        args = list(args)
        if len(args) != len(k.params):
            raise ValueError(f"{k.name} takes {len(k.params)} arguments, not {len(args)}")
        body = [s for s in k.body if not (isinstance(s, Assign) and s.target == DTYPE and s.value.endswith(".dtype.type"))]
        value = None
        if body and isinstance(body[-1], Return):
            value, body = body[-1].value, body[:-1]
        if any(isinstance(s, Return) for s in walk(body)):
            raise ValueError(f"cannot inline {k.name}: it returns before its last statement")
        if (value is None) != (result is None):
            raise ValueError(f"cannot inline {k.name} as {'a statement' if result is None else 'an expression'}")
        assigned, indices = bound_names(body)
        taken = self.taken
        names: dict[str, str] = {}
        for name in sorted(assigned | indices):
            if name in taken or (name in self.indices and name not in indices):
                names[name] = f"{k.name}__{name}"
        lead: list[Stmt] = []
        for param, arg in zip(k.params, args):
            if param not in assigned and arg.isidentifier():
                names[param] = arg
            else:
                local = names.get(param, param)
                if local == param and (param in taken or param in self.indices):
                    local = f"{k.name}__{param}"
                names[param] = local
                lead.append(Assign(local, arg))
        out = lead + [rename_stmt(s, names) for s in body]
        if value is not None:
            out.append(Assign(result, rename(value, names)))
        new_assigned, new_indices = bound_names(out)
        self.taken |= new_assigned
        self.indices |= new_indices
        return out


__all__ = ["DTYPE", "Assign", "Call", "For", "If", "Inliner", "Kernel", "Keyword", "ModuleFunctions", "Product",
           "Return", "Stmt", "bound_names", "def_line", "mentioned", "names_in", "names_of", "print_block",
           "print_function", "read_functions", "rename", "walk", "without_unused", "wrapped"]

"""Derivations: a definition's forward form and its gradients, obtained with `sympy.diff`.

A `Derivation` is what `symnn derive` prints and what the code generator reads.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field

import sympy as sp
from sympy.printing.latex import LatexPrinter, greek_letters_set
from sympy.printing.precedence import PRECEDENCE

from symnn.symbolic import accuracy
from symnn.symbolic.rules import apply_conventions

#: The output symbol that activation gradients may be written in.
y = sp.Symbol("y", real=True)

#: A parameter's valid values, by the key a definition declares: the text said when a value is
#: refused, and the SymPy assumptions its symbol is made with (so that SymPy derives for those values).
RANGES: dict[str, tuple[str, dict[str, bool]]] = {
    "finite": ("a finite number", {"real": True}),
    "positive": ("a finite number > 0", {"positive": True}),
}


@dataclass(frozen=True)
class Parameter:
    """A definition's parameter, as torch users know it (leaky_relu's slope, huber's delta).

    It is a SymPy symbol in the definition, so one kernel serves every value (a kernel argument);
    `default` is torch's default, and `range` a key of RANGES.
    """

    name: str
    default: float
    range: str
    description: str

    @property
    def symbol(self) -> sp.Symbol:
        return sp.Symbol(self.name, **RANGES[self.range][1])

    @property
    def value(self) -> sp.Expr:
        """The default as an exact SymPy number (0.01 -> 1/100), substituted for numeric checks."""
        return sp.Rational(repr(self.default))

    def describe(self) -> str:
        return f"{self.name} = {self.default:g} by default ({self.description}; {RANGES[self.range][0]})"


#: The suffix of the kernels that take a definition's parameters as trailing arguments
#: (`leaky_relu_forward_with(x_in, y_out, slope)`); exported in the generated indexes as WITH.
WITH = "_with"


def defaults(parameters: tuple[Parameter, ...]) -> dict[sp.Symbol, sp.Expr]:
    """symbol -> default value, for evaluating a parameterised expression at torch's defaults."""
    return {p.symbol: p.value for p in parameters}


@dataclass
class Derivation:
    """A forward definition and its derived gradients.

    `forward` is the SymPy expression of the inputs; `gradients` maps each input's name to the
    derivative of the output (or of the loss) with respect to it, possibly in terms of `output`.
    `steps` are the labelled lines shown to a person: (label, expression or text).
    """

    name: str
    kind: str
    description: str
    forward: sp.Expr
    gradients: dict[str, sp.Expr]
    output: sp.Symbol | None = None
    steps: list[tuple[str, object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The definition's parameters (symbols in `forward`): kernel arguments, with their defaults.
    parameters: tuple[Parameter, ...] = ()

    def render(self, fmt: str = "pretty") -> str:
        """The derivation as text: `pretty` (Unicode), `latex` or `text` (plain SymPy syntax)."""
        lines = [f"{self.name} ({self.kind}): {self.description}"]
        for label, value in self.steps:
            lines.append(f"  {label}:")
            lines.extend("    " + line for line in _show(value, fmt).splitlines())
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render("pretty")

    def __repr__(self) -> str:
        return f"Derivation({self.name!r}, forward={sp.sstr(self.forward)}, gradients={_sstr(self.gradients)})"

    def _repr_latex_(self) -> str:
        """The steps as one `aligned` block that KaTeX and MathJax both render (tests/test_katex.py)."""
        return "$" + self.latex() + "$"

    def latex(self) -> str:
        """The steps as LaTeX math (without the $ delimiters): the title, wrapped, above an aligned
        block of `label : value` rows (so a long title does not push the rows aside)."""
        title = [latex_text(line) for line in _wrap(f"{self.name} ({self.kind}): {self.description}")]
        rows = [latex_label(label) + " &: " + latex_value(value) for label, value in self.steps]
        rows += [latex_text("note") + " &: " + latex_value(note) for note in self.notes]
        block = "\\begin{aligned}" + r" \\ ".join(rows) + "\\end{aligned}"
        return "\\begin{array}{l}" + r" \\ ".join([*title, block]) + "\\end{array}"


#: Text in LaTeX output is wrapped at this many characters: titles, and values (beside their labels),
#: so that a derivation fits a notebook cell's width.
_TITLE_WIDTH, _LABEL_WIDTH, _VALUE_WIDTH = 100, 50, 60


def _wrap(text: str, width: int = _TITLE_WIDTH) -> list[str]:
    """Lines of text no longer than `width` (each given line wrapped on its own)."""
    return [part for line in str(text).splitlines() or [""]
            for part in (textwrap.wrap(line, width, break_long_words=False) or [""])]


#: A symbol named like "dL/dy" is a partial derivative (of L with respect to y).
_PARTIAL_NAME = re.compile(r"d(\w+)/d(\w+)")
#: Characters that \text{} cannot hold in both KaTeX and MathJax, as math-mode LaTeX.
_TEXT_ESCAPES = {"_": r"\_", "{": r"\{", "}": r"\}", "\\": r"\backslash ", "$": r"\$", "%": r"\%",
                 "&": r"\&", "#": r"\#", "~": r"\sim ", "<": r"\lt ", ">": r"\gt ", "^": r"\hat{}"}
_TEXT_SPECIAL = re.compile(r"(\^\{?[A-Za-z0-9]+\}?|--+|[_{}\\$%&#~<>^])")


def latex_text(text: str) -> str:
    """Plain text as LaTeX math that KaTeX and MathJax render alike: words in \\text{}, and the
    characters \\text{} cannot hold (_ ^ { } ...) in math mode; `G^T` becomes a superscript."""
    parts = []
    for piece in _TEXT_SPECIAL.split(str(text)):
        if not piece:
            continue
        if piece.startswith("^") and len(piece) > 1:
            parts.append("^{\\text{%s}}" % piece[1:].strip("{}"))
        elif piece in _TEXT_ESCAPES:
            parts.append(_TEXT_ESCAPES[piece])
        elif piece.startswith("--"):  # each dash on its own: TeX would join them into a dash (--opt)
            parts.append(r"\text{-}" * len(piece))
        else:
            parts.append("\\text{%s}" % piece)
    return "".join(parts) or "{}"


def latex_label(label: str) -> str:
    """A step's label, wrapped onto right-aligned lines (it stands left of its value)."""
    lines = _wrap(label, _LABEL_WIDTH)
    if len(lines) == 1:
        return latex_text(lines[0])
    return r"\begin{array}{r}" + r" \\ ".join(latex_text(line) for line in lines) + r"\end{array}"


def latex_value(value: object) -> str:
    """A step's value: a SymPy expression by _LatexPrinter, text line by line by latex_text."""
    if isinstance(value, sp.Basic):
        return _LatexPrinter().doprint(value)
    lines = _wrap(str(value), _VALUE_WIDTH)
    if len(lines) == 1:
        return latex_text(lines[0])
    return r"\begin{array}{l}" + r" \\ ".join(latex_text(line) for line in lines) + r"\end{array}"


class _LatexPrinter(LatexPrinter):
    """SymPy's LaTeX, with symbols named dA/dB as partial-derivative fractions, set off by a dot in a
    product (the backward step reads dL/dy . y(1 - y), not dL/dyy(1 - y))."""

    def _print_Symbol(self, expr, style="plain"):
        m = _PARTIAL_NAME.fullmatch(expr.name)
        if m:
            top, bottom = (self._print(sp.Symbol(part)) for part in m.groups())
            return r"\frac{\partial %s}{\partial %s}" % (top, bottom)
        if _is_word(expr.name):  # weight_decay, buf, lr: upright, whole, not w e i g h t_{decay}
            return r"\mathrm{%s}" % expr.name.replace("_", r"\_")
        return super()._print_Symbol(expr, style)

    def _print_Mul(self, expr):
        partials = [a for a in expr.args if isinstance(a, sp.Symbol) and _PARTIAL_NAME.fullmatch(a.name)]
        if partials and len(expr.args) > len(partials):
            rest = sp.Mul(*[a for a in expr.args if a not in partials])
            return r" \cdot ".join([self._print(a) for a in partials] +
                                   [self.parenthesize(rest, PRECEDENCE["Mul"], strict=True)])
        if any(isinstance(a, sp.Symbol) and _is_word(a.name) for a in expr.args):
            saved = self._settings["mul_symbol_latex"]
            self._settings["mul_symbol_latex"] = r" \cdot "  # lr g, not lrg
            try:
                return super()._print_Mul(expr)
            finally:
                self._settings["mul_symbol_latex"] = saved
        return super()._print_Mul(expr)


def _is_word(name: str) -> bool:
    """A symbol named by a word (buf, weight_decay, step_size), not a letter with a subscript (x_1,
    z_i, W2) or a Greek letter (alpha, beta1): LaTeX shows it upright and whole."""
    head = re.match(r"[A-Za-z]+", name)
    if head is None or len(head.group()) < 2 or head.group().lower() in greek_letters_set:
        return False
    return re.fullmatch(r"[A-Za-z]+[0-9]*(_[A-Za-z0-9]+)*", name) is not None


def _sstr(gradients: dict[str, sp.Expr]) -> str:
    return "{" + ", ".join(f"{k!r}: {sp.sstr(v)}" for k, v in gradients.items()) + "}"


def _show(value: object, fmt: str) -> str:
    if not isinstance(value, sp.Basic):
        return str(value)
    if fmt == "latex":
        return latex_value(value)
    if fmt == "text":
        return sp.sstr(value)
    return sp.pretty(value, use_unicode=True, wrap_line=False)


def simplest(candidates: list[sp.Expr]) -> sp.Expr:
    """The candidate with the fewest operations (ties: the shortest text), deterministically."""
    return min(candidates, key=lambda e: (sp.count_ops(e), len(sp.sstr(e)), sp.sstr(e)))


def in_terms_of_output(f: sp.Expr, d: sp.Expr, x: sp.Symbol) -> list[sp.Expr]:
    """Forms of the derivative `d` of `f(x)` written in the output y = f(x) alone.

    For each sub-expression g of f (exp(-x), tanh(x), ...) such that f is a function of g alone,
    solve y = f(g) for g and substitute into d: sigmoid gives y*(1 - y), tanh 1 - y**2.
    """
    u = sp.Dummy("u")
    found: list[sp.Expr] = []
    generators = sorted(
        (a for a in f.atoms(sp.Function, sp.Pow) if x in a.free_symbols and a != x),
        key=sp.default_sort_key,
    )
    for g in generators:
        fu = f.subs(g, u)
        if x in fu.free_symbols or u not in fu.free_symbols:
            continue
        try:
            solutions = sp.solve(sp.Eq(y, fu), u)
        except (NotImplementedError, ValueError):
            continue
        for s in solutions:
            form = sp.simplify(d.subs(g, s))
            if form.free_symbols <= {y} and not form.has(sp.nan, sp.zoo, sp.oo):
                found.append(form)
    return found


#: The most operations a derivative may have for `derive` to try simplifying it (and writing it in
#: y): a deterministic bound on SymPy's work, so a large formula is derived in seconds.
SIMPLIFY_LIMIT = 60


def _function_kinds(e: sp.Expr) -> set[type]:
    """The kinds of function in e: simplify may trade exp for cosh, which overflows differently."""
    return {type(a) for a in e.atoms(sp.Function)}


def _best_derivative(f: sp.Expr, d: sp.Expr, x: sp.Symbol, where: sp.Basic = sp.true,
                     passed_over: list | None = None, values: dict | None = None) -> sp.Expr:
    """The simplest of d, simplify(d) and its forms in the output y, branch by branch, among the
    forms as accurate as the best of them (`accuracy.inaccurate_points`, with the parameters at
    `values`, their defaults). A form in y counts only where SymPy proves it equal to d (for every
    value of the parameters): solving y = f(g) can pick the wrong branch."""
    if isinstance(f, sp.Piecewise) and isinstance(d, sp.Piecewise) and len(f.args) == len(d.args):
        branches = []
        for (fb, fc), (db, dc) in zip(f.args, d.args):
            if fc != dc:
                break
            branches.append((_best_derivative(fb, db, x, dc, values=values), dc))
        else:
            return sp.Piecewise(*branches)
    if sp.count_ops(d) > SIMPLIFY_LIMIT:
        return d  # left as sympy.diff gave it: simplifying it could take minutes
    known = _function_kinds(f) | _function_kinds(d)
    candidates = [d] + [c for c in (sp.simplify(d), sp.factor(d)) if _function_kinds(c) <= known]
    forms = [c for form in in_terms_of_output(f, d, x) for c in (form, sp.factor(form), -sp.factor(-form))]
    candidates += [c for c in dict.fromkeys(forms) if accuracy.equal_everywhere(f, d, c, x, y)]
    candidates = list(dict.fromkeys(candidates))
    misses = accuracy.inaccurate_points(f, d, candidates, x, y, where, values)
    kept = [c for c, m in zip(candidates, misses) if m == min(misses)]
    in_y = [c for c in candidates if y in c.free_symbols]
    if passed_over is not None and in_y and not any(y in c.free_symbols for c in kept):
        passed_over.append(simplest(in_y))
    return simplest(kept)


def derive_elementwise(name: str, f: sp.Expr, x: sp.Symbol, description: str,
                       kind: str = "activation", parameters: tuple[Parameter, ...] = ()) -> Derivation:
    """y = f(x) elementwise: dy/dx by `sympy.diff`, simplified, in y where that is shorter.

    `parameters`: symbols of f other than x (leaky_relu's slope); the derivative is derived for
    them as symbols, and its forms are compared for accuracy at their defaults."""
    raw = apply_conventions(sp.diff(f, x))
    passed_over: list[sp.Expr] = []
    best = _best_derivative(f, raw, x, passed_over=passed_over, values=defaults(parameters))
    steps: list[tuple[str, object]] = [("forward", sp.Eq(y, f)), ("dy/dx = diff(f, x)", raw)]
    steps[1:1] = [("parameter", p.describe()) for p in parameters]
    for form in passed_over:
        steps.append(("equal, in terms of the output y (the kernel does not use it: it loses accuracy where y "
                      "rounds, and the form in x does not)", form))
    if best != raw:
        label = "simplified, in terms of the output y" if y in best.free_symbols else "simplified"
        steps.append((label, best))
    steps.append(("backward", sp.Eq(sp.Symbol("dL/dx"), sp.Symbol("dL/dy") * best)))
    notes = []
    if raw.has(sp.DiracDelta):
        notes.append(
            "the derivative is zero everywhere except at x = 0, where it is undefined (a Dirac "
            "delta): gradient descent gets no signal through it, so a step unit is trained by the "
            "perceptron learning rule (symnn.Perceptron), and networks use smooth activations")
    return Derivation(name, kind, description, f, {x.name: best}, y, steps, notes, parameters)

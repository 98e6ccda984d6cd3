"""The fused loop's module text: the template with the generated kernels inlined into it.

`fused_module(spec)` reads the template (`symnn.runtime.fused.template.train_epochs`) and the
kernels the spec uses (the modules of `generated/`, as printed there from the symbolic definitions)
into the one kernel representation (`symnn.ir.read_functions`), replaces every placeholder call
of the template by the kernel's statements (`symnn.ir.Inliner`: each keeps its label, names are
renamed only where they clash), and prints the one function (`symnn.ir.print_function`), so Numba
compiles one function: no callee to compile first, no inlining pass, no argument copies. Both
training paths run the same kernels and give the same numbers (up to the last bit where two BLAS
builds round a product differently), and nothing here needs SymPy. The text depends only on the
activations used, the loss and optimizer kernels (`spec.canonical`) and the matrix products:
`direct_gemm` prints them as calls of the `gemm` intrinsic (NumPy's OpenBLAS, see
symnn.runtime.fused.intrinsics), else as `np.dot` (SciPy's, as the per-layer kernels).
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from pathlib import Path
from types import SimpleNamespace

from symnn import ir, vecmath
from symnn.runtime import kernels
from symnn.runtime.fused import intrinsics, template
from symnn.runtime.fused.spec import Generated, canonical, optimizer_module, roles

#: A generated module's text by dotted name ("activations.relu"): the installed file's by default;
#: `symnn generate` passes the texts it is about to write (the goldens follow the kernels beside them).
Sources = Callable[[str], str]


def installed_source(module: str) -> str:
    """The text of an installed generated module."""
    return Path(kernels.generated(module).__file__).read_text(encoding="utf-8")


def _with_formulas(source: Sources, formulas: dict[str, str]) -> Sources:
    """`source`, and the modules of formula activations (`activations.act_<hash>`) from the cache
    folder, where symnn.runtime.custom derives and writes them (the names the source does not know)."""
    def text(module: str) -> str:
        kind, _, name = module.partition(".")
        if name in formulas and source is installed_source:
            from symnn.runtime import custom

            path = {"activations": custom.activation_module_path, "losses": custom.loss_module_path}[kind]
            return path(formulas[name]).read_text(encoding="utf-8")
        return source(module)
    return text


def _names_of(source: Sources) -> Generated:
    """A generated module's names (its module-level literals: NAMES, KERNELS, ...) read from its text."""
    if source is installed_source:
        return kernels.generated

    @cache
    def names(module: str) -> SimpleNamespace:
        tree = ast.parse(source(module))
        return SimpleNamespace(**{node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
                                  if isinstance(node, ast.Assign) and len(node.targets) == 1
                                  and isinstance(node.targets[0], ast.Name) and _is_literal(node.value)})
    return names


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except ValueError:
        return False
    return True


@cache
def _template() -> ir.Kernel:
    return ir.read_functions(Path(template.__file__).read_text(encoding="utf-8"), ["train_epochs"])["train_epochs"]


@cache
def _intrinsics_version() -> str:
    """A hash of the intrinsics' source: in the loop's text, so a changed intrinsic makes a new module
    (and a new Numba cache entry) instead of reusing code compiled against the old one."""
    return hashlib.sha256(Path(intrinsics.__file__).read_bytes()).hexdigest()[:16]


#: How every fused module begins (`symnn generate` recognises its goldens by it).
FUSED_MARK = '"""Fused training loop:'


class _Assembly:
    """One loop being assembled: the kernels it inlines, and the inliner that names their variables."""

    def __init__(self, c: dict, source: Sources, names: Generated) -> None:
        self.c = c
        read = {}

        def functions(module: str) -> ir.ModuleFunctions:
            if module not in read:
                read[module] = ir.ModuleFunctions(source(module))
            return read[module]

        act = names("activations")

        def suffix(facts: object, name: str) -> str:
            """A parameterised kernel's suffix: its parameters are arguments (AP, LP), any value one loop."""
            return facts.WITH if name in getattr(facts, "PARAMETERS", {}) else ""

        self.activations = [(functions(f"activations.{name}")[f"{name}_forward{suffix(act, name)}"],
                             functions(f"activations.{name}")[f"{name}_backward{suffix(act, name)}"])
                            for name in c["activations"]]
        self.dense = functions("layers.dense")
        facts = names("losses")
        formula_loss = c["loss"] in c["formulas"]  # elementwise, in a module of its own name
        self.loss_rows = not formula_loss and facts.LAYOUT[c["loss"]] == "rows"
        #: The template's assembly-time flags (symnn.runtime.fused.template), decided here.
        self.flags = {"LOSS_ROWS": self.loss_rows, "VALIDATION": c["validation"]}
        module = c["loss"] if formula_loss else facts.MODULES[c["loss"]]
        loss_suffix = "" if formula_loss else suffix(facts, c["loss"])
        self.loss = functions(f"losses.{module}")[f"{c['loss']}_value_and_grad{loss_suffix}"]
        self.optimizer = functions(f"optimizers.{optimizer_module(c['optimizer'], names)}")[c["optimizer"]]
        self.roles = roles(c["optimizer"], names)
        self.used = [k for pair in self.activations for k in pair] + [
            self.dense[f] for f in ("dense_forward", "dense_grad_input", "dense_grad_params")] + [self.loss, self.optimizer]
        self.inliner = ir.Inliner(_template())

    def backward_from_output(self) -> tuple[str, ...]:
        """The activations whose backward kernel reads their output y and not their input x (tanh's
        1 - y**2): their input is dead once the forward pass has made y (symnn.runtime.fused.session)."""
        def reads_input(k: ir.Kernel) -> bool:  # an element of x_in: x_in[i] (x_in.shape is no read)
            return any(isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
                       and node.value.id == k.params[0] for node in ast.walk(ast.parse(ir.print_function(k))))

        return tuple(name for name, (_, backward) in zip(self.c["activations"], self.activations)
                     if not reads_input(backward))

    def decorator(self, nrt: bool) -> str:
        """The kernels' decorator (they all share it); without reference counting where `nrt` is False."""
        decorators = {k.decorator for k in self.used}
        if len(decorators) != 1:
            raise ValueError(f"the generated kernels are compiled with different flags: {sorted(decorators)}")
        text = decorators.pop()
        if nrt:
            return text
        call = ast.parse(text.removeprefix("@"), mode="eval").body
        call.keywords.append(ast.keyword("_nrt", ast.Constant(False)))
        return "@" + ast.unparse(call)

    def body(self) -> tuple[ir.Stmt, ...]:
        first = ir.Assign(ir.DTYPE, "P.dtype.type", label="the arrays' scalar type: every constant is T(...)")
        wide = ir.Call("wide_vectors", (), label="vectors as wide as the CPU's (intrinsics.PREFERRED_VECTOR_BITS)")
        return (first, wide, *self.block(_template().body))

    def block(self, stmts: tuple[ir.Stmt, ...]) -> list[ir.Stmt]:
        out: list[ir.Stmt] = []
        for s in stmts:
            out += self.stmt(s)
        return out

    def stmt(self, s: ir.Stmt) -> list[ir.Stmt]:
        if isinstance(s, ir.Call) and s.func in self.PLACEHOLDERS:
            return _labelled(self.PLACEHOLDERS[s.func](self, *s.args), s.label)
        if isinstance(s, ir.Assign) and _call_of(s.value, "loss_value_and_grad") is not None:
            kind = "rows" if self.loss_rows else "elements"
            label = f"{self.loss.name}, inlined: the batch's mean loss ({kind}) and its gradient"
            lp, *arrays = _call_of(s.value, "loss_value_and_grad")
            args = arrays + [f"{lp}[{i}]" for i in range(len(self.loss.params) - len(arrays))]
            return _labelled(self.inliner.inline(self.loss, args, s.target), label, s.label)
        if isinstance(s, ir.For):
            return [replace(s, body=tuple(self.block(s.body)))]
        if isinstance(s, ir.If):
            branches = self.flagged(s.branches)
            if branches and branches[0][0] is None:  # the flags chose one branch: its statements
                return _labelled(self.block(branches[0][1]), s.label)
            branches = [(test, tuple(self.block(body))) for test, body in branches]
            branches = [(t, b) for t, b in branches if b or t is not None]
            return [_elif(replace(s, branches=tuple(branches)))] if branches else []
        return [s]

    def flagged(self, branches: tuple) -> list[tuple[str | None, tuple[ir.Stmt, ...]]]:
        """An if-chain's branches with the assembly's flags decided: a test `FLAG` or `FLAG and rest`
        whose flag is off drops its branch, one whose flag is on keeps `rest` (a bare `FLAG`, the
        branch itself, ending the chain: nothing after it can run)."""
        out = []
        for test, body in branches:
            flag, _, rest = (test or "").partition(" and ")
            if flag in self.flags:
                if not self.flags[flag]:
                    continue
                if not rest:
                    out.append((None, body))
                    break
                test = rest
            out.append((test, body))
        return out

    def _kernel_call(self, name: str, *args: str) -> list[ir.Stmt]:
        return _labelled(self.inliner.inline(self.dense[name], args), f"{name}, inlined")

    def _activations(self, which: int, op: str, ap: str, offset: str, *args: str) -> list[ir.Stmt]:
        branches = []
        for k, pair in enumerate(self.activations, start=1):
            kernel = pair[which]
            values = [f"{ap}[{offset} + {i}]" for i in range(len(kernel.params) - len(args))]
            inlined = self.inliner.inline(kernel, [*args, *values])
            branches.append((f"{op} == {k}", tuple(_labelled(inlined, f"{kernel.name}, inlined"))))
        return [ir.If(tuple(branches))] if branches else []

    def _bind(self, names: tuple[str, ...], item: str) -> list[ir.Stmt]:
        """`name = <item with i>` for each name, which the kernels inlined after it must not rebind."""
        self.inliner.taken |= set(names)
        return [ir.Assign(name, item.format(i=i)) for i, name in enumerate(names)]

    def _bind_hyper(self, hyper: str) -> list[ir.Stmt]:
        return self._bind(self.roles["hyper"], f"{hyper}[{{i}}]")

    def _bind_per_step(self, scalars: str, step: str) -> list[ir.Stmt]:
        return self._bind(self.roles["per_step"], f"{scalars}[{step}, {{i}}]")

    def _optimizer_step(self, param: str, grad: str, state: str, offset: str, size: str, lr: str) -> list[ir.Stmt]:
        rows = [f"view1({state}[{i}], {offset}, {size})" for i in range(len(self.roles["state"]))]
        scalars = [lr if name == "lr" else name for name in self.roles["scalars"]]
        return _labelled(self.inliner.inline(self.optimizer, [param, grad, *rows, *scalars]),
                         f"{self.optimizer.name}, inlined: elementwise")

    PLACEHOLDERS = {
        "bind_hyper": _bind_hyper,
        "bind_per_step": _bind_per_step,
        "dense_forward": lambda self, *a: self._kernel_call("dense_forward", *a),
        "dense_grad_params": lambda self, *a: self._kernel_call("dense_grad_params", *a),
        "dense_grad_input": lambda self, *a: self._kernel_call("dense_grad_input", *a),
        "activation_forward": lambda self, op, *a: self._activations(0, op, *a),
        "activation_backward": lambda self, op, *a: self._activations(1, op, *a),
        "optimizer_step": _optimizer_step,
    }


def _call_of(text: str, func: str) -> list[str] | None:
    """The argument texts of `text` if it is a call of `func`, else None."""
    node = ast.parse(text, mode="eval").body
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == func:
        return [ast.unparse(a) for a in node.args]
    return None


def _labelled(stmts: list[ir.Stmt], *labels: str) -> list[ir.Stmt]:
    """The statements, the first carrying `labels` (joined) above its own."""
    text = "\n".join(label for label in labels if label)
    if not stmts or not text:
        return stmts
    first = stmts[0]
    return [replace(first, label="\n".join(x for x in (text, first.label) if x)), *stmts[1:]]


def _elif(s: ir.If) -> ir.If:
    """`else:` holding only an `if` chain, printed as `elif`s."""
    *head, (test, body) = s.branches
    if test is None and len(body) == 1 and isinstance(body[0], ir.If) and not body[0].label:
        return replace(s, branches=(*head, *body[0].branches))
    return s


def fused_module(spec: dict, direct_gemm: bool = False, source: Sources = installed_source) -> str:
    """The source of the fused training module for `spec` (see the module docstring).

    `direct_gemm`: the matrix products call NumPy's OpenBLAS directly (the `gemm` intrinsic) instead
    of `np.dot`; importing the module then raises ImportError where that library is missing.
    """
    names = _names_of(source)
    c = canonical(spec, names)
    a = _Assembly(c, _with_formulas(source, c["formulas"]), names)
    # No reference counting with direct products: the loop allocates nothing and its views borrow
    # from its arguments, so Numba's incref/decref of every array it passes around (a fifth of the IR
    # to optimize) is not needed. (np.dot's implementation allocates, so the np.dot loop keeps it.)
    body = ir.without_unused(a.body())  # a_offset where no activation has parameters, ...
    # A parameter no statement reads is not the loop's (AP and LP where nothing is parameterised): fewer
    # arrays for Numba to unbox and lower. PARAMETERS says which the loop takes, in order.
    used = ir.mentioned(body)
    params = tuple(p for p in _template().params if p in used)
    loop = ir.Kernel("train_epochs", params, _template().doc, body, a.decorator(nrt=not direct_gemm))
    products = "gemm" if direct_gemm else "np.dot"
    code = ir.print_function(loop, products)
    matrix = [s for s in ir.walk(body) if isinstance(s, ir.Product)]  # printed as np.dot or gemm calls
    if direct_gemm:
        used |= {"gemm", "link_gemm"} | {"TRANS" if t else "NO_TRANS" for s in matrix for t in (s.trans_a, s.trans_b)}
    elif matrix:
        used.add("np")
    intrinsic = [n for n in ("NO_TRANS", "TRANS", "gemm", "link_gemm", "view1", "view2", "wide_vectors") if n in used]
    calls = sorted(f.__name__ for f in vecmath.FUNCTIONS.values() if f.__name__ in used)
    # A formula activation is named by its hash (act_<hash>): its text never reaches the module (its kernels'
    # own module names the parsed expression).
    head = [f'{FUSED_MARK} activations {", ".join(c["activations"]) or "none"}; '
            f'loss {c["loss"]}; {c["optimizer"]}{"; with validation" if c["validation"] else ""}.',
            "",
            "Assembled by symnn.runtime.fused.assemble from its template and the kernels of symnn.generated,",
            "into symnn's cache folder under a hash of this text: do not edit by hand.",
            '"""',
            "",
            *(["import math", ""] if "math" in used else []),
            *(["import numpy as np"] if "np" in used else []),
            "from numba import njit",
            "",
            f"from symnn.runtime.fused.intrinsics import {', '.join(intrinsic)}",
            *([f"from symnn.vecmath import {', '.join(calls)}"] if calls else []),
            "",
            *ir.wrapped("ACTIVATIONS = ", repr(c["activations"])),
            f"LOSS = {c['loss']!r}",
            f"OPTIMIZER = {c['optimizer']!r}",
            *ir.wrapped("ROLES = ", repr({k: a.roles[k] for k in ("state", "hyper", "per_step")})),
            f"VALIDATION = {c['validation']!r}",
            *ir.wrapped("BACKWARD_FROM_OUTPUT = ", repr(a.backward_from_output())),
            *ir.wrapped("PROG_COLUMNS = ", repr(template.PROG_COLUMNS)),
            *ir.wrapped("PARAMETERS = ", repr(params)),
            f"UPDATE_PER_LAYER_FROM = {template.UPDATE_PER_LAYER_FROM!r}",
            f"MATRIX_PRODUCTS = {'NumPy OpenBLAS, direct' if direct_gemm else 'np.dot'!r}",
            f"INTRINSICS = {_intrinsics_version()!r}  # symnn.runtime.fused.intrinsics, by its hash",
            f"VECMATH = {vecmath.source_hash()!r}  # symnn.vecmath, by its hash",
            ""]
    if direct_gemm:
        head += ["link_gemm()  # binds the BLAS symbols before Numba loads the loop from its cache", ""]
    return "\n".join(head) + "\n\n" + code


__all__ = ["FUSED_MARK", "Sources", "fused_module", "installed_source"]

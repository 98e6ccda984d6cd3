"""Optimizer definitions -> self-contained Numba modules under `optimizers/`.

Each kernel is one fused, in-place pass over flat arrays: per element it loads the parameter, the
gradient and the state into locals, runs the rule's lines in order (printed by
`printer.statements`, so every constant is typed `T(...)`), and stores the parameter and the state
back. Hyper-parameters arrive as Python floats and are cast to the arrays' dtype at the top, so
float32 arrays are updated in float32. Step-dependent scalars are computed by a plain Python
function in the same module, in float64, as torch computes them.

Each module also holds `KERNELS` (kernel -> its state arrays and scalar arguments, in call order),
`VARIANTS` (kernel -> the options it has on), `OPTIONS`, `INITIAL` (state array -> its start),
`STEP_INPUTS`, `STEP_SCALARS` and `STEP_CARRIED` (recurrences -> their value before step 1); the
package's __init__ holds the facts of every optimizer (class names, defaults, constraints,
presets). That is all the runtime and the CLI need, without SymPy.
"""

from __future__ import annotations

from dataclasses import replace

import sympy as sp

from symnn import ir
from symnn.codegen import emit
from symnn.codegen.printer import lower, statements
from symnn.symbolic.optimizers import (
    HYPERPARAMETERS,
    OPTIMIZERS,
    OPTION_TEXT,
    PRESETS,
    SPLIT,
    Kernel,
    OptimizerDefinition,
)


def _conditions(options: tuple[str, ...]) -> str:
    return ", ".join(OPTION_TEXT[o] for o in options)


def _summary(d: OptimizerDefinition) -> list[str]:
    defaults = ", ".join(f"{key}={value!r}" for key, value in d.defaults)
    lines = [f"{d.torch_class} ({defaults}): {d.description}."]
    if d.per_step:
        lines.append(f"Once per step, in Python floats ({d.step_function}):")
        lines += [f"    {sp.sstr(line.update())}" + (f"    [starts at {line.start!r}]" if line.start is not None else "")
                  for line in d.per_step]
    lines.append("Per element, in order:")
    for line in d.lines:
        cond = f"    [{', '.join(line.conditions())}]" if line.conditions() else ""
        lines.append(f"    {sp.sstr(line.update())}{cond}")
    lines.append("Kernels:")
    lines += [f"    {k.signature()}" for k in d.kernels()]
    return lines


def _metadata(d: OptimizerDefinition) -> str:
    out = "#: kernel -> (state arrays after param and grad, scalar arguments), in call order.\nKERNELS = {\n"
    for k in d.kernels():
        state = tuple(a.arg for a in k.arrays[2:])
        out += "\n".join(ir.wrapped(f"    {k.name!r}: ", repr((state, tuple(s.name for s in k.scalars))), ",")) + "\n"
    out += "}\n"
    variants = {k.name: k.options for k in d.kernels()}
    out += (f"#: kernel -> the options it has on (an option is on when its keyword is nonzero or True).\n"
            f"{emit.assignment('VARIANTS', variants)}{emit.assignment('OPTIONS', d.options())}")
    initial = {a.arg: a.start for a in d.state}
    out += "#: state array -> the value it starts at (a number, or the keyword holding it).\n"
    out += emit.assignment("INITIAL", initial)
    inputs = tuple(s.name for s in d.step_inputs()) if d.per_step else ()
    outputs = tuple(line.target.name for line in d.per_step)
    carried = {line.target.name: line.start for line in d.carried()}
    out += (f"#: {d.step_function}(*STEP_INPUTS) returns STEP_SCALARS, once per step "
            "(empty: no such function);\n#: STEP_CARRIED: the scalars it also reads as their value "
            "after the previous step, and their value before step 1.\n"
            f"{emit.assignment('STEP_INPUTS', inputs)}{emit.assignment('STEP_SCALARS', outputs)}"
            f"{emit.assignment('STEP_CARRIED', carried)}\n\n")
    return out



def _step_function(d: OptimizerDefinition) -> str:
    args = [s.name for s in d.step_inputs()]
    out = ir.def_line(d.step_function, args) + "\n"
    out += ('    """The step-dependent scalars, in Python floats (float64), once per step; t is the '
            'parameter\'s step count, 1 on its first."""\n'
            "    T = float\n")
    for line in d.per_step:
        out += "\n".join(statements(line.target.name, line.value, "    ")) + "\n"
    names = [line.target.name for line in d.per_step]
    result = f"({names[0]},)" if len(names) == 1 else ", ".join(names)
    return out + "\n".join(ir.wrapped("    return ", result)) + "\n\n\n"


def _kernel(d: OptimizerDefinition, k: Kernel) -> ir.Kernel:
    """The kernel `k` of `d`: per element, load the arrays it reads, run its lines (each labelled, one
    with `unless_zero` under an `if`), store what it wrote."""
    options = f" ({_conditions(k.options)})" if k.options else ""
    doc = f"One {d.torch_class} step{options}, in place, over flat C-contiguous arrays of one dtype."
    head = [ir.Assign(ir.DTYPE, "param.dtype.type")]
    head += [ir.Assign(s.name, f"T({s.name})") for s in k.scalars if not s.is_integer]
    read = set().union(*(line.value.free_symbols for line in k.lines))
    body: list[ir.Stmt] = [ir.Assign(a.symbol.name, f"{a.arg}[i]") for a in k.arrays if a.symbol in read]
    for line in k.lines:
        update = lower(line.target.name, line.value)
        if line.unless_zero is not None:
            update = [ir.If(((f"{line.unless_zero.name} != T(0)", tuple(update)),))]
        body += [replace(update[0], label=line.label), *update[1:]]
    body += [ir.Assign(f"{a.arg}[i]", a.symbol.name) for a in k.written()]
    params = tuple(a.arg for a in k.arrays) + tuple(s.name for s in k.scalars)
    body = ir.without_unused((*head, ir.For("i", ("param.shape[0]",), tuple(body))))
    return ir.Kernel(k.name, params, (doc,), body, emit.NJIT)


def optimizer_module(d: OptimizerDefinition) -> str:
    """The module `optimizers/<name>.py`: metadata, the per-step function, one kernel per variant."""
    code = _metadata(d)
    if d.per_step:
        code += _step_function(d)
    code += "\n\n".join(ir.print_function(_kernel(d, k)) for k in d.kernels())
    source = f"symnn.symbolic.optimizers.OPTIMIZERS[{d.name!r}]"
    return emit.header(d.name, source, _summary(d)) + emit.imports(code) + code


def index() -> dict[str, object]:
    """The facts of every optimizer, for `generated/optimizers/__init__.py` (no SymPy, no Numba)."""
    return {
        "NAMES": tuple(OPTIMIZERS),
        "CLASSES": {name: d.class_name for name, d in OPTIMIZERS.items()},
        "DESCRIPTIONS": {name: d.description for name, d in OPTIMIZERS.items()},
        "DEFAULTS": {name: dict(d.defaults) for name, d in OPTIMIZERS.items()},
        "REQUIRES": {name: d.requires for name, d in OPTIMIZERS.items() if d.requires},
        "HYPERPARAMETERS": HYPERPARAMETERS,
        "SPLIT": SPLIT,
        "PRESETS": PRESETS,
    }


def optimizer_files() -> dict[str, str]:
    """Relative path -> source text of every optimizer module and the package's __init__."""
    files = {f"optimizers/{name}.py": optimizer_module(d) for name, d in OPTIMIZERS.items()}
    files["optimizers/__init__.py"] = emit.package_init("optimizers", index())
    return dict(sorted(files.items()))


__all__ = ["index", "optimizer_files", "optimizer_module"]

"""Test surfaces -> self-contained Numba modules under `surfaces/`, for `symnn optviz`.

Each module `surfaces/<name>.py` holds `<name>_value(xy)`, `<name>_grad(xy, out)` and
`<name>_grid(xs, ys, out)`, lowered into `ir.Kernel`s (every constant typed `T(...)`), and the
surface's metadata (`START`, `WINDOW`, `MINIMA`, `DESCRIPTION`, `FORMULA`) as plain Python values,
so the runtime needs no SymPy.
"""

from __future__ import annotations

import sympy as sp

from symnn import ir
from symnn.codegen import emit
from symnn.codegen.printer import lower
from symnn.symbolic.surfaces import SURFACES, Surface, derive_surface, x, y


def _metadata(s: Surface) -> str:
    return ("#: The surface's data, for the runtime (symnn.optviz): where the race starts, the plotting\n"
            "#: window ((x_min, x_max), (y_min, y_max)), the known minima (empty: unbounded below).\n"
            + emit.assignment("DESCRIPTION", s.description)
            + emit.assignment("FORMULA", sp.sstr(s.expr))
            + emit.assignment("START", tuple(float(v) for v in s.start))
            + emit.assignment("WINDOW", tuple(tuple(float(v) for v in w) for w in s.window))
            + emit.assignment("MINIMA", tuple(tuple(float(v) for v in m) for m in s.minima)) + "\n\n")


def _loads(exprs: list[sp.Expr], xsrc: str, ysrc: str) -> list[ir.Stmt]:
    free = set().union(*(e.free_symbols for e in exprs))
    return [ir.Assign(sym.name, src) for sym, src in ((x, xsrc), (y, ysrc)) if sym in free]


def _kernel(name: str, params: tuple[str, ...], doc: str, body: list[ir.Stmt]) -> ir.Kernel:
    body = ir.without_unused((ir.Assign(ir.DTYPE, f"{params[0]}.dtype.type"), *body))
    return ir.Kernel(name, params, (doc,), body, emit.NJIT)


def surface_kernels(name: str) -> list[ir.Kernel]:
    """`<name>_value(xy)`, `<name>_grad(xy, out)` and `<name>_grid(xs, ys, out)`."""
    s, d = SURFACES[name], derive_surface(name)
    f, dfdx, dfdy = s.expr, d.gradients["x"], d.gradients["y"]
    grid = ir.For("j", ("ys.shape[0]",), (
        ir.For("i", ("xs.shape[0]",), tuple(_loads([f], "xs[i]", "ys[j]") + lower("out[j, i]", f))),))
    return [
        _kernel(f"{name}_value", ("xy",), "f(x, y) at the point xy = (x, y), a float array of length 2.",
                [*_loads([f], "xy[0]", "xy[1]"), *lower("f", f), ir.Return("f")]),
        _kernel(f"{name}_grad", ("xy", "out"),
                "out = (df/dx, df/dy) at the point xy = (x, y); both float arrays of length 2.",
                _loads([dfdx, dfdy], "xy[0]", "xy[1]") + lower("out[0]", dfdx) + lower("out[1]", dfdy)),
        _kernel(f"{name}_grid", ("xs", "ys", "out"),
                "out[j, i] = f(xs[i], ys[j]): f over the mesh, rows following y (as np.meshgrid).", [grid]),
    ]


def surface_module(name: str) -> str:
    """The module `surfaces/<name>.py`: metadata, then the value, gradient and grid kernels."""
    s = SURFACES[name]
    d = derive_surface(name)
    f, dfdx, dfdy = s.expr, d.gradients["x"], d.gradients["y"]
    code = _metadata(s) + "\n\n".join(ir.print_function(k) for k in surface_kernels(name))
    summary = [f"f(x, y) = {sp.sstr(f)}", f"df/dx = {sp.sstr(dfdx)}", f"df/dy = {sp.sstr(dfdy)}",
               f"{s.description}."]
    return emit.header(name, f"symnn.symbolic.surfaces.SURFACES[{name!r}]", summary) + emit.imports(code) + code


def surface_files() -> dict[str, str]:
    """Relative path -> source text of every surface module and the package's __init__."""
    files = {f"surfaces/{name}.py": surface_module(name) for name in SURFACES}
    files["surfaces/__init__.py"] = emit.package_init("surfaces", {"NAMES": tuple(SURFACES)})
    return dict(sorted(files.items()))


__all__ = ["surface_files", "surface_kernels", "surface_module"]

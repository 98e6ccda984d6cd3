"""Classic 2-D test surfaces f(x, y) for watching optimizers race, each written once in SymPy.

Their gradients are not written here: `derive_surface` obtains them with `sympy.diff`. The code
generator (`symnn.codegen.emit_surfaces`) turns each into value, gradient and grid kernels, and
copies the metadata below (start, window, minima) into the generated module for the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symnn.errors import UserInputError
from symnn.symbolic.derivation import Derivation, simplest

x = sp.Symbol("x", real=True)
y = sp.Symbol("y", real=True)


@dataclass(frozen=True)
class Surface:
    """A test surface: f(x, y), where the race starts, the plotting window and the known minima."""

    name: str
    expr: sp.Expr
    start: tuple[float, float]
    window: tuple[tuple[float, float], tuple[float, float]]  # ((x_min, x_max), (y_min, y_max))
    minima: tuple[tuple[float, float], ...]  # empty: unbounded below (the saddle)
    description: str


_R = sp.Rational

#: name -> Surface, in the order `symnn derive --list` and `symnn optviz` show them.
SURFACES: dict[str, Surface] = {s.name: s for s in (
    Surface("beale",
            (_R(3, 2) - x + x * y) ** 2 + (_R(9, 4) - x + x * y**2) ** 2 + (_R(21, 8) - x + x * y**3) ** 2,
            (1.0, 1.5), ((-4.5, 4.5), (-4.5, 4.5)), ((3.0, 0.5),),
            "Beale's function: flat plateaus and steep curved valleys; minimum 0 at (3, 0.5)"),
    Surface("rosenbrock", (1 - x) ** 2 + 100 * (y - x**2) ** 2,
            (-1.2, 1.0), ((-2.0, 2.0), (-1.0, 3.0)), ((1.0, 1.0),),
            "Rosenbrock's banana: a narrow curved valley, easy to find, slow to follow; minimum 0 at (1, 1)"),
    Surface("saddle", x**2 - y**2,
            (1.5, 0.01), ((-2.0, 2.0), (-2.0, 2.0)), (),
            "a saddle: the gradient vanishes at (0, 0), which is no minimum; f falls without bound along y"),
    Surface("himmelblau", (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2,
            (-0.3, -0.9), ((-5.0, 5.0), (-5.0, 5.0)),
            ((3.0, 2.0), (-2.805118086952745, 3.131312518250573), (-3.779310253377747, -3.283185991286170),
             (3.584428340330492, -1.848126526964404)),
            "Himmelblau's function: four minima of value 0 around a local maximum near (-0.27, -0.92); which one an "
            "optimizer reaches depends on its path"),
    Surface("booth", (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2,
            (-8.0, 8.0), ((-10.0, 10.0), (-10.0, 10.0)), ((1.0, 3.0),),
            "Booth's function: a tilted quadratic bowl (Hessian eigenvalues 2 and 18); minimum 0 at (1, 3)"),
    Surface("ravine", x**2 / 10 + 2 * y**2,
            (-4.5, 1.0), ((-5.0, 5.0), (-2.0, 2.0)), ((0.0, 0.0),),
            "a ravine: a quadratic 20 times steeper across (y) than along (x); SGD zigzags; minimum 0 at (0, 0)"),
)}


def surface(name: str) -> Surface:
    """The registered surface `name`; an unknown name is bad input."""
    if name not in SURFACES:
        raise UserInputError(f"unknown surface {name!r}; choose one of {', '.join(SURFACES)}")
    return SURFACES[name]


def simplest_gradient(expr: sp.Expr, var: sp.Symbol) -> tuple[sp.Expr, sp.Expr]:
    """(sympy.diff(expr, var), the simplest of it, simplify, factor and expand of it)."""
    raw = sp.diff(expr, var)
    return raw, simplest([raw, sp.simplify(raw), sp.factor(raw), sp.expand(raw)])


def _points(points: tuple[tuple[float, float], ...]) -> str:
    return ", ".join(f"({a:.6g}, {b:.6g})" for a, b in points)


def derive_surface(name: str) -> Derivation:
    """f(x, y) and its gradient {'x': df/dx, 'y': df/dy}, by `sympy.diff`, simplified."""
    s = surface(name)
    f = sp.Symbol("f")
    steps: list[tuple[str, object]] = [("f(x, y)", sp.Eq(f, s.expr))]
    gradients: dict[str, sp.Expr] = {}
    for var in (x, y):
        raw, best = simplest_gradient(s.expr, var)
        steps.append((f"df/d{var.name} = diff(f, {var.name})", raw))
        if best != raw:
            steps.append(("simplified", best))
        gradients[var.name] = best
    steps.append(("start, plotting window", f"start {_points((s.start,))}; x in {list(s.window[0])}, "
                  f"y in {list(s.window[1])}"))
    steps.append(("known minima", _points(s.minima) if s.minima else "none: f is unbounded below"))
    return Derivation(name, "surface", s.description, s.expr, gradients, None, steps,
                      ["race optimizers on it: symnn optviz --surface " + name])


__all__ = ["SURFACES", "Surface", "derive_surface", "simplest_gradient", "surface", "x", "y"]

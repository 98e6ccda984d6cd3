"""Test surfaces: SymPy's gradients, the generated value/gradient/grid kernels, the committed modules."""

from __future__ import annotations

import re
from importlib import import_module

import numpy as np
import pytest
import sympy as sp

from symnn.codegen.emit import NJIT
from symnn.codegen.emit_surfaces import surface_files
from symnn.codegen.writer import HEADER_MARK, default_dir
from symnn.errors import UserInputError
from symnn.symbolic.surfaces import SURFACES, derive_surface, x, y

NAMES = list(SURFACES)
H = 1e-6


def _kernels(name: str):
    mod = import_module(f"symnn.generated.surfaces.{name}")
    return mod, getattr(mod, f"{name}_value"), getattr(mod, f"{name}_grad"), getattr(mod, f"{name}_grid")


@pytest.mark.parametrize("name", NAMES)
def test_gradients_are_sympy_diff(name):
    d = derive_surface(name)
    assert (d.kind, d.name, d.output) == ("surface", name, None)
    assert d.forward == SURFACES[name].expr
    assert set(d.gradients) == {"x", "y"}
    for var in (x, y):
        assert sp.expand(d.gradients[var.name] - sp.diff(d.forward, var)) == 0
    assert name in d.render("text")


@pytest.mark.parametrize("name", NAMES)
def test_compiled_gradient_matches_central_differences_of_the_value(name):
    mod, value, grad, _ = _kernels(name)
    (x0, x1), (y0, y1) = mod.WINDOW
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
        analytic = np.empty(2)
        grad(p, analytic)
        numeric = np.empty(2)
        for i in range(2):
            up, down = p.copy(), p.copy()
            up[i] += H
            down[i] -= H
            numeric[i] = (value(up) - value(down)) / (2 * H)
        scale = max(1.0, abs(value(p)))
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-6 * scale)


@pytest.mark.parametrize("name", NAMES)
def test_compiled_value_matches_sympy_and_grid_matches_value(name):
    mod, value, _, grid = _kernels(name)
    f = sp.lambdify((x, y), SURFACES[name].expr, "math")
    (x0, x1), (y0, y1) = mod.WINDOW
    xs, ys = np.linspace(x0, x1, 7), np.linspace(y0, y1, 5)
    out = np.empty((ys.size, xs.size))
    grid(xs, ys, out)
    for j, b in enumerate(ys):
        for i, a in enumerate(xs):
            assert out[j, i] == pytest.approx(value(np.array([a, b])), rel=1e-12, abs=1e-12)
            assert out[j, i] == pytest.approx(f(a, b), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_known_minima_are_minima_and_metadata_matches_the_definition(name):
    mod, value, grad, _ = _kernels(name)
    s = SURFACES[name]
    assert (mod.START, mod.WINDOW, mod.MINIMA, mod.DESCRIPTION) == (s.start, s.window, s.minima, s.description)
    (x0, x1), (y0, y1) = mod.WINDOW
    assert x0 < mod.START[0] < x1 and y0 < mod.START[1] < y1
    for m in mod.MINIMA:
        p = np.array(m)
        g = np.empty(2)
        grad(p, g)
        assert value(p) == pytest.approx(0.0, abs=1e-12)
        np.testing.assert_allclose(g, 0.0, atol=1e-9)
        assert x0 <= m[0] <= x1 and y0 <= m[1] <= y1


def test_the_saddle_point_is_stationary_and_no_minimum():
    _, value, grad, _ = _kernels("saddle")
    g = np.empty(2)
    grad(np.zeros(2), g)
    assert g.tolist() == [0.0, 0.0]
    assert value(np.array([0.0, 0.1])) < value(np.zeros(2)) < value(np.array([0.1, 0.0]))
    assert SURFACES["saddle"].minima == ()


def test_committed_modules_match_surface_files():
    files = surface_files()
    assert set(files) == {f"surfaces/{n}.py" for n in NAMES} | {"surfaces/__init__.py"}
    out = default_dir()
    for rel, text in files.items():
        assert (out / rel).read_text(encoding="utf-8") == text, f"{rel} is stale: regenerate it"
    assert import_module("symnn.generated.surfaces").NAMES == tuple(NAMES)


def test_surface_files_are_deterministic_headed_and_typed():
    files = surface_files()
    assert files == surface_files()
    for rel, text in files.items():
        assert HEADER_MARK in text[:400], rel
        if rel.endswith("__init__.py"):
            continue
        name = rel.removeprefix("surfaces/").removesuffix(".py")
        assert text.count(NJIT) == 3
        for fn in (f"def {name}_value(xy):", f"def {name}_grad(xy, out):", f"def {name}_grid(xs, ys, out):"):
            assert fn in text
        # Every number in the kernels' code is typed T(...): none is left once T(...), indices and
        # the CSE temporaries t0, t1, ... are removed.
        code = text[text.index(NJIT):]
        code = "\n".join(line for line in code.splitlines()
                         if not line.lstrip().startswith(('"""', "@njit", "def ")))
        code = re.sub(r"T\([^()]*\)|\[[^\]]*\]|\bt\d+\b", "", code)
        assert not re.search(r"\d", code), (rel, code)


def test_unknown_surface_is_bad_input():
    with pytest.raises(UserInputError, match="unknown surface 'nosuch'; choose one of beale"):
        derive_surface("nosuch")

"""Generated code passes the lint hand-written code does: `ruff check generated` under the project's config,
long statements broken inside their brackets (and read back as they were), nothing assigned or imported
that nothing uses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from symnn import ir
from symnn.codegen import emit

ROOT = Path(__file__).resolve().parents[1]

#: Long enough names that every statement below is past ir.LINE_LENGTH.
A, B, C = "first_long_operand_name_" * 2, "second_long_operand_name", "third_long_operand_name"
LONG = (
    ir.Assign("out", f"{A}*({B} + {C} - {A}*{B})/({C} + T(2)*{A} + T(1)) + ({A} if {A} > {B} else {C})", "+="),
    ir.If(((f"{A} + {B} > {C} and {A} - {C} < {B} + {A} + {B} + {C}", (ir.Assign("out", f"-out + {A}*{B}"),)),
           (None, (ir.Assign("out", f"{A} + {B} + {C} + {A}*{B}*{C} + ({A} - {B})*({B} - {C})"),)))),
    ir.Return(f"out + {A}*{B} - {C}*{A} + {A}/({B} + {C}) - {C}"),
)


def test_every_generated_module_passes_ruff_with_the_projects_config():
    pytest.importorskip("ruff")
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "generated"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_long_statement_breaks_inside_its_brackets_and_reads_back_as_it_was():
    kernel = ir.Kernel("long", (A, B, C), ("A kernel of long lines.",), (ir.Assign("out", "T(0)"), *LONG))
    text = ir.print_function(kernel)
    assert len(text.splitlines()) > len(LONG) + 6  # every long statement took more than one line
    assert max(len(line) for line in text.splitlines()) <= ir.LINE_LENGTH
    assert ir.read_functions(text) == {"long": kernel}
    (add, branch, result) = LONG
    (test, (then,)), (_, (otherwise,)) = branch.branches
    one_line = (f"def long({A}, {B}, {C}):\n    out = T(0)\n    out += {add.value}\n    if {test}:\n"
                f"        out = {then.value}\n    else:\n        out = {otherwise.value}\n    return {result.value}\n")
    wrapped, flat = {"T": float}, {"T": float}
    exec(text, wrapped)
    exec(one_line, flat)
    for values in ((1.5, -0.25, 3.0), (0.5, 2.0, -1.0), (-2.0, 0.75, 0.125)):
        assert wrapped["long"](*values) == flat["long"](*values)


def test_a_long_module_level_value_breaks_after_its_commas():
    value = {f"key_{i}": tuple(f"name_{i}_{j}" for j in range(6)) for i in range(6)}
    lines = ir.wrapped("FACTS = ", repr(value))
    assert len(lines) > 1 and all(len(line) <= ir.LINE_LENGTH for line in lines)
    assert all(line.rstrip().endswith((",", "}")) for line in lines)
    namespace: dict = {}
    exec("\n".join(lines), namespace)
    assert namespace["FACTS"] == value


def test_an_assignment_nothing_reads_is_not_kept_and_its_label_moves_on():
    body = (ir.Assign("T", "x_in.dtype.type"), ir.Assign("n", "x_in.shape[0]", label="the count"),
            ir.Assign("m", "n + 1"), ir.For("i", ("x_in.shape[0]",), (ir.Assign("y_out[i]", "x_in[i]"),)),
            ir.Assign("total", "0.0"), ir.Assign("total", "x_in[0]", "+="))
    kept = ir.without_unused(body)
    assert kept[0] == ir.For("i", ("x_in.shape[0]",), (ir.Assign("y_out[i]", "x_in[i]"),), label="the count")
    assert kept[1:] == body[4:]  # `total` is read by its `+=`


def test_a_module_imports_only_what_its_code_calls():
    code = ('@njit\ndef grid(xs, out):\n    """Like np.meshgrid, with math.exp."""\n'
            "    for i in range(xs.shape[0]):\n        out[i] = vexp(xs[i])  # not math.exp\n")
    imports = emit.imports(code)
    assert "numpy" not in imports and "import math" not in imports
    assert "from symnn.vecmath import vexp\n" in imports and "from numba import njit" in imports

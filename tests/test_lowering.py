"""Every kernel of `generated/` is a lowered `ir.Kernel`, printed by `ir.print_function`.

For each generated module, each function's text is its lowered kernel printed, and Python's parser
reads it back (`ir.read_functions`) as the same kernel. Each family lowers to its loop shape:
activations and elementwise losses per element, cross-entropy and multi-margin per row, the dense
layer as matrix products.
"""

from __future__ import annotations

import ast
import functools

import pytest

from symnn import ir
from symnn.codegen import emit, emit_optimizers, emit_surfaces
from symnn.codegen.writer import default_dir
from symnn.symbolic import losses, registry
from symnn.symbolic.api import derive_formula
from symnn.symbolic.optimizers import OPTIMIZERS
from symnn.symbolic.surfaces import SURFACES

GENERATED = default_dir()
#: Every generated module holding functions (the golden fused loops are emit_fused's, tested there).
MODULES = sorted(str(p.relative_to(GENERATED)) for p in GENERATED.rglob("*.py")
                 if p.name != "__init__.py" and p.parent.name != "fused")


@functools.cache
def lowered() -> dict[str, tuple[ir.Kernel, ...]]:
    """Relative path -> the kernels lowered for that module, family by family."""
    out: dict[str, list[ir.Kernel]] = {}
    for name in registry.names("activation"):
        out[f"activations/{name}.py"] = emit.activation_kernels(registry.derivation(name))
    for name, loss in losses.ELEMENTWISE_LOSSES.items():
        out[f"losses/{name}.py"] = emit.elementwise_loss_kernels(loss)
    out["losses/hinge.py"] += emit.multi_margin_kernels()
    out["losses/cross_entropy.py"] = emit.cross_entropy_kernels()
    out["layers/dense.py"] = emit.dense_kernels(registry.derivation("dense"))
    for name, d in OPTIMIZERS.items():
        out[f"optimizers/{name}.py"] = [emit_optimizers._kernel(d, k) for k in d.kernels()]
    for name in SURFACES:
        out[f"surfaces/{name}.py"] = emit_surfaces.surface_kernels(name)
    return {path: tuple(kernels) for path, kernels in out.items()}


def _function_texts(source: str) -> dict[str, str]:
    """Each top-level function's text, decorator to last statement, ending in a newline."""
    lines = source.splitlines()
    return {node.name: "\n".join(lines[node.decorator_list[0].lineno - 1 if node.decorator_list else node.lineno - 1:
                                       node.end_lineno]) + "\n"
            for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}


def test_every_generated_module_is_lowered():
    assert MODULES == sorted(lowered())


@pytest.mark.parametrize("path", MODULES)
def test_each_function_is_its_kernel_printed_and_reads_back_as_it(path):
    source = (GENERATED / path).read_text()
    texts, read = _function_texts(source), ir.read_functions(source)
    kernels = lowered()[path]
    for k in kernels:
        assert texts[k.name] == ir.print_function(k)
        assert read[k.name] == k
    step = {OPTIMIZERS[path.split("/")[1][:-3]].step_function} if path.startswith("optimizers/") else set()
    assert set(read) - {k.name for k in kernels} <= step  # only an optimizer's per-step Python stays text


def _layouts(*paths: str) -> set[str]:
    return {k.layout for path in paths for k in lowered()[path]}


def test_each_family_lowers_to_its_loop_shape():
    activations = [f"activations/{name}.py" for name in registry.names("activation")]
    elementwise = [f"losses/{name}.py" for name in losses.ELEMENTWISE_LOSSES if name != "hinge"]
    hinge = {k.name: k.layout for k in lowered()["losses/hinge.py"]}
    assert _layouts(*activations) == {"elementwise"}
    assert _layouts(*elementwise) == {"elementwise"}
    assert {hinge[f"hinge_{kind}"] for kind in ("forward", "backward", "value_and_grad")} == {"elementwise"}
    assert {hinge[f"multi_margin_{kind}"] for kind in ("forward", "backward", "value_and_grad")} == {"rows"}
    assert _layouts("losses/cross_entropy.py") == {"rows"}
    assert _layouts("layers/dense.py") == {"matrix"}
    assert _layouts(*(f"optimizers/{name}.py" for name in OPTIMIZERS)) == {"elementwise"}


def test_dense_products_are_products_and_its_derived_rules_label_them():
    kernels = {k.name: k for k in lowered()["layers/dense.py"]}
    forward = kernels["dense_forward"].body
    assert forward[0] == ir.Product("y", "x", "w", trans_b=True, label="X*W.T")
    assert isinstance(forward[1], ir.For) and forward[1].label == "1*b.T"
    assert kernels["dense_grad_params"].body[0] == ir.Product("grad_w", "grad_y", "x", trans_a=True, label="G.T*X")


def test_optimizer_lines_keep_their_labels_and_a_line_skipped_at_zero_is_an_if():
    d = OPTIMIZERS["adam"]
    kernel = emit_optimizers._kernel(d, d.kernels()[0])
    labels = [s.label for s in next(s for s in kernel.body if isinstance(s, ir.For)).body if s.label]
    assert labels == [line.label for line in d.kernels()[0].lines]
    guarded = [s for s in ir.walk(kernel.body) if isinstance(s, ir.If) and s.label.startswith("weight decay")]
    assert guarded and guarded[0].branches[0][0] == "weight_decay != T(0)"


def test_a_formula_activation_is_lowered_like_a_registered_one():
    d = derive_formula("x*tanh(softplus(x))")
    d.name = "act_test"
    kernels = emit.activation_kernels(d)
    source = emit.activation_module(d, "a test formula")
    assert [k.name for k in kernels] == ["act_test_forward", "act_test_backward"]
    assert {k.layout for k in kernels} == {"elementwise"}
    assert ir.read_functions(source) == {k.name: k for k in kernels}


def test_activations_call_vecmath_and_the_losses_libm():
    """Activation loops vectorise with symnn.vecmath's forms; the losses' loops sum as they go, do not
    vectorise, and call libm's scalar functions, which are faster there."""
    from symnn.runtime.fused.assemble import installed_source

    assert "vexp(" in installed_source("activations.silu") and "math.exp(" not in installed_source("activations.silu")
    assert "vtanh(" in installed_source("activations.tanh")
    for loss in ("binary_cross_entropy", "cross_entropy"):
        text = installed_source(f"losses.{loss}")
        assert "math.exp(" in text and "vexp(" not in text and "symnn.vecmath" not in text

"""The one kernel representation: printed, read back by Python's parser, inlined with renaming only on a clash."""

from __future__ import annotations

import ast

import pytest

from symnn import ir

MODULE = '''\
@njit(cache=True)
def scale(x_in, y_out, a):
    """y_out = a * x_in over flat arrays.

    Two paragraphs of docstring."""
    T = x_in.dtype.type
    # the factor, in the arrays' dtype
    a = T(a)
    for i in range(x_in.shape[0]):
        x = x_in[i]
        if (x > T(0)):
            # a NaN factor passes x
            y_out[i] = (a*x if a == a else x)
        elif x == T(0):
            pass
        else:
            y_out[i] = -x
    return a


def product(x, w, y):
    np.dot(x, w.T, y)
'''


def test_a_module_reads_into_kernels_and_prints_back_byte_for_byte():
    kernels = ir.read_functions(MODULE)
    assert list(kernels) == ["scale", "product"]
    assert "\n\n\n".join(ir.print_function(k).rstrip("\n") for k in kernels.values()) + "\n" == MODULE


def test_comments_become_the_labels_of_their_statements():
    body = ir.read_functions(MODULE)["scale"].body
    assert body[1] == ir.Assign("a", "T(a)", label="the factor, in the arrays' dtype")
    branch = body[2].body[1].branches[0][1][0]
    assert branch.label == "a NaN factor passes x" and branch.value == "(a*x if a == a else x)"


def test_statements_keep_their_shape():
    scale, product = ir.read_functions(MODULE).values()
    loop = scale.body[2]
    assert isinstance(loop, ir.For) and loop.var == "i" and loop.bounds == ("x_in.shape[0]",)
    chain = loop.body[1]
    assert [test for test, _ in chain.branches] == ["(x > T(0))", "x == T(0)", None]
    assert chain.branches[1][1] == (ir.Keyword("pass"),)
    assert scale.body[-1] == ir.Return("a")
    assert product.body == (ir.Product("y", "x", "w", trans_a=False, trans_b=True),)
    assert scale.layout == "elementwise" and product.layout == "matrix"


def test_a_comment_after_a_statement_is_its_label_too():
    (k,) = ir.read_functions("def f(x):\n    x = T(x)  # in the dtype\n    return x\n").values()
    assert k.body[0].label == "in the dtype"
    assert ir.print_block(k.body[:1], "") == ["# in the dtype", "x = T(x)"]


def test_a_reformatted_kernel_reads_as_the_same_statements():
    """A formatter's line breaks, spacing and moved comments change the text, not the statements
    (nor their labels)."""
    reformatted = MODULE.replace("            # a NaN factor passes x\n            y_out[i] = (a*x if a == a else x)",
                                 "            y_out[i] = (\n                a * x if a == a\n"
                                 "                else x\n            )  # a NaN factor passes x")
    before, after = ir.read_functions(MODULE)["scale"], ir.read_functions(reformatted)["scale"]
    a, b = before.body[2].body[1].branches[0][1][0], after.body[2].body[1].branches[0][1][0]
    assert ast.dump(ast.parse(a.value)) == ast.dump(ast.parse(b.value))
    assert a.label == b.label


def test_an_else_holding_an_if_is_not_read_as_an_elif():
    source = "def f(x):\n    if x:\n        pass\n    else:\n        if x > 1:\n            pass\n"
    (chain,) = ir.read_functions(source)["f"].body
    assert [test for test, _ in chain.branches] == ["x", None]
    assert isinstance(chain.branches[1][1][0], ir.If)


def test_what_is_not_a_kernel_statement_is_refused_by_line():
    with pytest.raises(ValueError, match="f, line 2: While is not a kernel statement"):
        ir.read_functions("def f(x):\n    while x:\n        pass\n")
    with pytest.raises(ValueError, match="plain positional parameters"):
        ir.read_functions("def f(*x):\n    pass\n")


def test_rename_replaces_names_not_attributes_or_keywords():
    assert ir.rename("x.shape[0] + x*abs(x) if x else shape", {"x": "y", "shape": "s"}) == \
        "y.shape[0] + y*abs(y) if y else s"


def test_gemm_products_pass_the_inner_dimension_and_leading_dimensions():
    (line,) = ir.print_block([ir.Product("c", "a", "b", trans_a=True)], "", products="gemm")
    assert line == "gemm(TRANS, NO_TRANS, c.shape[0], c.shape[1], a.shape[0], a, a.shape[1], b, b.shape[1], c)"


def test_inlining_renames_only_what_clashes_and_shares_loop_indices():
    scale = ir.read_functions(MODULE)["scale"]
    host = ir.Kernel("loop", ("X", "Y"), (), (
        ir.Assign("T", "X.dtype.type"), ir.Assign("x", "X[0]"),
        ir.For("i", ("3",), (ir.Call("scale", ("X", "Y", "2.0")),))))
    stmts = ir.Inliner(host).inline(scale, ["X", "Y", "2.0"], "out")
    text = "\n".join(ir.print_block(stmts, ""))
    assert "x_in" not in text and "y_out" not in text  # plain-name arguments taken as they are
    assert "scale__x = X[i]" in text  # x clashes with the host's x
    assert "for i in range(X.shape[0]):" in text  # a loop index shared with the host's loop index
    assert "a = 2.0" in text and "out = a" in text  # a (assigned by the kernel) has a variable of its own
    assert "T = " not in text  # the host binds T once


def test_two_kernels_inlined_into_one_host_do_not_share_a_variable():
    scale = ir.read_functions(MODULE)["scale"]
    host = ir.Kernel("loop", ("X",), (), ())
    inliner = ir.Inliner(host)
    first = inliner.inline(scale, ["X", "X", "1.0"], "r1")
    second = inliner.inline(scale, ["X", "X", "2.0"], "r2")
    assigned_first, _ = ir.bound_names(first)
    assigned_second, _ = ir.bound_names(second)
    assert assigned_first & assigned_second == set()


def test_a_kernel_that_returns_early_is_not_inlined():
    early = ir.read_functions("def f(x):\n    if x:\n        return 1\n    return 2\n")["f"]
    with pytest.raises(ValueError, match="returns before its last statement"):
        ir.Inliner(ir.Kernel("h", (), (), ())).inline(early, ["1"], "r")


def test_long_def_lines_wrap_under_the_parenthesis():
    params = [f"argument_{i}" for i in range(12)]
    line = ir.def_line("kernel", params)
    assert all(len(row) <= ir.WIDTH for row in line.split("\n"))
    assert ast.parse(line + "\n    pass\n").body[0].args.args[-1].arg == "argument_11"


def test_names_in_lists_what_the_statements_mention_but_not_attributes():
    stmts = ir.read_functions(MODULE)["scale"].body
    names = ir.names_in(stmts)
    assert {"x_in", "y_out", "a", "x", "i", "T", "range"} - {"range"} <= names and "shape" not in names and "dtype" not in names

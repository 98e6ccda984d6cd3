"""parse_expression: a user's formula becomes a SymPy expression, and nothing in it ever runs."""

from __future__ import annotations

import ast
import inspect
import re
import time
from pathlib import Path

import pytest
import sympy

from symnn.errors import UserInputError
from symnn.symbolic import parse as parse_module
from symnn.symbolic import rules
from symnn.symbolic.parse import ALLOWED_FUNCTIONS, parse_expression

x = sympy.Symbol("x", real=True)
y = sympy.Symbol("y", real=True)


def assert_same(a: sympy.Expr, b: sympy.Expr) -> None:
    assert a == b or sympy.simplify(a - b) == 0, f"{a} != {b}"


def refusal(text: str, variables: tuple[str, ...] = ("x",)) -> str:
    """The message parse_expression refuses ``text`` with; every refusal is one line."""
    with pytest.raises(UserInputError) as caught:
        parse_expression(text, variables)
    message = str(caught.value)
    assert "\n" not in message
    return message


# -- what parses, and to what -------------------------------------------------------------------


def test_mish_written_with_softplus() -> None:
    assert parse_expression("x*tanh(softplus(x))") == x * sympy.tanh(sympy.log(1 + sympy.exp(x)))


def test_mish_written_with_log_exp() -> None:
    assert parse_expression("x*tanh(log(1 + exp(x)))") == x * sympy.tanh(sympy.log(1 + sympy.exp(x)))


def test_max_is_sympy_max() -> None:
    assert parse_expression("max(0, x)") == sympy.Max(0, x)


def test_min_takes_more_than_two_arguments() -> None:
    assert parse_expression("min(x, 1, -1)") == sympy.Min(x, 1, -1)


def test_softsign_uses_abs() -> None:
    assert parse_expression("x/(1+abs(x))") == x / (1 + sympy.Abs(x))


def test_gelu_float_literal_becomes_exact_half() -> None:
    expected = sympy.Rational(1, 2) * x * (1 + sympy.erf(x / sympy.sqrt(2)))
    result = parse_expression("0.5*x*(1+erf(x/sqrt(2)))")
    assert result == expected
    assert not result.atoms(sympy.Float)


def test_powers() -> None:
    assert parse_expression("x**2") == x**2
    assert parse_expression("x**-1") == 1 / x
    assert parse_expression("x**0.5") == sympy.sqrt(x)
    assert parse_expression("2**x") == 2**x
    assert parse_expression("x**100") == x**100


def test_power_is_right_associative_and_binds_tighter_than_minus() -> None:
    assert parse_expression("2**3**2") == 2**9
    assert parse_expression("-x**2") == -(x**2)


def test_arithmetic_precedence_and_parentheses() -> None:
    assert parse_expression("1 + 2*x - x/4") == 1 + 2 * x - x / 4
    assert parse_expression("(1 + 2)*x") == 3 * x
    assert parse_expression("+x - -x") == 2 * x


def test_constants_pi_and_e() -> None:
    assert parse_expression("pi*x + e") == sympy.pi * x + sympy.E


def test_constant_expression_is_allowed() -> None:
    assert parse_expression("2*pi") == 2 * sympy.pi


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("exp(x)", sympy.exp(x)),
        ("log(x)", sympy.log(x)),
        ("log1p(x)", rules.log1p(x)),
        ("sqrt(x)", sympy.sqrt(x)),
        ("abs(x)", sympy.Abs(x)),
        ("sign(x)", sympy.sign(x)),
        ("tanh(x)", sympy.tanh(x)),
        ("sinh(x)", sympy.sinh(x)),
        ("cosh(x)", sympy.cosh(x)),
        ("sin(x)", sympy.sin(x)),
        ("cos(x)", sympy.cos(x)),
        ("tan(x)", sympy.tan(x)),
        ("atan(x)", sympy.atan(x)),
        ("asinh(x)", sympy.asinh(x)),
        ("erf(x)", sympy.erf(x)),
        ("max(x, 0)", sympy.Max(x, 0)),
        ("min(x, 0)", sympy.Min(x, 0)),
        ("sigmoid(x)", 1 / (1 + sympy.exp(-x))),
        ("softplus(x)", sympy.log(1 + sympy.exp(x))),
        ("relu(x)", sympy.Max(0, x)),
        ("step(x)", sympy.Heaviside(x, 0)),
    ],
)
def test_each_whitelisted_function_builds_its_sympy_form(text: str, expected: sympy.Expr) -> None:
    assert_same(parse_expression(text), expected)


def test_allowed_functions_is_the_sorted_whitelist() -> None:
    assert list(ALLOWED_FUNCTIONS) == sorted(ALLOWED_FUNCTIONS)
    assert set(ALLOWED_FUNCTIONS) == set(parse_module._FUNCTIONS)
    assert {"exp", "log", "softplus", "sigmoid", "relu", "step", "max", "min"} <= set(ALLOWED_FUNCTIONS)


def test_symbols_are_real_so_abs_differentiates_to_sign() -> None:
    result = parse_expression("abs(x)")
    (symbol,) = result.free_symbols
    assert symbol.is_real
    assert sympy.diff(result, symbol) == sympy.sign(symbol)


def test_symbol_equals_the_packages_real_symbol() -> None:
    assert parse_expression("x").free_symbols == {x}


def test_several_variables() -> None:
    assert parse_expression("(x - y)**2", ("x", "y")) == (x - y) ** 2


def test_surrounding_whitespace_and_newlines_inside_parentheses() -> None:
    assert parse_expression("  x*(1 +\n 2)  ") == 3 * x


def test_long_flat_sum_is_not_too_deep() -> None:
    assert parse_expression("+".join(["x"] * 400)) == 400 * x


def test_calls_nest_up_to_the_work_bound_and_no_deeper() -> None:
    from symnn.symbolic.parse import MAX_CALL_DEPTH

    depth = MAX_CALL_DEPTH
    assert parse_expression("tanh(" * depth + "x" + ")" * depth).count(sympy.tanh) == depth
    with pytest.raises(UserInputError, match="nests function calls"):
        parse_expression("tanh(" * (depth + 1) + "x" + ")" * (depth + 1))


# -- what is refused, and nothing runs ------------------------------------------------------------


def test_import_os_system_is_refused_and_nothing_runs(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    message = refusal(f"__import__('os').system('touch {target}')")
    assert "attribute access ('.system')" in message
    assert not target.exists()


def test_open_write_payload_is_refused_and_nothing_runs(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    refusal(f"open('{target}', 'w')")
    refusal(f"__import__('pathlib').Path('{target}').touch()")
    assert not target.exists()


def test_import_name_is_an_unknown_function() -> None:
    assert "function '__import__' is not allowed" in refusal("__import__('os')")


def test_eval_is_an_unknown_function_listing_the_allowed_ones() -> None:
    message = refusal("eval('1')")
    assert "function 'eval' is not allowed" in message
    assert ", ".join(ALLOWED_FUNCTIONS) in message


def test_attribute_access_is_refused() -> None:
    assert "attribute access ('.real')" in refusal("x.real")


def test_dunder_attribute_chain_is_refused() -> None:
    assert "attribute access" in refusal("(1).__class__.__bases__[0].__subclasses__()")


def test_lambda_is_refused() -> None:
    assert refusal("lambda: 1").startswith("lambda is not allowed in an expression")
    assert "lambda is not allowed" in refusal("(lambda: 1)()")


@pytest.mark.parametrize(
    "text",
    ["[x for x in (1, 2)]", "{x for x in (1, 2)}", "{x: 1 for x in (1, 2)}", "(x for x in ())"],
)
def test_comprehensions_are_refused(text: str) -> None:
    assert "comprehensions are not allowed" in refusal(text)


def test_generator_argument_is_refused() -> None:
    assert "comprehensions are not allowed" in refusal("tanh(i for i in (1, 2))")


def test_subscript_is_refused() -> None:
    assert "subscripts" in refusal("x[0]")


def test_keyword_argument_is_refused() -> None:
    message = refusal("softplus(x, beta=2)")
    assert "keyword arguments ('beta=')" in message
    assert "by position" in message


def test_star_unpacking_is_refused() -> None:
    assert "argument unpacking" in refusal("max(*x)")
    assert "argument unpacking" in refusal("relu(**x)")


def test_string_is_refused() -> None:
    assert "a string ('abc') is not allowed" in refusal("'abc'")
    assert "string" in refusal("exp('x')")


@pytest.mark.parametrize("text", ["True", "None", "1j", "x + 2j", "..."])
def test_non_real_literals_are_refused(text: str) -> None:
    assert "not allowed in an expression" in refusal(text)


def test_incomplete_power_does_not_parse() -> None:
    message = refusal("x**")
    assert message == (
        "expression 'x**' does not parse: invalid syntax at column 4; write a formula such as 'x*tanh(x)'"
    )


def test_unclosed_parenthesis_does_not_parse() -> None:
    assert "does not parse" in refusal("tanh(x")


def test_caret_is_refused_with_a_hint_to_use_double_star() -> None:
    message = refusal("x ^ 2")
    assert "'^'" in message
    assert "'**'" in message


@pytest.mark.parametrize("text", ["x % 2", "x // 2", "x @ x", "x << 1", "x & 1", "x | 1", "~x"])
def test_other_python_operators_are_refused(text: str) -> None:
    assert "not allowed in an expression" in refusal(text)


@pytest.mark.parametrize("text", ["x < 1", "x and 1", "not x", "x if x else 1", "(y := x)", "x, 1"])
def test_logic_and_other_syntax_is_refused(text: str) -> None:
    assert "not allowed in an expression" in refusal(text)


def test_unknown_function_is_refused() -> None:
    assert "function 'foo' is not allowed" in refusal("foo(x)")


def test_alias_gets_a_did_you_mean() -> None:
    assert "did you mean 'log'" in refusal("ln(x)")


def test_unknown_name_is_refused_naming_it_and_what_is_allowed() -> None:
    message = refusal("x + y")
    assert "expression refers to 'y', which is not allowed" in message
    assert "the variable x" in message
    assert "the constants pi and e" in message
    assert "exp, expm1, log, log1p" in message


def test_a_callers_example_is_the_formula_messages_suggest() -> None:
    with pytest.raises(UserInputError, match=r"such as 'log\(cosh\(z - t\)\)'"):
        parse_expression("lambda: 0", ("z", "t"), example="log(cosh(z - t))")
    assert "such as 'z*tanh(z)'" in refusal("lambda: 0", ("z", "t"))


def test_a_misplaced_name_is_refused_with_the_callers_own_message() -> None:
    misplaced = {"x": "a loss has no x; write it in z and t"}
    for text in ("x**2", "z - x", "log(cosh(x))"):
        with pytest.raises(UserInputError, match=r"^a loss has no x; write it in z and t$"):
            parse_expression(text, ("z", "t"), misplaced=misplaced)
    assert parse_expression("z - t", ("z", "t"), misplaced=misplaced).free_symbols == {
        sympy.Symbol("z", real=True), sympy.Symbol("t", real=True)}


def test_a_misplaced_name_does_not_unlock_anything_else() -> None:
    with pytest.raises(UserInputError, match="attribute access"):
        parse_expression("x.__class__", ("z", "t"), misplaced={"x": "no x"})


def test_os_as_a_name_is_refused() -> None:
    assert "expression refers to 'os'" in refusal("os")


def test_bare_function_name_is_refused() -> None:
    assert "call it with an argument, as in 'tanh(x)'" in refusal("tanh + x")


def test_implicit_multiplication_is_refused_with_a_fix() -> None:
    assert "write '2*(...)'" in refusal("2(x + 1)")
    assert "write 'x*(...)'" in refusal("x(x + 1)")


def test_wrong_argument_count_is_refused() -> None:
    assert "takes 1 argument, got 2" in refusal("log(x, 2)")
    assert "takes 2 or more arguments, got 1" in refusal("max(x)")
    assert "takes 1 argument, got 0" in refusal("exp()")


def test_ten_megabyte_string_is_refused_fast() -> None:
    text = "x+" * 5_000_000
    start = time.perf_counter()
    message = refusal(text)
    assert time.perf_counter() - start < 0.1
    assert message == "expression is 10000000 characters long; the limit is 1000"


def test_one_character_over_the_limit_is_refused() -> None:
    assert "the limit is 1000" in refusal("x" + " " * 1000)


def test_huge_exponent_is_refused() -> None:
    start = time.perf_counter()
    assert "exponent '100000' is too large" in refusal("x**100000")
    assert "too large" in refusal("x**-101")
    assert "too large" in refusal("2**(10**10)")
    assert time.perf_counter() - start < 1


def test_power_of_a_power_is_held_to_the_same_limit() -> None:
    assert "limited to 100" in refusal("((x + 1)**100)**100")


def test_huge_number_is_refused() -> None:
    assert "more than 300 digits" in refusal("7" * 400)
    assert "more than 300 digits" in refusal("(2**99)**99")
    assert "too large" in refusal("1e999")


def test_deeply_nested_parentheses_are_refused() -> None:
    message = refusal("(" * 60 + "x" + ")" * 60)
    assert "60 levels deep; the limit is 50" in message


def test_deeply_nested_calls_are_refused() -> None:
    assert "levels deep" in refusal("exp(" * 51 + "x" + ")" * 51)


def test_deep_nesting_without_brackets_is_refused() -> None:
    assert "nested more than 50 levels deep" in refusal("-" * 200 + "x")
    assert "nested more than 50 levels deep" in refusal("**".join(["x"] * 60))


def test_empty_expression_is_refused() -> None:
    assert "expression is empty" in refusal("   ")


def test_division_by_zero_is_refused() -> None:
    assert "undefined or infinite" in refusal("x/0")
    assert "undefined or infinite" in refusal("log(0)")


def test_imaginary_constant_is_refused() -> None:
    assert "imaginary part" in refusal("x + sqrt(-1)")


def test_null_byte_is_refused() -> None:
    assert "does not parse" in refusal("x\x00")


def test_non_string_is_refused() -> None:
    with pytest.raises(UserInputError, match="must be a string"):
        parse_expression(42)  # type: ignore[arg-type]


def test_bad_variable_names_are_refused() -> None:
    assert "variable name" in refusal("x", ("x-1",))
    assert "variable name 'pi'" in refusal("pi", ("pi",))
    assert "variable name 'exp'" in refusal("x", ("exp",))


def test_refusal_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_expression("y")


def test_long_names_are_cut_in_messages() -> None:
    assert len(refusal("y" * 900)) < 400


# -- the module itself ----------------------------------------------------------------------------


def test_module_source_never_calls_eval_exec_sympify_or_parse_expr() -> None:
    source = inspect.getsource(parse_module)
    forbidden = ("eval", "exec", "sympify", "parse_expr", "__import__", "S", "compile")
    assert not re.search(r"\b(eval|exec|sympify|parse_expr)\s*\(", source)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            # re.compile of a constant pattern is fine; the builtin compile is not.
            if name == "compile":
                assert isinstance(func, ast.Attribute) and getattr(func.value, "id", "") == "re"
                continue
            assert name not in forbidden, f"parse.py calls {name}()"


def test_module_parses_with_ast_parse_in_eval_mode() -> None:
    assert 'ast.parse(text, mode="eval")' in inspect.getsource(parse_module)

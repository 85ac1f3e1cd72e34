"""Expression programs: structure, ids, labels, and every error with its line and column."""

import pytest

import engine
from engine import GraphError, Limits
from tests import oracle


def ops_of(graph):
    return [(n.id, n.op, n.inputs) for n in graph.nodes]


def value_of(program, inputs):
    """What the parsed program computes, by plain Python (tests/oracle.py): these tests
    are about the tree the parser builds, and need no kernel (so `make mutation` runs
    them against every mutant of the op table quickly); test_evaluate.py runs parsed
    programs through the kernels."""
    g = engine.parse(program) if isinstance(program, str) else program
    return oracle.forward(g, {k: float(v) for k, v in inputs.items()})[g.output]


def test_3ab_squared_plus_cd_is_one_three_input_mul_gate_a_square_and_a_sum():
    g = engine.parse("(3*a*b)^2 + c*d")
    assert ops_of(g) == [("mul1", "mul", (3.0, "a", "b")), ("pow1", "pow", ("mul1", 2.0)),
                         ("mul2", "mul", ("c", "d")), ("f", "add", ("pow1", "mul2"))]
    assert g.inputs == ("a", "b", "c", "d")
    assert g.output == "f"
    assert [n.label for n in g.nodes] == ["3*a*b", "(3*a*b)^2", "c*d", "(3*a*b)^2 + c*d"]


def test_statements_name_their_nodes_and_the_last_one_is_the_output():
    g = engine.parse("q = x + y; f = q * z")
    assert ops_of(g) == [("q", "add", ("x", "y")), ("f", "mul", ("q", "z"))]
    g2 = engine.parse("q = x + y\n\nout = q * z\n")
    assert g2.output == "out"


def test_precedence_unary_minus_binds_looser_than_power_and_power_groups_right():
    assert value_of("-x^2", {"x": 3}) == -9.0
    assert value_of("x^3^2", {"x": 2}) == 512.0
    assert value_of("a - b - c", {"a": 10, "b": 3, "c": 2}) == 5.0
    assert value_of("a / b / c", {"a": 12, "b": 3, "c": 2}) == 2.0
    assert value_of("a + b * c", {"a": 1, "b": 2, "c": 3}) == 7.0
    assert value_of("x ** 2", {"x": 3}) == 9.0
    assert value_of("x^-1", {"x": 4}) == 0.25


@pytest.mark.parametrize("text,inputs,value", [
    ("a + b / c", {"a": 1, "b": 6, "c": 3}, 3.0),        # / before +
    ("a / b + c", {"a": 6, "b": 3, "c": 1}, 3.0),
    ("a - b * c", {"a": 10, "b": 2, "c": 3}, 4.0),       # * before -
    ("a / b * c", {"a": 12, "b": 3, "c": 2}, 8.0),       # * and / group left
    ("a * b / c", {"a": 12, "b": 3, "c": 2}, 18.0),
    ("2 * x^2", {"x": 3}, 18.0),                          # ^ before *
    ("x^2 / y", {"x": 3, "y": 2}, 4.5),
    ("-x^2 + y", {"x": 3, "y": 1}, -8.0),                 # ^ before unary minus before +
    ("-x * y", {"x": 2, "y": 3}, -6.0),
    ("a - -b", {"a": 5, "b": 3}, 8.0),
    ("-(x + y)^2", {"x": 1, "y": 2}, -9.0),
    ("x^-y", {"x": 2, "y": 1}, None),                     # a variable exponent: refused
])
def test_binding_powers_give_the_arithmetic_of_the_page(text, inputs, value):
    if value is None:
        with pytest.raises(GraphError):
            engine.evaluate(text, inputs)
    else:
        assert value_of(text, inputs) == value


@pytest.mark.parametrize("text, gates", [
    ("a + b - c", [("add", ("a", "b")), ("sub", (0, "c"))]),    # left to right
    ("a - b + c", [("sub", ("a", "b")), ("add", (0, "c"))]),
    ("a * b / c", [("mul", ("a", "b")), ("div", (0, "c"))]),
    ("a / b * c", [("div", ("a", "b")), ("mul", (0, "c"))]),
    ("-x * y", [("neg", ("x",)), ("mul", (0, "y"))]),           # (-x)y, a gate each
    ("-x ^ 2", [("pow", ("x", 2.0)), ("neg", (0,))]),           # -(x^2)
    ("x ^ 2 ^ 3", [("pow", (2.0, 3.0)), ("pow", ("x", 0))]),    # right to left: x^(2^3)
])
def test_operators_of_equal_power_build_the_gates_the_page_draws(text, gates):
    """Gates in order, each (op, inputs), an earlier gate's index standing for its id:
    the worksheets draw and grade these gates, so equal values are not enough."""
    g = engine.parse(text)
    ids = [n.id for n in g.nodes]
    got = [(n.op, tuple(ids.index(r) if r in ids else r for r in n.inputs)) for n in g.nodes]
    assert got == gates


def test_parentheses_keep_separate_gates():
    g = engine.parse("(a + b) + c")
    assert [n.op for n in g.nodes] == ["add", "add"]
    assert len(engine.parse("a + b + c").nodes) == 1


def test_numbers_in_every_form():
    g = engine.parse("x*1 + x*2.5 + x*.5 + x*1e-3 + x*2.5E+2")
    assert value_of(g, {"x": 1.0}) == pytest.approx(1 + 2.5 + 0.5 + 1e-3 + 250)


def test_negative_literal_is_a_number_not_a_gate():
    g = engine.parse("x * -3")
    assert ops_of(g) == [("f", "mul", ("x", -3.0))]


def test_calls_of_ops_by_name():
    g = engine.parse("h = sigmoid(w*x + b); L = max(h, 0.5)")
    assert [n.op for n in g.nodes] == ["mul", "add", "sigmoid", "max"]


def test_auto_ids_skip_names_the_program_uses():
    g = engine.parse("add1 + mul1*x")
    assert "add1" in g.inputs and all(n.id not in ("add1", "mul1") for n in g.nodes)


def test_bare_output_is_named_out_when_f_is_an_input():
    assert engine.parse("f * 2").output == "out"


def test_newlines_inside_parentheses_continue_the_expression_and_comments_are_ignored():
    g = engine.parse("f = (x +\n y) * z  # the worksheet's circuit\n")
    assert value_of(g, {"x": -2, "y": 5, "z": -4}) == -12.0


def test_a_long_chain_of_terms_parses_without_recursion():
    text = " - ".join(f"x{i}" for i in range(3000))
    g = engine.parse(text)
    assert len(g.nodes) == 2999 and len(g.inputs) == 3000


def _error(text, **kw):
    with pytest.raises(GraphError) as err:
        engine.parse(text, **kw)
    return err.value


@pytest.mark.parametrize("text, fragment, line, column", [
    ("x + * y", "unexpected '*'", 1, 5),
    ("(x + y", "expected ')'", 1, 7),
    ("x + y)", "unmatched ')'", 1, 6),
    ("x +", "ends too early", 1, 4),
    ("q = x\nf = q $ z", "unexpected character '$'", 2, 7),
    ("3ab", "multiplication must be written with '*'", 1, 2),
    ("2(x + 1)", "missing operator", 1, 2),
    ("sigmod(x)", "did you mean 'sigmoid'", 1, 1),
    ("max(x)", "max takes exactly 2 inputs, but 1 were given", 1, 1),
    ("add(x)", "at least 2 inputs", 1, 1),
    ("q = x + y; q = x * y; q", "defined twice", 1, 12),
    ("f = q * z\nq = x + y", "used on line 1, column 5 before it is defined", 2, 1),
    ("x + y = 3", "'=' must follow a single name", 1, 7),
    ("x + 1; y + 2", "only the last statement may be a bare expression", 1, 1),
    ("g = x", "only makes g another name for 'x'", 1, 1),
    ("w = 2; w * x", "another name for", 1, 1),
    ("(3)", "constant number", 1, 1),
    ("", "empty", 1, 1),
    ("   # nothing\n", "empty", 1, 1),
    ("+x", "unary plus", 1, 1),
    ("x * 1e999", "too large", 1, 5),
])
def test_syntax_errors_say_what_and_where(text, fragment, line, column):
    err = _error(text)
    assert fragment in err.message
    assert (err.line, err.column) == (line, column)


def test_an_expression_longer_than_the_limit_is_refused_before_parsing():
    err = _error("x + " * 30 + "x", limits=Limits(max_expr_chars=100))
    assert "limit of 100" in err.message


def test_nesting_deeper_than_the_limit_is_a_graph_error_not_a_recursion_error():
    err = _error("(" * 201 + "x" + ")" * 201)
    assert "deeper than 200" in err.message
    deep = "(" * 200 + "x" + ")" * 200
    assert value_of(deep, {"x": 2.0}) == 2.0


def test_deep_unary_minus_chains_are_limited_too():
    err = _error("-" * 500 + "x")
    assert "deeper than 200" in err.message


def test_more_nodes_than_the_limit_is_an_error():
    err = _error(" - ".join(["x"] * 50), limits=Limits(max_nodes=10))
    assert "more than 10 nodes" in err.message


def test_pow_with_an_input_exponent_is_refused_with_a_hint():
    with pytest.raises(GraphError) as err:
        engine.lower(engine.parse("x ^ y"))
    assert "constant exponent" in err.value.message and err.value.line == 1


def test_an_expression_must_be_a_string():
    with pytest.raises(GraphError):
        engine.parse(42)

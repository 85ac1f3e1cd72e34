"""What the worksheets take from the op table: formulas, random-graph ops, named slips."""

import pytest

import engine
from worksheets import backprop, randgraph
from worksheets.latex import inline_tex, numeric_op_tex


@pytest.mark.parametrize("expr, tex", [
    ("(a + b) * c", r"\left(a + b\right) c"),
    ("a + b * c", "a + b c"),
    ("a - (b - c)", r"a - \left(b - c\right)"),
    ("(a - b) - c", "a - b - c"),
    ("-(a + b)", r"-\left(a + b\right)"),
    ("-(a * b)", "-a b"),  # -(ab) = (-a)b: no parentheses needed
    ("(a * b)^3", r"\left(a b\right)^{3}"),
    ("(a + b)^2", r"\left(a + b\right)^2"),
    ("(a + b) / c", r"\frac{a + b}{c}"),
    ("a + -b", "a - b"),
    ("2 * (a + b)", r"2 \left(a + b\right)"),
    ("sigmoid(a + b) * c", r"\sigma\left(a + b\right) c"),
    ("max(a, b) - exp(-c)", r"\max\left(a, b\right) - e^{-c}"),
    ("a - (b + c)", r"a - \left(b + c\right)"),
    ("a - -b", r"a - \left(-b\right)"),
    ("(-a) * b", r"\left(-a\right) b"),
    ("a * -b", r"a \left(-b\right)"),
    ("(a * b) * c", "a b c"),
    ("-(-a)", r"-\left(-a\right)"),
    ("(a - b) * c", r"\left(a - b\right) c"),
])
def test_inlined_formulas_take_parentheses_exactly_where_mathematics_needs_them(expr, tex):
    assert inline_tex(engine.parse(expr)) == tex


@pytest.mark.parametrize("op, args, tex", [
    ("add", ["1.5", "-0.2", "3"], "1.5 - 0.2 + 3"),
    ("mul", ["3", "(-0.5)"], r"3 \cdot (-0.5)"),
    ("neg", ["-1.3"], r"-\left(-1.3\right)"),
    ("sub", ["2", "(-1)"], "2 - (-1)"),
    ("div", ["1", "4"], r"\frac{1}{4}"),
    ("square", ["(-2)"], "(-2)^2"),
    ("pow", ["2", "3"], "2^{3}"),
    ("sigmoid", ["0.4"], r"\sigma\left(0.4\right)"),
    ("max", ["1", "(-2)"], r"\max\left(1, (-2)\right)"),
])
def test_a_worked_forward_step_writes_each_gate_applied_to_its_numbers(op, args, tex):
    assert numeric_op_tex(op, len(args))(args) == tex


def test_the_random_graph_difficulties_draw_the_same_ops_in_the_same_order_as_before():
    # the order is part of every seeded graph: rng.choice indexes this tuple
    assert {d: level.ops for d, level in randgraph.LEVELS.items()} == {
        1: ("add", "mul"),
        2: ("add", "mul", "sub", "square"),
        3: ("add", "mul", "sub", "square", "sigmoid", "relu", "max"),
        4: ("add", "mul", "sub", "square", "sigmoid", "relu", "max", "tanh", "exp", "neg"),
        5: ("add", "mul", "sub", "square", "sigmoid", "relu", "max", "tanh", "exp", "neg",
            "div", "min"),
    }


def test_a_sigmoid_gate_names_sigma_used_where_sigma_one_minus_sigma_belongs():
    graph = engine.parse("h = sigmoid(z)")
    env, _ = backprop.forward(graph, {"z": 0.0})
    (factor, words), = backprop.mistaken_locals(graph.node("h"), env, 0)
    assert factor == 0.5 and words.startswith("σ used where σ(1 − σ) belongs (at h = sigmoid(z))")


def test_a_slip_that_cannot_be_computed_is_left_out_rather_than_raising():
    # d(a/b)/db read as 1/b at b = 0 is no number a student could have written
    graph = engine.parse("q = a / b")
    env, _ = backprop.forward(graph, {"a": 1.0, "b": 0.0})
    assert backprop.mistaken_locals(graph.node("q"), env, 1) == []
    assert env["q"] == float("inf")  # what the kernels give, not an exception

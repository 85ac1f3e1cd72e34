"""Walk the op table: each op's value and derivative against an independent oracle."""

import math

import numpy as np
import pytest

import engine
from engine.vm import codegen
from engine.ops import OPS, OPS_BY_NAME
from tests import oracle

# points away from kinks and domain edges, per op: (a, b) pairs or a values
POINTS = [-2.3, -0.7, 0.4, 1.9, 3.1]
POSITIVE = [0.3, 1.1, 2.7, 9.5]


def _spec(op):
    if op.arity == 1:
        return {"nodes": [{"id": "y", "op": op.name, "inputs": ["a"]}], "output": "y"}
    if op.name == "pow":
        return {"nodes": [{"id": "y", "op": "pow", "inputs": ["a", 2.5]}], "output": "y"}
    if op.arity is None:
        return {"nodes": [{"id": "y", "op": op.name, "inputs": ["a", "b", "c"]}], "output": "y"}
    return {"nodes": [{"id": "y", "op": op.name, "inputs": ["a", "b"]}], "output": "y"}


def _inputs_for(op):
    if op.name in ("log", "sqrt", "pow"):
        return [{"a": a} for a in POSITIVE]
    if op.arity == 1:
        return [{"a": a} for a in POINTS]
    if op.arity is None:
        return [{"a": a, "b": b, "c": c} for a, b, c in zip(POINTS, POINTS[::-1], POSITIVE)]
    return [{"a": a, "b": b} for a, b in zip(POINTS, [1.3, -2.9, 0.8, -0.5, 2.2]) if a != b]


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_every_op_value_and_gradient_match_plain_python_and_complex_step(op):
    graph = engine.Graph.from_spec(_spec(op))
    for inputs in _inputs_for(op):
        ev = engine.evaluate(graph, inputs)
        want = oracle.forward(graph, inputs)[graph.output]
        assert ev.value == pytest.approx(want, rel=1e-13, abs=1e-15), (op.name, inputs)
        grads = oracle.complex_step_gradients(graph, inputs)
        for name, g in grads.items():
            assert ev.gradients[name] == pytest.approx(g, rel=1e-10, abs=1e-12), (op.name, inputs, name)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_every_op_gradient_matches_central_differences_over_a_batch(op):
    graph = engine.Graph.from_spec(_spec(op))
    rows = _inputs_for(op)
    batch = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    ev = engine.evaluate(graph, batch)
    for i, inputs in enumerate(rows):
        for name, g in oracle.central_gradients(graph, inputs).items():
            assert ev.gradients[name][i] == pytest.approx(g, rel=1e-6, abs=1e-8)


def test_generated_kernel_cases_are_up_to_date_with_the_op_table():
    assert codegen.TARGET.read_text() == codegen.generate(), "run: python -m engine.vm.codegen"


def test_every_op_is_callable_by_name_in_an_expression():
    for op in OPS:
        args = {1: "a", 2: "a, 2" if op.name == "pow" else "a, b", None: "a, b, c"}[op.arity]
        graph = engine.parse(f"{op.name}({args})")
        assert graph.nodes[-1].op == op.name


def test_opcodes_are_dense_and_names_unique():
    assert [op.opcode for op in OPS] == list(range(len(OPS)))
    assert len(OPS_BY_NAME) == len(OPS)


# PyTorch's conventions at non-differentiable points

def test_relu_gradient_at_exactly_zero_is_zero_as_in_pytorch():
    assert engine.evaluate("relu(x)", {"x": 0.0}).gradients["x"] == 0.0


def test_abs_gradient_at_exactly_zero_is_zero_as_in_pytorch():
    assert engine.evaluate("abs(x)", {"x": 0.0}).gradients["x"] == 0.0


@pytest.mark.parametrize("op", ["max", "min"])
def test_a_tie_in_max_or_min_passes_half_the_gradient_to_each_side(op):
    ev = engine.evaluate(f"{op}(a, b)", {"a": 2.0, "b": 2.0}, output_gradient=3.0)
    assert (ev.gradients["a"], ev.gradients["b"]) == (1.5, 1.5)


def test_max_passes_the_whole_gradient_to_the_larger_input():
    ev = engine.evaluate("max(a, b)", {"a": 2.0, "b": 5.0})
    assert (ev.gradients["a"], ev.gradients["b"]) == (0.0, 1.0)


def test_pow_with_exponent_zero_has_gradient_zero_even_at_zero():
    ev = engine.evaluate("x^0", {"x": 0.0})
    assert ev.value == 1.0 and ev.gradients["x"] == 0.0


def test_pow_of_a_negative_base_with_an_integer_exponent():
    ev = engine.evaluate("x^3", {"x": -2.0})
    assert ev.value == -8.0 and ev.gradients["x"] == 12.0


def test_sqrt_at_zero_reports_an_infinite_gradient_instead_of_returning_it():
    with pytest.raises(engine.NonFiniteError) as err:
        engine.evaluate("sqrt(x)", {"x": 0.0})
    assert err.value.kind == "gradient" and err.value.node == "x"


# numerical stability

def test_sigmoid_far_out_is_exact_zero_or_one_without_overflow():
    assert engine.evaluate("sigmoid(x)", {"x": -800.0}).value == 0.0
    assert engine.evaluate("sigmoid(x)", {"x": 800.0}).value == 1.0


def test_softplus_is_linear_far_out_and_log2_at_zero():
    assert engine.evaluate("softplus(x)", {"x": 800.0}).value == 800.0
    assert engine.evaluate("softplus(x)", {"x": -800.0}).value == 0.0
    assert engine.evaluate("softplus(x)", {"x": 0.0}).value == pytest.approx(math.log(2), rel=1e-15)


def test_logsigmoid_stays_finite_where_log_of_sigmoid_would_be_minus_infinity():
    ev = engine.evaluate("logsigmoid(x)", {"x": -800.0})
    assert ev.value == -800.0 and ev.gradients["x"] == 1.0
    with pytest.raises(engine.NonFiniteError):
        engine.evaluate("log(sigmoid(x))", {"x": -800.0})


# y = op(a, b, c) in LaTeX and dy/da, dy/db, ... worked by hand (y is the node's value)
LATEX = {
    "add": ("a + b + c", ["1", "1", "1"]),
    "mul": ("a b c", ["b c", "a c", "a b"]),
    "sub": ("a - b", ["1", "-1"]),
    "div": (r"\frac{a}{b}", [r"\frac{1}{b}", r"-\frac{a}{b^2}"]),
    "neg": ("-a", ["-1"]),
    "square": ("a^2", ["2 a"]),
    "pow": ("a^{3}", ["3 a^{2}"]),
    "exp": ("e^{a}", ["y"]),
    "log": (r"\log\left(a\right)", [r"\frac{1}{a}"]),
    "sqrt": (r"\sqrt{a}", [r"\frac{1}{2 y}"]),
    "abs": (r"\left|a\right|", [r"\operatorname{sign}(a)"]),
    "sigmoid": (r"\sigma\left(a\right)", ["y(1 - y)"]),
    "tanh": (r"\tanh\left(a\right)", ["1 - y^2"]),
    "relu": (r"\mathrm{ReLU}\left(a\right)", ["[a > 0]"]),
    "softplus": (r"\mathrm{softplus}\left(a\right)", [r"\sigma(a)"]),
    "logsigmoid": (r"\log\sigma\left(a\right)", [r"\sigma(-a)"]),
    "max": (r"\max\left(a, b\right)", ["[a > b]", "[b > a]"]),
    "min": (r"\min\left(a, b\right)", ["[a < b]", "[b < a]"]),
}


def test_every_op_has_latex_for_its_gate_and_each_local_derivative():
    from worksheets.latex import local_tex, op_tex
    assert set(LATEX) == set(OPS_BY_NAME)
    for op in OPS:
        n_in = {1: 1, 2: 2, None: 3}[op.arity]
        inputs = ("a", 3.0) if op.name == "pow" else tuple("abc"[:n_in])
        node = engine.graph.Node("y", op.name, inputs)
        gate, locals_ = LATEX[op.name]
        assert op_tex(op.name, ["a", "3" if op.name == "pow" else "b", "c"][:n_in]) == gate
        assert [local_tex(node, k) for k in range(len(locals_))] == locals_, op.name


def test_the_tables_latex_for_sigmoid_reads_sigma_one_minus_sigma():
    from worksheets.latex import local_tex
    assert local_tex(engine.graph.Node("h", "sigmoid", ("z",)), 0) == "h(1 - h)"
    assert local_tex(engine.graph.Node("m", "max", ("a", "b")), 1) == "[b > a]"


# The rest of each op's row: syntax, gradient sharing, plain-Python helpers, named slips

def _complex_step_local(op, args, k):
    """d op / d (input k) at `args`, by complex step through the oracle's own forward."""
    h = 1e-30
    shifted = list(args)
    shifted[k] = complex(args[k], h)
    return oracle.REFERENCE[op.name](*shifted).imag / h


def _points(op):
    """Input tuples away from kinks, ties and domain edges."""
    if op.name == "pow":
        return [(a, p) for a in POSITIVE for p in (2.0, 2.5)]
    return [tuple(row.values()) for row in _inputs_for(op)]


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_the_operands_an_op_shares_its_gradient_with_are_those_whose_derivative_is_one(op):
    # the reverse sweep hands these operands the result's adjoint row itself
    operands = 1 if op.arity == 1 else 2
    ones = {k for k in range(operands)
            if all(_complex_step_local(op, args, k) == 1.0 for args in _points(op))}
    assert set(op.shares) == ones


def _python_tree(node):
    import ast
    names = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return ("neg", _python_tree(node.operand))
    op = names[type(node.op)]
    left = _python_tree(node.left)
    # Python nests a run a + b + c to the left; the parser makes it one n-ary node
    if OPS_BY_NAME[op].arity is None and type(left) is tuple and left[0] == op:
        return left + (_python_tree(node.right),)
    return (op, left, _python_tree(node.right))


def _graph_tree(graph, ref):
    node = graph.node(ref) if ref in {n.id for n in graph.nodes} else None
    if node is None:
        return ref
    return (node.op,) + tuple(_graph_tree(graph, r) for r in node.inputs)


def test_operator_precedence_and_grouping_agree_with_pythons_own_parser():
    import ast
    import random
    rng = random.Random(7)
    spellings = {"+": "+", "-": "-", "*": "*", "/": "/", "^": "**", "**": "**"}
    for _ in range(400):
        ours, python = [], []
        for i in range(rng.randint(1, 6)):
            if i:
                op = rng.choice(list(spellings))
                ours.append(op)
                python.append(spellings[op])
            term = "-" * rng.choice((0, 0, 0, 1, 2)) + rng.choice("abcd")
            ours.append(term)
            python.append(term)
        text = " ".join(ours)
        graph = engine.parse(text)
        want = _python_tree(ast.parse(" ".join(python), mode="eval").body)
        assert _graph_tree(graph, graph.output) == want, text


def test_every_operator_of_the_table_parses_to_its_op():
    for op in OPS:
        for spelling in filter(None, (op.infix, *op.also)):
            assert engine.parse(f"a {spelling} b").nodes[-1].op == op.name
        if op.prefix:
            assert engine.parse(f"{op.prefix}a").nodes[-1].op == op.name


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_plain_python_value_and_local_give_what_the_compiled_kernel_functions_give(op):
    # edge points where Python raises (1/0, exp(710), 0**-1, 1e308**2, (-8)**(1/3))
    # and the kernels' IEEE arithmetic gives inf or NaN instead
    edges = (0.0, -0.0, 1.0, -1.0, -8.0, 1 / 3, -0.5, 710.0, 1e308, -1e308)
    pairs = [(a,) for a in edges] if op.arity == 1 else [(a, b) for a in edges for b in edges]

    def same(x, y):
        return (math.isnan(x) and math.isnan(y)) or x == y

    for args in pairs:
        y = op.forward(*args)
        assert same(op.value(*args), y), (op.name, args)
        want = op.derivative(*args, y)
        got = op.local(*args, y)
        if op.arity == 1:
            assert same(got, want), (op.name, args)
        else:
            assert all(same(g, w) for g, w in zip(got, want)), (op.name, args, got, want)


@pytest.mark.parametrize("op", [op for op in OPS if op.slips or op.value_slips], ids=lambda op: op.name)
def test_every_named_slip_is_a_wrong_answer_where_it_applies(op):
    applied = 0
    for args in _points(op):
        y = oracle.REFERENCE[op.name](*args)
        for k in range(len(args)):
            true = _complex_step_local(op, args, k)
            for slip in op.slips:
                wrong = slip.wrong(args, y, k)
                if wrong is not None and (op.name != "pow" or k == 0):
                    applied += 1
                    assert not math.isclose(wrong, true, rel_tol=1e-9), (op.name, args, k, slip.says)
        for slip in op.value_slips:
            wrong = slip.wrong(args)
            if wrong is not None:
                applied += 1
                assert not math.isclose(wrong, y, rel_tol=1e-9), (op.name, args, slip.says)
    assert applied, f"no slip of {op.name} applies at any sample point"


def test_the_readme_lists_the_ops_of_the_table_in_table_order():
    import pathlib
    import re
    readme = (pathlib.Path(__file__).parents[2] / "README.md").read_text()
    section = readme[readme.index("### Ops and conventions"):]
    listing = next(p for p in section.split("\n\n")[1:] if p.startswith("`"))
    assert re.findall(r"`(\w+)`", listing) == [op.name for op in OPS]

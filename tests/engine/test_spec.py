"""Node specs: round trips, ordering, and every error with its path."""

import pytest

import engine
from engine import Graph, GraphError, Limits

CIRCUIT = {"nodes": [{"id": "q", "op": "add", "inputs": ["x", "y"]},
                     {"id": "f", "op": "mul", "inputs": ["q", "z"]}], "output": "f"}


def test_the_spec_and_the_expression_give_the_same_numbers():
    a = engine.evaluate(CIRCUIT, {"x": -2, "y": 5, "z": -4})
    b = engine.evaluate("q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4})
    assert a.values == b.values and a.gradients == b.gradients


@pytest.mark.parametrize("text", [
    "(3*a*b)^2 + c*d",
    "z = w1*x1 + w2*x2 + b; h = sigmoid(z); L = -(y*log(h) + (1 - y)*log(1 - h))",
    "max(a, b) - min(a, 2.5) / abs(c) + relu(-d)",
])
def test_to_spec_and_from_spec_are_inverse(text):
    g = engine.parse(text)
    spec = g.to_spec()
    assert Graph.from_spec(spec) == g
    assert Graph.from_spec(spec).to_spec() == spec


def test_expr_spec_is_parsed_and_its_errors_point_into_expr():
    assert Graph.from_spec({"expr": "x * y"}).inputs == ("x", "y")
    with pytest.raises(GraphError) as err:
        Graph.from_spec({"expr": "x * * y"})
    assert err.value.path == "expr" and err.value.column == 5


def test_nodes_may_come_in_any_order_and_are_sorted_topologically():
    spec = {"nodes": list(reversed(CIRCUIT["nodes"])), "output": "f"}
    g = Graph.from_spec(spec)
    assert [n.id for n in g.nodes] == ["q", "f"]
    assert engine.evaluate(g, {"x": -2, "y": 5, "z": -4}).value == -12.0


def test_identical_structures_share_one_program():
    other = {"nodes": [{"id": "s", "op": "add", "inputs": ["a", "b"]},
                       {"id": "t", "op": "mul", "inputs": ["s", "c"]}], "output": "t"}
    assert engine.lower(Graph.from_spec(CIRCUIT)).lowered is engine.lower(Graph.from_spec(other)).lowered
    assert engine.lower(Graph.from_spec(CIRCUIT)).lowered is engine.lower(engine.parse("(x + y) * z")).lowered


def test_different_constants_do_not_share_a_program():
    a = engine.lower(engine.parse("x * 2"))
    b = engine.lower(engine.parse("x * 3"))
    assert a.lowered is not b.lowered


def _error(spec, **kw):
    with pytest.raises(GraphError) as err:
        Graph.from_spec(spec, **kw)
    return err.value


def node(i, **fields):
    base = {"id": f"n{i}", "op": "add", "inputs": ["x", "y"]}
    base.update(fields)
    return base


@pytest.mark.parametrize("spec, path, fragment", [
    ([], "", "must be an object"),
    ({"nodes": []}, "output", "no 'output'"),
    ({"output": "f"}, "nodes", "no 'nodes'"),
    ({"nodes": {}, "output": "f"}, "nodes", "must be a list"),
    ({"nodes": [node(0)], "output": "f", "extra": 1}, "extra", "unexpected field"),
    ({"nodes": [node(0), 5], "output": "n0"}, "nodes[1]", "must be an object"),
    ({"nodes": [{"id": "a", "op": "add"}], "output": "a"}, "nodes[0].inputs", "no 'inputs'"),
    ({"nodes": [node(0, inptus=[])], "output": "n0"}, "nodes[0].inptus", "unexpected field"),
    ({"nodes": [node(0, op="sigmod")], "output": "n0"}, "nodes[0].op", "did you mean 'sigmoid'"),
    ({"nodes": [node(0, op=7)], "output": "n0"}, "nodes[0].op", "unknown op"),
    ({"nodes": [node(0), node(1, op="relu")], "output": "n1"}, "nodes[1].inputs", "exactly 1 input"),
    ({"nodes": [node(0, inputs=["x"])], "output": "n0"}, "nodes[0].inputs", "at least 2"),
    ({"nodes": [node(0), node(0)], "output": "n0"}, "nodes[1].id", "duplicate id 'n0'"),
    ({"nodes": [node(0, id="1x")], "output": "1x"}, "nodes[0].id", "not a valid name"),
    ({"nodes": [node(0, id=3)], "output": "n0"}, "nodes[0].id", "must be a string"),
    ({"nodes": [node(0, inputs=["x", True])], "output": "n0"}, "nodes[0].inputs[1]", "a boolean"),
    ({"nodes": [node(0, inputs=["x", None])], "output": "n0"}, "nodes[0].inputs[1]", "null"),
    ({"nodes": [node(0, inputs=["x", "a b"])], "output": "n0"}, "nodes[0].inputs[1]", "not a valid name"),
    ({"nodes": [node(0, inputs=["x", float("nan")])], "output": "n0"}, "nodes[0].inputs[1]", "not finite"),
    ({"nodes": [node(0, inputs=["x", 10 ** 400])], "output": "n0"}, "nodes[0].inputs[1]", "too large"),
    ({"nodes": [node(0, label=5)], "output": "n0"}, "nodes[0].label", "must be a string"),
    ({"nodes": [node(0)], "output": "g"}, "output", "unknown output 'g'"),
    ({"nodes": [node(0)], "output": ["n0"]}, "output", "must be a string"),
])
def test_bad_specs_say_what_and_where(spec, path, fragment):
    err = _error(spec)
    assert err.path == path
    assert fragment in err.message


def test_a_cycle_is_named_node_by_node():
    spec = {"nodes": [{"id": "a", "op": "add", "inputs": ["x", "c"]},
                      {"id": "b", "op": "mul", "inputs": ["a", 2]},
                      {"id": "c", "op": "relu", "inputs": ["b"]},
                      {"id": "f", "op": "neg", "inputs": ["c"]}], "output": "f"}
    err = _error(spec)
    assert "cycle: a -> b -> c -> a" in err.message
    assert err.path == "nodes[0]"


def test_a_node_feeding_itself_is_a_cycle():
    err = _error({"nodes": [{"id": "a", "op": "add", "inputs": ["a", 1]}], "output": "a"})
    assert "cycle: a -> a" in err.message


def test_more_nodes_than_the_limit_is_an_error():
    spec = {"nodes": [node(i) for i in range(11)], "output": "n0"}
    assert "limit of 10" in _error(spec, limits=Limits(max_nodes=10)).message


def test_a_long_chain_spec_in_reverse_order_sorts_without_recursion():
    n = 5000
    nodes = [{"id": f"n{i}", "op": "add", "inputs": [f"n{i - 1}" if i else "x", 1]} for i in range(n)]
    g = Graph.from_spec({"nodes": nodes[::-1], "output": f"n{n - 1}"})
    ev = engine.evaluate(g, {"x": 0.5})
    assert ev.value == n + 0.5 and ev.gradients["x"] == 1.0


def test_pow_exponent_that_is_an_input_is_refused_with_its_spec_path():
    spec = {"nodes": [{"id": "p", "op": "pow", "inputs": ["x", "k"]}], "output": "p"}
    with pytest.raises(GraphError) as err:
        engine.evaluate(spec, {"x": 2.0, "k": 3.0})
    assert err.value.path == "nodes[0].inputs[1]"


def test_pow_exponent_may_be_a_folded_constant_node():
    spec = {"nodes": [{"id": "k", "op": "add", "inputs": [1, 2]},
                      {"id": "p", "op": "pow", "inputs": ["x", "k"]}], "output": "p"}
    ev = engine.evaluate(spec, {"x": 2.0})
    assert ev.value == 8.0 and ev.gradients["x"] == 12.0


from hypothesis import given, settings  # noqa: E402

from engine import lowering  # noqa: E402
from tests import oracle  # noqa: E402
from tests.engine.test_evaluate import random_graphs  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(random_graphs())
def test_a_reordered_spec_that_sorts_back_lowers_to_the_same_structure(case):
    spec, _ = case
    graph = Graph.from_spec(spec)
    # where sorting restores the original order, both must give the same structure
    reordered = Graph.from_spec({"nodes": spec["nodes"][::-1], "output": spec["output"]})
    if [n.id for n in reordered.nodes] == [n.id for n in graph.nodes]:
        assert lowering.structure(reordered) == lowering.structure(graph)


def test_specs_with_labels_int_constants_and_negative_zero():
    spec = {"nodes": [{"id": "a", "op": "mul", "inputs": ["x", 2]},
                      {"id": "b", "op": "add", "inputs": ["a", -0.0], "label": "a plus nothing"}],
            "output": "b"}
    g = Graph.from_spec(spec)
    assert g.nodes[0].inputs == ("x", 2.0) and type(g.nodes[0].inputs[1]) is float
    assert g.nodes[1].label == "a plus nothing" and str(g.nodes[1].inputs[1]) == "0.0"
    assert engine.evaluate(g, {"x": 3.0}).value == 6.0


def test_an_nary_gate_and_the_same_sums_as_two_gates_do_not_share_a_program():
    # add(a, b, b) lowers to the same two instructions as n1 = a + b; f = n1 + b, but
    # the second graph has two nodes to report: sharing one program would hand n1
    # the value of f. (Seen in the service after an n-ary graph had been cached.)
    one_gate = {"nodes": [{"id": "f", "op": "add", "inputs": ["a", "b", "b"]}], "output": "f"}
    two_gates = {"nodes": [{"id": "n1", "op": "add", "inputs": ["a", "b"]},
                           {"id": "f", "op": "add", "inputs": ["n1", "b"]}], "output": "f"}
    first = engine.evaluate(one_gate, {"a": -1.0, "b": 2.0})
    second = engine.evaluate(two_gates, {"a": -1.0, "b": 2.0})
    assert first.values == {"a": -1.0, "b": 2.0, "f": 3.0}
    assert second.values == {"a": -1.0, "b": 2.0, "n1": 1.0, "f": 3.0}
    assert second.gradients == {"a": 1.0, "b": 2.0, "n1": 1.0, "f": 1.0}


def _split_nary(spec):
    """The same computation with every n-ary gate written as a chain of binary gates."""
    nodes = []
    for n in spec["nodes"]:
        ins = n["inputs"]
        if n["op"] in ("add", "mul") and len(ins) > 2:
            acc = ins[0]
            for k, b in enumerate(ins[1:-1]):
                nodes.append({"id": f"{n['id']}_part{k}", "op": n["op"], "inputs": [acc, b]})
                acc = f"{n['id']}_part{k}"
            nodes.append({"id": n["id"], "op": n["op"], "inputs": [acc, ins[-1]]})
        else:
            nodes.append(n)
    return {"nodes": nodes, "output": spec["output"]}


@settings(max_examples=150, deadline=None)
@given(random_graphs())
def test_graphs_that_lower_to_the_same_instructions_still_report_their_own_nodes(case):
    spec, values = case
    split = _split_nary(spec)
    for s in (spec, split, spec):  # both orders through the shared cache
        graph = Graph.from_spec(s)
        inputs = {k: values[k] for k in graph.inputs}
        try:
            ev = engine.evaluate(graph, inputs)
        except engine.NonFiniteError as err:
            assert not oracle.bounded(graph, inputs), err
            continue
        want = oracle_forward(graph, inputs)
        if want is None:
            continue
        for name, v in want.items():
            assert ev.values[name] == pytest.approx(v, rel=1e-9, abs=1e-9), name


def oracle_forward(graph, inputs):
    from tests import oracle
    try:
        env = oracle.forward(graph, inputs)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    if any(isinstance(v, complex) for v in env.values()):
        return None
    return env


def test_a_cycle_through_ten_thousand_nodes_is_named_briefly():
    n = 10_000
    nodes = [{"id": f"n{i}", "op": "neg", "inputs": [f"n{(i + 1) % n}"]} for i in range(n)]
    with pytest.raises(GraphError) as err:
        Graph.from_spec({"nodes": nodes, "output": "n0"})
    assert "10000 nodes in all" in err.value.message and len(err.value.message) < 400

"""Writing a graph as a spec and reading it back gives the same graph, numbers and gradients."""

import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import engine
from engine import Graph, GraphError, NonFiniteError
from tests import oracle
from tests.engine.test_evaluate import evaluated_as_the_oracle_says

NAMES = ("x0", "x1", "x2")
_UNARY = ("sigmoid", "tanh", "relu", "abs", "square", "neg", "exp")

_leaves = st.one_of(st.sampled_from(NAMES), st.sampled_from(["2", "0.5", "3", "1.5"]))


def _combine(children):
    operands = st.tuples(children, children)
    return st.one_of(
        st.builds(lambda ab, op: f"({ab[0]} {op} {ab[1]})", operands, st.sampled_from("+-*/")),
        st.builds(lambda a, f: f"{f}({a})", children, st.sampled_from(_UNARY)),
        st.builds(lambda a, e: f"({a})^{e}", children, st.sampled_from(["2", "3", "(1 + 1)"])),
        st.builds(lambda ab, f: f"{f}({ab[0]}, {ab[1]})", operands, st.sampled_from(["max", "min"])),
        st.builds(lambda a: f"-{a}", children),
    )


_expressions = st.recursive(_leaves, _combine, max_leaves=8)


@st.composite
def programs(draw):
    """Expression programs the parser accepts: one expression, a named statement feeding
    the last one, or statements whose output is a bare input that no node uses."""
    first = draw(_expressions)
    shape = draw(st.sampled_from(["one", "two", "bare"]))
    if shape == "one":
        return first
    if shape == "two":
        return f"q = {first}; f = q * {draw(_expressions)}"
    return f"q = {first}; {draw(st.sampled_from(NAMES))}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(programs(), st.fixed_dictionaries({x: st.floats(-2, 2).map(lambda v: round(v, 3)) for x in NAMES}))
def test_from_spec_of_to_spec_gives_the_graph_its_values_and_the_oracles_gradients(text, point):
    try:
        graph = engine.parse(text)
    except GraphError:
        assume(False)  # a constant expression: nothing to differentiate
    back = Graph.from_spec(graph.to_spec())
    assert back == graph and back.inputs == graph.inputs
    values = {x: point[x] for x in graph.inputs}
    ev = evaluated_as_the_oracle_says(graph, values)
    if ev is None:  # a non-finite result the oracle agrees with: the copy reports it too
        with pytest.raises(NonFiniteError):
            engine.evaluate(back, values)
        return
    ev_back = engine.evaluate(back, values)
    assert ev_back.values == ev.values and ev_back.gradients == ev.gradients
    for name, want in oracle.complex_step_gradients(graph, values).items():
        assume(math.isfinite(want))
        assert ev_back.gradients[name] == pytest.approx(want, rel=1e-8, abs=1e-9), name


def test_a_bare_input_graph_round_trips_and_its_gradient_is_one():
    spec = engine.parse("b").to_spec()
    assert spec == {"nodes": [], "output": "b", "inputs": ["b"]}
    ev = engine.evaluate(Graph.from_spec(spec), {"b": 3.0})
    assert ev.value == 3.0 and ev.gradients == {"b": 1.0}


def test_a_misspelt_output_is_still_an_unknown_output_with_a_suggestion():
    spec = {"nodes": [{"id": "loss", "op": "neg", "inputs": ["x"]}], "output": "los"}
    with pytest.raises(GraphError) as err:
        Graph.from_spec(spec)
    assert err.value.path == "output" and "did you mean 'loss'" in err.value.message


def test_an_unused_input_output_without_inputs_names_the_missing_field():
    with pytest.raises(GraphError) as err:
        Graph.from_spec({"nodes": [], "output": "b"})
    assert err.value.path == "output" and "'inputs'" in err.value.message


@pytest.mark.parametrize("inputs, path", [
    (["y", "x"], "inputs"),  # not in order of first use
    (["x"], "inputs"),  # the unused output is missing
    ("x", "inputs"),
    (["x", "1y"], "inputs[1]"),
])
def test_inputs_that_disagree_with_the_nodes_are_refused(inputs, path):
    spec = {"nodes": [{"id": "q", "op": "neg", "inputs": ["x"]}], "output": "y", "inputs": inputs}
    with pytest.raises(GraphError) as err:
        Graph.from_spec(spec)
    assert err.value.path == path

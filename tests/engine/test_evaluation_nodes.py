"""Evaluation.nodes, read from the spec for evaluate_many's bulk results without building
the Graph, against Graph.from_spec (the general reader); and which item errors say
they are the graph's (in_graph)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine.evaluation import PlainEvaluation
from tests.engine.test_evaluate import random_graphs

LABELLED = {"nodes": [{"id": "f", "op": "mul", "inputs": ["r", -0.0, 3]},
                      {"id": "r", "op": "add", "inputs": ["x", 2, 1e20], "label": "x plus"},
                      {"id": "s", "op": "neg", "inputs": ["x"], "label": None}], "output": "f"}


@settings(max_examples=40, deadline=None)
@given(st.lists(random_graphs(), min_size=4, max_size=12), st.randoms(use_true_random=False))
def test_bulk_nodes_are_the_nodes_the_general_reader_makes(cases, rng):
    specs = []
    for spec, _ in cases:
        nodes = list(spec["nodes"])
        rng.shuffle(nodes)  # any node order: answered in evaluation order
        specs.append({"nodes": nodes, "output": spec["output"]})
    specs.append(LABELLED)
    items = [(spec, {name: 0.5 for name in engine.Graph.from_spec(spec).inputs}) for spec in specs]
    for (spec, _), ev in zip(items, engine.evaluate_many(items, errors="return")):
        if isinstance(ev, engine.GraphError):
            continue  # a domain fault of the random point; nodes are not reached
        assert isinstance(ev, PlainEvaluation)
        nodes = ev.nodes
        assert ev._graph is None  # read without building the Graph
        graph = engine.Graph.from_spec(spec)
        assert nodes == graph.nodes
        assert [n.label for n in nodes] == [n.label for n in graph.nodes]
        assert [list(map(type, n.inputs)) for n in nodes] == [list(map(type, n.inputs)) for n in graph.nodes]


def test_labelled_nodes_keep_their_text_and_numbers_become_floats():
    ev = engine.evaluate_many([(LABELLED, {"x": 1.0})] * 4)[0]
    assert [(n.id, n.inputs, n.label) for n in ev.nodes] == [
        ("r", ("x", 2.0, 1e20), "x plus"),
        ("f", ("r", 0.0, 3.0), "r * 0 * 3"),
        ("s", ("x",), "-x"),
    ]


@pytest.mark.parametrize("spec, inputs, in_graph, path", [
    ({"nodes": [{"id": "f", "op": "nope", "inputs": ["x"]}], "output": "f"}, {"x": 1.0}, True,
     "nodes[0].op"),
    ({"nodes": [{"id": "f", "op": "neg", "inputs": ["x"]}], "output": "f", "extra": 1}, {"x": 1.0},
     True, "extra"),
    ({"expr": "x +"}, {"x": 1.0}, True, "expr"),
    ({"nodes": [{"id": "f", "op": "neg", "inputs": ["x"]}], "output": "f"}, {}, False, "inputs.x"),
    ({"nodes": [{"id": "f", "op": "log", "inputs": ["x"]}], "output": "f"}, {"x": 0.0}, False,
     "nodes[0]"),
])
def test_an_items_error_says_whether_it_is_in_the_graph_or_in_the_item(spec, inputs, in_graph, path):
    good = ({"nodes": [{"id": "f", "op": "neg", "inputs": ["x"]}], "output": "f"}, {"x": 1.0})
    results = engine.evaluate_many([good, good, good, (spec, inputs)], errors="return")
    exc = results[3]
    assert isinstance(exc, engine.GraphError)
    assert exc.in_graph is in_graph and exc.path == path and exc.item == 3
    assert all(r.value == -1.0 for r in results[:3])


def test_a_node_without_a_label_is_labelled_from_its_op_and_inputs_as_a_person_writes_it():
    spec = {"nodes": [{"id": "a", "op": "mul", "inputs": ["x", 2, 0.25]},
                      {"id": "b", "op": "add", "inputs": ["a", -0.0, 1e20, -3.0]},
                      {"id": "c", "op": "sub", "inputs": ["b", 1e15]},
                      {"id": "d", "op": "neg", "inputs": ["c"]},
                      {"id": "e", "op": "sigmoid", "inputs": ["d"]},
                      {"id": "f", "op": "pow", "inputs": ["e", 2]}], "output": "f"}
    want = ["x * 2 * 0.25", "a + 0 + 1e+20 + -3", "b - 1000000000000000.0", "-c", "sigmoid(d)", "e ^ 2"]
    for _ in range(2):  # written, then found again
        assert [n.label for n in engine.Graph.from_spec(spec).nodes] == want


def test_labels_written_for_graphs_with_ever_new_constants_stay_right_past_the_bound(monkeypatch):
    from engine import graph
    monkeypatch.setattr(graph, "_LABELS_MAX", 50)
    for k in range(200):
        c = k / 8
        node = engine.Graph.from_spec({"nodes": [{"id": "q", "op": "mul", "inputs": ["x", c]}],
                                       "output": "q"}).nodes[0]
        assert node.label == (f"x * {k // 8}" if k % 8 == 0 else f"x * {c!r}")
        assert len(graph._LABELS) <= 50

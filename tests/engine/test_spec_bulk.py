"""evaluate_many's bulk path for plain dict specs (engine.spec_bulk), against the oracle
and against the general path item by item, with plain and non-plain items mixed."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import engine
from engine import GraphError, NonFiniteError, spec_bulk
from engine.evaluation import PlainEvaluation
from engine.vm import kernels as vm
from tests import oracle
from tests.engine.test_evaluate import _reference, random_graphs

Q_F = {"nodes": [{"id": "q", "op": "add", "inputs": ["x", "y"]},
                 {"id": "f", "op": "mul", "inputs": ["q", "z"]}], "output": "f"}


@pytest.fixture(autouse=True)
def bulk_from_one_item(monkeypatch):
    """These tests are about the bulk path itself: here it takes batches of any size
    (evaluate_many leaves fewer than spec_bulk.MIN_ITEMS items to the general path)."""
    monkeypatch.setattr(spec_bulk, "MIN_ITEMS", 1)


@pytest.mark.parametrize("kind", ["spec", "Graph"])
def test_few_items_take_the_general_path_and_as_many_as_min_items_the_bulk_path(monkeypatch, kind):
    monkeypatch.setattr(spec_bulk, "MIN_ITEMS", 4)
    graph = engine.Graph.from_spec(Q_F)
    cases = [{"x": -2.0, "y": 5.0, "z": -4.0}, {"x": 1.5, "y": 0.25, "z": 3.0},
             {"x": 0.0, "y": -1.0, "z": 2.0}, {"x": 4.0, "y": 4.0, "z": -0.5}]
    for n, bulk in ((1, False), (3, False), (4, True)):
        items = [(Q_F if kind == "spec" else graph, cases[k]) for k in range(n)]
        results = engine.evaluate_many(items)
        assert [isinstance(ev, PlainEvaluation) for ev in results] == [bulk] * n
        for (_, values), ev in zip(items, results):  # the worksheet circuit by hand
            x, y, z = values["x"], values["y"], values["z"]
            assert ev.value == (x + y) * z
            assert ev.gradients == {"x": z, "y": z, "z": x + y, "q": z, "f": 1.0}


def test_the_worksheet_circuit_in_bulk_gives_the_worksheet_answers():
    (ev,) = engine.evaluate_many([(Q_F, {"x": -2.0, "y": 5.0, "z": -4.0})])
    assert isinstance(ev, PlainEvaluation)  # the bulk path took it
    assert ev.values == {"x": -2.0, "y": 5.0, "z": -4.0, "q": 3.0, "f": -12.0}
    assert ev.gradients == {"x": -4.0, "y": -4.0, "z": 3.0, "q": -4.0, "f": 1.0}
    assert ev.value == -12.0 and ev.output == "f" and not ev.batched
    assert ev.inputs == {"x": -2.0, "y": 5.0, "z": -4.0}
    assert ev.graph == engine.Graph.from_spec(Q_F)
    assert ev.step(0.5) == {"x": 0.0, "y": 7.0, "z": -5.5}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.lists(random_graphs(), min_size=1, max_size=6))
def test_plain_specs_in_bulk_match_plain_python_values_and_complex_step_gradients(cases):
    items, graphs = [], []
    for spec, values in cases:
        graph = engine.Graph.from_spec(spec)
        values = {k: values[k] for k in graph.inputs}
        assume(_reference(graph, values) is not None)
        items.append((spec, values))
        graphs.append(graph)
    results = engine.evaluate_many(items, errors="return")
    for (spec, values), graph, ev in zip(items, graphs, results):
        if isinstance(ev, NonFiniteError):
            # only where plain Python also finds a gradient infinite or past 1e8
            assert not oracle.bounded(graph, values), ev
            continue
        assert not isinstance(ev, Exception), ev
        if not any(n["op"] == "pow" for n in spec["nodes"]):
            assert isinstance(ev, PlainEvaluation)
        env = oracle.forward(graph, values)
        for name, want in env.items():
            assert ev.values[name] == pytest.approx(want, rel=1e-11, abs=1e-11), name
        # every node's and every input's gradient against complex step, however large
        want_grads = {**oracle.node_gradients_complex_step(graph, values),
                      **oracle.complex_step_gradients(graph, values)}
        assert set(want_grads) == set(ev.gradients)
        for name, want in want_grads.items():
            assert ev.gradients[name] == pytest.approx(want, rel=1e-8, abs=1e-9), name
        assert list(ev.values) == list(graph.names)


def _general(item, **options):
    """The same item through evaluate, which never takes the bulk path."""
    try:
        return engine.evaluate(item[0], item[1], **options)
    except GraphError as exc:
        return exc


MIXED = [
    (Q_F, {"x": 1.0, "y": 2, "z": 3.5}),                                       # plain (an int input)
    ({"nodes": [{"id": "s", "op": "sigmoid", "inputs": ["x"], "label": "σ"}], "output": "s"},
     {"x": 0.0}),                                                              # a label
    ({"nodes": [{"id": "p", "op": "pow", "inputs": ["x", 3]}], "output": "p"}, {"x": 2.0}),
    ({"nodes": [{"id": "k", "op": "mul", "inputs": [2, 3]},
                {"id": "f", "op": "add", "inputs": ["k", "x"]}], "output": "f"}, {"x": 1.0}),
    ({"nodes": [{"id": "f", "op": "add", "inputs": ["q", "x"]},
                {"id": "q", "op": "neg", "inputs": ["x"]}], "output": "f"}, {"x": 1.0}),  # out of order
    (Q_F, {"x": 1.0, "y": 2.0}),                                               # a missing input
    (Q_F, {"x": 1.0, "y": 2.0, "z": 3.0, "w": 0.0}),                           # an extra input
    (Q_F, {"x": True, "y": 2.0, "z": 3.0}),                                    # a boolean
    (Q_F, {"x": np.float64(1.5), "y": 2.0, "z": 3.0}),                         # a NumPy number
    (Q_F, {"x": float("nan"), "y": 2.0, "z": 3.0}),
    (Q_F, {"x": 10 ** 400, "y": 2.0, "z": 3.0}),
    ({"nodes": [{"id": "l", "op": "log", "inputs": ["x"]}], "output": "l"}, {"x": 0.0}),  # -inf
    ({"nodes": [{"id": "a", "op": "add", "inputs": ["x", "x"]},
                {"id": "a", "op": "neg", "inputs": ["a"]}], "output": "a"}, {"x": 1.0}),  # duplicate
    ({"nodes": [{"id": "a", "op": "frobnicate", "inputs": ["x"]}], "output": "a"}, {"x": 1.0}),
    ({"nodes": [{"id": "a", "op": "add", "inputs": ["x"]}], "output": "a"}, {"x": 1.0}),  # arity
    ({"nodes": [{"id": "a", "op": "neg", "inputs": ["x"]}], "output": "b"}, {"x": 1.0}),  # output
    ({"nodes": [{"id": "a", "op": "neg", "inputs": ["a"]}], "output": "a"}, {}),  # a cycle
    ({"nodes": [{"id": "a", "op": "add", "inputs": ["x", "y", "x", 0.5]},
                {"id": "b", "op": "max", "inputs": ["a", "y"]}], "output": "x"},
     {"x": 1.0, "y": 2.0}),                                                    # the output an input
    ({"nodes": [{"id": "a", "op": "relu", "inputs": ["x"]}], "output": "a"}, {"x": -0.0}),
    ({"nodes": [], "output": "x"}, {"x": 1.0}),
]


@pytest.mark.parametrize("intermediates", [True, False])
def test_mixed_items_give_what_evaluate_gives_one_by_one(intermediates):
    items = MIXED + [(spec, values) for spec, values in MIXED[:1]] * 3
    results = engine.evaluate_many(items, errors="return", intermediates=intermediates)
    for k, (item, got) in enumerate(zip(items, results)):
        want = _general(item, intermediates=intermediates)
        if isinstance(want, GraphError):
            assert type(got) is type(want) and str(got) == str(want), k
            assert got.path == want.path and got.item == k
            continue
        assert not isinstance(got, Exception), (k, got)
        assert got.output == want.output and got.inputs == want.inputs
        assert got.values == want.values and got.gradients == want.gradients, k
        assert got.graph == want.graph


def test_labels_pow_folded_constants_and_any_node_order_take_the_bulk_path():
    kinds = [type(ev).__name__ for ev in engine.evaluate_many(MIXED, errors="return")]
    assert kinds[0] == "PlainEvaluation" and kinds[-3] == "PlainEvaluation"  # plain, and -0.0
    assert kinds[1:4] == ["PlainEvaluation"] * 3  # a label, pow, a folded constant
    assert kinds[4] == "PlainEvaluation"  # out of order: sorted in bulk as engine.spec sorts
    assert kinds[8] == "Evaluation"  # a NumPy number
    assert kinds[-2] == "PlainEvaluation"  # the output is an input that feeds nodes
    assert kinds[11] == "NonFiniteError"  # log(0): diagnosed by the general path


def test_an_output_gradient_scales_the_bulk_results_and_an_array_one_leaves_them_to_the_general_path():
    (ev,) = engine.evaluate_many([(Q_F, {"x": -2.0, "y": 5.0, "z": -4.0})], output_gradient=-3.0)
    assert isinstance(ev, PlainEvaluation) and ev.output_gradient == -3.0
    assert ev.gradients == {"x": 12.0, "y": 12.0, "z": -9.0, "q": 12.0, "f": -3.0}
    (ev,) = engine.evaluate_many([(Q_F, {"x": [-2.0], "y": 5.0, "z": -4.0})], output_gradient=[-3.0])
    assert ev.gradients["x"].tolist() == [12.0]


def test_a_thousand_plain_graphs_run_on_the_parallel_kernel_like_one_by_one(monkeypatch):
    # a thousand 3-node graphs are too little work for the thread pool; lower the bar
    monkeypatch.setattr(vm, "PARALLEL_MIN_WORK", 1)
    rng = np.random.default_rng(3)
    items = []
    for k in range(1000):
        spec = {"nodes": [{"id": "u", "op": "mul", "inputs": ["a", "b", round(float(rng.uniform(-3, 3)), 2)]},
                          {"id": "v", "op": "tanh", "inputs": ["u"]},
                          {"id": f"out{k}", "op": "sub", "inputs": ["v", "a"]}], "output": f"out{k}"}
        items.append((spec, {"a": float(rng.uniform(-1, 1)), "b": float(rng.uniform(-1, 1))}))
    results = engine.evaluate_many(items)
    for item, ev in zip(items[::37], results[::37]):
        a, b = item[1]["a"], item[1]["b"]
        c = item[0]["nodes"][0]["inputs"][2]
        assert ev.value == pytest.approx(math.tanh(a * b * c) - a, rel=1e-14)
        sech2 = 1 - math.tanh(a * b * c) ** 2
        assert ev.gradients["a"] == pytest.approx(sech2 * b * c - 1, rel=1e-12, abs=1e-14)
        assert ev.gradients["b"] == pytest.approx(sech2 * a * c, rel=1e-12, abs=1e-14)


def test_a_spec_with_a_bad_name_or_an_unhashable_field_is_refused_by_the_general_path():
    bad = [({"nodes": [{"id": "1x", "op": "neg", "inputs": ["x"]}], "output": "1x"}, {"x": 1.0}),
           ({"nodes": [{"id": "a", "op": ["neg"], "inputs": ["x"]}], "output": "a"}, {"x": 1.0}),
           ({"nodes": [{"id": "a", "op": "neg", "inputs": [["x"]]}], "output": "a"}, {"x": 1.0}),
           ({"nodes": [{"id": 7, "op": "neg", "inputs": ["x"]}], "output": "a"}, {"x": 1.0}),
           ({"nodes": [{"id": "a", "op": "neg", "inputs": "x"}], "output": "a"}, {"x": 1.0})]
    for k, got in enumerate(engine.evaluate_many(bad + [MIXED[0]], errors="return")):
        if k < len(bad):
            want = _general(bad[k])
            assert isinstance(got, GraphError) and str(got) == str(want) and got.path == want.path
        else:
            assert got.value == (1.0 + 2) * 3.5


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(random_graphs(), st.integers(0, 20)), min_size=1, max_size=8))
def test_any_node_as_the_output_gives_in_bulk_exactly_what_evaluate_gives(cases):
    items = []
    for (spec, values), pick in cases:
        names = [n["id"] for n in spec["nodes"]] + sorted(values)
        spec = {"nodes": spec["nodes"], "output": names[pick % len(names)]}
        items.append((spec, values))
    for item, got in zip(items, engine.evaluate_many(items, errors="return")):
        want = _general(item)
        if isinstance(want, GraphError):
            assert type(got) is type(want) and str(got) == str(want)
            continue
        assert got.values == want.values and got.gradients == want.gradients


def test_constants_whose_hashes_collide_keep_their_own_values():
    # hash(-1.0) == hash(-2.0) == -2 in CPython
    spec = {"nodes": [{"id": "a", "op": "mul", "inputs": ["x", -1.0]},
                      {"id": "b", "op": "add", "inputs": ["a", -2.0, -1, "y"]}], "output": "b"}
    evs = engine.evaluate_many([(spec, {"x": 3.0, "y": 0.5})] * 2)
    for ev in evs:
        assert isinstance(ev, PlainEvaluation)
        assert ev.values["a"] == -3.0 and ev.values["b"] == -3.0 - 2.0 - 1.0 + 0.5
        assert ev.gradients["x"] == -1.0 and ev.gradients["y"] == 1.0


@st.composite
def graphs_as_users_send_them(draw):
    """A random graph with a node of constants only, as Graph.to_spec() writes it
    (labels), its nodes perhaps shuffled, sent as that spec or as the Graph, with or
    without an output gradient of its own."""
    spec, values = draw(random_graphs())
    nodes = list(spec["nodes"])
    nodes.append({"id": "k", "op": draw(st.sampled_from(["mul", "add", "sub"])),
                  "inputs": [draw(st.sampled_from([2.0, 3, 0.5])), draw(st.sampled_from([1.5, -2.0]))]})
    nodes.append({"id": "top", "op": "mul", "inputs": [spec["output"], "k"]})
    graph = engine.Graph.from_spec({"nodes": nodes, "output": "top"})
    values = {k: values[k] for k in graph.inputs}
    sent = graph.to_spec()
    if draw(st.booleans()):
        sent["nodes"] = draw(st.permutations(sent["nodes"]))
    if draw(st.booleans()):
        sent = graph
    seed = draw(st.sampled_from([None, -0.5, 2.0]))
    return graph, ((sent, values) if seed is None else (sent, values, seed))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.lists(graphs_as_users_send_them(), min_size=1, max_size=6))
def test_graphs_as_users_send_them_match_the_general_path_bit_for_bit_and_the_complex_step_oracle(cases):
    graphs = [graph for graph, _ in cases]
    items = [item for _, item in cases]
    for graph, item in cases:
        assume(_reference(graph, item[1]) is not None)
    results = engine.evaluate_many(items, errors="return")
    for graph, item, got in zip(graphs, items, results):
        seed = item[2] if len(item) == 3 else 1.0
        want = _general(item, output_gradient=seed)
        if isinstance(want, GraphError):
            assert type(got) is type(want) and str(got) == str(want)
            continue
        assert isinstance(got, PlainEvaluation)
        assert got.values == want.values and got.gradients == want.gradients
        assert list(got.values) == list(want.values) and got.graph == want.graph
        assert got.output_gradient == seed and got.inputs == want.inputs
        for name, grad in oracle.node_gradients_complex_step(graph, item[1]).items():
            if math.isfinite(grad) and abs(grad) < 1e8:
                assert got.gradients[name] == pytest.approx(seed * grad, rel=1e-8, abs=1e-9), name


def test_folded_faults_a_variable_exponent_and_listed_inputs_are_worded_as_one_by_one():
    x_only = {"nodes": [{"id": "a", "op": "neg", "inputs": ["y"]}], "output": "x", "inputs": ["y", "x"]}
    items = [
        ({"nodes": [{"id": "z", "op": "log", "inputs": [0.0]},
                    {"id": "f", "op": "mul", "inputs": ["z", "x"]}], "output": "f"}, {"x": 1.0}),
        ({"nodes": [{"id": "p", "op": "pow", "inputs": ["x", "y"]}], "output": "p"}, {"x": 1.0, "y": 2.0}),
        (x_only, {"x": 3.0, "y": 1.0}),                                          # listed, and right
        ({**x_only, "inputs": ["x", "y"]}, {"x": 3.0, "y": 1.0}),                # listed out of order
        ({"nodes": [{"id": "e", "op": "add", "inputs": [1.0, 1.0]},
                    {"id": "p", "op": "pow", "inputs": ["x", "e"]}], "output": "p"}, {"x": 3.0}),  # x^(1+1)
        ({"nodes": [{"id": "a", "op": "neg", "inputs": ["b"]},
                    {"id": "b", "op": "neg", "inputs": ["a"]}], "output": "a"}, {}),  # a cycle
        ({"nodes": [{"id": "a", "op": "neg", "inputs": ["x"], "label": 3}], "output": "a"}, {"x": 1.0}),
        (Q_F, {"x": 1.0, "y": 2.0, "z": 3.0}, float("nan")),
        (engine.parse("x * y"), {"x": 2.0}),                                      # a Graph, an input missing
    ]
    results = engine.evaluate_many(items, errors="return")
    for k, (item, got) in enumerate(zip(items, results)):
        want = _general(item, output_gradient=item[2] if len(item) == 3 else 1.0)
        if isinstance(want, GraphError):
            assert type(got) is type(want) and str(got) == str(want) and got.path == want.path, k
        else:
            assert isinstance(got, PlainEvaluation), k
            assert got.values == want.values and got.gradients == want.gradients, k
    assert results[4].values["p"] == 9.0 and results[4].gradients["x"] == 6.0  # square, as x^2 is


def test_a_batch_where_every_node_has_a_fourth_key_checks_that_it_is_a_label_of_text_or_null():
    def labelled(expr, **change):
        spec = engine.parse(expr).to_spec()  # every node labelled, as to_spec writes them
        spec["nodes"][0] = {**spec["nodes"][0], **change}
        return spec
    good = [(labelled("x * y + 2"), {"x": 2.0, "y": 3.0}) for _ in range(4)]
    odd = labelled("x * y + 2")
    del odd["nodes"][1]["label"]
    odd["nodes"][1]["note"] = "x times y"  # a stray key in a label's place
    for bad in [labelled("x * y + 2", label=7), labelled("x * y + 2", label=["a"]), odd]:
        items = good + [(labelled("x * y + 2", label=None), {"x": 2.0, "y": 3.0}),  # null: no label
                        (bad, {"x": 2.0, "y": 3.0})]
        results = engine.evaluate_many(items, errors="return")
        for k, got in enumerate(results[:-1]):
            assert isinstance(got, PlainEvaluation), k
            assert got.value == 8.0 and got.gradients == {"x": 3.0, "y": 2.0, "mul1": 1.0, "f": 1.0}, k
        want = _general(items[-1])
        assert isinstance(want, GraphError)
        got = results[-1]
        assert type(got) is type(want) and str(got) == str(want) and got.path == want.path
        assert got.path.startswith("nodes[1]" if bad is odd else "nodes[0].label")


def test_many_items_run_in_parts_and_each_answers_as_one_by_one(monkeypatch):
    monkeypatch.setattr(spec_bulk, "PART_NODES", 12)
    # the usual items, and every odd one of MIXED among them: some parts sort their items
    # one by one, and a part's bad items must not move the answers of the parts beside it
    items = [(Q_F, {"x": k / 4, "y": 2.0, "z": -1.5}) for k in range(30)]
    for at, item in zip(range(3, 200, 5), MIXED[1:]):
        items.insert(at, item)
    bounds = spec_bulk._part_bounds(items)
    assert len(bounds) > 4 and bounds[0] == 0 and bounds[-1] == len(items)
    results = engine.evaluate_many(items, errors="return")
    batches = {id(got._batch) for got in results if isinstance(got, PlainEvaluation)}
    assert len(batches) > 2
    for k, (item, got) in enumerate(zip(items, results)):
        want = _general(item)
        if isinstance(want, GraphError):
            assert type(got) is type(want) and str(got) == str(want), k
            assert got.path == want.path and got.item == k
        else:
            assert got.output == want.output and got.inputs == want.inputs, k
            assert got.values == want.values and got.gradients == want.gradients, k
        if item[0] is Q_F and item[1].get("z") == -1.5:  # f = (x + y) z, by hand
            x = item[1]["x"]
            assert got.value == (x + 2.0) * -1.5 and got.gradients["x"] == -1.5, k
            assert got.gradients["z"] == x + 2.0, k


def test_parts_are_even_and_whole_and_few_items_are_one_part(monkeypatch):
    monkeypatch.setattr(spec_bulk, "PART_NODES", 10)
    spec = {"nodes": [{"id": f"n{i}", "op": "neg", "inputs": [f"n{i - 1}" if i else "x"]} for i in range(3)],
            "output": "n2"}
    items = [(spec, {"x": 1.0})] * 35  # 105 nodes: ten parts of 3-4 items
    bounds = spec_bulk._part_bounds(items)
    assert bounds[0] == 0 and bounds[-1] == 35 and len(bounds) == 11
    assert {b - a for a, b in zip(bounds, bounds[1:])} <= {3, 4}
    assert spec_bulk._part_bounds(items[:6]) == [0, 6]            # 18 nodes: fewer than twice 10
    assert spec_bulk._part_bounds([({"expr": "x"}, {})] * 40) == [0, 40]  # nothing to count
    assert spec_bulk._part_bounds([]) == [0, 0]
    assert spec_bulk._part_bounds(items + [(engine.parse("-x"), {"x": 1.0})]) == [0, 36]  # two kinds

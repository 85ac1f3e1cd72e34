"""POST /v1/evaluate/batch with node-list specs, which go to the engine's bulk path as
they came: every item's answer, good or bad, is the one it would get alone.

Numbers are checked against hand-worked values and against tests/oracle.py (plain
Python forward, complex-step gradients); errors against their field paths.
"""

from __future__ import annotations

import math
import random

import orjson
import pytest

import engine
from service import create_app
from tests import oracle

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def client():
    return create_app({"warmup": "off", "max_node_inputs": 8}).test_client()


def batch(client, items) -> list:
    resp = client.post("/v1/evaluate/batch", data=orjson.dumps({"items": items}),
                       content_type="application/json")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    return orjson.loads(resp.get_data())["results"]


def alone(client, item) -> dict:
    resp = client.post("/v1/evaluate", data=orjson.dumps(item), content_type="application/json")
    return orjson.loads(resp.get_data())


def circuit(a: float, b: float) -> dict:
    """f = (x * a + y) * b, the worksheet's two-gate circuit with constants."""
    return {"nodes": [{"id": "q", "op": "mul", "inputs": ["x", a]},
                      {"id": "r", "op": "add", "inputs": ["q", "y"]},
                      {"id": "f", "op": "mul", "inputs": ["r", b]}], "output": "f"}


def only_error(result: dict) -> tuple[str, dict]:
    problem = result["error"]
    (path, _), = problem["errors"].items()
    return path, problem


GOOD = {"graph": circuit(3, -2), "inputs": {"x": 1.5, "y": -0.5}}


def test_a_batch_of_circuits_gives_the_hand_worked_values_and_gradients(client):
    results = batch(client, [GOOD] * 3 + [{"graph": circuit(0.5, 4.0), "inputs": {"x": 2, "y": 1}}])
    # q = 1.5 * 3 = 4.5, r = 4.5 - 0.5 = 4, f = 4 * -2 = -8; df/dr = -2, df/dq = -2,
    # df/dx = -2 * 3 = -6, df/dy = -2
    for result in results[:3]:
        assert result["value"] == -8.0
        assert result["values"] == {"x": 1.5, "y": -0.5, "q": 4.5, "r": 4.0, "f": -8.0}
        assert result["gradients"] == {"x": -6.0, "y": -2.0, "q": -2.0, "r": -2.0, "f": 1.0}
    # q = 1, r = 2, f = 8; df/dx = 4 * 0.5 = 2, df/dy = 4
    assert results[3]["value"] == 8.0
    assert results[3]["gradients"]["x"] == 2.0 and results[3]["gradients"]["y"] == 4.0


def test_node_results_list_inputs_as_floats_and_labels_as_the_graph_writes_them(client):
    spec = {"nodes": [{"id": "q", "op": "mul", "inputs": ["x", 2]},
                      {"id": "r", "op": "add", "inputs": ["q", -0.0, 2.5]},
                      {"id": "f", "op": "sigmoid", "inputs": ["r"], "label": "the gate"}],
            "output": "f"}
    result = batch(client, [{"graph": spec, "inputs": {"x": -1.25}}] * 4)[0]
    assert result["nodes"] == [
        {"id": "q", "op": "mul", "inputs": ["x", 2.0], "label": "x * 2", "value": -2.5,
         "gradient": 0.25 * 1},
        {"id": "r", "op": "add", "inputs": ["q", 0.0, 2.5], "label": "q + 0 + 2.5", "value": 0.0,
         "gradient": 0.25},
        {"id": "f", "op": "sigmoid", "inputs": ["r"], "label": "the gate", "value": 0.5,
         "gradient": 1.0},
    ]
    # the inputs keep the form the graph writes: 2.0, never the int 2 or -0.0
    raw = batch_bytes(client, [{"graph": spec, "inputs": {"x": -1.25}}] * 4)
    assert b'"inputs":["x",2.0]' in raw and b'"inputs":["q",0.0,2.5]' in raw


def batch_bytes(client, items) -> bytes:
    return client.post("/v1/evaluate/batch", data=orjson.dumps({"items": items}),
                       content_type="application/json").get_data()


def test_nodes_given_out_of_order_are_answered_in_evaluation_order(client):
    spec = {"nodes": [{"id": "f", "op": "mul", "inputs": ["r", "z"]},
                      {"id": "r", "op": "add", "inputs": ["x", "y"]}], "output": "f"}
    result = batch(client, [{"graph": spec, "inputs": {"x": -2, "y": 5, "z": -4}}] * 4)[2]
    assert [n["id"] for n in result["nodes"]] == ["r", "f"]
    assert list(result["values"]) == ["x", "y", "z", "r", "f"]  # inputs by first use, then nodes
    assert result["value"] == -12.0
    assert result["gradients"] == {"x": -4.0, "y": -4.0, "r": -4.0, "z": 3.0, "f": 1.0}


def test_each_bad_item_answers_its_own_error_at_its_path_and_the_others_still_run(client):
    items = [
        GOOD,                                                                    # 0
        {"graph": {"nodes": [{"id": "q", "op": "add", "inputs": ["x", "y"]},
                             {"id": "f", "op": "frobnicate", "inputs": ["q"]}], "output": "f"},
         "inputs": {"x": 1, "y": 2}},                                            # 1 unknown op
        {"graph": {"nodes": [{"id": "q", "op": "add", "inputs": ["x", True]}], "output": "q"},
         "inputs": {"x": 1}},                                                    # 2 a boolean ref
        {"graph": {"nodes": [{"id": "q", "op": "neg", "inputs": ["x"]},
                             {"id": "q", "op": "neg", "inputs": ["q"]}], "output": "q"},
         "inputs": {"x": 1}},                                                    # 3 duplicate id
        {"graph": circuit(3, -2), "inputs": {"x": 1.5}},                         # 4 y missing
        {"graph": circuit(3, -2), "inputs": {"x": 1.5, "y": 1, "w": 2}},         # 5 w unknown
        {"graph": circuit(3, -2), "inputs": {"x": "1.5", "y": 1}},               # 6 not a number
        {"graph": {"nodes": [{"id": "f", "op": "log", "inputs": ["x"]}], "output": "f"},
         "inputs": {"x": 0.0}},                                                  # 7 log(0)
        {"graph": {"nodes": [{"id": "s", "op": "add", "inputs": ["x"] * 9}], "output": "s"},
         "inputs": {"x": 1.0}},                                                  # 8 too wide
        {"graph": {"nodes": [{"id": "a", "op": "neg", "inputs": ["b"]},
                             {"id": "b", "op": "neg", "inputs": ["a"]}], "output": "a"},
         "inputs": {}},                                                          # 9 a cycle
        {"graph": circuit(3, -2), "inputs": {"x": 1.5, "y": -0.5}, "extra": 1},  # 10 stray field
        {"graph": {"nodes": [{"id": "q", "op": "neg", "inputs": ["x"]}], "output": "nope"},
         "inputs": {"x": 1}},                                                    # 11 unknown output
        GOOD,                                                                    # 12
    ]
    results = batch(client, items)
    assert len(results) == len(items)
    for k in (0, 12):
        assert results[k]["value"] == -8.0 and results[k]["gradients"]["x"] == -6.0
    expected_paths = {
        1: "items[1].graph.nodes[1].op",
        2: "items[2].graph.nodes[0].inputs[1]",
        3: "items[3].graph.nodes[1].id",
        4: "items[4].inputs.y",
        5: "items[5].inputs.w",
        6: "items[6].inputs.x",
        7: "items[7].graph.nodes[0]",
        8: "items[8].graph",
        10: "items[10].extra",
        11: "items[11].graph.output",
    }
    for k, path in expected_paths.items():
        got, problem = only_error(results[k])
        assert got == path, (k, problem)
        assert problem["item"] == k and problem["status"] == 422
        assert problem["detail"].startswith(path)
    assert "frobnicate" in results[1]["error"]["detail"]
    assert "duplicate id 'q'" in results[3]["error"]["detail"]
    nonfinite = results[7]["error"]
    assert nonfinite["type"] == "/problems/non-finite-result"
    assert (nonfinite["node"], nonfinite["kind"], nonfinite["index"]) == ("f", "value", None)
    wide = results[8]["error"]
    assert wide["type"] == "/problems/too-much-work"
    assert (wide["limit"], wide["maximum"], wide["requested"]) == ("max_node_inputs", 8, 9)
    assert results[9]["error"]["status"] == 422 and "cycle" in results[9]["error"]["detail"]
    assert list(results[9]["error"]["errors"])[0].startswith("items[9].graph")


def test_every_item_answers_exactly_what_it_answers_alone(client):
    items = [
        GOOD,
        {"graph": circuit(-1, 0.5), "inputs": {"x": 3, "y": 4}, "learning_rate": 0.1},
        {"graph": {"nodes": [{"id": "f", "op": "div", "inputs": ["x", 0]}], "output": "f"},
         "inputs": {"x": 1.0}},
        {"graph": {"nodes": [{"id": "q", "op": "add", "inputs": ["x", "y"]},
                             {"id": "f", "op": "frobnicate", "inputs": ["q"]}], "output": "f"},
         "inputs": {"x": 1, "y": 2}},
        {"graph": {"nodes": [{"id": "f", "op": "mul", "inputs": ["r", 1e20]},
                             {"id": "r", "op": "square", "inputs": ["x"], "label": None}],
                   "output": "f"}, "inputs": {"x": [1.0, -2.0]}},
        {"graph": {"nodes": [], "output": "b", "inputs": ["b"]}, "inputs": {"b": 2.0}},
        {"graph": {"expr": "sigmoid(a) * a"}, "inputs": {"a": 0}},
        {"graph": circuit(3, -2), "inputs": {"x": 1.5}},
    ]
    together = batch(client, items)
    for k, item in enumerate(items):
        single = alone(client, item)
        if "error" in together[k]:
            problem = together[k]["error"]
            assert problem.pop("item") == k
            # the same problem, its paths one level down (items[k].graph.x, not graph.x)
            assert orjson.dumps(problem).replace(f"items[{k}].".encode(), b"") == orjson.dumps(single)
        else:
            assert orjson.dumps(together[k]) == orjson.dumps(single)


@pytest.mark.parametrize("seed", range(3))
def test_random_batches_match_the_plain_python_oracle(client, seed):
    rng = random.Random(seed)
    ops = ["add", "mul", "sub", "sigmoid", "tanh", "exp", "square", "neg"]
    items, graphs = [], []
    for _ in range(40):
        names = ["x", "y"]
        nodes = []
        for j in range(rng.randint(1, 6)):
            op = rng.choice(ops)
            arity = 1 if op in ("sigmoid", "tanh", "exp", "square", "neg") else 2
            refs = [rng.choice(names) if rng.random() < 0.8 else round(rng.uniform(-2, 2), 3)
                    for _ in range(arity)]
            nodes.append({"id": f"n{j}", "op": op, "inputs": refs})
            names.append(f"n{j}")
        if rng.random() < 0.3:
            rng.shuffle(nodes)
        spec = {"nodes": nodes, "output": nodes[-1]["id"]}
        graph = engine.Graph.from_spec(spec)  # the general reader, for the oracle
        inputs = {name: round(rng.uniform(-1, 1), 4) for name in graph.inputs}
        items.append({"graph": spec, "inputs": inputs})
        graphs.append((graph, inputs))
    for result, (graph, inputs) in zip(batch(client, items), graphs):
        env = oracle.forward(graph, inputs)
        assert [n["id"] for n in result["nodes"]] == [n.id for n in graph.nodes]
        for name, value in result["values"].items():
            assert value == pytest.approx(env[name], rel=1e-12, abs=1e-12)
        want = oracle.complex_step_gradients(graph, inputs)
        for name in graph.inputs:
            assert result["gradients"][name] == pytest.approx(want[name], rel=1e-9, abs=1e-12)
        assert result["value"] == result["values"][graph.output]
        assert all(math.isfinite(n["gradient"]) for n in result["nodes"])


def test_a_batch_of_specs_is_priced_by_its_nodes_inputs_and_numbers_before_it_runs():
    client = create_app({"warmup": "off", "max_response_numbers": 4 * 5 * 10 - 1}).test_client()
    # each item: 3 nodes and 2 inputs, so 4 x 5 = 20 numbers in its answer
    resp = client.post("/v1/evaluate/batch", json={"items": [GOOD] * 10})
    assert resp.status_code == 422 and resp.content_type == PROBLEM
    body = resp.get_json()
    assert (body["limit"], body["requested"]) == ("max_response_numbers", 200)
    assert list(body["errors"]) == ["items"]
    assert client.post("/v1/evaluate/batch", json={"items": [GOOD] * 9}).status_code == 200

    client = create_app({"warmup": "off", "max_node_lanes": 3 * 10 + 6 * 10 - 1}).test_client()
    # each item: 3 nodes of 2 inputs each, one lane: 3 + 6 node-lanes
    body = client.post("/v1/evaluate/batch", json={"items": [GOOD] * 10}).get_json()
    assert (body["limit"], body["requested"]) == ("max_node_lanes", 90)


def test_a_batch_of_well_formed_items_still_answers_each_faulty_one_in_its_place(client):
    # every item is {"graph": node list, "inputs": floats}, the form read for all items at once
    items = [GOOD] * 6
    items[1] = {"graph": {"nodes": [{"id": "f", "op": "log", "inputs": ["x"]}], "output": "f"},
                "inputs": {"x": -1.0}}
    items[2] = {"graph": circuit(3, -2), "inputs": {"x": 1.5}}
    items[3] = {"graph": {"nodes": [{"id": "f", "op": "nope", "inputs": ["x"]}], "output": "f"},
                "inputs": {"x": 1.0}}
    items[5] = {"graph": {"nodes": [{"id": "s", "op": "add", "inputs": ["x"] * 9}], "output": "s"},
                "inputs": {"x": 1.0}}
    results = batch(client, items)
    assert results[0]["value"] == results[4]["value"] == -8.0
    assert results[1]["error"]["type"] == "/problems/non-finite-result"
    assert only_error(results[1])[0] == "items[1].graph.nodes[0]"
    assert only_error(results[2])[0] == "items[2].inputs.y"
    assert only_error(results[3])[0] == "items[3].graph.nodes[0].op"
    assert results[5]["error"]["limit"] == "max_node_inputs"
    assert [r["error"]["item"] for r in results[1:4]] == [1, 2, 3]

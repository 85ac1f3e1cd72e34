"""The REST API through Flask's test client: every endpoint, every error class.

Numbers are checked against hand-worked values (the worksheet's), never against the
engine's own output.
"""

from __future__ import annotations

import json
import math
import threading

import numpy as np
import pytest

from service import create_app
from service.runtime import Readiness

PROBLEM = "application/problem+json"
FXYZ = {"graph": {"expr": "(x + y) * z"}, "inputs": {"x": -2, "y": 5, "z": -4}}
FXYZ_NODES = {"nodes": [{"id": "q", "op": "add", "inputs": ["x", "y"]},
                        {"id": "f", "op": "mul", "inputs": ["q", "z"]}], "output": "f"}


@pytest.fixture(scope="module")
def service_app():
    return create_app({"warmup": "sync"})


@pytest.fixture()
def client(service_app):
    return service_app.test_client()


def make_client(**settings):
    return create_app({"warmup": "off", **settings}).test_client()


def problem(resp, status: int) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.content_type == PROBLEM
    body = resp.get_json()
    assert body["status"] == status
    assert {"type", "title", "detail", "errors"} <= body.keys()
    return body


def post(client, path, body):
    return client.post(path, json=body)


# --- POST /v1/evaluate -----------------------------------------------------------------

def test_worksheet_circuit_gives_minus_twelve_and_the_hand_worked_gradients(client):
    resp = post(client, "/v1/evaluate", FXYZ)
    assert resp.status_code == 200 and resp.content_type == "application/json"
    body = resp.get_json()
    assert body["value"] == -12
    assert body["values"][body["output"]] == -12
    assert {k: body["gradients"][k] for k in "xyz"} == {"x": -4, "y": -4, "z": 3}
    assert "step" not in body


def test_node_spec_answers_every_node_in_topological_order(client):
    body = post(client, "/v1/evaluate", {"graph": FXYZ_NODES,
                                         "inputs": {"x": -2, "y": 5, "z": -4}}).get_json()
    assert [n["id"] for n in body["nodes"]] == ["q", "f"]
    q, f = body["nodes"]
    assert q == {"id": "q", "op": "add", "inputs": ["x", "y"], "label": q["label"],
                 "value": 3, "gradient": -4}
    assert (f["value"], f["gradient"], f["inputs"]) == (-12, 1, ["q", "z"])
    assert body["output"] == "f"


def test_sigmoid_gate_at_zero_passes_a_quarter_of_the_upstream_gradient(client):
    body = post(client, "/v1/evaluate", {"graph": {"expr": "sigmoid(a)"}, "inputs": {"a": 0},
                                         "output_gradient": 2.0}).get_json()
    assert body["value"] == 0.5
    assert body["gradients"]["a"] == 0.5  # 2 * sigma(0) * (1 - sigma(0)) = 2 / 4


def test_learning_rate_takes_one_descent_step_on_every_input(client):
    body = post(client, "/v1/evaluate", {**FXYZ, "learning_rate": 0.1}).get_json()
    step = body["step"]
    assert step["learning_rate"] == 0.1
    assert step["inputs"] == pytest.approx({"x": -1.6, "y": 5.4, "z": -4.3})


def test_step_moves_only_the_wrt_inputs(client):
    body = post(client, "/v1/evaluate", {**FXYZ, "learning_rate": 0.5, "wrt": ["z"]}).get_json()
    assert body["step"]["inputs"] == {"z": -5.5}  # -4 - 0.5 * 3


def test_list_inputs_evaluate_a_batch_and_scalars_broadcast(client):
    body = post(client, "/v1/evaluate", {"graph": {"expr": "x * y"},
                                         "inputs": {"x": [1, 2, -3], "y": 3},
                                         "learning_rate": 1, "wrt": ["y"]}).get_json()
    assert body["value"] == [3, 6, -9]
    assert body["gradients"]["x"] == [3, 3, 3]
    assert body["gradients"]["y"] == [1, 2, -3]
    assert body["nodes"][0]["value"] == [3, 6, -9]
    assert body["step"]["inputs"] == {"y": [2, 1, 6]}


def test_constants_in_node_inputs_come_back_as_numbers(client):
    spec = {"nodes": [{"id": "f", "op": "mul", "inputs": ["x", 2.5]}], "output": "f"}
    body = post(client, "/v1/evaluate", {"graph": spec, "inputs": {"x": 4}}).get_json()
    assert body["nodes"][0]["inputs"] == ["x", 2.5]
    assert (body["value"], body["gradients"]["x"]) == (10, 2.5)


def test_a_repeated_graph_answers_each_request_with_its_own_inputs(client):
    first = post(client, "/v1/evaluate", FXYZ).get_json()
    again = post(client, "/v1/evaluate", {"graph": {"expr": "(x + y) * z"},
                                          "inputs": {"x": 1, "y": 2, "z": 3}}).get_json()
    assert first["value"] == -12
    assert again["value"] == 9 and again["gradients"] == {**again["gradients"], "x": 3, "z": 3}
    for _ in range(2):  # a graph that failed to parse is not remembered as good
        assert post(client, "/v1/evaluate", {"graph": {"expr": "(x +"}}).status_code == 422


# --- POST /v1/evaluate/batch -----------------------------------------------------------

def test_batch_answers_in_request_order_and_a_bad_item_fails_only_itself(client):
    resp = post(client, "/v1/evaluate/batch", {"items": [
        FXYZ,
        {"graph": {"expr": "x +"}, "inputs": {"x": 1}},
        {"graph": {"expr": "sigmoid(a)"}, "inputs": {"a": 0}},
        {"graph": {"expr": "x"}, "inputs": {"x": True}},
        7,
        {"graph": {"expr": "exp(x)"}, "inputs": {"x": 1000}},
    ]})
    assert resp.status_code == 200
    results = resp.get_json()["results"]
    assert len(results) == 6
    assert results[0]["value"] == -12 and results[0]["gradients"]["z"] == 3
    assert results[2]["value"] == 0.5 and results[2]["gradients"]["a"] == 0.25
    err = results[1]["error"]
    assert err["status"] == 422 and "items[1].graph.expr" in err["errors"]
    assert err["location"]["line"] == 1 and err["item"] == 1
    assert list(results[3]["error"]["errors"]) == ["items[3].inputs.x"]
    assert "boolean" in results[3]["error"]["errors"]["items[3].inputs.x"][0]
    assert list(results[4]["error"]["errors"]) == ["items[4]"]
    nonfinite = results[5]["error"]
    assert nonfinite["type"] == "/problems/non-finite-result"
    assert nonfinite["node"] == "f" and nonfinite["item"] == 5


def test_batch_item_paths_reach_into_node_specs(client):
    spec = {"nodes": [{"id": "q", "op": "add", "inputs": ["x", "y"]},
                      {"id": "f", "op": "mul", "inputs": ["q", "nope"]},
                      {"id": "g", "op": "frobnicate", "inputs": ["f"]}], "output": "g"}
    results = post(client, "/v1/evaluate/batch", {"items": [
        FXYZ, {"graph": spec, "inputs": {"x": 1, "y": 2}}]}).get_json()["results"]
    assert results[0]["value"] == -12
    (path, messages), = results[1]["error"]["errors"].items()
    assert path == "items[1].graph.nodes[2].op"
    assert "frobnicate" in messages[0]


def test_batch_step_and_wrt_per_item(client):
    results = post(client, "/v1/evaluate/batch", {"items": [
        {**FXYZ, "learning_rate": 0.1, "wrt": ["x"]},
        {**FXYZ, "wrt": ["nope"], "learning_rate": 1},
    ]}).get_json()["results"]
    assert results[0]["step"]["inputs"] == pytest.approx({"x": -1.6})
    assert list(results[1]["error"]["errors"]) == ["items[1].wrt[0]"]


# --- POST /v1/conv1d and /v1/conv1d/geometry -------------------------------------------

def test_conv1d_is_cross_correlation_with_hand_worked_gradients(client):
    body = post(client, "/v1/conv1d", {"input": [1, 2, 3, 4], "weight": [1, 0, -1],
                                       "grad_output": [1, 1]}).get_json()
    assert body["output"] == [-2, -2]          # 1 - 3, 2 - 4
    assert body["output_size"] == 2
    assert body["grad_input"] == [1, 1, -1, -1]
    assert body["grad_weight"] == [3, 5, 7]    # sum_o g[o] * x[o + k]
    assert body["grad_bias"] == 2


def test_conv1d_keeps_the_callers_rank_and_pads_same(client):
    body = post(client, "/v1/conv1d", {"input": [[1, 2, 3, 4]],
                                       "weight": [[[1, 0, -1]], [[1, 1, 1]]],
                                       "bias": [0, 10], "padding": "same"}).get_json()
    assert body["output"] == [[-2, -2, -2, 3], [13, 16, 19, 17]]
    assert body["output_size"] == 4
    assert "grad_input" not in body


def test_conv1d_with_stride_and_dilation(client):
    body = post(client, "/v1/conv1d", {"input": [1, 2, 3, 4, 5, 6, 7], "weight": [1, 1],
                                       "stride": 2, "dilation": 3}).get_json()
    assert body["output"] == [5, 9]  # x0 + x3, x2 + x5


def test_geometry_of_the_worksheet_filter(client):
    body = post(client, "/v1/conv1d/geometry", {"width": 10, "filter_size": 7,
                                                "padding": 3, "stride": 3}).get_json()
    assert body["output_size"] == 4             # (10 - 7 + 2*3)/3 + 1
    assert body["exact"] is True
    assert body["padded_width"] == 16
    assert body["windows"] == [[-3, 3], [0, 6], [3, 9], [6, 12]]
    assert body["centers"] == [0, 3, 6, 9]
    assert "= 4" in body["formula"]


def test_geometry_same_padding_and_an_inexact_stride(client):
    same = post(client, "/v1/conv1d/geometry", {"width": 5, "filter_size": 3,
                                                "padding": "same", "stride": 1}).get_json()
    assert (same["padding"], same["output_size"]) == (1, 5)
    odd = post(client, "/v1/conv1d/geometry", {"width": 8, "filter_size": 3,
                                               "padding": 0, "stride": 2}).get_json()
    assert (odd["output_size"], odd["exact"]) == (3, False)  # floor(5/2) + 1


def test_geometry_errors_name_the_argument(client):
    body = problem(post(client, "/v1/conv1d/geometry", {"width": 4, "filter_size": 2,
                                                        "padding": "same", "stride": 1}), 422)
    assert list(body["errors"]) == ["padding"]
    body = problem(post(client, "/v1/conv1d/geometry", {"width": 3, "filter_size": 5,
                                                        "padding": 0, "stride": 1}), 422)
    assert list(body["errors"]) == ["filter_size"]
    body = problem(post(client, "/v1/conv1d/geometry", {"width": 2.5, "filter_size": True,
                                                        "padding": -1, "stride": "2"}), 422)
    assert set(body["errors"]) == {"width", "filter_size", "padding", "stride"}


def test_geometry_refuses_integers_past_two_to_the_53(client):
    raw = '{"width": 10, "filter_size": 3, "padding": 0, "stride": %d}' % 2 ** 70
    body = problem(client.post("/v1/conv1d/geometry", data=raw,
                               content_type="application/json"), 422)
    assert list(body["errors"]) == ["stride"]


def test_conv1d_errors_use_the_api_names_and_element_paths(client):
    ragged = problem(post(client, "/v1/conv1d", {"input": [[1, 2, 3], [1]], "weight": [1]}), 422)
    assert list(ragged["errors"]) == ["input[1]"]
    string = problem(post(client, "/v1/conv1d", {"input": [[1, 2], [3, "4"]], "weight": [1]}), 422)
    assert list(string["errors"]) == ["input[1][1]"]
    channels = problem(post(client, "/v1/conv1d", {"input": [[1, 2, 3], [4, 5, 6]],
                                                   "weight": [[[1, 1]]]}), 422)
    assert list(channels["errors"]) == ["weight"]
    shape = problem(post(client, "/v1/conv1d", {"input": [1, 2, 3], "weight": [1, 1],
                                                "grad_output": [1, 1, 1]}), 422)
    assert list(shape["errors"]) == ["grad_output"]
    too_wide = problem(post(client, "/v1/conv1d", {"input": [1, 2], "weight": [1, 1, 1]}), 422)
    assert list(too_wide["errors"]) == ["weight"]


# --- health, metrics, docs -------------------------------------------------------------

def test_healthz_and_readyz_after_warm_up(client):
    assert client.get("/healthz").get_json() == {"status": "alive"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ready"


def test_readyz_is_503_until_the_warm_up_finishes():
    app = create_app({"warmup": "off"})
    gate = threading.Event()
    readiness = Readiness()
    app.extensions["gradsheet"].readiness = readiness
    readiness.start("background", gate.wait)
    client = app.test_client()
    body = problem(client.get("/readyz"), 503)
    assert body["type"] == "/problems/not-ready"
    gate.set()
    assert readiness.wait(10)
    assert client.get("/readyz").status_code == 200


def test_readyz_reports_a_failed_warm_up():
    app = create_app({"warmup": "off"})
    readiness = Readiness()
    app.extensions["gradsheet"].readiness = readiness
    readiness.start("sync", lambda: 1 / 0)
    body = problem(app.test_client().get("/readyz"), 503)
    assert "warm-up failed" in body["detail"]


def test_metrics_count_requests_in_prometheus_text(client):
    post(client, "/v1/evaluate", FXYZ)
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.content_type.startswith("text/plain")
    text = resp.get_data(as_text=True)
    line = next(l for l in text.splitlines() if l.startswith(
        'gradsheet_http_requests_total{endpoint="/v1/evaluate",method="POST",status="200"}'))
    assert float(line.split()[-1]) >= 1


def test_openapi_document_lists_every_endpoint_and_problem_json(client):
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path in ("/v1/evaluate", "/v1/evaluate/batch", "/v1/conv1d", "/v1/conv1d/geometry"):
        op = paths[path]["post"]
        assert "requestBody" in op
        assert PROBLEM in doc["components"]["responses"][
            op["responses"]["422"]["$ref"].rsplit("/", 1)[1]]["content"]
    for path in ("/healthz", "/readyz", "/metrics"):
        assert "get" in paths[path]


def test_problem_types_are_described_at_their_uri(client):
    body = problem(post(client, "/v1/evaluate", {"graph": {"expr": "x"}}), 422)
    described = client.get(body["type"])
    assert described.status_code == 200
    assert described.get_json()["status"] == 422


# --- errors: malformed, wrong type, too large, invalid, non-finite, overloaded ----------

@pytest.mark.parametrize("data", ["{bad", "", "   ", '{"graph": {"expr": "x"}, "inputs": {"x": NaN}}',
                                  '{"inputs": {"x": Infinity}}', '{"inputs": {"x": 1e400}}',
                                  "[" * 3000 + "]" * 3000, '{"a": 1} trailing', "\xff\xfe"])
def test_malformed_json_is_400(client, data):
    resp = client.post("/v1/evaluate", data=data, content_type="application/json")
    body = problem(resp, 400)
    assert body["type"] == "/problems/malformed-json"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_declared_json_is_415(client, content_type):
    resp = client.post("/v1/evaluate", data='{"graph": {"expr": "x"}}', content_type=content_type)
    assert problem(resp, 415)["type"] == "/problems/unsupported-media-type"


def test_a_body_over_the_limit_is_413():
    client = make_client(max_body_bytes=1000)
    body = problem(client.post("/v1/evaluate/batch", json={"items": [FXYZ] * 50}), 413)
    assert body["limit"] == 1000
    assert client.post("/v1/evaluate", json=FXYZ).status_code == 200


@pytest.mark.parametrize("payload, path, words", [
    ({"graph": {"expr": "x"}, "inputs": {"x": "1"}}, "inputs.x", "string '1'"),
    ({"graph": {"expr": "x"}, "inputs": {"x": True}}, "inputs.x", "boolean"),
    ({"graph": {"expr": "x"}, "inputs": {"x": None}}, "inputs.x", "null"),
    ({"graph": {"expr": "x"}, "inputs": {"x": [1, 2, False]}}, "inputs.x[2]", "boolean"),
    ({"graph": {"expr": "x"}, "inputs": {"x": []}}, "inputs.x", "at least one"),
    ({"graph": {"expr": "x"}, "inputs": {"x": [[1]]}}, "inputs.x[0]", "list"),
    ({"graph": {"expr": "x"}, "inputs": [1]}, "inputs", "object"),
    ({"graph": {"expr": "x"}, "inputs": {"x": 1}, "learning_rate": "0.1"}, "learning_rate", "string"),
    ({"graph": {"expr": "x"}, "inputs": {"x": 1}, "output_gradient": False}, "output_gradient", "boolean"),
    ({"graph": {"expr": "x"}, "inputs": {"x": 1}, "wrt": ["x"]}, "wrt", "learning_rate"),
    ({"graph": "x + y", "inputs": {}}, "graph", "object"),
    ({"inputs": {}}, "graph", "Missing"),
    ({"graph": {"expr": "x"}, "inputs": {"x": 1}, "lerning_rate": 1}, "lerning_rate", "Unknown"),
    ({"graph": {"expr": "(x + y"}, "inputs": {}}, "graph.expr", "line 1"),
    ({"graph": {"expr": "x + y"}, "inputs": {"x": 1}}, "inputs.y", "missing"),
    ({"graph": {"expr": "x"}, "inputs": {"x": 1, "q": 2}}, "inputs.q", "unknown"),
    ({"graph": {"nodes": [{"id": "a", "op": "add", "inputs": ["x", "b"]},
                          {"id": "b", "op": "mul", "inputs": ["a", True]}], "output": "b"},
      "inputs": {"x": 1}}, "graph.nodes[1].inputs[1]", "boolean"),
    ({"graph": {"nodes": [{"id": "a", "op": "sigmoid", "inputs": ["x", "x"]}], "output": "a"},
      "inputs": {"x": 1}}, "graph.nodes[0]", "sigmoid"),
    ({"graph": {"nodes": [], "output": "a"}, "inputs": {}}, "graph", ""),
    ({"graph": {"expr": "x"}, "inputs": {"x": 1}, "learning_rate": 1, "wrt": ["y"]}, "wrt[0]", "y"),
])
def test_invalid_content_is_422_naming_the_field(client, payload, path, words):
    body = problem(post(client, "/v1/evaluate", payload), 422)
    assert body["type"] == "/problems/invalid-content"
    matching = [p for p in body["errors"] if p == path or p.startswith(path)]
    assert matching, body["errors"]
    assert words.lower() in " ".join(body["errors"][matching[0]]).lower()


def test_expression_errors_carry_line_and_column(client):
    body = problem(post(client, "/v1/evaluate", {"graph": {"expr": "q = x + y\nf = q * * z"}}), 422)
    assert body["location"]["path"] == "graph.expr"
    assert (body["location"]["line"], body["location"]["column"]) == (2, 9)  # the second '*'
    assert "line 2, column 9" in body["errors"]["graph.expr"][0]


def test_a_non_finite_value_is_422_naming_the_node_and_batch_index(client):
    body = problem(post(client, "/v1/evaluate", {"graph": {"expr": "exp(x)"},
                                                 "inputs": {"x": [0, 1000, 1]}}), 422)
    assert body["type"] == "/problems/non-finite-result"
    assert (body["node"], body["index"], body["kind"]) == ("f", 1, "value")


def test_an_infinite_gradient_is_422_naming_the_input(client):
    body = problem(post(client, "/v1/evaluate", {"graph": {"expr": "sqrt(x)"},
                                                 "inputs": {"x": 0}}), 422)
    assert (body["node"], body["index"], body["kind"]) == ("x", None, "gradient")


def test_a_step_that_overflows_is_422_not_infinity(client):
    # f = x * y is 1e300 and df/dy = x = 1e300, but y - 1e300 * 1e300 is -inf.
    body = problem(post(client, "/v1/evaluate", {"graph": {"expr": "x * y"},
                                                 "inputs": {"x": 1e300, "y": 1},
                                                 "learning_rate": 1e300}), 422)
    assert body["type"] == "/problems/non-finite-result"
    assert (body["kind"], body["node"]) == ("step", "y")
    assert list(body["errors"]) == ["learning_rate"]


@pytest.mark.parametrize("settings, payload, path", [
    ({"max_nodes": 2}, {"graph": {"expr": "a * b + c * d"},
                        "inputs": dict.fromkeys("abcd", 1)}, "graph"),
    ({"max_expr_chars": 10}, {"graph": {"expr": "x + " * 5 + "x"}, "inputs": {"x": 1}}, "graph.expr"),
    ({"max_depth": 5}, {"graph": {"expr": "(" * 10 + "x" + ")" * 10}, "inputs": {"x": 1}}, "graph.expr"),
    ({"max_array_elements": 3}, {"graph": {"expr": "x"}, "inputs": {"x": [1, 2, 3, 4]}}, "inputs.x"),
])
def test_limits_are_422_naming_the_field(settings, payload, path):
    body = problem(post(make_client(**settings), "/v1/evaluate", payload), 422)
    assert any(p.startswith(path) for p in body["errors"]), body["errors"]


def test_batch_item_limit():
    client = make_client(max_batch_items=2)
    body = problem(post(client, "/v1/evaluate/batch", {"items": [FXYZ] * 3}), 422)
    assert list(body["errors"]) == ["items"] and "limit is 2" in body["errors"]["items"][0]
    assert post(client, "/v1/evaluate/batch", {"items": [FXYZ] * 2}).status_code == 200


@pytest.mark.parametrize("items", [[], {}, "x", None])
def test_batch_items_must_be_a_non_empty_list(client, items):
    body = problem(post(client, "/v1/evaluate/batch", {"items": items}), 422)
    assert list(body["errors"]) == ["items"]


def test_a_conv_output_that_overflows_is_422_naming_the_element(client):
    body = problem(post(client, "/v1/conv1d", {"input": [1.0, 1e200, 2.0], "weight": [1e200],
                                               "grad_output": [1, 1, 1]}), 422)
    assert body["type"] == "/problems/non-finite-result"
    assert (body["node"], body["position"]) == ("output", [1])


def test_a_conv_gradient_that_overflows_is_422_naming_the_gradient_and_element(client):
    # grad_weight[1] = sum_o g[o] * x[o + 1] = 1e200 * 1e200 + 2: inf; the output is finite.
    body = problem(post(client, "/v1/conv1d", {"input": [1.0, 1e200, 2.0], "weight": [1.0, 1.0],
                                               "grad_output": [1e200, 1.0]}), 422)
    assert body["type"] == "/problems/non-finite-result"
    assert (body["node"], body["kind"], body["index"], body["position"]) == (
        "grad_weight", "gradient", None, [1])
    assert list(body["errors"]) == ["grad_weight"]


def test_conv_tensors_nested_deeper_than_three_lists_are_refused(client):
    deep = 1.0
    for _ in range(100):
        deep = [deep]
    body = problem(post(client, "/v1/conv1d", {"input": deep, "weight": [1]}), 422)
    assert list(body["errors"]) == ["input"] and "3 lists deep" in body["errors"]["input"][0]


def test_conv_tensor_limits_cover_inputs_and_outputs():
    client = make_client(max_conv_elements=8)
    body = problem(post(client, "/v1/conv1d", {"input": list(range(9)), "weight": [1]}), 422)
    assert list(body["errors"]) == ["input"]
    body = problem(post(client, "/v1/conv1d", {"input": [[1, 2, 3, 4]],
                                               "weight": [[[1]]] * 3}), 422)
    assert list(body["errors"]) == ["output"]  # 3 channels x 4 = 12 outputs


def test_overloaded_worker_answers_503_with_retry_after():
    client = make_client(max_pending=0, retry_after_seconds=2)
    resp = post(client, "/v1/evaluate", FXYZ)
    body = problem(resp, 503)
    assert body["type"] == "/problems/overloaded"
    assert resp.headers["Retry-After"] == "2"
    ready = client.get("/readyz")
    assert problem(ready, 503)["detail"].startswith("overloaded")
    assert client.get("/healthz").status_code == 200


def test_unknown_paths_and_methods_are_problems_not_html(client):
    assert problem(client.get("/nope"), 404)["type"] == "/problems/not-found"
    resp = client.get("/v1/evaluate")
    assert problem(resp, 405)["type"] == "/problems/method-not-allowed"
    assert "POST" in resp.headers["Allow"]


def strict_json(text: str):
    def refuse(token):
        raise AssertionError(f"{token} in a JSON answer")
    return json.loads(text, parse_constant=refuse)


def test_no_answer_carries_nan_or_infinity(client):
    payloads = [{"graph": {"expr": e}, "inputs": {"x": x}} for e in ("log(x)", "1 / x", "exp(x)")
                for x in (0, 800, -1, [0, 1], 0.5)]
    statuses = set()
    for payload in payloads:
        resp = post(client, "/v1/evaluate", payload)
        statuses.add(resp.status_code)
        body = strict_json(resp.get_data(as_text=True))
        if resp.status_code == 200:
            assert "null" not in resp.get_data(as_text=True)
            assert all(math.isfinite(v) for v in np.ravel(list(body["values"].values())))
    assert statuses == {200, 422}

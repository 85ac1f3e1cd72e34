"""Admission by work: each request found to exhaust a worker (memory bombs, compute
bombs, huge strides) is refused before it allocates, with a problem naming the limit,
in well under a second."""

from __future__ import annotations

import time

import numpy as np
import orjson
import pytest

import engine
from engine.conv.geometry import conv_cost
from service import create_app
from service.graph_cache import GraphCache

PROBLEM = "application/problem+json"


INSTRUCTOR_TOKEN = "limits-test-instructor-token"


@pytest.fixture(scope="module")
def client():
    # an instructor: answer keys are refused to anyone else before their cost is priced
    return create_app({"warmup": "off", "instructor_tokens": INSTRUCTOR_TOKEN}).test_client()


def refused(client, path, body, status=422) -> dict:
    data = orjson.dumps(body)  # the client's encoding is not the server's time
    started = time.perf_counter()
    resp = client.post(path, data=data, content_type="application/json",
                       headers={"Authorization": f"Bearer {INSTRUCTOR_TOKEN}"})
    elapsed = time.perf_counter() - started
    assert resp.status_code == status, resp.get_data(as_text=True)[:300]
    assert resp.content_type == PROBLEM
    assert elapsed < 1.0, f"took {elapsed:.2f} s to refuse"
    return resp.get_json()


def sigmoid_chain(nodes: int) -> dict:
    spec = [{"id": "a0", "op": "sigmoid", "inputs": ["x"]}]
    spec += [{"id": f"a{i}", "op": "sigmoid", "inputs": [f"a{i - 1}"]} for i in range(1, nodes)]
    return {"nodes": spec, "output": f"a{nodes - 1}"}


def test_a_pdf_export_of_a_large_class_is_refused_naming_the_pdf_limit(client):
    body = refused(client, "/v1/problem-sets", {"seed": 1, "students": 1666,
                                                "include_answers": True, "format": "pdf"})
    assert body["type"] == "/problems/too-much-work"
    assert body["limit"] == "max_export_problems_pdf"
    assert body["requested"] == 1666 * 6 and list(body["errors"]) == ["students"]


def test_the_same_class_as_json_is_refused_by_the_generation_limit_only_past_it(client):
    body = refused(client, "/v1/problem-sets", {"seed": 1, "students": 1666})
    assert body["limit"] == "max_set_problems"
    ok = client.post("/v1/problem-sets", json={"seed": 1, "students": 3,
                                               "problems": ["gate_gradient"]})
    assert ok.status_code == 200 and len(ok.get_json()["sheets"]) == 3


def test_a_sigmoid_chain_over_a_million_lanes_is_refused_before_it_runs(client):
    body = refused(client, "/v1/evaluate", {"graph": sigmoid_chain(50),
                                            "inputs": {"x": [0.5] * 1_000_000}})
    assert body["type"] == "/problems/too-much-work"
    assert body["limit"] in ("max_node_lanes", "max_response_numbers")
    assert body["requested"] > body["maximum"]


def test_a_chain_within_the_limits_still_gives_sigma_of_sigma(client):
    resp = client.post("/v1/evaluate", json={"graph": sigmoid_chain(2), "inputs": {"x": [0.0, 1.0]}})
    assert resp.status_code == 200
    s0, s1 = 0.5, 1 / (1 + np.exp(-1.0))
    assert resp.get_json()["value"] == pytest.approx([1 / (1 + np.exp(-s0)), 1 / (1 + np.exp(-s1))])


def test_a_batch_is_admitted_by_its_total_work(client):
    item = {"graph": sigmoid_chain(50), "inputs": {"x": [0.5] * 20_000}}
    body = refused(client, "/v1/evaluate/batch", {"items": [item] * 10})
    assert body["limit"] in ("max_node_lanes", "max_response_numbers")
    assert list(body["errors"]) == ["items"]


def test_a_node_with_a_million_inputs_is_refused_as_too_wide(client):
    spec = {"nodes": [{"id": "s", "op": "add", "inputs": [1.0] * 1_000_000}], "output": "s"}
    body = refused(client, "/v1/evaluate", {"graph": spec})
    assert body["limit"] == "max_node_inputs" and body["requested"] == 1_000_000
    assert list(body["errors"]) == ["graph"]


def test_the_graph_cache_is_bounded_by_bytes_as_well_as_entries():
    cache = GraphCache(engine.Limits(max_batch=1_000_000), max_bytes=4_000_000)
    for k in range(7):
        spec = {"nodes": [{"id": "s", "op": "add", "inputs": [float(k)] * 20_000}], "output": "s"}
        assert cache.graph(spec).nodes[0].inputs[0] == float(k)
    assert cache.bytes <= 4_000_000
    assert len(cache) < 7
    small = {"expr": "x * y"}
    assert cache.graph(small) is cache.graph(small)  # small graphs are still kept


@pytest.mark.parametrize("stride", [200_000_000, 9_007_199_254_740_992])
def test_a_stride_longer_than_the_padded_input_is_refused(client, stride):
    body = refused(client, "/v1/conv1d", {"input": [1, 2, 3, 4], "weight": [1, 1],
                                          "stride": stride})
    assert list(body["errors"]) == ["stride"] and "padded width 4" in body["detail"]


def test_a_padding_of_many_widths_is_refused(client):
    body = refused(client, "/v1/conv1d", {"input": [1, 2, 3, 4], "weight": [1, 1],
                                          "padding": 17})
    assert list(body["errors"]) == ["padding"]


def test_a_conv_of_eight_hundred_billion_multiply_adds_is_refused(client):
    body = refused(client, "/v1/conv1d", {"input": [[[1]]], "weight": [[[1] * 100_000]],
                                          "padding": 4_049_999})
    assert list(body["errors"]) == ["padding"]  # 40 filter widths of zeros
    body = refused(client, "/v1/conv1d", {"input": [[[1]]], "weight": [[[1] * 100_000]],
                                          "padding": 399_999})
    assert body["type"] == "/problems/too-much-work"
    assert body["limit"] == "max_conv_multiply_adds"
    # W_out = 1 + 2P - (F - 1) outputs, each F multiply-adds
    assert body["requested"] == (1 + 2 * 399_999 - 99_999) * 100_000


def test_conv_cost_counts_by_hand():
    # x [2, 3, 10], w [4, 3, 5], P 1, S 2: W_out = (10 + 2 - 5)//2 + 1 = 4
    cost = conv_cost(2, 3, 10, 4, 5, padding=1, stride=2)
    assert cost.output_size == 4 and cost.output_elements == 2 * 4 * 4
    assert cost.multiply_adds == 2 * 4 * 4 * 3 * 5
    # the phase copy: 2 * 3 channels, 2 phases of ceil(12 / 2) = 6
    assert cost.working_elements == 2 * 3 * 2 * 6 + 32
    with_grads = conv_cost(2, 3, 10, 4, 5, padding=1, stride=2, gradients=True)
    assert with_grads.multiply_adds == 3 * cost.multiply_adds
    assert with_grads.working_elements == cost.working_elements + 32 + 2 * 3 * 10 + 4 * 3 * 5


def test_an_allocation_that_fails_anyway_is_a_503_problem_not_a_500():
    # Limits raised far past the machine: 10,000 nodes x a million lanes asks numpy for
    # about 75 GiB, which it cannot allocate.
    client = create_app({"warmup": "off", "max_node_lanes": 10**12,
                         "max_response_numbers": 10**12}).test_client()
    resp = client.post("/v1/evaluate", json={"graph": sigmoid_chain(10_000),
                                             "inputs": {"x": [0.5] * 1_000_000}})
    assert resp.status_code == 503, resp.get_data(as_text=True)[:300]
    assert resp.content_type == PROBLEM
    assert resp.get_json()["type"] == "/problems/out-of-memory"
    assert resp.headers["Retry-After"] == "1"

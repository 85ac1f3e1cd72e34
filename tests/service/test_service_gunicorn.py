"""`gradsheet serve` for real: gunicorn with two workers on a free 127.0.0.1 port,
exercised over HTTP (evaluate, batch, conv, readiness, metrics summed over workers),
and always stopped."""

from __future__ import annotations

import json
import math
import os
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from service.local_server import call, local_server, metric

WORKERS = 2


@pytest.fixture(scope="module")
def served():
    with local_server(WORKERS, threads=4) as server:
        yield server


def test_evaluate_over_http_gives_the_worksheet_numbers(served):
    base = served.base
    status, headers, body = call(base, "/v1/evaluate", {
        "graph": {"expr": "(x + y) * z"}, "inputs": {"x": -2, "y": 5, "z": -4}})
    assert status == 200 and headers["Content-Type"] == "application/json"
    answer = json.loads(body)
    assert answer["value"] == -12
    assert {k: answer["gradients"][k] for k in "xyz"} == {"x": -4, "y": -4, "z": 3}


def test_batch_over_http_keeps_order_and_isolates_a_bad_item(served):
    base = served.base
    items = [{"graph": {"expr": "sigmoid(a) * k"}, "inputs": {"a": 0, "k": k}} for k in range(50)]
    items[7] = {"graph": {"expr": "log(a)"}, "inputs": {"a": 0}}
    status, _, body = call(base, "/v1/evaluate/batch", {"items": items})
    assert status == 200
    results = json.loads(body)["results"]
    assert [r["value"] for i, r in enumerate(results) if i != 7] == [
        0.5 * k for k in range(50) if k != 7]
    assert results[9]["gradients"]["a"] == 0.25 * 9  # sigma'(0) = 1/4, times k
    assert results[7]["error"]["type"] == "/problems/non-finite-result"


def test_conv_and_geometry_over_http(served):
    base = served.base
    status, _, body = call(base, "/v1/conv1d", {"input": [1, 2, 3, 4], "weight": [1, 0, -1],
                                                "grad_output": [1, 1]})
    assert status == 200
    answer = json.loads(body)
    assert answer["output"] == [-2, -2] and answer["grad_weight"] == [3, 5, 7]
    status, _, body = call(base, "/v1/conv1d/geometry",
                           {"width": 10, "filter_size": 7, "padding": 3, "stride": 3})
    assert status == 200 and json.loads(body)["centers"] == [0, 3, 6, 9]


def test_errors_over_http_are_problem_json(served):
    base = served.base
    req = urllib.request.Request(base + "/v1/evaluate", data=b"{nope",
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(req, timeout=30)
    assert caught.value.code == 400
    assert caught.value.headers["Content-Type"] == "application/problem+json"
    status, headers, _ = call(base, "/nowhere")
    assert status == 404 and headers["Content-Type"] == "application/problem+json"


def test_metrics_sum_over_both_workers(served):
    base, metrics_dir = served.base, served.metrics_dir
    _, _, before = call(base, "/metrics")
    key = 'gradsheet_http_requests_total{endpoint="/healthz",method="GET",status="200"}'
    start = metric(before.decode(), key)
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: call(base, "/healthz")[0], range(40)))
    assert statuses == [200] * 40
    _, _, after = call(base, "/metrics")
    text = after.decode()
    assert metric(text, key) == start + 40
    assert metric(text, "gradsheet_workers_ready ") == WORKERS
    # Each worker writes its own sample file; /metrics, answered by one, sums them all.
    assert len(list(metrics_dir.glob("counter_*.db"))) == WORKERS


def test_workers_split_large_work_across_their_share_of_the_cores(served):
    base = served.base
    status, _, body = call(base, "/readyz")
    ready = json.loads(body)
    assert status == 200 and ready["status"] == "ready"
    # each worker has its share of the cores rather than all of them
    assert ready["kernel_threads"] == max(1, (os.cpu_count() or 1) // WORKERS)
    # and hands the GIL on after 1 ms rather than Python's 5 (service.gunicorn_conf)
    assert ready["gil_switch_interval_ms"] == 1.0


def test_large_convs_from_eight_clients_at_once_match_im2col(served):
    # Past the conv kernels' threshold, so each request's work is split across threads
    # while other requests in the same worker do the same. (An evaluation that large
    # counts as big work here, which runs one at a time: tests/engine/test_bulk.py
    # covers those from many threads.)
    rng = np.random.default_rng(14)
    problems = [(rng.normal(size=(4, 8, 700)).round(6), rng.normal(size=(6, 8, 7)).round(6))
                for _ in range(8)]

    def convolve(problem):
        x, w = problem
        return call(served.base, "/v1/conv1d", {"input": x.tolist(), "weight": w.tolist(),
                                                "stride": 2, "padding": 3})

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(convolve, problems))
    for (x, w), (status, _, body) in zip(problems, answers):
        assert status == 200, body[:300]
        cols = np.pad(x, ((0, 0), (0, 0), (3, 3)))[:, :, np.arange(350)[:, None] * 2 + np.arange(7)]
        want = np.einsum("ncof,dcf->ndo", cols, w)  # im2col
        np.testing.assert_allclose(json.loads(body)["output"], want, rtol=1e-11, atol=1e-11)


def test_a_worker_with_a_queue_in_front_of_its_threads_sheds_load_with_503():
    # One worker, one thread, room for two requests: eight slow batches at once
    # leave six queued behind the thread, and those are turned away at once.
    batch = {"items": [{"graph": {"expr": "x * y + sigmoid(x)"}, "inputs": {"x": i, "y": 2}}
                       for i in range(4000)]}
    with local_server(1, threads=1, env={"GRADSHEET_MAX_PENDING": "2",
                                         "GRADSHEET_RETRY_AFTER_SECONDS": "3"}) as server:
        base = server.base
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: call(base, "/v1/evaluate/batch", batch), range(8)))
        statuses = sorted(status for status, _, _ in answers)
        assert 200 in statuses and 503 in statuses, statuses
        assert set(statuses) == {200, 503}
        for status, headers, body in answers:
            if status == 503:
                assert headers["Retry-After"] == "3"
                assert headers["Content-Type"] == "application/problem+json"
                assert json.loads(body)["type"] == "/problems/overloaded"
            else:
                value = json.loads(body)["results"][3]["value"]
                assert value == pytest.approx(3 * 2 + 1 / (1 + math.exp(-3)))
        _, _, text = call(base, "/metrics")
        assert metric(text.decode(), "gradsheet_overload_rejections_total ") == statuses.count(503)

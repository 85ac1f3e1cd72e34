"""The limits under real gunicorn: a chunked body past the limit, a small request beside
a maximal admitted conv on the same worker, and a worker's memory after the largest
admitted PDF export."""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest

from service.local_server import call, local_server


# The default limit admits convs of about 0.4 s on this machine's best shape; a limit
# five times higher makes the maximal conv run long enough to time requests beside it.
MAX_MULTIPLY_ADDS = 20_000_000_000
# x [1, 1, W] and w [1, 1, 100000] with padding 49,999: W_out = W - 1 and each output
# 100,000 multiply-adds, so W = 200,001 is exactly the limit.
BIG = {"input": [[[1.0] * 200_001]], "weight": [[[0.5] * 100_000]], "padding": 49_999}


@pytest.fixture(scope="module")
def one_worker_server():
    env = {"GRADSHEET_MAX_CONV_MULTIPLY_ADDS": str(MAX_MULTIPLY_ADDS)}
    with local_server(1, threads=4, env=env) as server:
        yield server


@pytest.fixture(scope="module")
def one_worker(one_worker_server):
    return one_worker_server.base


def worker_pid(base: str) -> int:
    """The pid of the one gunicorn worker serving `base`: the only child of the
    gunicorn master `gradsheet serve` became, bound to its address."""
    bind = urlparse(base).netloc.encode()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                args = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"gunicorn" in args and bind in args:
                children = (proc / "task" / proc.name / "children").read_text().split()
                return int(children[0])
    raise AssertionError(f"no gunicorn master bound to {bind.decode()}")


def rss_of(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * 4096


def chunked_post(base: str, path: str, blocks, timeout: float = 60):
    url = urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    conn.putrequest("POST", path)
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    try:
        for block in blocks:
            conn.send(b"%x\r\n%s\r\n" % (len(block), block))
        conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may answer and close before the client has sent it all
    resp = conn.getresponse()
    return resp.status, resp.getheader("Content-Type"), resp.read()


def test_a_chunked_body_past_the_limit_is_a_413_not_a_truncated_parse(one_worker):
    head = json.dumps({"graph": {"expr": "x"}, "inputs": {"x": 1}}).encode()
    spaces = [b" " * (1 << 20)] * 30   # valid JSON, then 30 MiB of spaces
    status, content_type, body = chunked_post(one_worker, "/v1/evaluate", [head, *spaces])
    assert status == 413 and content_type == "application/problem+json"
    assert json.loads(body)["type"] == "/problems/body-too-large"
    # a small chunked body is read whole
    status, _, body = chunked_post(one_worker, "/v1/evaluate", [head[:10], head[10:]])
    assert status == 200 and json.loads(body)["value"] == 1


def test_a_small_request_is_served_while_a_maximal_admitted_conv_runs(one_worker):
    small = {"input": [1, 2, 3, 4], "weight": [1, 0, -1]}
    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(call, one_worker, "/v1/conv1d", BIG, 120)
        time.sleep(0.3)  # the big conv has been read and is in its kernel
        assert not running.done()
        latencies = []
        for _ in range(5):
            started = time.perf_counter()
            status, _, body = call(one_worker, "/v1/conv1d", small)
            latencies.append(time.perf_counter() - started)
            assert status == 200 and json.loads(body)["output"] == [-2, -2]
        still_running = not running.done()
        status, _, body = running.result()
    assert status == 200, body[:300]
    assert json.loads(body)["output_size"] == 200_000
    assert still_running, "the big conv ended before the small ones were timed"
    assert min(latencies) < 0.1 and sorted(latencies)[2] < 0.1, latencies


def test_a_second_big_job_gets_503_with_retry_after_rather_than_a_queue(one_worker):
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: call(one_worker, "/v1/conv1d", BIG, 120), range(2)))
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [200, 503], statuses
    _, headers, body = next(a for a in answers if a[0] == 503)
    assert headers["Retry-After"] and json.loads(body)["type"] == "/problems/overloaded"


def test_the_largest_admitted_pdf_export_leaves_the_worker_near_its_memory(one_worker,
                                                                          one_worker_server):
    pid = worker_pid(one_worker)
    before = rss_of(pid)
    body = {"seed": 3, "students": 2, "include_answers": True, "format": "pdf"}  # 12 problems
    status, headers, data = call(one_worker, "/v1/problem-sets", body, 120,
                                 headers=one_worker_server.auth)
    assert status == 200 and headers["Content-Type"] == "application/zip"
    assert data[:2] == b"PK"
    assert rss_of(pid) - before < 200 * 1024 * 1024

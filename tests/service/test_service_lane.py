"""The big-work lane: big work runs one at a time per worker and on one core; small work
runs at once; downloads run in a child process at a lower priority."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

from engine import bulk
from service import create_app, export_process
from service.admission import Lane
from service.problems import Overloaded


def threads_running_split_work() -> set:
    """The threads that ran the chunks of one split kernel call (each chunk long enough
    that helper threads, when allowed, get some)."""
    ran = set()
    bulk.split(lambda k, lo, hi: (ran.add(threading.get_ident()), time.sleep(0.002)), 64, 16)
    return ran


def test_big_work_runs_its_split_kernel_calls_on_its_own_thread_alone():
    lane = Lane(big_share=0.5, wait_ms=0, retry_after=1)
    assert lane.call(0.51, threads_running_split_work) == {threading.get_ident()}
    if os.cpu_count() > 1:   # small work may use the engine's helper threads
        assert len(lane.call(0.5, threads_running_split_work)) > 1


def test_errors_of_big_work_come_back_to_the_request():
    lane = Lane(big_share=0.1, wait_ms=0, retry_after=1)

    def fails():
        raise ValueError("from the lane")

    with pytest.raises(ValueError, match="from the lane"):
        lane.call(1.0, fails)
    assert lane.call(1.0, lambda: "the lane is free again") == "the lane is free again"


def _niceness_of_a_render_child(data, formats, keys):
    return "ok", ("niceness.txt", "text/plain", str(os.nice(0)).encode())


def test_a_download_is_rendered_in_a_child_that_much_nicer(monkeypatch):
    # the child runs the module's _render; this one reports the child's niceness
    monkeypatch.setattr(export_process, "_render", _niceness_of_a_render_child)
    name, _, data = export_process.render_download({}, ["pdf"], niceness=5)
    assert name == "niceness.txt"
    assert int(data) == min(19, os.nice(0) + 5)


def test_a_second_big_job_is_turned_away_with_retry_after_while_the_first_runs():
    lane = Lane(big_share=0.1, wait_ms=0, retry_after=4)
    started, release = threading.Event(), threading.Event()

    def hold():
        started.set()
        release.wait(10)
        return "first"

    first = {}
    runner = threading.Thread(target=lambda: first.update(result=lane.call(1.0, hold)))
    runner.start()
    assert started.wait(10)
    try:
        with pytest.raises(Overloaded) as refused:
            lane.call(1.0, lambda: "second")
        assert refused.value.headers["Retry-After"] == "4"
        assert lane.call(0.05, lambda: "small") == "small"  # small work never waits
    finally:
        release.set()
        runner.join(10)
    assert first["result"] == "first"
    assert lane.call(1.0, lambda: "after") == "after"


def test_a_conv_taken_as_big_work_over_http_answers_numpys_numbers():
    # every conv is big work here, so the answer is made on the lane's thread
    app = create_app({"warmup": "off", "big_work_share": 1e-9})
    x = np.linspace(-2.0, 3.0, 41)
    w = np.array([0.5, -1.0, 2.0])
    resp = app.test_client().post("/v1/conv1d", json={"input": x.tolist(), "weight": w.tolist(),
                                                      "stride": 2, "padding": 1})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    padded = np.concatenate([[0.0], x, [0.0]])
    expected = np.correlate(padded, w, mode="valid")[::2]  # cross-correlation, as PyTorch
    np.testing.assert_allclose(resp.get_json()["output"], expected, rtol=1e-13, atol=1e-13)

"""The big-work lane: big work runs one at a time per worker, on a thread of its own at a
lower scheduling priority and on one core; small work runs at once where it was asked."""

from __future__ import annotations

import os
import threading

import time

import numpy as np
import pytest
from flask import current_app

from engine import bulk
from service import create_app
from service.admission import Lane
from service.problems import Overloaded


def os_niceness() -> int:
    """The calling thread's niceness, as the kernel reports it."""
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def where_am_i() -> dict:
    return {"thread": threading.get_ident(), "niceness": os_niceness()}


def threads_running_split_work() -> set:
    """The threads that ran the chunks of one split kernel call (each chunk long enough
    that helper threads, when allowed, get some)."""
    ran = set()
    bulk.split(lambda k, lo, hi: (ran.add(threading.get_ident()), time.sleep(0.002)), 64, 16)
    return ran


def test_small_work_runs_in_the_callers_thread_at_its_priority():
    lane = Lane(big_share=0.5, wait_ms=0, retry_after=1, niceness=7)
    here = where_am_i()
    assert lane.call(0.5, where_am_i) == here


def test_big_work_runs_on_the_lanes_thread_seven_nicer_and_on_one_core():
    lane = Lane(big_share=0.5, wait_ms=0, retry_after=1, niceness=7)
    there = lane.call(0.51, where_am_i)
    assert there["thread"] != threading.get_ident()
    assert there["niceness"] == min(19, os_niceness() + 7)
    # split kernel calls there run on the lane's thread alone
    assert lane.call(0.51, threads_running_split_work) == {there["thread"]}
    # the caller's own thread is untouched
    assert os_niceness() == where_am_i()["niceness"]
    assert lane.call(0.9, where_am_i)["thread"] == there["thread"]  # one lane thread, reused


def test_big_work_sees_the_request_context_and_its_errors_come_back():
    app = create_app({"warmup": "off"})
    lane = Lane(big_share=0.1, wait_ms=0, retry_after=1, niceness=3)
    with app.test_request_context("/v1/conv1d", method="POST"):
        assert lane.call(1.0, lambda: current_app.name) == app.name

        def fails():
            raise ValueError("from the lane")

        with pytest.raises(ValueError, match="from the lane"):
            lane.call(1.0, fails)


def test_a_second_big_job_is_turned_away_with_retry_after_while_the_first_runs():
    lane = Lane(big_share=0.1, wait_ms=0, retry_after=4, niceness=0)
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

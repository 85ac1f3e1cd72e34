"""The thread pool of gradsheet's gthread worker counts the requests queued behind its
busy threads, the number service.runtime adds to a worker's pending requests."""

from __future__ import annotations

import threading

import pytest

from service.gunicorn_conf import QueueCountingPool


def test_calls_waiting_for_the_only_thread_are_counted_until_they_start():
    pool = QueueCountingPool(1)
    release = threading.Event()
    started = threading.Event()

    def hold():
        started.set()
        release.wait(10)
        return "held"

    try:
        first = pool.submit(hold)
        assert started.wait(10)
        rest = [pool.submit(pow, 2, k) for k in range(3)]
        assert pool.queued == 3
        release.set()
        assert first.result(10) == "held"
        assert [f.result(10) for f in rest] == [1, 2, 4]
        assert pool.queued == 0
    finally:
        release.set()
        pool.shutdown(wait=True)


def test_a_call_refused_by_a_shut_down_pool_is_not_counted():
    pool = QueueCountingPool(1)
    pool.shutdown(wait=True)
    with pytest.raises(RuntimeError):
        pool.submit(pow, 2, 3)
    assert pool.queued == 0


def test_the_default_worker_class_is_gthread_with_the_counting_pool():
    from gunicorn.workers.gthread import ThreadWorker

    from service import gunicorn_conf
    assert gunicorn_conf.worker_class == "service.gunicorn_conf.QueueCountingThreadWorker"
    assert issubclass(gunicorn_conf.QueueCountingThreadWorker, ThreadWorker)

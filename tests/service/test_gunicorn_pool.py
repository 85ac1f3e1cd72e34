"""The thread pool of gradsheet's gthread worker counts the requests queued behind its
busy threads, the number service.runtime adds to a worker's pending requests."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import threading

import pytest

from service.gunicorn_worker import QueueCountingPool


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


def test_gunicorns_settings_choose_the_counting_gthread_worker():
    from gunicorn.workers.gthread import ThreadWorker

    from service.gunicorn_worker import QueueCountingThreadWorker
    assert issubclass(QueueCountingThreadWorker, ThreadWorker)
    # In a process of its own: the settings module sets Numba's environment on import.
    env = {k: v for k, v in os.environ.items() if k != "GRADSHEET_WORKER_CLASS"}
    done = subprocess.run([sys.executable, "-c", "import service.gunicorn_conf as c; "
                           "print(c.worker_class)"], env=env, capture_output=True, text=True,
                          check=True, cwd=pathlib.Path(__file__).parents[2])
    assert done.stdout.strip() == "service.gunicorn_worker.QueueCountingThreadWorker"

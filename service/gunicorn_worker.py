"""gradsheet's gunicorn worker: gthread's, with a thread pool that counts the requests
queued behind its busy threads, which service.runtime counts as pending (see
watch_worker_backlog). Imported by gunicorn's master, so it imports neither Flask nor
the engine."""

from __future__ import annotations

import threading
from concurrent import futures

from gunicorn.workers.gthread import ThreadWorker


class QueueCountingPool(futures.ThreadPoolExecutor):
    """A thread pool that counts the calls submitted to it but not yet started: the
    requests a gthread worker has read and queued behind its busy threads."""

    def __init__(self, max_workers: int):
        super().__init__(max_workers=max_workers)
        self.queued = 0
        self._queued_lock = threading.Lock()

    def submit(self, fn, /, *args, **kwargs):
        with self._queued_lock:
            self.queued += 1
        try:
            return super().submit(self._start, fn, args, kwargs)
        except BaseException:  # refused (shut down): it will never start
            self._started()
            raise

    def _start(self, fn, args, kwargs):
        self._started()
        return fn(*args, **kwargs)

    def _started(self) -> None:
        with self._queued_lock:
            self.queued -= 1


class QueueCountingThreadWorker(ThreadWorker):
    """gunicorn's gthread worker, its pool made by the get_thread_pool hook gunicorn
    offers for that, so that service.runtime can see the queue in front of the
    threads (see watch_worker_backlog)."""

    def get_thread_pool(self):
        self.request_pool = QueueCountingPool(self.cfg.threads)
        return self.request_pool

    def queued_requests(self) -> int:
        return self.request_pool.queued

"""Server-side coalescing: single /v1/evaluate requests from a worker's threads are
gathered into one `engine.evaluate_many` call (the ragged kernel).

One thread owns the engine: it takes the first waiting request, gathers more for at
most `coalesce_max_wait` seconds (or `coalesce_max_items`), runs them in one call and
hands each thread its own result or error. The queue is bounded; when it is full the
request is answered 503 at once. Whether this pays is measured in
bench/bench_service.py, and it is off unless GRADSHEET_COALESCE is set.
"""

from __future__ import annotations

import queue
import threading
import time

import engine
from service import metrics
from service.problems import Overloaded


class _Pending:
    __slots__ = ("item", "done", "result")

    def __init__(self, item):
        self.item = item
        self.done = threading.Event()
        self.result = None


class Coalescer:
    def __init__(self, settings, limits):
        self.max_wait = settings.coalesce_max_wait
        self.max_items = settings.coalesce_max_items
        self.retry_after = settings.retry_after_seconds
        self.limits = limits
        self._queue: queue.Queue[_Pending] = queue.Queue(maxsize=settings.coalesce_queue)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def evaluate(self, graph, inputs, output_gradient):
        """Like engine.evaluate(graph, inputs, output_gradient=...), run in a shared call."""
        self._ensure_thread()
        pending = _Pending((graph, inputs, output_gradient))
        try:
            self._queue.put_nowait(pending)
        except queue.Full:
            metrics.SHED.inc()
            raise Overloaded(f"the evaluate queue holds {self._queue.maxsize} requests; "
                             f"retry in {self.retry_after} s",
                             headers={"Retry-After": str(self.retry_after)}) from None
        pending.done.wait()
        if isinstance(pending.result, BaseException):
            raise pending.result
        return pending.result

    def _ensure_thread(self):
        # Started on first use, so that it is born in the gunicorn worker, after fork.
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._serve, daemon=True,
                                                    name="gradsheet-coalescer")
                    self._thread.start()

    def _serve(self):
        while True:
            batch = [self._queue.get()]
            deadline = time.perf_counter() + self.max_wait
            while len(batch) < self.max_items:
                left = deadline - time.perf_counter()
                try:
                    batch.append(self._queue.get(timeout=left) if left > 0
                                 else self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                results = engine.evaluate_many([p.item for p in batch], limits=self.limits,
                                               errors="return")
            except BaseException as exc:  # a failure of the call answers every waiter
                results = [exc] * len(batch)
            metrics.COALESCED.observe(len(batch))
            for p, result in zip(batch, results):
                p.result = result
                p.done.set()

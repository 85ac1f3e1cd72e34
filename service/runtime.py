"""What one worker's app holds besides its routes: settings, the engine's limits,
warm-up state and the count of pending work that decides when to shed load."""

from __future__ import annotations

import functools
import gc
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from flask import current_app

from service import metrics
from service.config import Settings
from service.graph_cache import GraphCache
from service.problems import Overloaded
from worksheets.generator import Generator
from worksheets.seeding import signing_secret

log = logging.getLogger("gradsheet.service")


class Readiness:
    """Warm-up of the kernels: compiled or loaded from Numba's cache, then run once.

    Runs after gunicorn has forked this worker, never in the master. Under gunicorn the master's warm-up
    child compiles whatever the cache lacks (service/gunicorn_conf.py) and says how far
    it is in the file named by $GRADSHEET_WARMUP_STATUS: a worker waits for it
    ("compiling"), then loads every kernel ("loading"), so no worker compiles its own.
    """

    def __init__(self):
        self._done = threading.Event()
        self.error: BaseException | None = None
        self.seconds: float | None = None
        self.phase = "starting"
        self.progress = (0, 0)  # kernels done, kernels, in this phase

    @property
    def ready(self) -> bool:
        return self._done.is_set() and self.error is None

    def start(self, mode: str, warm_up: Callable[[], object]) -> None:
        from service.warmup import KERNELS
        self.progress = (0, len(KERNELS))
        if mode == "off":
            self._finish(0.0)
        elif mode == "sync":
            self._run(warm_up)
        else:
            threading.Thread(target=self._run, args=(warm_up,), name="gradsheet-warmup",
                             daemon=True).start()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def _run(self, warm_up: Callable[[], object]) -> None:
        started = time.perf_counter()
        try:
            self._wait_for_cache()
            self.phase = "loading"
            warm_up()
            # Numba and LLVM leave about a million long-lived objects behind, and every
            # full collection walks them all: a 1000-graph batch allocates enough to
            # trigger several, which doubled its time. Frozen, the collector skips them.
            gc.collect()
            gc.freeze()
        except BaseException as exc:  # a broken engine keeps /readyz at 503, loudly
            log.exception("warm-up failed")
            self.error = exc
        self._finish(time.perf_counter() - started)
        if self.error is None:
            print(f"gradsheet: worker {os.getpid()} ready in {self.seconds:.1f} s",
                  file=sys.stderr, flush=True)

    def _wait_for_cache(self) -> None:
        from service.warmup import STATUS_ENV, read_status
        path = os.environ.get(STATUS_ENV)
        if not path:
            return
        self.phase = "compiling"
        while True:
            status = read_status(path)
            self.progress = (status["done"], status["of"])
            if status["state"] != "compiling":
                return  # done, or failed: then this worker compiles what it needs
            time.sleep(0.2)

    def loaded(self, done: int, of: int) -> None:
        """warm_up's progress: `done` of `of` kernels loaded and run in this worker."""
        self.progress = (done, of)

    def _finish(self, seconds: float) -> None:
        self.seconds = seconds
        self.phase = "ready"
        self._done.set()
        if self.error is None:
            metrics.READY.inc()


def _no_backlog() -> int:
    return 0


# Requests accepted by this gunicorn worker but still waiting for one of its threads;
# set by the post_worker_init hook (service/gunicorn_conf.py) in gthread workers.
backlog: Callable[[], int] = _no_backlog


def watch_worker_backlog(worker) -> None:
    """Count the requests queued in a gthread worker's thread pool as pending too: a
    worker never runs more requests than it has threads, so only the queue in front
    of them shows that it is falling behind. Workers other than
    service.gunicorn_worker.QueueCountingThreadWorker (sync, or another class named by
    GRADSHEET_WORKER_CLASS) queue nothing in front of their threads that we can see."""
    global backlog
    backlog = getattr(worker, "queued_requests", _no_backlog)


class Admission:
    """Counts compute requests in this worker, running or queued for a thread; past
    `limit` it answers 503 at once rather than letting every request's latency grow."""

    def __init__(self, limit: int, retry_after: int):
        self.limit = limit
        self.retry_after = retry_after
        self.pending = 0
        self._lock = threading.Lock()

    @property
    def waiting(self) -> int:
        return self.pending + backlog()

    @property
    def overloaded(self) -> bool:
        return self.waiting >= self.limit

    def __enter__(self):
        with self._lock:
            waiting = self.waiting
            if waiting >= self.limit:
                metrics.SHED.inc()
                raise Overloaded(f"this worker already holds {waiting} requests; "
                                 f"retry in {self.retry_after} s",
                                 headers={"Retry-After": str(self.retry_after)})
            self.pending += 1
        metrics.PENDING.inc()
        return self

    def __exit__(self, *exc_info):
        with self._lock:
            self.pending -= 1
        metrics.PENDING.dec()
        return False


@dataclass
class Runtime:
    settings: Settings
    engine_limits: object
    readiness: Readiness = field(default_factory=Readiness)
    admission: Admission | None = None
    graphs: GraphCache | None = None

    def __post_init__(self):
        if self.graphs is None:
            self.graphs = GraphCache(self.engine_limits)
        if self.admission is None:
            self.admission = Admission(self.settings.max_pending,
                                       self.settings.retry_after_seconds)

    @functools.cached_property
    def generator(self) -> Generator:
        """Problem sets signed with this app's secret (from its checked settings; the
        environment is not read again)."""
        return Generator(signing_secret(self.settings.secret_value))


def runtime() -> Runtime:
    return current_app.extensions["gradsheet"]

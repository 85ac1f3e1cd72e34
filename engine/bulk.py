"""What the bulk paths share (engine.spec_bulk over thousands of specs, engine.conv's
many-problem path over thousands of arrays, and every kernel call split across
threads): a check over many small Python objects at C speed, and the thread pool that
runs the serial kernels' chunks side by side.

Large work runs as Numba's documentation shows for `nogil` functions: the serial kernel
is called on consecutive chunks of its items from several Python threads, and releases
the GIL while it runs. (Numba's `parallel=True` would do the same split in one kernel,
but each prange loop compiled for 5-14 s on its own, a quarter of the cold compile, and
its default workqueue threading layer aborts the process when two threads enter
parallel kernels at once.) Any number of threads may call split() at once.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

# How many threads (the caller's included) split work runs on: a positive integer;
# unset, the number of cores. The service sets it to cores / workers.
THREADS_ENV = "GRADSHEET_KERNEL_THREADS"

_pool: ThreadPoolExecutor | None = None
_pool_threads = 0
_pool_lock = threading.Lock()
_local = threading.local()


def every(values, expected, n: int) -> bool:
    """Whether all n values equal `expected`: list.count tests identity first, which
    is cheaper than hashing each value into a set."""
    return list(values).count(expected) == n


def threads() -> int:
    """The threads split work runs on, the calling thread included ($GRADSHEET_KERNEL_THREADS,
    else the number of cores). Callers size their chunks by it, so a reduction split into
    chunks sums the same parts whichever thread (or one_core) runs them."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"${THREADS_ENV} must be a positive integer, not {value!r}")
    return int(value)


@contextmanager
def one_core():
    """Split work started from this thread runs on this thread alone while inside, so a
    big job leaves the other cores to the small requests beside it."""
    before = getattr(_local, "one_core", False)
    _local.one_core = True
    try:
        yield
    finally:
        _local.one_core = before


def split(work: Callable[[int, int, int], object], n: int, chunks: int) -> None:
    """work(k, lo, hi) for each chunk k < chunks of range(n) (lo = k*n // chunks, hi =
    (k+1)*n // chunks), on the pool's threads and this one; returns when every chunk has.

    `work` calls a nogil kernel that writes only chunk k's part of its outputs. Chunks
    are handed out in order to whichever thread is free, so their number may exceed the
    threads' (for balance). The first exception raised by any chunk is raised here.
    """
    chunks = max(1, min(chunks, n))
    job = _Job(work, n, chunks)
    helpers = min(threads(), chunks) - 1
    if helpers > 0 and not getattr(_local, "one_core", False):
        pool = _shared_pool()
        for _ in range(helpers):
            pool.submit(job.run)
    job.run()
    job.done.wait()
    if job.error is not None:
        raise job.error


class _Job:
    """The chunks of one split() call, taken by whichever thread asks next. The caller
    waits for the chunks, not for its helpers: a helper that starts late (the pool busy
    with other callers' chunks) finds nothing left and returns at once."""

    __slots__ = ("work", "n", "chunks", "next", "left", "lock", "done", "error")

    def __init__(self, work, n: int, chunks: int):
        self.work, self.n, self.chunks = work, n, chunks
        self.next = itertools.count()  # next() of a count is atomic under the GIL
        self.left = chunks
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        while (k := next(self.next)) < self.chunks:
            try:
                self.work(k, k * self.n // self.chunks, (k + 1) * self.n // self.chunks)
            except BaseException as exc:  # raised in the caller's thread by split()
                self.error = self.error or exc
            with self.lock:
                self.left -= 1
                if self.left == 0:
                    self.done.set()


def _shared_pool() -> ThreadPoolExecutor:
    """The process's helper threads (threads() - 1: callers run chunks too), created on
    first use, so a forked gunicorn worker makes its own (threads do not survive a
    fork), and again should the setting change."""
    global _pool, _pool_threads
    helpers = threads() - 1
    with _pool_lock:
        if _pool is None or _pool_threads != helpers:
            old = _pool
            _pool = ThreadPoolExecutor(max_workers=helpers, thread_name_prefix="gradsheet-kernels")
            _pool_threads = helpers
            if old is not None:
                old.shutdown(wait=False)  # its queued helpers still run
        return _pool


def _forget_pool() -> None:
    global _pool, _pool_threads, _pool_lock
    _pool, _pool_threads, _pool_lock = None, 0, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)

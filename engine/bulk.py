"""What the bulk paths share (engine.spec_bulk over thousands of specs, engine.conv's
many-problem path over thousands of arrays, and every prange kernel call): a check over
many small Python objects at C speed, and the one lock parallel kernels run under."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import numba

# Numba's default workqueue threading layer aborts the process when two threads enter
# parallel kernels at once. The service runs several threads per worker (its gunicorn
# config picks the thread-safe OpenMP layer, but a plain threaded caller of the engine
# may not), so every parallel call holds this lock; serial kernels never need it.
parallel_lock = threading.Lock()


def every(values, expected, n: int) -> bool:
    """Whether all n values equal `expected`: list.count tests identity first, which
    is cheaper than hashing each value into a set."""
    return list(values).count(expected) == n


@contextmanager
def one_core():
    """Parallel kernels started from this thread use one thread while inside (Numba's
    thread count is per calling thread), so a big job leaves the other cores to the
    small requests beside it."""
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)

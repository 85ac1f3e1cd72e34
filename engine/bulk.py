"""What the bulk paths share (engine.spec_bulk over thousands of specs, engine.conv's
many-problem path over thousands of arrays, and every prange kernel call): a check over
many small Python objects at C speed, and the one lock parallel kernels run under."""

from __future__ import annotations

import threading

# Numba's default workqueue threading layer aborts the process when two threads enter
# parallel kernels at once. The service runs several threads per worker (its gunicorn
# config picks the thread-safe OpenMP layer, but a plain threaded caller of the engine
# may not), so every parallel call holds this lock; serial kernels never need it.
parallel_lock = threading.Lock()


def every(values, expected, n: int) -> bool:
    """Whether all n values equal `expected`: list.count tests identity first, which
    is cheaper than hashing each value into a set."""
    return list(values).count(expected) == n

"""How every benchmark here times its work: one call with the garbage collector out of
the way (as timeit does), the median of repeated calls after a warm-up, and contenders
taken in turn so that a noisy neighbour on a shared machine slows them alike."""

from __future__ import annotations

import gc
import statistics
import time


def timed(fn, pause: float = 0.0) -> float:
    """Seconds for one call of `fn`. The garbage collector runs before and is off during
    the call, so that no contender pays for another's garbage. `pause` sleeps first, so
    that a contender does not share the cores with the previous one's thread pool (OpenMP
    threads spin for a while after their work is done)."""
    gc.collect()
    if pause:
        time.sleep(pause)
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    finally:
        gc.enable()


def median_time(fn, repeats: int, warm_up: bool = True, pause: float = 0.0) -> float:
    """Median seconds of `repeats` calls, after one untimed call that compiles kernels
    and fills caches (unless `warm_up` is False: the caller has just made one)."""
    if warm_up:
        fn()
    return statistics.median(timed(fn, pause) for _ in range(repeats))


def alternate(fns: dict, repeats: int, pause: float = 0.0) -> dict:
    """Median seconds of each function, run in turn `repeats` times after one warm-up
    call each."""
    for fn in fns.values():
        fn()
    times: dict = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(timed(fn, pause))
    return {name: statistics.median(t) for name, t in times.items()}

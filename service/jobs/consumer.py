"""A Huey consumer for gradsheet's jobs, with the sweeper beside it.

Huey runs each job in a worker process of its own (a crash or a kill takes one job
with it, and Huey starts a new process); the consumer's main process imports nothing
of the engine, so no Numba thread pool exists where it forks. The sweeper (a thread
of the main process) retries or fails jobs whose lease ran out and removes expired
results; any number of consumers may sweep the same directory at once.

Started by `gradsheet serve` (embedded mode) with the server's pid as `parent`: it
stops when that process is gone, so stopping the server stops it too.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

from service.jobs.queue import enqueuer, make_queue
from service.jobs.store import JobStore

log = logging.getLogger("gradsheet.jobs")
# Seconds between polls of an empty SQLite queue at most: a new job starts within it.
MAX_POLL = 0.25


def _sweep_forever(settings, parent: int | None, stop: threading.Event) -> None:
    store = JobStore.for_settings(settings)
    enqueue = enqueuer(settings)
    interval = min(5.0, settings.jobs_lease_seconds / 4)
    swept = time.monotonic()
    while not stop.wait(min(interval, 1.0)):
        if parent is not None and os.getppid() != parent:
            log.info("gradsheet serve (pid %s) is gone; stopping the job consumer", parent)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        if time.monotonic() - swept < interval:
            continue
        swept = time.monotonic()
        try:
            store.sweep(enqueue)
        except Exception:
            log.exception("sweeping the jobs directory failed; trying again")


def run(settings, workers: int | None = None, parent: int | None = None) -> None:
    """Consume jobs until SIGINT (finish the running jobs, at most a few seconds) or
    SIGTERM (stop now; their leases run out and they are retried)."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: "
                               "%(message)s")
    if parent is not None:
        # embedded beside the web workers on one machine: jobs are batch work, and the
        # requests the web workers serve meanwhile come first (its worker processes
        # inherit the niceness)
        os.nice(settings.big_work_niceness)
    huey, _ = make_queue(settings)
    consumer = huey.create_consumer(
        workers=workers or settings.jobs_workers, worker_type="process", periodic=False,
        initial_delay=0.05, backoff=1.5, max_delay=MAX_POLL, check_worker_health=True,
        health_check_interval=1, shutdown_timeout=5)
    JobStore.for_settings(settings).sweep(enqueuer(settings))
    stop = threading.Event()
    sweeper = threading.Thread(target=_sweep_forever, args=(settings, parent, stop),
                               name="gradsheet-jobs-sweeper", daemon=True)
    sweeper.start()
    try:
        consumer.run()
    finally:
        stop.set()


def start_beside_server() -> None:
    """`gradsheet serve`'s embedded consumer: a `gradsheet worker` child that stops when
    this process (about to become gunicorn's master) is gone. Nothing when
    GRADSHEET_JOBS_EMBEDDED is false (workers run elsewhere)."""
    import subprocess

    from service.config import Settings

    if Settings.from_mapping().jobs_embedded:
        subprocess.Popen([sys.executable, "-m", "service.cli", "worker",
                          "--parent-pid", str(os.getpid())])

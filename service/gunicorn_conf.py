"""gunicorn settings for gradsheet: `gunicorn -c python:service.gunicorn_conf`.

Fork order: the master never imports the engine (no preload_app), so it never
holds compiled kernels or the engine's threads. Before it binds the port it
starts one child (`python -m service.warmup`) that compiles whatever Numba's on-disk
cache lacks, and does not wait for it: the port opens at once, the workers answer
/healthz, and /readyz answers 503 with how far the child is. Each worker, once the
child is done (it writes its progress to $GRADSHEET_WARMUP_STATUS), loads the
kernels from the cache and runs them once in a thread; then /readyz answers 200.

Threading: gthread workers run several requests per process; a large evaluation or
convolution is split across $GRADSHEET_KERNEL_THREADS threads of its worker (engine.bulk,
which any number of request threads may call at once), cores / workers unless set, so
that the workers do not oversubscribe the cores. Environment variables set here are
inherited by the workers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

from service.config import ConfigError, ServerSettings, Settings

_cores = os.cpu_count() or 1

try:
    _server = ServerSettings.from_mapping()
    # The app's settings too: a bad value stops the master once, here, with the
    # variable named, instead of every worker failing in create_app.
    Settings.from_mapping()
except ConfigError as exc:
    sys.exit(f"gradsheet: bad configuration:\n{exc}")

bind = _server.bind
workers = _server.workers
worker_class = _server.worker_class
threads = _server.threads
wsgi_app = "service.wsgi:app"
preload_app = False
timeout = _server.timeout
graceful_timeout = 10
keepalive = 5
backlog = 2048
accesslog = None
errorlog = "-"
loglevel = _server.log_level

# Large kernel calls are split across this many threads per worker (engine.bulk), so
# the workers together do not oversubscribe the cores.
os.environ.setdefault("GRADSHEET_KERNEL_THREADS", str(max(1, _cores // max(1, workers))))

_created_metrics_dir: str | None = None
_warmup: subprocess.Popen | None = None
_warmup_dir: str | None = None


if worker_class == "gthread":
    # gthread, with a thread pool that counts the requests queued for its threads
    worker_class = "service.gunicorn_worker.QueueCountingThreadWorker"


def on_starting(server):
    """In the master, before any fork: the metrics directory, then the Numba cache."""
    global _created_metrics_dir
    metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if metrics_dir:
        # Samples of an earlier run would be summed into this one's.
        shutil.rmtree(metrics_dir, ignore_errors=True)
        os.makedirs(metrics_dir, exist_ok=True)
    else:
        _created_metrics_dir = tempfile.mkdtemp(prefix="gradsheet-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = _created_metrics_dir
    if _server.cache_warmup:
        # A child process compiles and caches the kernels, so the master never runs
        # one and the workers load them instead of each compiling its own.
        global _warmup, _warmup_dir
        _warmup_dir = tempfile.mkdtemp(prefix="gradsheet-warmup-")
        status = os.path.join(_warmup_dir, "status.json")
        os.environ["GRADSHEET_WARMUP_STATUS"] = status
        _warmup = subprocess.Popen([sys.executable, "-m", "service.warmup", "--status", status])


def when_ready(server):
    """The port is open; the warm-up child goes on compiling meanwhile."""
    if _warmup is not None:
        server.log.info("listening; /readyz answers 503 until the workers' kernels are warm")


# How long a thread holding the GIL runs before a waiting one takes over (Python's
# default is 5 ms). A small request gives up the GIL at every socket read and write and
# waits up to this long to get it back while a big job's Python runs in the same worker.
# With big answers written in pieces (service.orjson_provider), the slowest small request
# beside a maximal evaluate fell from 139-148 ms to 82-104 ms (bench/bench_fairness.py
# --stall-rounds; README, "Limits and settings").
SWITCH_INTERVAL_S = 0.001


def post_worker_init(worker):
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    from service.runtime import watch_worker_backlog
    watch_worker_backlog(worker)


def child_exit(server, worker):
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _warmup is not None and _warmup.poll() is None:
        _warmup.terminate()
        _warmup.wait()
    if _warmup_dir:
        shutil.rmtree(_warmup_dir, ignore_errors=True)
    if _created_metrics_dir:
        shutil.rmtree(_created_metrics_dir, ignore_errors=True)

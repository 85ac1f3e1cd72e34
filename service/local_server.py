"""`gradsheet serve` on a free loopback port, for the tests, the load test and the
benchmarks: started, waited for until every worker is warm, and always stopped.

    with local_server(workers=2, threads=4) as server:
        urllib.request.urlopen(server.base + "/v1/evaluate", ...)
        server.metrics_dir     # the workers' Prometheus sample files
        server.log()           # what gunicorn and the workers wrote so far
        server.auth            # {"Authorization": "Bearer <its instructor token>"}

`gradsheet serve` refuses to start without a secret and instructor tokens, so each
server gets a fresh random secret and instructor token unless `env` says otherwise (a
value of None in `env` removes the variable).

Nothing here listens anywhere but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
# A cold start compiles every kernel when Numba's cache is empty: about a minute on a
# quiet machine, several on a shared one.
READY_TIMEOUT = 300.0
STOP_TIMEOUT = 30.0
LOG_TAIL = 4000   # characters of the log an error carries


class ServerError(RuntimeError):
    """The server exited, or was not ready in time; the message ends with its log."""


def free_port() -> int:
    """A loopback port free right now (the server binds it a moment later)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def call(base: str, path: str, body=None, timeout: float = 30.0, headers: dict | None = None):
    """(status, headers, body bytes) of a GET of base + path, or a POST of `body` as
    JSON; an error status is returned like any other, not raised."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def metric(text: str, prefix: str) -> float:
    """The sum of the samples in Prometheus text whose lines start with `prefix` (a
    metric's name and a space, or its name and labels)."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(prefix))


def serve_argv(port: int, workers: int | None = None, threads: int | None = None,
               args: tuple[str, ...] = ()) -> list[str]:
    """The command line of `gradsheet serve` on HOST:port, with extra `args`."""
    argv = [sys.executable, "-m", "service.cli", "serve", "--host", HOST, "--port", str(port)]
    if workers is not None:
        argv += ["--workers", str(workers)]
    if threads is not None:
        argv += ["--threads", str(threads)]
    return argv + list(args)


class LocalServer:
    """A server process started from `argv` (which binds HOST:`port`) in the project's
    root, in its own session so that stopping it reaches every worker. Its output goes
    to a temporary file; its Prometheus samples to a fresh directory unless `env` names
    one."""

    def __init__(self, argv: list[str], port: int, env: dict | None = None):
        self.base = f"http://{HOST}:{port}"
        env = {"GRADSHEET_SECRET": secrets.token_urlsafe(32),
               "GRADSHEET_INSTRUCTOR_TOKENS": secrets.token_urlsafe(24), **(env or {})}
        tokens = env["GRADSHEET_INSTRUCTOR_TOKENS"]
        self.instructor_token = tokens.split(",")[0].strip() if tokens else None
        self.secret = env["GRADSHEET_SECRET"]
        # A fresh directory even when this process has one: the samples of an earlier
        # server would be summed into this one's /metrics.
        self._own_metrics_dir = not env.get("PROMETHEUS_MULTIPROC_DIR")
        if self._own_metrics_dir:
            env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gradsheet-local-metrics-")
        self.metrics_dir = Path(env["PROMETHEUS_MULTIPROC_DIR"])
        env = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
        self._log = tempfile.TemporaryFile()
        self._log_text: str | None = None
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    @classmethod
    def gradsheet(cls, workers: int | None = None, threads: int | None = None,
                  env: dict | None = None, args: tuple[str, ...] = ()) -> LocalServer:
        """`gradsheet serve` on a free port, not yet waited for."""
        port = free_port()
        return cls(serve_argv(port, workers, threads, args), port, env)

    @property
    def auth(self) -> dict:
        """The Authorization header of an instructor."""
        return {"Authorization": f"Bearer {self.instructor_token}"}

    def url(self, path: str) -> str:
        return self.base + path

    def log(self) -> str:
        """Everything the server has written so far (all of it, once stopped)."""
        if self._log_text is not None:
            return self._log_text
        # pread: the server writes through the same open file, so a seek here would
        # move its offset too
        size = os.fstat(self._log.fileno()).st_size
        return os.pread(self._log.fileno(), size, 0).decode(errors="replace")

    def wait_for(self, path: str, body: dict | None = None,
                 timeout: float = READY_TIMEOUT) -> float:
        """Seconds from the start until `path` first answers 200 (a POST of `body` as
        JSON when given)."""
        return self._wait(lambda: call(self.base, path, body, timeout=5)[0] == 200,
                          f"{path} answered 200", timeout)

    def wait_for_workers(self, workers: int, timeout: float = READY_TIMEOUT) -> float:
        """Seconds from the start until /metrics counts `workers` warm workers:
        readiness is per worker, and /readyz answers from whichever one it reaches."""
        return self._wait(lambda: self.workers_ready() >= workers,
                          f"{workers} worker(s) were ready", timeout)

    def workers_ready(self) -> int:
        status, _, text = call(self.base, "/metrics", timeout=5)
        return int(metric(text.decode(), "gradsheet_workers_ready ")) if status == 200 else 0

    def _wait(self, ready, what: str, timeout: float) -> float:
        deadline = time.perf_counter() + timeout
        while True:
            if self.proc.poll() is not None:
                raise ServerError(f"the server exited with {self.proc.returncode} before "
                                  f"{what}:\n{self.log()[-LOG_TAIL:]}")
            try:
                if ready():
                    return time.perf_counter() - self.started
            except (OSError, http.client.HTTPException):
                pass   # not listening yet
            if time.perf_counter() > deadline:
                raise ServerError(f"not ready in {timeout:g} s: nothing said {what}:\n"
                                  f"{self.log()[-LOG_TAIL:]}")
            time.sleep(0.1)

    def stop(self) -> str:
        """SIGTERM (gunicorn's graceful stop), SIGKILL to the whole session if that
        takes longer than STOP_TIMEOUT; returns the log. Safe to call twice."""
        if self._log_text is not None:
            return self._log_text
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log_text = self.log()
        self._log.close()
        if self._own_metrics_dir:
            shutil.rmtree(self.metrics_dir, ignore_errors=True)
        return self._log_text


@contextlib.contextmanager
def local_server(workers: int = 1, threads: int | None = None, env: dict | None = None,
                 timeout: float = READY_TIMEOUT, args: tuple[str, ...] = ()):
    """`gradsheet serve` with `workers` x `threads` (and extra `args`) on a free
    127.0.0.1 port, yielded (a LocalServer) once every worker is warm, and stopped on the
    way out; ServerError with the log when it exits or is not ready within `timeout`
    seconds."""
    server = LocalServer.gradsheet(workers, threads, env, args)
    try:
        server.wait_for_workers(workers, timeout)
        yield server
    finally:
        server.stop()

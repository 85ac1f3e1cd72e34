"""Run the locust load test headless against a local `gradsheet serve`.

    python loadtests/run.py [--users 40] [--spawn-rate 20] [--time 60] [--p95-ms 1000]

Starts the service on a free 127.0.0.1 port, with a fresh secret and instructor token
and grading limits every locust user fits in (all come from one address and grade the
same problems again and again), waits until every worker is ready,
runs locust for a bounded time, stops the service, and exits with locust's code:
non-zero on any failed request, a wrong number, or a p95 over the threshold.
`make loadtest` runs the full mix; `make loadtest-smoke` (CI) a short one.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def workers_ready(base: str) -> int:
    with urllib.request.urlopen(base + "/metrics", timeout=5) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith("gradsheet_workers_ready "):
                return int(float(line.split()[1]))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--spawn-rate", type=float, default=20)
    parser.add_argument("--time", type=int, default=60, help="seconds of load")
    parser.add_argument("--p95-ms", type=float, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ready-timeout", type=float, default=300)
    args = parser.parse_args(argv)

    port = free_port()
    base = f"http://{HOST}:{port}"
    token = secrets.token_urlsafe(32)
    env = {**os.environ, "GRADSHEET_SECRET": secrets.token_urlsafe(32),
           "GRADSHEET_INSTRUCTOR_TOKENS": token, "GRADSHEET_INSTRUCTOR_TOKEN": token,
           "GRADSHEET_GRADE_LIMIT_PER_ADDRESS": "1000000 per minute",
           "GRADSHEET_GRADE_LIMIT_PER_PROBLEM": "1000000 per minute"}
    server = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--host", HOST, "--port", str(port),
         "--workers", str(args.workers)], cwd=ROOT, start_new_session=True, env=env)
    try:
        deadline = time.monotonic() + args.ready_timeout
        while True:
            if server.poll() is not None:
                print(f"loadtest: gradsheet serve exited with {server.returncode}", file=sys.stderr)
                return 1
            try:
                if workers_ready(base) >= args.workers:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                print("loadtest: the service did not become ready", file=sys.stderr)
                return 1
            time.sleep(0.2)
        locust = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless",
             "--host", base, "--users", str(args.users), "--spawn-rate", str(args.spawn_rate),
             "--run-time", f"{args.time}s", "--stop-timeout", "10", "--only-summary",
             "--p95-threshold-ms", str(args.p95_ms)],
            cwd=ROOT, timeout=args.time + 120, env=env)
        return locust.returncode
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


if __name__ == "__main__":
    sys.exit(main())

"""Run the locust load test headless against a local `gradsheet serve`.

    python loadtests/run.py [--users 40] [--spawn-rate 20] [--time 60] [--p95-ms 1000]

Starts the service on a free 127.0.0.1 port, waits until every worker is ready,
runs locust for a bounded time, stops the service, and exits with locust's code:
non-zero on any failed request, a wrong number, or a p95 over the threshold.
`make loadtest` runs the full mix; `make loadtest-smoke` (CI) a short one.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from service.local_server import ServerError, local_server

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--spawn-rate", type=float, default=20)
    parser.add_argument("--time", type=int, default=60, help="seconds of load")
    parser.add_argument("--p95-ms", type=float, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ready-timeout", type=float, default=300)
    args = parser.parse_args(argv)

    try:
        # Grading limits far above the mix's rate: the load test measures serving, and
        # tests/service/test_service_security.py checks the limits themselves.
        limits = {"GRADSHEET_GRADE_LIMIT_PER_ADDRESS": "1000000 per minute",
                  "GRADSHEET_GRADE_LIMIT_PER_PROBLEM": "1000000 per minute"}
        with local_server(args.workers, env=limits, timeout=args.ready_timeout) as server:
            locust = subprocess.run(
                [sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless",
                 "--host", server.base, "--users", str(args.users),
                 "--spawn-rate", str(args.spawn_rate), "--run-time", f"{args.time}s",
                 "--stop-timeout", "10", "--only-summary", "--p95-threshold-ms", str(args.p95_ms)],
                cwd=ROOT, timeout=args.time + 120,
                env={**os.environ, "GRADSHEET_INSTRUCTOR_TOKEN": server.instructor_token})
            if locust.returncode:
                print(f"loadtest: the server's log:\n{server.log()}", file=sys.stderr)
            return locust.returncode
    except ServerError as exc:
        print(f"loadtest: gradsheet serve: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

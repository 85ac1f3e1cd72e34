"""Problem-set jobs (service/jobs): throughput, first progress, worker memory.

A: a --students PDF job (the whole worksheet) on one worker process, in students per
   second, against `gradsheet generate` for the same set in this process (write_set,
   kernels already warm). Goal: >= 0.9 of the CLI's rate.
B: two such jobs at once on two worker processes: students per second of both.
C: seconds from submission to the first progress update. Goal: <= 1 s.
D: peak RSS of a fresh worker process over a job of --small and of --students
   students (VmHWM; the latter is A's worker's). Goal: within 20% of each other.

Jobs go through the real queue: `gradsheet worker` processes on embedded SQLite in a
temporary jobs directory, submitted through the app's route (Flask's test client).

Run: .venv/bin/python bench/bench_jobs.py [--students 1000] [--small 100] [--format pdf]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SECRET = secrets.token_urlsafe(32)
TOKEN = secrets.token_urlsafe(24)
os.environ["GRADSHEET_SECRET"] = SECRET

from service import create_app  # noqa: E402
from service.local_server import ROOT  # noqa: E402
from timing import timed  # noqa: E402
from worksheets.set_folder import write_set  # noqa: E402


class Workers:
    """`gradsheet worker --workers n` on its own jobs directory, and an app to submit."""

    def __init__(self, n: int, fmt: str):
        self.dir = Path(tempfile.mkdtemp(prefix="gradsheet-bench-jobs-"))
        self.fmt = fmt
        settings = {"GRADSHEET_JOBS_DIR": str(self.dir), "GRADSHEET_JOBS_PER_TOKEN": "10",
                    "GRADSHEET_JOBS_MAX_PROBLEMS": str(10**8)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "worker", "--workers", str(n)], cwd=ROOT,
            env={**os.environ, **settings}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        self.client = create_app({"warmup": "off", "instructor_tokens": TOKEN,
                                  **settings}).test_client()
        for _ in range(n):   # every process warm (its on_startup hook) and polling
            self.run(self.submit(1))

    def submit(self, students: int) -> str:
        reply = self.client.post("/v1/jobs/problem-sets", headers={
            "Authorization": f"Bearer {TOKEN}"}, json={
            "seed": 1234, "students": students, "format": self.fmt})
        assert reply.status_code == 202, reply.json
        return reply.json["id"]

    def record(self, job_id: str) -> dict:
        return json.loads((self.dir / job_id / "job.json").read_text())

    def run(self, *job_ids: str) -> dict:
        """Seconds from now to each job's first progress and to its end, and the peak
        RSS (MiB) of the process that ran it."""
        t0 = time.perf_counter()
        first, end, peak = {}, {}, {}
        while len(end) < len(job_ids):
            for job_id in job_ids:
                record = self.record(job_id)
                if record["done"] and job_id not in first:
                    first[job_id] = time.perf_counter() - t0
                if record["status"] in ("done", "failed", "cancelled") and job_id not in end:
                    assert record["status"] == "done", record
                    end[job_id] = time.perf_counter() - t0
                    peak[job_id] = _hwm_mib(record["worker"])
            time.sleep(0.01)
        return {"first": first, "end": end, "peak": peak}

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)
        # a class's zip is tens of megabytes: leave none behind in /tmp
        shutil.rmtree(self.dir, ignore_errors=True)


def _load() -> str:
    """The machine's load averages, printed beside each number: other work on a shared
    machine slows every contender."""
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def _hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--format", default="pdf")
    args = parser.parse_args(argv)
    n, fmt = args.students, args.format

    with tempfile.TemporaryDirectory() as out:
        write_set(1234, 2, None, fmt, Path(out) / "warm")
        cli = timed(lambda: write_set(1234, n, None, fmt, Path(out) / "cli"))
    print(f"CLI generate, {n} students as {fmt}: {cli:.1f} s, {n / cli:.1f} students/s "
          f"({_load()})")

    one = Workers(1, fmt)
    try:
        job_a = one.submit(n)
        result_a = one.run(job_a)
        rate = n / result_a["end"][job_a]
        print(f"A  1 worker:  {result_a['end'][job_a]:.1f} s, {rate:.1f} students/s, "
              f"{rate / (n / cli):.2f} x the CLI (goal >= 0.9) ({_load()})")
        print(f"C  first progress {result_a['first'][job_a]:.2f} s after submission "
              "(goal <= 1 s)")
    finally:
        one.stop()

    two = Workers(2, fmt)
    try:
        jobs = [two.submit(n), two.submit(n)]
        result = two.run(*jobs)
        total = max(result["end"].values())
        print(f"B  2 workers: two jobs of {n} in {total:.1f} s, {2 * n / total:.1f} students/s "
              f"({2 * n / total / rate:.2f} x one worker) ({_load()})")
    finally:
        two.stop()

    # A's worker was fresh too (started for it, warmed by one-student jobs): its peak is
    # the large class's, which saves making the class a fourth time
    peaks = {n: result_a["peak"][job_a]}
    fresh = Workers(1, fmt)
    try:
        job = fresh.submit(args.small)
        peaks[args.small] = fresh.run(job)["peak"][job]
    finally:
        fresh.stop()
    small, large = peaks[args.small], peaks[n]
    print(f"D  peak worker RSS: {args.small} students {small:.0f} MiB, {n} students "
          f"{large:.0f} MiB ({100 * (large / small - 1):+.0f}%; goal within 20%) ({_load()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Small requests' latency while big work runs: the security issue's "fair service"
figure, measured with the locust mix against one real `gradsheet serve`.

    python bench/bench_fairness.py [--rounds 2] [--time 30] [--workers 2]

Each round runs locust twice against the same server, one run right after the other:
  small only:  Student, ApiClient, PracticeStudent and PageStudent users (15, in the
               mix's weights);
  with big:    the same 15 users, and beside them, from a locust process of their own,
               one HeavyClient (the largest conv and evaluate the admission limits
               allow) and one Instructor (class problem sets with PDF downloads).
and prints the small users' p50/p90/p99 in each, over every request they made, and how
many big requests ran beside them. The goal: the small users' p99 unchanged by the
big work. Run it on an otherwise idle machine: other work on the machine moves
both runs' numbers, and a round's two runs are next to each other in time so that
such a spell moves both alike.

Then (skip with --stall-rounds 0) the worst case the percentiles hide: one worker, a
maximal evaluate whose answer holds 3.9 million real numbers (a 48-tanh chain over
20,000 distinct inputs; the locust user sends zeros, which serialise several times
faster), and beside it a client sending small evaluates one after another; printed is
the slowest small request in each round and how long the big one took.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.local_server import call, local_server  # noqa: E402

SMALL = {"Student": 8, "ApiClient": 2, "PracticeStudent": 3, "PageStudent": 2}
BIG = {"HeavyClient": 1, "Instructor": 1}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def locust(base: str, token: str, classes: dict, seconds: int, log: pathlib.Path) -> subprocess.Popen:
    users = sum(classes.values())  # one user per unit of weight: locust's split is exact
    return subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"),
         "--headless", "--host", base, "--users", str(users), "--spawn-rate", str(users),
         "--run-time", f"{seconds}s", "--stop-timeout", "30", "--only-summary",
         "--p95-threshold-ms", "1000000", *classes],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "GRADSHEET_INSTRUCTOR_TOKEN": token, "GRADSHEET_LATENCY_LOG": str(log)})


def run(base: str, token: str, seconds: int, small_log: pathlib.Path,
        big_log: pathlib.Path | None) -> None:
    """The small users, and the big ones beside them in a locust of their own: reading
    a maximal evaluate's 40 MB answer stalls the process that reads it for a second or
    more, and every request in flight in that process would be timed that much longer."""
    runs = [locust(base, token, SMALL, seconds, small_log)]
    if big_log is not None:
        runs.append(locust(base, token, BIG, seconds, big_log))
    for proc in runs:
        proc.wait(timeout=seconds + 180)


def read_log(log: pathlib.Path) -> tuple[list[float], int]:
    """(milliseconds of each request, failed requests)."""
    times, failed = [], 0
    for line in log.read_text().splitlines():
        _user, _name, ms, error = line.split("\t")
        times.append(float(ms))
        failed += int(error)
    return times, failed


def stall(rounds: int) -> None:
    chain = "x"
    for _ in range(48):
        chain = f"tanh({chain})"
    big = {"graph": {"expr": chain},
           "inputs": {"x": [(i * 7919 % 2000) / 1000 - 1 for i in range(20_000)]}}
    small = {"graph": {"expr": "x*y"}, "inputs": {"x": 2, "y": 3}}
    worst, big_ms = [], []
    with local_server(1, threads=4) as server:
        for _ in range(20):
            call(server.base, "/v1/evaluate", small)
        for r in range(rounds):
            done, latencies = threading.Event(), []

            def send_big():
                started = time.perf_counter()
                status, _, body = call(server.base, "/v1/evaluate", big, 120)
                assert status == 200, body[:300]
                big_ms.append((time.perf_counter() - started) * 1e3)
                done.set()

            thread = threading.Thread(target=send_big)
            thread.start()
            while not done.is_set():
                started = time.perf_counter()
                call(server.base, "/v1/evaluate", small)
                latencies.append((time.perf_counter() - started) * 1e3)
            thread.join()
            worst.append(max(latencies))
            print(f"stall round {r + 1}: maximal evaluate {big_ms[-1]:.0f} ms; beside it "
                  f"{len(latencies)} small requests, median {statistics.median(latencies):.1f} ms, "
                  f"slowest {worst[-1]:.1f} ms", flush=True)
    print(f"slowest small request beside a maximal evaluate: median {statistics.median(worst):.0f} ms "
          f"(rounds {min(worst):.0f}-{max(worst):.0f}); the maximal evaluate: median "
          f"{statistics.median(big_ms):.0f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--time", type=int, default=30, help="seconds of each locust run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--stall-rounds", type=int, default=7)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    limits = {"GRADSHEET_GRADE_LIMIT_PER_ADDRESS": "1000000 per minute",
              "GRADSHEET_GRADE_LIMIT_PER_PROBLEM": "1000000 per minute"}
    rows = {"small only": [], "with big": []}
    work = pathlib.Path(tempfile.mkdtemp(prefix="gradsheet-bench-fairness-"))
    with local_server(args.workers, env=limits) if args.rounds else contextlib.nullcontext() as server:
        for r in range(args.rounds):
            for label in rows:
                small_log = work / f"{r}-{label.replace(' ', '-')}.tsv"
                big_log = work / f"{r}-big.tsv" if label == "with big" else None
                run(server.base, server.instructor_token, args.time, small_log, big_log)
                small, failed = read_log(small_log)
                row = {"n": len(small), "p50": percentile(small, 0.50),
                       "p90": percentile(small, 0.90), "p99": percentile(small, 0.99)}
                rows[label].append(row)
                big_text = "none"
                if big_log is not None:
                    names: dict[str, int] = {}
                    for line in big_log.read_text().splitlines():
                        name = line.split("\t")[1]
                        names[name] = names.get(name, 0) + 1
                    big_text = ", ".join(f"{n} {name}" for name, n in sorted(names.items()))
                print(f"round {r + 1} {label:10s}: {row['n']:5d} small requests ({failed} failed), "
                      f"p50 {row['p50']:5.1f} ms, p90 {row['p90']:5.1f} ms, p99 {row['p99']:6.1f} ms; "
                      f"big users' requests: {big_text}", flush=True)
    if args.rounds:
        print("\nsmall users, median over rounds:")
        for label, runs in rows.items():
            print(f"  {label:10s}  p50 {statistics.median(x['p50'] for x in runs):5.1f} ms  "
                  f"p90 {statistics.median(x['p90'] for x in runs):5.1f} ms  "
                  f"p99 {statistics.median(x['p99'] for x in runs):6.1f} ms")
        ratios = [b["p99"] / a["p99"] for a, b in zip(rows["small only"], rows["with big"])]
        print(f"  p99 with big work / small only, per round: "
              f"{', '.join(f'{x:.2f}' for x in ratios)}")
    if args.stall_rounds:
        print()
        stall(args.stall_rounds)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())

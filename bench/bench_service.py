"""Benchmark the REST service under gunicorn with wrk, on 127.0.0.1 only.

    python bench/bench_service.py [--duration 8] [--repeats 3] [--workers 2]

Needs wrk (`apt-get install wrk`); says so and exits 2 when it is missing. Runs, in
one session so that the ratios share the machine's load:

1. time from `gradsheet serve` to the first 200 of /readyz and of /v1/evaluate, with
   an empty Numba cache and with the cache filled;
2. POST /v1/evaluate with a small graph against a bare Flask endpoint that parses
   and returns JSON under the same gunicorn settings (goal: >= 85 % of its req/s,
   p99 <= 25 ms), runs interleaved, medians reported;
3. POST /v1/evaluate/batch with 1000 distinct 5-node graphs (goal: >= 100,000 graphs/s);
   its node-list items reach the engine's bulk path (engine.spec_bulk) as they came;
4. with --distinct-bodies N, the same with N such bodies sent in turn, so that no
   request's graphs were seen before (N x 1000 are more than the graph cache holds).

A server-side coalescer (single /v1/evaluate requests of a worker's threads gathered
into one evaluate_many call) was measured here too and removed: it cut req/s to about
60 % at the same p99, because handing requests between threads under the GIL costs more
CPU than the kernel call it saves (numbers in the README's performance section).

Every server is started here, on a free loopback port, and stopped here.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from service.local_server import HOST, LocalServer, ServerError, free_port

BENCH = Path(__file__).resolve().parent
SMALL = {"graph": {"expr": "(x + y) * z"}, "inputs": {"x": -2, "y": 5, "z": -4}}

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
-- BENCH_BODY: one body file, or several separated by ';', sent in turn
local bodies = {}
for path in string.gmatch(os.getenv("BENCH_BODY"), "[^;]+") do
  local f = assert(io.open(path, "rb"))
  bodies[#bodies + 1] = f:read("*a")
  f:close()
end
wrk.body = bodies[1]
local turn = 0
if #bodies > 1 then
  request = function()
    turn = turn % #bodies + 1
    return wrk.format(nil, nil, nil, bodies[turn])
  end
end
done = function(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %f, "non2xx": %d, "socket_errors": %d, '
    .. '"p50_ms": %f, "p99_ms": %f}\\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def baseline_app():
    """A bare Flask endpoint that parses the JSON body and returns JSON: the floor."""
    from flask import Flask, jsonify, request
    app = Flask("baseline")

    @app.post("/v1/evaluate")
    def echo():
        body = request.get_json()
        return jsonify({"output": "f", "inputs": body.get("inputs")})

    @app.get("/readyz")
    def ready():
        return jsonify({"status": "ready"})

    return app


def batch_body(count: int, seed: int = 7) -> dict:
    """`count` distinct 5-node graphs (their constants differ) with random inputs."""
    rng = random.Random(seed)
    items = []
    for _ in range(count):
        c1, c2 = round(rng.uniform(-2, 2), 6), round(rng.uniform(-2, 2), 6)
        graph = {"nodes": [
            {"id": "a", "op": "mul", "inputs": ["x", c1]},
            {"id": "b", "op": "add", "inputs": ["a", "y"]},
            {"id": "c", "op": "sigmoid", "inputs": ["b"]},
            {"id": "d", "op": "mul", "inputs": ["c", c2]},
            {"id": "f", "op": "sub", "inputs": ["d", "z"]}], "output": "f"}
        items.append({"graph": graph, "inputs": {k: round(rng.uniform(-1, 1), 6) for k in "xyz"}})
    return {"items": items}


def cpu_seconds(server: LocalServer) -> float:
    """CPU time (user + system) used so far by the master and its live workers:
    unlike requests/s, it does not move when other jobs share the machine."""
    pids = [server.proc.pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == server.proc.pid:  # field 4, ppid
            pids.append(int(stat.parent.name))
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def baseline_server(workers: int) -> LocalServer:
    """baseline_app() under gunicorn with gradsheet's settings, on a free port."""
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "--config", "python:service.gunicorn_conf",
            "--pythonpath", str(BENCH), "--bind", f"{HOST}:{port}", "--workers", str(workers),
            "bench_service:baseline_app()"]
    return LocalServer(argv, port, env={"GRADSHEET_CACHE_WARMUP": "0"})


def wrk(url: str, body_file: str, script: str, duration: float, connections: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{int(duration)}s", "--timeout", "10s", "-s", script,
         url], capture_output=True, text=True, env={**os.environ, "BENCH_BODY": body_file},
        timeout=duration + 60, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    result["rps"] = result["requests"] / result["seconds"]
    return result


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--skip-empty-cache", action="store_true",
                        help="skip the start-up with an empty Numba cache (about a minute)")
    parser.add_argument("--batch-connections", type=int, default=4)
    parser.add_argument("--distinct-bodies", type=int, default=0, metavar="N",
                        help="also run the batch with N different bodies sent in turn "
                             "(N x 1000 distinct graphs, more than the graph cache holds)")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench_service: wrk is required (apt-get install wrk)", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="gradsheet-bench-"))
    script = work / "post.lua"
    script.write_text(WRK_SCRIPT)
    small_file, batch_file = work / "small.json", work / "batch.json"
    small_file.write_text(json.dumps(SMALL))
    batch_file.write_text(json.dumps(batch_body(1000)))
    distinct_files = []
    for k in range(args.distinct_bodies):
        distinct_files.append(work / f"batch{k}.json")
        distinct_files[-1].write_text(json.dumps(batch_body(1000, seed=100 + k)))
    servers: list[LocalServer] = []
    report: dict = {"workers": args.workers, "connections": args.connections,
                    "duration_s": args.duration, "repeats": args.repeats,
                    "cores": os.cpu_count()}
    try:
        # 1. Start-up: first with an empty Numba cache (every kernel compiled), then as
        # an operator usually runs it, with the cache filled.
        if not args.skip_empty_cache:
            cold = LocalServer.gradsheet(args.workers,
                                         env={"NUMBA_CACHE_DIR": str(work / "numba-cache")})
            servers.append(cold)
            report["serve_to_first_readyz_200_s_empty_cache"] = round(
                cold.wait_for("/readyz"), 2)
            cold.stop()
        svc = LocalServer.gradsheet(args.workers)
        servers.append(svc)
        report["serve_to_first_readyz_200_s"] = round(svc.wait_for("/readyz"), 2)
        report["serve_to_first_evaluate_200_s"] = round(svc.wait_for("/v1/evaluate", SMALL), 2)
        svc.wait_for_workers(args.workers)

        base = baseline_server(args.workers)
        servers.append(base)
        base.wait_for("/readyz")

        def run(server, path, body, connections):
            cpu = cpu_seconds(server)
            result = wrk(server.url(path), str(body), str(script), args.duration, connections)
            result["cpu_us_per_request"] = (cpu_seconds(server) - cpu) / result["requests"] * 1e6
            return result

        # 2. Small graph vs the bare endpoint, interleaved.
        base_runs, small_runs = [], []
        for _ in range(args.repeats):
            base_runs.append(run(base, "/v1/evaluate", small_file, args.connections))
            small_runs.append(run(svc, "/v1/evaluate", small_file, args.connections))
        # 3. Batches of 1000 distinct graphs.
        batch_runs = [run(svc, "/v1/evaluate/batch", batch_file, args.batch_connections)
                      for _ in range(args.repeats)]
        # 4. The same, each request's graphs new to the server.
        distinct_runs = [run(svc, "/v1/evaluate/batch", ";".join(map(str, distinct_files)),
                             args.batch_connections)
                         for _ in range(args.repeats if distinct_files else 0)]
        svc.stop()
    except ServerError as exc:
        sys.exit(f"bench_service: {exc}")
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    def summary(runs):
        return {"rps_median": round(median(runs, "rps")),
                "server_cpu_us_per_request_median": round(median(runs, "cpu_us_per_request")),
                "rps_runs": [round(r["rps"]) for r in runs],
                "p50_ms_median": round(median(runs, "p50_ms"), 2),
                "p99_ms_median": round(median(runs, "p99_ms"), 2),
                "non2xx": sum(r["non2xx"] for r in runs),
                "socket_errors": sum(r["socket_errors"] for r in runs)}

    ratio = [s["rps"] / b["rps"] for s, b in zip(small_runs, base_runs)]
    report["bare_flask"] = summary(base_runs)
    report["evaluate_small"] = summary(small_runs)
    report["evaluate_small"]["ratio_to_bare_median"] = round(statistics.median(ratio), 3)
    # Requests/s each would reach with the same CPU: robust to other jobs' load.
    report["evaluate_small"]["cpu_ratio_to_bare"] = round(
        median(base_runs, "cpu_us_per_request") / median(small_runs, "cpu_us_per_request"), 3)
    report["batch_1000"] = summary(batch_runs)
    report["batch_1000"]["graphs_per_s_median"] = round(median(batch_runs, "rps") * 1000)
    report["batch_1000"]["graphs_per_server_cpu_s"] = round(
        1000 / (median(batch_runs, "cpu_us_per_request") / 1e6))
    if distinct_runs:
        report["batch_1000_distinct"] = summary(distinct_runs)
        report["batch_1000_distinct"]["bodies"] = len(distinct_files)
        report["batch_1000_distinct"]["graphs_per_s_median"] = round(median(distinct_runs, "rps") * 1000)
        report["batch_1000_distinct"]["graphs_per_server_cpu_s"] = round(
            1000 / (median(distinct_runs, "cpu_us_per_request") / 1e6))
    print(json.dumps(report, indent=2))
    goals = {
        "evaluate_small >= 85% of bare Flask": report["evaluate_small"]["ratio_to_bare_median"] >= 0.85,
        "evaluate_small p99 <= 25 ms": report["evaluate_small"]["p99_ms_median"] <= 25,
        "batch >= 100,000 graphs/s": report["batch_1000"]["graphs_per_s_median"] >= 100_000,
    }
    for goal, met in goals.items():
        print(f"{'met' if met else 'NOT met'}: {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

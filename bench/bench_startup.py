"""First contact, timed: a cold compile of every kernel (an empty NUMBA_CACHE_DIR), then
with that cache warm `gradsheet eval`, `gradsheet generate` (30 students, JSON) and
`gradsheet serve` to /readyz 200; and `serve` to /readyz 200 on a cold cache, and the
PDF seconds per student of a large class.

    python bench/bench_startup.py [--runs 3] [--skip-cold-serve] [--pdf-students 60]
                                  [--compile-profile]

Each figure is the median, min and max over --runs runs, as wall seconds and as CPU
seconds (user + sys of the child processes, waited for), which a machine shared with
other work disturbs far less than wall time. Per-kernel compile seconds come from the
cold compile's fill_cache (service/warmup.py): each job's seconds in the interpreter that
ran it (one per core, each handed jobs in turn); the sweeps are compiled by their own jobs
(forward_rows, reverse_rows), which the function-by-function profile does not list (they
are numba.cfunc, which reports no compile event).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.local_server import LocalServer, call  # noqa: E402

GOALS = {"cold compile": 15.0, "eval": 1.5, "generate 30 json": 3.0, "serve warm": 5.0}


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(argv: list[str], env: dict) -> tuple[float, float, str]:
    """(wall s, CPU s, stdout) of a command run to its end."""
    cpu, started = children_cpu(), time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr[-3000:]}")
    return wall, children_cpu() - cpu, done.stdout


def gradsheet(*args: str) -> list[str]:
    return [sys.executable, "-m", "service.cli", *args]


def serve_until_ready(env: dict) -> tuple[float, float, float]:
    """(s to /healthz 200, s to /readyz 200, CPU s) of `gradsheet serve` (one worker per
    core), from its start; CPU counts the server's processes once it has stopped."""
    cpu = children_cpu()
    server = LocalServer.gradsheet(env=env)
    health = None
    try:
        while True:
            if server.proc.poll() is not None:
                raise SystemExit(f"the server exited:\n{server.log()[-3000:]}")
            try:
                if health is None and call(server.base, "/healthz", timeout=5)[0] == 200:
                    health = time.perf_counter() - server.started
                if call(server.base, "/readyz", timeout=5)[0] == 200:
                    ready = time.perf_counter() - server.started
                    break
            except OSError:
                pass
            time.sleep(0.05)
    finally:
        server.stop()
    return health, ready, children_cpu() - cpu


def summary(name: str, runs: list[tuple[float, float]]) -> dict:
    walls, cpus = [w for w, _ in runs], [c for _, c in runs]
    row = {"what": name, "wall_median": statistics.median(walls), "wall_min": min(walls),
           "wall_max": max(walls), "cpu_median": statistics.median(cpus)}
    goal = GOALS.get(name)
    verdict = "" if goal is None else f"  goal <= {goal:g} s: " + (
        "met" if row["wall_median"] <= goal else "missed")
    print(f"{name:24s} wall {row['wall_median']:6.1f} s (min {row['wall_min']:.1f}, max "
          f"{row['wall_max']:.1f})  CPU {row['cpu_median']:6.1f} s{verdict}", flush=True)
    return row


def compile_profile() -> dict:
    """In this process (meant to start with an empty cache): every warm-up job, with
    Numba's compile events (numba.core.event) recording each function compiled, its
    argument types and its seconds less those of the functions compiled inside it."""
    from numba.core import event

    from service import warmup

    compiled: dict[str, list] = {}
    stack: list[list] = []

    class Recorder(event.Listener):
        def on_start(self, ev):
            stack.append([time.perf_counter(), 0.0])

        def on_end(self, ev):
            began, inner = stack.pop()
            took = time.perf_counter() - began
            if stack:
                stack[-1][1] += took
            func = ev.data["dispatcher"].py_func
            name = f"{func.__module__}.{func.__qualname__}"
            compiled.setdefault(name, []).append((str(ev.data["args"]), took - inner))

    event.register("numba:compile", Recorder())
    for job in warmup.KERNELS.values():
        job()
    return compiled


def print_compile_profile(env: dict) -> None:
    """compile_profile() in a fresh interpreter: the functions that took longest, and
    every function of ours compiled for more than one signature (each costs a compile;
    a literal argument such as `f(x, 0)` is typed Literal[int](0) and makes one)."""
    probe = ("import json, sys; sys.path.insert(0, 'bench'); import bench_startup; "
             "print(json.dumps(bench_startup.compile_profile()))")
    wall, cpu, out = timed([sys.executable, "-c", probe], env)
    compiled = json.loads(out)
    own = sorted(((sum(s for _, s in sigs), name) for name, sigs in compiled.items()), reverse=True)
    print(f"compile profile, one process: {wall:.1f} s wall, {cpu:.1f} s CPU; longest "
          "functions (own seconds, callees excluded):")
    for seconds, name in own[:12]:
        print(f"    {name:48s} {seconds:5.1f} s")
    twice = {name: sigs for name, sigs in compiled.items()
             if len(sigs) > 1 and name.startswith(("engine.", "worksheets.", "service."))}
    if not twice:
        print("    every function of ours compiled for exactly one signature")
    for name, sigs in twice.items():
        print(f"    {name} compiled {len(sigs)} times:")
        for args, _ in sigs:
            print(f"        {args[:160]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compile-profile", action="store_true",
                        help="also profile one cold compile function by function")
    parser.add_argument("--skip-cold-serve", action="store_true")
    parser.add_argument("--pdf-students", type=int, default=60)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at the start "
          f"(other work on a shared machine inflates wall time, not CPU time)", flush=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix="gradsheet-bench-startup-"))
    rows, kernels = [], {}
    try:
        cold, caches = [], []
        for k in range(args.runs):
            cache = work / f"cache-{k}"
            env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
            probe = ("import json; from service.warmup import fill_cache; "
                     "f = fill_cache(); print(json.dumps(f.kernels))")
            wall, cpu, out = timed([sys.executable, "-c", probe], env)
            for name, seconds in json.loads(out).items():
                kernels.setdefault(name, []).append(seconds)
            cold.append((wall, cpu))
            caches.append(env)
        rows.append(summary("cold compile", cold))
        for name, seconds in sorted(kernels.items(), key=lambda kv: -statistics.median(kv[1])):
            print(f"    {name:28s} {statistics.median(seconds):6.1f} s wall (a job of fill_cache)")
        if args.compile_profile:
            print_compile_profile(dict(os.environ, NUMBA_CACHE_DIR=str(work / "profile")))
        env = caches[0]
        rows.append(summary("eval", [timed(gradsheet("eval", "x*y", "x=2", "y=3"), env)[:2]
                                     for _ in range(args.runs)]))
        rows.append(summary("generate 30 json", [
            timed(gradsheet("generate", "--seed", "7", "--students", "30", "--format", "json",
                            "--out", str(work / f"json-{k}")), env)[:2]
            for k in range(args.runs)]))
        pdf = [timed(gradsheet("generate", "--seed", "7", "--students", str(args.pdf_students),
                               "--format", "pdf", "--out", str(work / f"pdf-{k}")), env)[:2]
               for k in range(args.runs)]
        rows.append(summary(f"generate {args.pdf_students} pdf", pdf))
        per = statistics.median(w for w, _ in pdf) / args.pdf_students
        per_cpu = statistics.median(c for _, c in pdf) / args.pdf_students
        print(f"    PDF: {per:.2f} s wall, {per_cpu:.2f} s CPU per student", flush=True)
        warm = [serve_until_ready(env) for _ in range(args.runs)]
        print(f"    serve, warm: /healthz 200 after {statistics.median(h for h, _, _ in warm):.1f} s")
        rows.append(summary("serve warm", [(r, c) for _, r, c in warm]))
        if not args.skip_cold_serve:
            cold_serve = []
            for k in range(args.runs):
                env = dict(os.environ, NUMBA_CACHE_DIR=str(work / f"serve-cold-{k}"))
                cold_serve.append(serve_until_ready(env))
            print(f"    serve, cold: /healthz 200 after "
                  f"{statistics.median(h for h, _, _ in cold_serve):.1f} s")
            rows.append(summary("serve cold", [(r, c) for _, r, c in cold_serve]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())

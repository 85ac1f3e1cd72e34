"""Run every kernel the CLI and the service call once, so Numba compiles it into its
on-disk cache (engine.kernel_cache.CACHE_DIR) or loads it from there.

Two uses:
  fill_cache(): compile whatever the cache lacks, in as many fresh interpreters as
      there are cores (they share the cache directory), each running the jobs it is
      handed, then mark the cache warm (engine.kernel_cache.mark_warm). A warm cache
      returns at once. `gradsheet warmup` and `python -m service.warmup` run it; so do
      `make run`, `make test` and the Docker build, gunicorn's master (in a child,
      while the port is already open: service/gunicorn_conf.py) and a CLI command that
      would otherwise compile (service/cli/__init__.py).
  warm_up(): every kernel in this process, loaded from the cache (or compiled, when it
      is cold); each gunicorn worker runs it after fork, and /readyz waits for it.

One job per kernel, or per piece of code several kernels share (the sweeps, the
lowering): a job calls exactly what it is named for, and what it NEEDS is compiled
by the jobs before it, so the compile time of each can be read off fill_cache's
answer and nothing is compiled in two interpreters.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import selectors
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

import engine
import engine.vm.kernels
from engine import kernel_cache
from engine.conv import conv1d, conv1d_backward, conv1d_many

# Every batch takes the batch kernel. Work past the kernels' thresholds (PARALLEL_MIN_WORK)
# is split across threads but calls the same kernels, so one small call compiles each.
BATCH_LANES = 4096
SCALARS = {"x": 0.5, "y": 0.25, "z": 1.5}

# What a cold compile takes on two idle cores (12-13 s measured by bench_startup once
# the sweeps were compiled once, by address), said before one starts.
EXPECTED_SECONDS = 15


def every_op_spec() -> dict:
    """One node per op of the table, summed into the output: x, y, z > 0 keep log and
    sqrt finite, and binary ops take the constant 2 as their second input because
    pow's exponent must be a constant."""
    nodes, ids = [], []
    for op in engine.OPS:
        node_id = f"n_{op.name}"
        if op.arity == 1:
            inputs = ["x"]
        elif op.arity == 2:
            inputs = ["x", 2.0]
        else:
            inputs = ["x", "y", "z"]
        nodes.append({"id": node_id, "op": op.name, "inputs": inputs})
        ids.append(node_id)
    nodes.append({"id": "out", "op": "add", "inputs": ids})
    return {"nodes": nodes, "output": "out"}


def _graph() -> engine.Graph:
    return engine.Graph.from_spec(every_op_spec())


def _batch(lanes: int) -> dict:
    return {k: np.full(lanes, v) for k, v in SCALARS.items()}


def _batch_kernel() -> None:
    engine.evaluate(_graph(), _batch(BATCH_LANES))


def _ragged_kernel() -> None:
    engine.evaluate(_graph(), SCALARS)


def _spec_bulk() -> None:
    # plain dict specs with float inputs, MIN_ITEMS or more of them, take spec_bulk's
    # compiled reader, then the ragged kernel (what the problem-set generator and
    # /v1/evaluate/batch send)
    engine.evaluate_many([(every_op_spec(), dict(SCALARS))] * engine.spec_bulk.MIN_ITEMS)


def _conv() -> None:
    x = np.linspace(-1.0, 1.0, 16).reshape(1, 2, 8)
    w = np.ones((2, 2, 3))
    y = conv1d(x, w, bias=np.zeros(2), stride=2, padding=1)
    conv1d_backward(x, w, np.ones_like(y), stride=2, padding=1)
    y = conv1d(x, w)                                            # no phase copy
    conv1d_backward(x, w, np.ones_like(y))


def _conv_many() -> None:
    x = np.linspace(-1.0, 1.0, 16).reshape(2, 8)
    conv1d_many([{"x": x, "w": np.ones((2, 2, 3)), "stride": 2, "padding": 1}] * 2)


def _forward_rows() -> None:
    engine.vm.kernels.forward_rows.address


def _reverse_rows() -> None:
    engine.vm.kernels.reverse_rows.address


def _lowering() -> None:
    engine.lower(_graph())
    # constants to fold: folding runs an op's forward in Python, and exp, log and sigmoid
    # call engine.vmath's compiled functions there
    engine.lower(engine.parse("x * exp(2) * log(3) * sigmoid(1)"))


# fill_cache hands them out in this order, each once what it NEEDS is in the cache, so
# what jobs share is compiled once, not in every process that uses it: the sweeps (the
# interpreter's op cases, the bulk of the evaluate kernels' code) and the lowering. The
# order is a schedule for two cores (seconds of each measured by bench_startup): the
# sweeps and the lowering first, conv beside them, then the chain run_ragged ->
# spec_bulk on one core while the other does run_batch.
KERNELS: dict[str, Callable[[], None]] = {
    "reverse_rows": _reverse_rows,
    "forward_rows": _forward_rows,
    "lowering": _lowering,
    "conv": _conv,
    "run_ragged": _ragged_kernel,
    "spec_bulk": _spec_bulk,
    "run_batch": _batch_kernel,
    "conv1d_many": _conv_many,
}
_EVALUATE = {"forward_rows", "reverse_rows", "lowering"}
NEEDS = {"run_batch": _EVALUATE, "run_ragged": _EVALUATE, "spec_bulk": _EVALUATE | {"run_ragged"}}


def warm_up(progress: Callable[[int, int], None] | None = None) -> float:
    """Run every kernel in this process; returns the seconds taken. `progress`, when
    given, hears (kernels done, kernels) after each."""
    started = time.perf_counter()
    for done, job in enumerate(KERNELS.values(), 1):
        job()
        if progress is not None:
            progress(done, len(KERNELS))
    return time.perf_counter() - started


@dataclass(frozen=True)
class Filled:
    """What fill_cache did: where the cache is, whether it compiled, the seconds taken,
    and each kernel's seconds (empty when the cache was warm already)."""

    cache_dir: pathlib.Path
    compiled: bool
    seconds: float
    kernels: dict[str, float]


def fill_cache(processes: int | None = None,
               progress: Callable[[int, int], None] | None = None) -> Filled:
    """Compile every kernel into the cache unless a warm-up already did, in up to
    `processes` (default: the cores) fresh interpreters that share the cache directory;
    `progress` hears (kernels done, kernels) after each.

    Each interpreter runs the jobs it is handed one after another (`--jobs`: a name a
    line on stdin, `name seconds` on stdout when done), so Numba is imported, and its
    own helpers compiled, once per interpreter rather than once per job. A job is handed
    out once every job it NEEDS is done, so what it shares with them is loaded from the
    cache, not compiled twice. Fresh interpreters, not forks: this process may already
    run Numba's thread pool, which must never be forked."""
    started = time.perf_counter()
    if kernel_cache.is_warm():
        return Filled(kernel_cache.CACHE_DIR, False, time.perf_counter() - started, {})
    processes = max(1, min(processes or os.cpu_count() or 1, len(KERNELS)))
    # The children must use this process's directory even when it is a fallback that
    # a fresh interpreter would not choose again (a temporary one).
    env = dict(os.environ, NUMBA_CACHE_DIR=str(kernel_cache.CACHE_DIR.parent))
    children = [subprocess.Popen([sys.executable, "-m", "service.warmup", "--jobs"], env=env,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                for _ in range(processes)]
    waiting, seconds = list(KERNELS), {}
    busy: dict[int, str] = {}  # child's pid -> its job
    finished = False
    try:
        with selectors.DefaultSelector() as selector:
            for child in children:
                selector.register(child.stdout, selectors.EVENT_READ, child)
            idle = list(children)
            while waiting or busy:
                while idle:
                    ready = [name for name in waiting if NEEDS.get(name, set()) <= seconds.keys()]
                    if not ready:
                        break
                    waiting.remove(ready[0])
                    child = idle.pop(0)
                    busy[child.pid] = ready[0]
                    child.stdin.write(ready[0] + "\n")
                    child.stdin.flush()
                if not busy:
                    raise RuntimeError(f"kernel jobs wait on each other: {waiting}")
                for key, _ in selector.select():
                    child = key.data
                    line = child.stdout.readline()
                    name = busy.pop(child.pid)
                    if not line:
                        child.wait()
                        raise RuntimeError(f"compiling the kernel {name} failed "
                                           f"(exit {child.returncode}); see its error above")
                    seconds[name] = float(line.split()[1])
                    if waiting:
                        idle.append(child)
                    else:  # nothing left for it: it exits while the others finish
                        selector.unregister(child.stdout)
                        child.stdin.close()
                    if progress is not None:
                        progress(len(seconds), len(KERNELS))
        finished = True
    finally:
        for child in children:
            if not finished:
                child.kill()
            elif not child.stdin.closed:
                child.stdin.close()
        for child in children:
            child.wait()
            child.stdout.close()
    kernel_cache.mark_warm()
    return Filled(kernel_cache.CACHE_DIR, True, time.perf_counter() - started, seconds)


def run_jobs(lines, out) -> None:
    """fill_cache's children: each line of `lines` names a job of KERNELS; run it, then
    write `name seconds` to `out`."""
    for line in lines:
        name = line.strip()
        began = time.perf_counter()
        KERNELS[name]()
        out.write(f"{name} {time.perf_counter() - began:.3f}\n")
        out.flush()


def compile_notice() -> str:
    return (f"gradsheet: compiling gradsheet's kernels once (about {EXPECTED_SECONDS} s) "
            f"into {kernel_cache.CACHE_DIR}; later runs start at once")


# The warm-up child of gunicorn's master writes its state here, as JSON
# {"state": "compiling" | "done" | "failed", "done": k, "of": n}, for the workers.
STATUS_ENV = "GRADSHEET_WARMUP_STATUS"


def write_status(path: str, state: str, done: int, of: int) -> None:
    partial = f"{path}.{os.getpid()}.tmp"
    with open(partial, "w", encoding="utf-8") as f:
        json.dump({"state": state, "done": done, "of": of}, f)
    os.replace(partial, path)  # a reader sees the old state or the new, never half of one


def read_status(path: str) -> dict:
    """The warm-up child's state; "compiling" of every kernel before it writes one."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {"state": "compiling", "done": 0, "of": len(KERNELS)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.warmup",
                                     description="Fill gradsheet's kernel cache.")
    parser.add_argument("--status", metavar="FILE",
                        help="write progress as JSON here (gunicorn's workers read it)")
    parser.add_argument("--jobs", action="store_true",
                        help="run the kernels named on stdin, one a line (fill_cache's children)")
    args = parser.parse_args(argv)
    if args.jobs:
        run_jobs(sys.stdin, sys.stdout)
        return 0
    n = len(KERNELS)

    def report(done: int, of: int) -> None:
        if args.status:
            write_status(args.status, "compiling", done, of)

    if kernel_cache.is_warm():
        print(f"gradsheet: loading cached kernels from {kernel_cache.CACHE_DIR}",
              file=sys.stderr)
    else:
        print(f"gradsheet: compiling {n} kernels into {kernel_cache.CACHE_DIR}, one time only "
              f"(about {EXPECTED_SECONDS} s)", file=sys.stderr)
    report(0, n)
    try:
        filled = fill_cache(progress=report)
    except BaseException:
        if args.status:
            write_status(args.status, "failed", 0, n)
        raise
    if args.status:
        write_status(args.status, "done", n, n)
    if filled.compiled:
        print(f"gradsheet: kernels compiled in {filled.seconds:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

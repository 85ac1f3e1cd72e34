"""Run every kernel the CLI and the service call once, so Numba compiles it into its
on-disk cache (engine.kernel_cache.CACHE_DIR) or loads it from there.

Two uses:
  fill_cache(): compile whatever the cache lacks, each kernel in a process of its own
      (they share the cache directory), as many at once as there are cores, then mark
      the cache warm (engine.kernel_cache.mark_warm). A warm cache returns at once.
      `gradsheet warmup` and `python -m service.warmup` run it; so do `make run`,
      `make test` and the Docker build, gunicorn's master (in a child, while the port
      is already open: service/gunicorn_conf.py) and a CLI command that would
      otherwise compile (service/cli/__init__.py).
  warm_up(): every kernel in this process, loaded from the cache (or compiled, when it
      is cold); each gunicorn worker runs it after fork, and /readyz waits for it.

One job per kernel: each job calls exactly the kernels named by it, and its
dependencies (the lowering's `_emit_graph` first of all), so the compile time of each
can be read off fill_cache's answer.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

import engine
from engine import kernel_cache
from engine.conv import conv1d, conv1d_backward, conv1d_many

# Every batch takes the batch kernel. Work past the kernels' thresholds (PARALLEL_MIN_WORK)
# is split across threads but calls the same kernels, so one small call compiles each.
BATCH_LANES = 4096
SCALARS = {"x": 0.5, "y": 0.25, "z": 1.5}

# What a cold compile takes on two idle cores (29 s measured by bench_startup once the
# kernels split work across threads instead of prange), said before one starts.
EXPECTED_SECONDS = 30


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
    # plain dict specs with float inputs take spec_bulk's compiled reader, then the
    # ragged kernel (what the problem-set generator and /v1/evaluate/batch send)
    engine.evaluate_many([(every_op_spec(), dict(SCALARS))] * 2)


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


# Longest first: a pool that takes them in this order ends soonest. The first job
# compiles the lowering every other evaluate job needs, so it is not compiled twice.
KERNELS: dict[str, Callable[[], None]] = {
    "run_batch": _batch_kernel,
    "conv": _conv,
    "run_ragged": _ragged_kernel,
    "spec_bulk": _spec_bulk,
    "conv1d_many": _conv_many,
}


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
    """Compile every kernel into the cache unless a warm-up already did, each in a
    fresh interpreter, up to `processes` (default: the cores) at once; `progress` hears
    (kernels done, kernels) after each. Fresh interpreters, not forks: this process may
    already run Numba's thread pool, which must never be forked."""
    started = time.perf_counter()
    if kernel_cache.is_warm():
        return Filled(kernel_cache.CACHE_DIR, False, time.perf_counter() - started, {})
    processes = max(1, min(processes or os.cpu_count() or 1, len(KERNELS)))
    # The children must use this process's directory even when it is a fallback that
    # a fresh interpreter would not choose again (a temporary one).
    env = dict(os.environ, NUMBA_CACHE_DIR=str(kernel_cache.CACHE_DIR.parent))
    waiting = list(KERNELS)
    running: dict[str, tuple[subprocess.Popen, float]] = {}
    seconds: dict[str, float] = {}
    try:
        while waiting or running:
            while waiting and len(running) < processes:
                name = waiting.pop(0)
                child = subprocess.Popen([sys.executable, "-m", "service.warmup", "--kernel", name],
                                         env=env, stdout=subprocess.DEVNULL)
                running[name] = (child, time.perf_counter())
            time.sleep(0.05)
            for name, (child, began) in list(running.items()):
                if child.poll() is None:
                    continue
                del running[name]
                if child.returncode != 0:
                    raise RuntimeError(f"compiling the kernel {name} failed "
                                       f"(exit {child.returncode}); see its error above")
                seconds[name] = time.perf_counter() - began
                if progress is not None:
                    progress(len(seconds), len(KERNELS))
    finally:
        for child, _ in running.values():
            child.kill()
            child.wait()
    kernel_cache.mark_warm()
    return Filled(kernel_cache.CACHE_DIR, True, time.perf_counter() - started, seconds)


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
    parser.add_argument("--kernel", choices=list(KERNELS),
                        help="run this kernel alone, in this process (fill_cache's children)")
    args = parser.parse_args(argv)
    if args.kernel:
        KERNELS[args.kernel]()
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

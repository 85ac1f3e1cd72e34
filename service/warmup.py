"""Run every kernel the service calls once, so Numba compiles it or loads it from its
on-disk cache (NUMBA_CACHE_DIR) before the first request.

`python -m service.warmup` (and `gradsheet warmup`) does it in a process of its own:
gunicorn's master runs it as a child before forking workers, and Docker at build time.
Each worker runs it again after fork, in a thread, and /readyz waits for it.
"""

from __future__ import annotations

import sys
import time

import numpy as np

import engine
from engine.conv.kernels import PARALLEL_MIN_WORK as CONV_PARALLEL_MIN_WORK
from engine.conv import conv1d, conv1d_backward

# Every batch takes the batch kernel; these sizes fall on either side of the threshold
# for its prange variant (2**17 lane-instructions), with room to spare should it move.
BATCH_LANES = 1 << 14
SMALL_BATCH_LANES = 4096


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


def warm_up() -> float:
    """Run each evaluate and conv kernel, serial and parallel; returns the seconds taken."""
    started = time.perf_counter()
    graph = engine.Graph.from_spec(every_op_spec())
    scalars = {"x": 0.5, "y": 0.25, "z": 1.5}
    engine.evaluate(graph, scalars)                                 # ragged, serial
    batch = {k: np.full(BATCH_LANES, v) for k, v in scalars.items()}
    engine.evaluate(graph, batch)                                   # batch, parallel
    small = {k: np.full(SMALL_BATCH_LANES, v) for k, v in scalars.items()}
    engine.evaluate("x * y + z", small)                             # batch, serial
    engine.evaluate_many([(graph, batch), (graph, scalars, 2.0)])   # ragged, parallel
    for width in (8, CONV_PARALLEL_MIN_WORK // 4 + 8):              # serial, then parallel
        x = np.linspace(-1.0, 1.0, 2 * width).reshape(1, 2, width)
        w = np.ones((2, 2, 3))
        y = conv1d(x, w, bias=np.zeros(2), stride=2, padding=1)
        conv1d_backward(x, w, np.ones_like(y), stride=2, padding=1)
        y = conv1d(x, w)                                            # no phase copy
        conv1d_backward(x, w, np.ones_like(y))
    return time.perf_counter() - started


def main() -> int:
    seconds = warm_up()
    print(f"gradsheet: kernels warm in {seconds:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""conv1d benchmarks against PyTorch's CPU conv1d in float64, side by side in one process (issue 3).

L: x [32, 16, 4096], w [32, 16, 7], stride 2, padding 3: forward + backward.
   Goal: engine / torch <= 0.67.
S: 20,000 worksheet-sized problems (W 5-32, F in {1, 3, 5, 7}, P 0-3, S 1-3), forward +
   gradients of the sum of outputs, counted the way a caller uses them: the call and
   every result's three arrays read. Two forms: conv1d_many (a list of items in, a
   ConvResult per item out) and the packed form (conv1d_packed: flat arrays and
   offsets in and out). vs PyTorch called per problem, NumPy in and out (and a NumPy
   im2col per problem, for scale). Goal: >= 100x faster per problem.
Also: first-call time with an empty Numba cache (every conv kernel compiled) and with a
warm one. Timings are medians of --repeats runs after a warm-up, engine and torch
alternating so that a noisy neighbour slows both, with the garbage collector off during
each timed call (as timeit does).

Run: .venv/bin/python bench/bench_conv.py [--repeats 7] [--quick]
Needs PyTorch CPU in the venv: .venv/bin/pip install torch==2.13.0
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

import numba
import numpy as np

try:
    import torch
    import torch.nn.functional as torch_f
except ImportError:
    sys.exit("bench_conv: PyTorch is not installed; it is the baseline this benchmark "
             "compares against.\nInstall the CPU build into the venv with:\n"
             "  .venv/bin/pip install torch==2.13.0")

from engine import bulk
from engine.conv import conv1d, conv1d_backward, conv1d_many
from engine.conv.many import conv1d_packed
from timing import alternate, timed

# Seconds before each timed call: OpenMP threads spin for a while after their work.
PAUSE = 0.02
L_SHAPE = dict(N=32, C_in=16, C_out=32, W=4096, F=7, S=2, P=3)


# --- L ----------------------------------------------------------------------------

def bench_large(repeats: int) -> dict:
    s = L_SHAPE
    rng = np.random.default_rng(0)
    x = rng.normal(size=(s["N"], s["C_in"], s["W"]))
    w = rng.normal(size=(s["C_out"], s["C_in"], s["F"]))
    b = rng.normal(size=s["C_out"])
    Wo = (s["W"] + 2 * s["P"] - s["F"]) // s["S"] + 1
    gy = rng.normal(size=(s["N"], s["C_out"], Wo))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    gyt = torch.tensor(gy)
    out = {}

    def engine_step():
        out["y"] = conv1d(x, w, b, stride=s["S"], padding=s["P"])
        out["grads"] = conv1d_backward(x, w, gy, stride=s["S"], padding=s["P"])

    def engine_forward():
        conv1d(x, w, b, stride=s["S"], padding=s["P"])

    def torch_step():
        xt.grad = wt.grad = bt.grad = None
        yt = torch_f.conv1d(xt, wt, bt, stride=s["S"], padding=s["P"])
        yt.backward(gyt)
        out["yt"] = yt

    def torch_forward():
        with torch.no_grad():
            torch_f.conv1d(xt, wt, bt, stride=s["S"], padding=s["P"])

    def torch_one_thread():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            torch_step()
        finally:
            torch.set_num_threads(threads)

    t = alternate({"engine": engine_step, "torch": torch_step, "torch_1": torch_one_thread,
                   "engine_fwd": engine_forward, "torch_fwd": torch_forward}, repeats, PAUSE)
    # On a busy machine torch's two OpenMP threads can be several times slower than its
    # one; the ratio is taken against whichever of the two was faster.
    t["torch_best"] = min(t["torch"], t["torch_1"])
    gx, gw, gb = out["grads"]
    err = max(np.abs(out["y"] - out["yt"].detach().numpy()).max(),
              np.abs(gx - xt.grad.numpy()).max(), np.abs(gw - wt.grad.numpy()).max(),
              np.abs(gb - bt.grad.numpy()).max())
    flops = 3 * 2 * s["N"] * s["C_out"] * s["C_in"] * s["F"] * Wo
    return dict(t, err=err, gflops=flops / t["engine"] / 1e9,
                torch_gflops=flops / t["torch_best"] / 1e9)


# --- S ----------------------------------------------------------------------------

def worksheet_problems(count: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    items = []
    while len(items) < count:
        W = int(rng.integers(5, 33))
        F = int(rng.choice([1, 3, 5, 7]))
        P = int(rng.integers(0, 4))
        S = int(rng.integers(1, 4))
        if F <= W + 2 * P:
            items.append((rng.normal(size=W), rng.normal(size=F), S, P))
    return items


def torch_one_by_one(items) -> list:
    """What a caller without conv1d_many writes: NumPy in, autograd, NumPy out.

    On one thread: a worksheet-sized op never runs in parallel, and on a busy machine
    two OpenMP threads made each problem several times slower (about 1 ms instead of
    0.15 ms), which would flatter the engine.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return [_torch_one(*item) for item in items]
    finally:
        torch.set_num_threads(threads)


def _torch_one(x, w, S, P):
    xt = torch.from_numpy(x).view(1, 1, -1).requires_grad_()
    wt = torch.from_numpy(w).view(1, 1, -1).requires_grad_()
    y = torch_f.conv1d(xt, wt, stride=S, padding=P)
    y.sum().backward()
    return y.detach().numpy()[0, 0], xt.grad.numpy()[0, 0], wt.grad.numpy()[0, 0]


def im2col_one_by_one(items) -> list:
    results = []
    for x, w, S, P in items:
        F = w.size
        xp = np.pad(x, P)
        Wo = (xp.size - F) // S + 1
        idx = np.arange(Wo)[:, None] * S + np.arange(F)[None, :]
        cols = xp[idx]
        y = cols @ w
        gxp = np.zeros_like(xp)
        np.add.at(gxp, idx, np.broadcast_to(w, cols.shape))
        results.append((y, gxp[P:P + x.size], cols.sum(axis=0)))
    return results


def packed_problems(items: list) -> tuple:
    """worksheet_problems as the packed form takes them: flat x and w with offsets."""
    x_at = np.cumsum([0] + [len(item[0]) for item in items])
    w_at = np.cumsum([0] + [len(item[1]) for item in items])
    return (np.concatenate([item[0] for item in items]), x_at, np.concatenate([item[1] for item in items]),
            w_at, np.array([item[2] for item in items]), np.array([item[3] for item in items]))


def read_every_result(results) -> None:
    """What a caller does with conv1d_many's results: each one's three arrays."""
    for r in results:
        r.output, r.grad_input, r.grad_weight


def read_packed(out) -> None:
    """The packed form's three arrays and their offsets: every result, read in place."""
    out.output, out.output_at, out.grad_input, out.grad_input_at, out.grad_weight, out.grad_weight_at


def bench_small(count: int, baseline_count: int, repeats: int) -> dict:
    """Per-problem times, the call and the reading of every result together. Each run
    gets problems generated just before it, untimed, as problem generation would hand
    them over (packed, for the packed form); engine forms and baselines take turns."""
    conv1d_many(worksheet_problems(count, seed=10**6))
    conv1d_packed(*packed_problems(worksheet_problems(count, seed=10**6)))
    torch_one_by_one(worksheet_problems(50, seed=10**6))
    times = {"engine": [], "call": [], "packed": [], "torch": [], "numpy": []}
    err = 0.0
    for rep in range(repeats):
        items = worksheet_problems(count, seed=rep)
        packed = packed_problems(items)
        out = []
        times["call"].append(timed(lambda: out.append(conv1d_many(items)), PAUSE) / count)
        # conv1d_many computes everything; the per-item NumPy views are made on first read
        times["engine"].append(times["call"][-1] + timed(lambda: read_every_result(out[0]), PAUSE) / count)
        times["packed"].append(timed(lambda: read_packed(conv1d_packed(*packed)), PAUSE) / count)
        sample = worksheet_problems(baseline_count, seed=10**3 + rep)
        times["torch"].append(timed(lambda: torch_one_by_one(sample), PAUSE) / baseline_count)
        sample = worksheet_problems(baseline_count, seed=10**3 + rep)
        times["numpy"].append(timed(lambda: im2col_one_by_one(sample), PAUSE) / baseline_count)
    check = worksheet_problems(500, seed=7)
    packed_check = conv1d_packed(*packed_problems(check))
    for k, (r, (y, gx, gw)) in enumerate(zip(conv1d_many(check), torch_one_by_one(check))):
        p = packed_check[k]
        err = max(err, np.abs(r.output - y).max(), np.abs(r.grad_input - gx).max(),
                  np.abs(r.grad_weight - gw).max(), np.abs(p.output - y).max(),
                  np.abs(p.grad_input - gx).max(), np.abs(p.grad_weight - gw).max())
    med = {k: statistics.median(v) * 1e6 for k, v in times.items()}
    speedups = {form: sorted(t / e for t, e in zip(times["torch"], times[form])) for form in ("engine", "packed")}
    return dict(engine_us=med["engine"], call_us=med["call"], packed_us=med["packed"], torch_us=med["torch"],
                numpy_us=med["numpy"], speedups=speedups,
                err=err, count=count, baseline_count=baseline_count)


# --- first call ---------------------------------------------------------------------

FIRST_CALL = """
import time
t0 = time.perf_counter()
import numpy as np
from engine.conv import conv1d, conv1d_backward, conv1d_many
t1 = time.perf_counter()
x, w = np.ones((2, 3, 20)), np.ones((4, 3, 3))
y = conv1d(x, w, None, 2, 1)
conv1d_backward(x, w, y, 2, 1)
conv1d_many([(np.ones(9), np.ones(3), 1, 1)])
t2 = time.perf_counter()
x, w = np.ones((8, 16, 2048)), np.ones((16, 16, 7))
y = conv1d(x, w, None, 2, 3)
conv1d_backward(x, w, y, 2, 3)
conv1d_many([(np.ones((4, 8, 512)), np.ones((8, 8, 7)), 2, 3)] * 8)
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def first_call() -> dict:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    runs = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=root)
        for name in ("cold", "warm"):
            done = subprocess.run([sys.executable, "-c", FIRST_CALL], env=env, cwd=root,
                                  capture_output=True, text=True, check=True)
            runs[name] = [float(v) for v in done.stdout.split()]
    return runs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per case (>= 5)")
    parser.add_argument("--quick", action="store_true",
                        help="2,000 small problems and 5 repeats, for a smoke run")
    args = parser.parse_args(argv)
    repeats = 5 if args.quick else max(5, args.repeats)
    count = 2000 if args.quick else 20000

    print(f"conv1d benchmark: numba {numba.__version__} (large problems split across "
          f"{bulk.threads()} threads), "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), float64, "
          f"medians of {repeats} runs")

    s = first_call()
    print("\nfirst call (own process; import / small problems / large problems):")
    print(f"  empty Numba cache, every kernel compiled: import {s['cold'][0]:.2f} s, "
          f"small {s['cold'][1]:.2f} s, large {s['cold'][2]:.2f} s")
    print(f"  warm Numba cache, kernels loaded:         import {s['warm'][0]:.2f} s, "
          f"small {s['warm'][1]:.2f} s, large {s['warm'][2]:.2f} s")

    L = bench_large(repeats)
    ratio = L["engine"] / L["torch_best"]
    print("\nL: x [32, 16, 4096], w [32, 16, 7], stride 2, padding 3, forward + backward")
    print(f"  engine  {L['engine'] * 1e3:8.1f} ms  ({L['gflops']:.1f} GFLOP/s; forward alone "
          f"{L['engine_fwd'] * 1e3:.1f} ms)")
    print(f"  torch   {L['torch'] * 1e3:8.1f} ms  (forward alone {L['torch_fwd'] * 1e3:.1f} ms); "
          f"on one thread {L['torch_1'] * 1e3:.1f} ms; best {L['torch_gflops']:.1f} GFLOP/s")
    print(f"  ratio engine/torch (faster torch) {ratio:.2f}  (goal <= 0.67: "
          f"{'met' if ratio <= 0.67 else 'NOT met'}); max |engine - torch| {L['err']:.1e}")

    S = bench_small(count, min(count, 2000), repeats)
    print(f"\nS: {S['count']:,} worksheet-sized problems, forward + gradients, every result's "
          "three arrays read")
    print(f"  engine conv1d_many   {S['engine_us']:8.2f} us per problem (the call alone "
          f"{S['call_us']:.2f} us; the rest makes each result's views)")
    print(f"  engine conv1d_packed {S['packed_us']:8.2f} us per problem (flat arrays and offsets in and out)")
    print(f"  torch per problem    {S['torch_us']:8.2f} us per problem "
          f"(timed on {S['baseline_count']:,}; one thread)")
    print(f"  numpy im2col         {S['numpy_us']:8.2f} us per problem "
          f"(timed on {S['baseline_count']:,})")
    for form, name in (("engine", "conv1d_many"), ("packed", "conv1d_packed")):
        rounds = S["speedups"][form]
        speedup = statistics.median(rounds)
        print(f"  {name}: {speedup:.0f}x faster than torch (median of alternating rounds, which ranged "
              f"{rounds[0]:.0f}-{rounds[-1]:.0f}x; goal >= 100x: {'met' if speedup >= 100 else 'NOT met'})")
    print(f"  max |engine - torch| {S['err']:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

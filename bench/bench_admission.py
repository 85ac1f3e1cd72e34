"""Measure the rates that size the service's admission limits (service/admission.py).

    python bench/bench_admission.py

Prints, for this machine, each kind of work's rate and peak memory per unit, and the
limit that keeps one admitted request near 2 s of compute and 256 MB: conv multiply-adds
(one large parallel conv), evaluate node-lanes and response numbers (a sigmoid chain
over many lanes, serialized as the service does), and problem-set problems per format
(a small class, each format exported on its own in a fresh child process, as the
service runs downloads). Run once on an idle machine; on a shared one the rates are
lower bounds and the limits conservative.
"""

from __future__ import annotations

import multiprocessing
import resource
import time

import numpy as np
import orjson

BUDGET_S = 2.0
BUDGET_BYTES = 256 * 1024 * 1024


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def conv_rate() -> float:
    from engine.conv import conv1d
    x = np.random.default_rng(1).standard_normal((1, 1, 200_000))
    w = np.ones((1, 1, 1000))
    conv1d(x, w)  # compile or load the kernels
    seconds = best_of(lambda: conv1d(x, w))
    return 200_000 * 1000 / seconds


def evaluate_rates() -> tuple[float, float, float]:
    """(node-lanes/s of engine.evaluate, response numbers/s of the body's JSON, bytes of
    JSON per response number)."""
    import engine
    from service import create_app
    from service.evaluate import evaluation_body
    nodes, lanes = 50, 200_000
    expr = "x"
    for _ in range(nodes - 1):
        expr = f"sigmoid({expr})"
    graph = engine.parse(expr)
    inputs = {"x": np.linspace(-1, 1, lanes)}
    engine.evaluate(graph, inputs)
    eval_s = best_of(lambda: engine.evaluate(graph, inputs))
    ev = engine.evaluate(graph, inputs)
    with create_app({"warmup": "off"}).app_context():
        body = evaluation_body(ev, {})
        options = orjson.OPT_SERIALIZE_NUMPY
        numbers = 4 * len(graph.nodes) * lanes  # values and gradients, by id and by node
        dump_s = best_of(lambda: orjson.dumps(body, option=options), repeats=2)
        size = len(orjson.dumps(body, option=options))
    return len(graph.nodes) * lanes / eval_s, numbers / dump_s, size / numbers


def _export_child(fmt: str, students: int, queue) -> None:
    from worksheets import exports
    from worksheets.generator import Generator, read_request
    before = rss_bytes()
    started = time.perf_counter()
    body = Generator().build(read_request(7, students, None), include_answers=True)
    built = time.perf_counter()
    if fmt != "json":
        exports.render_download(body, [fmt])
    else:
        orjson.dumps(body)
    done = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    problems = sum(len(s["problems"]) for s in body["sheets"])
    queue.put((problems, built - started, done - built, max(peak - before, 0)))


def export_rates(fmt: str, students: int) -> tuple[float, float]:
    """(seconds per problem, bytes per problem) of one format, in a fresh process."""
    ctx = multiprocessing.get_context("spawn")
    runs = []
    for n in (1, students):  # the one-student run pays the start-up; the difference is the rate
        queue = ctx.Queue()
        proc = ctx.Process(target=_export_child, args=(fmt, n, queue))
        proc.start()
        runs.append(queue.get())
        proc.join()
    (p1, b1, r1, m1), (p2, b2, r2, m2) = runs
    return (b2 + r2 - b1 - r1) / (p2 - p1), max(m2 - m1, 0) / (p2 - p1)


def main() -> None:
    madds = conv_rate()
    print(f"conv: {madds / 1e6:,.0f} M multiply-adds/s -> {madds * BUDGET_S:,.0f} in {BUDGET_S} s")
    lanes, numbers, json_bytes = evaluate_rates()
    print(f"evaluate: {lanes / 1e6:,.1f} M node-lanes/s -> {lanes * BUDGET_S:,.0f} in {BUDGET_S} s")
    print(f"response: {numbers / 1e6:,.1f} M numbers/s, {json_bytes:.1f} B each -> "
          f"{min(numbers * BUDGET_S, BUDGET_BYTES / json_bytes):,.0f} numbers")
    from worksheets.exports import FORMATS
    for fmt in FORMATS:
        students = 4 if fmt == "pdf" else 40
        seconds, memory = export_rates(fmt, students)
        limit = min(BUDGET_S / seconds, BUDGET_BYTES / memory if memory else float("inf"))
        print(f"problem set {fmt}: {seconds * 1e3:.2f} ms and {memory / 1e6:.2f} MB per "
              f"problem -> {limit:,.0f} problems")


if __name__ == "__main__":
    main()

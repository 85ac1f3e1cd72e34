"""Problem-set benchmarks (issue 5).

A: 1,000 students x the six types (the whole worksheet), with answers and worked
   solutions, serialised to JSON, through the Python API (worksheets.generate
   + orjson). Goal: >= 6,000 problems/s.
B: the same set through POST /v1/problem-sets: in process (Flask's test client) and
   over HTTP to `gradsheet serve` (one gunicorn worker). Goal: a few seconds at most.
Also: the rate without answers, each type on its own, and grading (one token per call,
the problem regenerated from the token).

Timings are medians of --repeats runs after a warm-up.

Run: .venv/bin/python bench/bench_problemsets.py [--repeats 5] [--students 1000] [--no-http]
"""

from __future__ import annotations

import argparse
import os
import sys

import orjson

os.environ.setdefault("GRADSHEET_SECRET", "bench-problemsets-secret")

from service.local_server import call, local_server  # noqa: E402
from timing import median_time  # noqa: E402
from worksheets import TYPES, generate, grade  # noqa: E402

GOAL = 6000


def rate_line(label: str, problems: int, seconds: float) -> str:
    rate = problems / seconds
    return (f"  {label:<46} {seconds * 1000:8.1f} ms  {rate:9,.0f} problems/s  "
            f"({rate / GOAL:.1f}x the goal of {GOAL:,})")


def bench_api(students: int, repeats: int) -> None:
    n = students * len(TYPES)
    print(f"A: Python API, {students:,} students x {len(TYPES)} types = {n:,} problems")
    sizes = {}

    def with_json():
        sizes["bytes"] = len(orjson.dumps(generate(7, students, include_answers=True)))
    t = median_time(with_json, repeats)
    print(rate_line("answers + solutions, JSON", n, t) + f"  [{sizes['bytes'] / 1e6:.1f} MB]")
    t = median_time(lambda: generate(7, students, include_answers=True), repeats)
    print(rate_line("answers + solutions, no JSON", n, t))
    t = median_time(lambda: orjson.dumps(generate(7, students, include_answers=False)), repeats)
    print(rate_line("without answers, JSON", n, t))
    print("  each type alone, answers + solutions, JSON:")
    for type_id in TYPES:
        t = median_time(lambda: orjson.dumps(generate(7, students, [type_id],
                                                      include_answers=True)), repeats)
        print(f"    {type_id:<22} {students / t:9,.0f} problems/s")
    s = generate(7, 200, include_answers=True)
    items = [(p["token"], p["answers"]) for sheet in s["sheets"] for p in sheet["problems"]]
    t = median_time(lambda: [grade(tok, ans) for tok, ans in items], max(1, repeats // 2))
    print(f"  grading, one token per call: {len(items) / t:,.0f} grades/s "
          f"({t / len(items) * 1e6:.0f} us each)")


# The bench measures sets far above the synchronous limit a server admits by default
# (README, "Limits and settings"), as an instructor.
TOKEN = "bench-instructor-token-0123456789"
LIMITS = {"max_set_problems": 10**7}


def bench_flask(students: int, repeats: int) -> None:
    from service import create_app
    client = create_app({"warmup": "sync", "instructor_tokens": TOKEN, **LIMITS}).test_client()
    body = {"seed": 7, "students": students, "include_answers": True}
    sizes = {}

    def post():
        resp = client.post("/v1/problem-sets", json=body,
                           headers={"Authorization": f"Bearer {TOKEN}"})
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        sizes["bytes"] = len(resp.get_data())
    t = median_time(post, repeats)
    n = students * len(TYPES)
    print(f"B: POST /v1/problem-sets, {n:,} problems with answers")
    print(rate_line("in process (Flask test client)", n, t) + f"  [{sizes['bytes'] / 1e6:.1f} MB]")


def bench_http(students: int, repeats: int) -> None:
    body = {"seed": 7, "students": students, "include_answers": True}
    env = {f"GRADSHEET_{k.upper()}": str(v) for k, v in LIMITS.items()}
    with local_server(workers=1, env=env) as server:
        def post():
            status, _, raw = call(server.base, "/v1/problem-sets", body, timeout=120,
                                  headers=server.auth)
            assert status == 200, raw[:300]
        t = median_time(post, repeats)
        print(rate_line("over HTTP (gunicorn, 1 worker)", students * len(TYPES), t))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--no-http", action="store_true", help="skip the gunicorn run")
    args = parser.parse_args()
    bench_api(args.students, args.repeats)
    bench_flask(args.students, args.repeats)
    if not args.no_http:
        bench_http(args.students, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())

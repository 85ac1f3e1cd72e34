"""Server time of the practice pages, through Flask's test client in one process: a
fresh practice page (variant, figure, MathML statement) and a check of a full set of
answers, for every problem type; the 95th percentile of each against its budget
(20 ms a page, 10 ms a check). The machine may be shared: read the numbers with that
in mind, and compare runs made side by side.

    .venv/bin/python bench/bench_pages.py [--repeats 200]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

import worksheets
from service import create_app
from worksheets.generator import Generator

PAGE_BUDGET_MS, CHECK_BUDGET_MS = 20.0, 10.0
SECRET = "bench-pages-secret"
_TOKEN = re.compile(r'name="token" value="([^"]+)"')


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def leaves(value, name):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, f"{name}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, f"{name}[{i}]")
    else:
        yield name, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    app = create_app({"warmup": "sync", "secret": SECRET, "instructor_tokens": "x" * 16})
    client, gen = app.test_client(), Generator(SECRET)
    print(f"{'type':22} {'page p50/p95 ms':>16} {'check p50/p95 ms':>17}")
    failed = False
    for t in worksheets.TYPES:
        pages, checks = [], []
        for _ in range(args.repeats + 5):
            t0 = time.perf_counter()
            html = client.get(f"/practice/{t}").get_data(as_text=True)
            pages.append(time.perf_counter() - t0)
            token = _TOKEN.search(html).group(1)
            answers = gen.regenerate(token)[4]
            form = {f"p1-{n}": repr(float(v)) for head, value in answers.items()
                    for n, v in leaves(value, head)}
            form.update(token=token, check="1")
            t0 = time.perf_counter()
            body = client.post(f"/practice/{t}", data=form).get_data(as_text=True)
            checks.append(time.perf_counter() - t0)
            assert "every part right" in body
        page_ms, check_ms = 1000 * p95(pages[5:]), 1000 * p95(checks[5:])
        failed |= page_ms > PAGE_BUDGET_MS or check_ms > CHECK_BUDGET_MS
        print(f"{t:22} {1000 * statistics.median(pages[5:]):7.2f} /{page_ms:7.2f} "
              f"{1000 * statistics.median(checks[5:]):8.2f} /{check_ms:7.2f}")
    print(f"budgets: page {PAGE_BUDGET_MS:g} ms, check {CHECK_BUDGET_MS:g} ms at p95: "
          + ("over" if failed else "within"))


if __name__ == "__main__":
    main()

"""Export benchmarks (issue 6): figures and pages for a class of 1,000 students, each
sheet the whole worksheet (six problems).

figures: every student's six figures, blank and filled (12,000 SVGs), first with empty
         caches (each graph family laid out once by grandalf, each strip drawn once per
         geometry) and then the median of --repeats runs. Goal: a few seconds.
pages:   student sheets per second for Markdown, HTML (MathML) and PDF (typst, one
         document per student, on --pdf-students of them), and the LMS exports of the
         whole class (Moodle XML, Canvas QTI zip), each with its figures.

Run: .venv/bin/python bench/bench_exports.py [--students 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import io
import os
import warnings

import pypdf

import worksheets
from worksheets import exports
from worksheets.drawing import conv_figure, graph_figure, graph_layout
from worksheets.exports import html_sheets, markdown_sheets
from worksheets.exports import moodle, pdf_sheets, qti
from worksheets.exports.sheetset import SheetSet
from timing import median_time, timed


def clear_caches() -> None:
    graph_layout.layout.cache_clear()
    graph_figure._template.cache_clear()
    conv_figure.output_size_svg.cache_clear()
    conv_figure.same_padding_svg.cache_clear()


def all_figures(s: SheetSet) -> int:
    """Draw every sheet's figures, blank and filled; how many."""
    n = 0
    for sheet in s.sheets:
        for k in range(len(sheet.problems)):
            sheet.figure(k, False)
            sheet.figure(k, True)
            n += 2
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--students", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pdf-students", type=int, default=100)
    args = ap.parse_args()
    warnings.simplefilter("ignore", worksheets.DevelopmentSecretWarning)
    secret = os.environ.get("GRADSHEET_SECRET", "bench-secret")

    data: dict = {}
    made = timed(lambda: data.update(worksheets.generate(2026, args.students, secret=secret)))
    problems = sum(len(s["problems"]) for s in data["sheets"])
    print(f"set: {args.students} students x {problems // args.students} problems, generated "
          f"with answers in {made:.2f} s (issue 5's generator, for scale)")

    clear_caches()
    count = 0

    def cold():
        nonlocal count
        count = all_figures(SheetSet(data))

    cold_s = timed(cold)
    layouts = graph_layout.layout.cache_info().currsize
    # the cold run above was the warm-up
    warm = median_time(lambda: all_figures(SheetSet(data)), args.repeats, warm_up=False)
    print(f"figures: {count} SVGs ({count // 2} blank + {count // 2} filled), "
          f"{layouts} graph layouts")
    print(f"  empty caches: {cold_s:.2f} s = {count / cold_s:,.0f} figures/s")
    print(f"  warm caches:  {warm:.2f} s = {count / warm:,.0f} figures/s (median of "
          f"{args.repeats})")

    # pages below are timed on top of drawn figures, as one export of several formats is
    s = SheetSet(data)
    all_figures(s)

    def md():
        markdown_sheets.files(s)

    def html():
        for sheet in s.sheets:
            html_sheets.student_page(s, sheet)

    md_s = timed(md)
    html_s = timed(html)
    html_key_s = timed(lambda: html_sheets.key_page(s))
    print("pages (figures already drawn):")
    print(f"  markdown: {args.students} sheets + key in {md_s:.2f} s = "
          f"{args.students / md_s:,.0f} sheets/s")
    print(f"  html:     {args.students} sheets in {html_s:.2f} s = "
          f"{args.students / html_s:,.0f} pages/s; the key ({args.students} sheets with "
          f"solutions) in {html_key_s:.2f} s")

    few = SheetSet({**data, "sheets": data["sheets"][:args.pdf_students]})
    few.sheets = s.sheets[:args.pdf_students]
    pdfs = []
    pdf_s = timed(lambda: pdfs.extend(pdf_sheets.student_pdf(few, sh) for sh in few.sheets))
    pages = sum(len(pypdf.PdfReader(io.BytesIO(p)).pages) for p in pdfs)
    print(f"  pdf:      {len(pdfs)} sheets ({pages} A4 pages) in {pdf_s:.2f} s = "
          f"{len(pdfs) / pdf_s:,.1f} sheets/s, {pages / pdf_s:,.1f} pages/s")

    moodle_s = timed(lambda: moodle.quiz_xml(s))
    qti_s = timed(lambda: qti.files(s))
    size = len(moodle.quiz_xml(s))
    print("LMS (whole class, figures included):")
    print(f"  moodle: {problems} questions in {moodle_s:.2f} s ({size / 1e6:.1f} MB of XML)")
    print(f"  qti:    {problems} items in {qti_s:.2f} s")

    # one end-to-end export, as `gradsheet generate --format html` runs it
    clear_caches()
    e2e = timed(lambda: exports.render(data, ["html"]))
    print(f"end to end: html for {args.students} students + key, empty caches: {e2e:.2f} s")


if __name__ == "__main__":
    main()

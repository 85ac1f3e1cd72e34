"""`gradsheet generate`, `gradsheet grade` and `gradsheet trace`: problem sets from the
command line.

    gradsheet generate --seed 7 --students 30 --out sheets/
    gradsheet generate --seed 7 --roster roster.csv --problems conv_output_size,graph_backprop \\
        --format pdf,html,moodle,qti --out sheets/
    gradsheet grade answers.json
    gradsheet trace --seed 7 --roster roster.csv --sheet leaked.json

Tokens are signed with $GRADSHEET_SECRET; use the same secret to generate, grade and trace.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from worksheets import exports, problem_types
from worksheets.answer_files import grade_file
from worksheets.leaks import trace_leak
from worksheets.roster import read_roster
from worksheets.set_folder import read_problem_list, write_set
from service.cli.templates import read_files


def register(subparsers) -> None:
    g = subparsers.add_parser(
        "generate", help="write a randomized problem set: one file per student and an answer key",
        description="Write one sheet per student (statements, parameters and tokens, no "
                    "answers) and an answer key with every answer and worked solution. "
                    "Without --problems a sheet is the whole worksheet, one problem of each "
                    "type. Numbers depend on the seed, the student id and $GRADSHEET_SECRET.")
    g.add_argument("--seed", type=int, required=True, help="the set's seed (a whole number)")
    who = g.add_mutually_exclusive_group(required=True)
    who.add_argument("--students", type=int, metavar="N",
                     help="N students, named student-01 ... student-N")
    who.add_argument("--roster", metavar="CSV", help="a CSV of student ids: the column named "
                     "id, student or email, else the first column")
    g.add_argument("--problems", metavar="TYPES", help="comma-separated problem types "
                   f"({', '.join(t['id'] for t in problem_types())}), or @FILE with a JSON "
                   'list of {"type": id, ...options}')
    g.add_argument("--templates", action="append", metavar="FILE",
                   help="a YAML or JSON file of problem templates whose ids --problems may "
                        "name (repeatable; see gradsheet check-template)")
    g.add_argument("--format", default="json", metavar="FORMATS",
                   help="comma-separated: " + ", ".join(exports.FORMATS) + " (default: json); "
                        "every format's files go side by side into --out")
    g.add_argument("--out", required=True, metavar="DIR", help="directory to write into")
    g.add_argument("--practice", action="store_true",
                   help="grading shows the expected answer of every part (default: only "
                        "feedback in words)")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: when stderr is a terminal)")
    g.set_defaults(handler=generate)

    r = subparsers.add_parser(
        "grade", help="grade a JSON answers file against its tokens",
        description='Grade {"token", "answers"} objects: one, a list of them, or a sheet '
                    '{"problems": [...]} whose problems carry a token and answers. Prints '
                    "each problem's score and per-part feedback.")
    r.add_argument("answers", metavar="FILE", help="the answers JSON file ('-' for stdin)")
    r.add_argument("--json", action="store_true", help="print the results as JSON")
    r.add_argument("--templates", action="append", metavar="FILE",
                   help="the templates file the set was made with (for template problems)")
    r.set_defaults(handler=grade)

    t = subparsers.add_parser(
        "trace", help="find the student a leaked sheet belongs to",
        description="Every sheet carries its student's variant (a keyed hash of the seed and "
                    "the student id), in its problem ids and tokens. Give the set's seed and "
                    "roster, and the variant, a token, or the leaked sheet's JSON file.")
    t.add_argument("--seed", type=int, required=True)
    who = t.add_mutually_exclusive_group(required=True)
    who.add_argument("--students", type=int, metavar="N")
    who.add_argument("--roster", metavar="CSV")
    what = t.add_mutually_exclusive_group(required=True)
    what.add_argument("--variant", help="the 16-hex-digit variant code")
    what.add_argument("--token", help="a problem token from the sheet")
    what.add_argument("--sheet", metavar="FILE", help="the leaked sheet (JSON)")
    t.set_defaults(handler=trace)


def generate(args) -> int:
    students = read_roster(args.roster) if args.roster else args.students
    problems = read_problem_list(args.problems)
    show = sys.stderr.isatty() if args.progress is None else args.progress
    bar = Progress(show)
    written = write_set(args.seed, students, problems, args.format, args.out,
                        reveal=args.practice, progress=bar.update if show else None,
                        templates=read_files(args.templates))
    bar.done()
    print(f"wrote {written.sheets} sheets ({written.problems} problems) and the answer key as "
          f"{', '.join(written.formats)} to {written.out}")
    return 0


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, show: bool, width: int = 30):
        self.show, self.width = show, width
        self.started = time.perf_counter()

    def update(self, done: int, total: int) -> None:
        if not self.show:
            return
        filled = self.width * done // max(total, 1)
        rate = done / max(time.perf_counter() - self.started, 1e-9)
        sys.stderr.write(f"\rgenerating [{'#' * filled}{'.' * (self.width - filled)}] "
                         f"{done}/{total} students ({rate:.0f}/s)")
        sys.stderr.flush()

    def done(self) -> None:
        if self.show:
            sys.stderr.write("\n")


def grade(args) -> int:
    graded = grade_file(args.answers, read_files(args.templates))
    if args.json:
        print(json.dumps(graded.to_dict(), indent=1, ensure_ascii=False))
        return 0
    for r in graded.problems:
        print(f"{r['problem']} ({r['type']}): {_fmt(r['score'])} / {_fmt(r['max_score'])}")
        for part in r["parts"]:
            mark = "ok " if part["correct"] else "-- "
            shown = "expected" in part and not part["correct"]
            extra = f" (expected {part['expected']})" if shown else ""
            print(f"  {mark}{part['part']}: {part['feedback']}{extra}")
    print(f"total: {_fmt(graded.score)} / {_fmt(graded.max_score)}")
    return 0


def _fmt(x: float) -> str:
    return f"{x:g}"


def trace(args) -> int:
    students = read_roster(args.roster) if args.roster else args.students
    found = trace_leak(args.seed, students, variant=args.variant, token=args.token,
                       sheet=args.sheet)
    if not found:
        print(f"no student of this roster has that sheet (seed {args.seed})", file=sys.stderr)
        return 1
    for student in found:
        print(student)
    return 0

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
from pathlib import Path

from worksheets import exports, problem_types
from worksheets.answer_files import grade_file, read_json_file
from worksheets.errors import ProblemSetError
from worksheets.gradebook import grade_class, write_gradebook
from worksheets.leaks import trace_leak
from worksheets.problem import POINTS
from worksheets.roster import read_roster
from worksheets.exports.sheetset import KEY_STEM
from worksheets.set_folder import MANIFEST, read_problem_list, write_set

KEY_FILE = f"{KEY_STEM}.json"
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
    g.add_argument("--keys", choices=exports.KEYS, default="combined",
                   help="per-student: a key PDF per student in keys/ as well as "
                        "answer-key.pdf (default: combined only)")
    g.add_argument("--force", action="store_true",
                   help="--out holds another set: remove the files its manifest lists "
                        "(only those), then write this one")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: when stderr is a terminal)")
    g.set_defaults(handler=generate, kernels=True)

    r = subparsers.add_parser(
        "grade", help="grade answers files against their tokens: one student, or a class",
        description='Grade {"token", "answers"} objects: one, a list of them, or a sheet '
                    '{"student", "problems": [...]} whose problems carry a token and answers. '
                    "One file: each problem's score and per-part feedback; exit 1 when short "
                    "of full marks. Several files, a folder of them, or a file holding a "
                    "list of sheets: a class, written as a gradebook CSV (student, points per "
                    "problem, total, percent) and a feedback file per student; exit 1 when a "
                    "file could not be graded. Students are named by the roster and seed "
                    "(from their tokens), else by the sheet's \"student\", else by the file "
                    "name.")
    r.add_argument("answers", nargs="+", metavar="FILE",
                   help="answers JSON file(s) or folders of them ('-' for stdin)")
    r.add_argument("--roster", metavar="CSV", help="the class roster: with --seed, each "
                   "sheet is named by the student its tokens belong to")
    r.add_argument("--seed", type=int, help="the set's seed, with --roster")
    r.add_argument("--out", metavar="DIR", help="class grading: write gradebook.csv and "
                   "feedback/<student>.txt here (default: the CSV to stdout)")
    r.add_argument("--json", action="store_true", help="print the results as JSON")
    r.add_argument("--templates", action="append", metavar="FILE",
                   help="the templates file the set was made with (for template problems)")
    r.set_defaults(handler=grade, kernels=True)

    ty = subparsers.add_parser(
        "types", help="list the problem types with their options, defaults and points",
        description="Every problem type --problems accepts: its id and title, each option "
                    "with its kind, default and what it does, and what each answer part "
                    'is worth. Options go in a --problems @FILE list as {"type": id, '
                    "option: value}.")
    ty.add_argument("--json", action="store_true", help="print them as JSON")
    ty.set_defaults(handler=types)

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
    t.set_defaults(handler=trace, kernels=True)


def generate(args) -> int:
    students = read_roster(args.roster) if args.roster else args.students
    problems = read_problem_list(args.problems)
    show = sys.stderr.isatty() if args.progress is None else args.progress
    progress = (Bars() if sys.stderr.isatty() else Lines()) if show else None
    try:
        written = write_set(args.seed, students, problems, args.format, args.out,
                            reveal=args.practice, force=args.force,
                            templates=read_files(args.templates), keys=args.keys,
                            progress=progress.students if progress else None,
                            writing=progress.writing if progress else None)
    finally:
        if progress:
            progress.close()
    if written.removed:
        print(f"removed the {len(written.removed)} files of the set that was in {written.out}")
    print(f"wrote {written.sheets} sheets ({written.problems} problems) and the answer key as "
          f"{', '.join(written.formats)} to {written.out}")
    return 0


class Lines:
    """Progress as plain lines on stderr, for a log or a pipe: one per chunk of
    students and one per format written, each with the seconds so far."""

    def __init__(self, width: int = 30):
        self.width = width
        self.started = time.perf_counter()

    def _elapsed(self) -> float:
        return time.perf_counter() - self.started

    def students(self, done: int, total: int) -> None:
        filled = self.width * done // max(total, 1)
        rate = done / max(self._elapsed(), 1e-9)
        print(f"generating [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} "
              f"students ({rate:.0f}/s)", file=sys.stderr, flush=True)

    def writing(self, fmt: str) -> None:
        print(f"writing {fmt} files{_SLOW.get(fmt, '')} ({self._elapsed():.1f} s so far)",
              file=sys.stderr, flush=True)

    def close(self) -> None:
        print(f"done in {self._elapsed():.1f} s", file=sys.stderr, flush=True)


class Bars:
    """Progress bars on a terminal (rich): the students, then each format's files."""

    def __init__(self):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
        from rich.progress import TimeElapsedColumn
        from rich.console import Console
        self.bars = Progress(TextColumn("{task.description}"), BarColumn(),
                             MofNCompleteColumn(), TimeElapsedColumn(),
                             console=Console(stderr=True), transient=False)
        self.bars.start()
        self.sheets = None
        self.format = None

    def students(self, done: int, total: int) -> None:
        if self.sheets is None:
            self.sheets = self.bars.add_task("generating students", total=total)
        self.bars.update(self.sheets, completed=done)

    def writing(self, fmt: str) -> None:
        if self.format is not None:
            self.bars.update(self.format, completed=1)
        self.format = self.bars.add_task(f"writing {fmt} files{_SLOW.get(fmt, '')}", total=1)

    def close(self) -> None:
        if self.format is not None:
            self.bars.update(self.format, completed=1)
        self.bars.stop()


# What a format's files cost, where a reader would otherwise think the bar stuck.
_SLOW = {"pdf": ": typesetting one PDF per student and the key"}


def grade(args) -> int:
    if (len(args.answers) > 1 or args.out or args.roster or args.seed is not None
            or Path(args.answers[0]).is_dir() or _holds_sheets(args.answers[0])):
        return grade_class_files(args)
    graded = grade_file(args.answers[0], read_files(args.templates))
    full = graded.score >= graded.max_score
    if args.json:
        print(json.dumps(graded.to_dict(), indent=1, ensure_ascii=False))
        return 0 if full else 1
    for r in graded.problems:
        print(f"{r['problem']} ({r['type']}): {_fmt(r['score'])} / {_fmt(r['max_score'])}")
        for part in r["parts"]:
            mark = "ok " if part["correct"] else "-- "
            shown = "expected" in part and not part["correct"]
            extra = f" (expected {part['expected']})" if shown else ""
            print(f"  {mark}{part['part']}: {part['feedback']}{extra}")
    print(f"total: {_fmt(graded.score)} / {_fmt(graded.max_score)}")
    return 0 if full else 1


def _holds_sheets(path: str) -> bool:
    """Whether an answers file holds several students' sheets (a class in one file)."""
    if path == "-":
        return False
    data = read_json_file(path)
    return (isinstance(data, dict) and isinstance(data.get("sheets"), list)) or (
        isinstance(data, list) and bool(data)
        and all(isinstance(s, dict) and "problems" in s for s in data))


def _class_files(paths: list[str]) -> list[tuple[str, bytes]]:
    out = []
    for path in paths:
        p = Path(path)
        try:
            if p.is_dir():
                out += [(f.name, f.read_bytes()) for f in sorted(p.glob("*.json"))
                        if f.name not in (KEY_FILE, MANIFEST)]
            else:
                out.append((p.name, sys.stdin.buffer.read() if path == "-" else p.read_bytes()))
        except OSError as exc:
            raise ProblemSetError(f"cannot read {path}: {exc.strerror}", path="answers") from None
    if not out:
        raise ProblemSetError(f"no .json answers files in {', '.join(paths)}", path="answers")
    return out


def grade_class_files(args) -> int:
    roster = read_roster(args.roster) if args.roster else None
    book = grade_class(_class_files(args.answers), roster=roster, seed=args.seed,
                       templates=read_files(args.templates))
    if args.out:
        written = write_gradebook(book, args.out)
        for s in book.students:
            state = f"error: {s.error}" if s.error else f"{_fmt(s.score)} / {_fmt(s.max_score)}"
            print(f"{s.student}: {state}", file=sys.stderr if args.json else sys.stdout)
        print(f"wrote {written}", file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(book.to_dict(), indent=1, ensure_ascii=False))
    elif not args.out:
        sys.stdout.write(book.csv_text())
    return 1 if any(s.error for s in book.students) else 0


def _fmt(x: float) -> str:
    return f"{x:g}"


def types(args) -> int:
    listed = problem_types()
    for t in listed:
        t["points"] = dict(POINTS.get(t["id"], {}))
    if args.json:
        print(json.dumps({"types": listed}, indent=1, ensure_ascii=False))
        return 0
    for t in listed:
        print(f"{t['id']}: {t['title']}")
        for name, doc in t["options"].items():
            print(f"  {name} = {json.dumps(doc['default'])}  ({_kind(doc)}): "
                  f"{doc['description']}")
        if not t["options"]:
            print("  (no options)")
        points = ", ".join(f"{part} {n}" for part, n in t["points"].items())
        print(f"  points: {points} (total {sum(t['points'].values())})")
    return 0


def _kind(doc: dict) -> str:
    if "enum" in doc:
        return "one of " + ", ".join(map(str, doc["enum"]))
    if doc.get("type") == "array":
        return "a list of " + ", ".join(map(str, doc["items"]["enum"]))
    if doc.get("type") == "integer":
        return f"a whole number {doc['minimum']}..{doc['maximum']}"
    return str(doc.get("type", "value"))


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

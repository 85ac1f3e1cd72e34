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
import csv
import json
import sys
import time
from pathlib import Path

from worksheets import exports
from worksheets import GENERATOR_VERSION, Generator, ProblemSetError, problem_types
from worksheets.generator import read_request

# Students per engine call while a progress bar is shown: each chunk is still batched.
CHUNK = 100


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


# --- generate ------------------------------------------------------------------------

def read_roster(path: str) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [row for row in csv.reader(f) if any(cell.strip() for cell in row)]
    except OSError as exc:
        raise ProblemSetError(f"cannot read {path}: {exc.strerror}", path="--roster") from None
    if not rows:
        raise ProblemSetError(f"{path} holds no student ids", path="--roster")
    header = [cell.strip().lower() for cell in rows[0]]
    column = next((header.index(n) for n in ("id", "student", "student_id", "email")
                   if n in header), None)
    if column is None:
        column, body = 0, rows
    else:
        body = rows[1:]
    ids = [row[column].strip() if column < len(row) else "" for row in body]
    for line, sid in enumerate(ids, start=len(rows) - len(body) + 1):
        if not sid:
            raise ProblemSetError(f"{path}, line {line}: no student id in column "
                                  f"{column + 1}", path="--roster")
    if not ids:
        raise ProblemSetError(f"{path} holds a header but no student ids", path="--roster")
    return ids


def read_problem_list(text: str | None):
    if text is None:
        return None
    if text.startswith("@"):
        try:
            with open(text[1:], encoding="utf-8") as f:
                return json.load(f)
        except OSError as exc:
            raise ProblemSetError(f"cannot read {text[1:]}: {exc.strerror}",
                                  path="--problems") from None
        except json.JSONDecodeError as exc:
            raise ProblemSetError(f"{text[1:]} is not valid JSON: {exc.msg} (line {exc.lineno})",
                                  path="--problems") from None
    return [name.strip() for name in text.split(",") if name.strip()]


def generate(args) -> int:
    students = read_roster(args.roster) if args.roster else args.students
    formats = exports.parse_formats(args.format)
    request = read_request(args.seed, students, read_problem_list(args.problems))
    gen = Generator()
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProblemSetError(f"cannot create {out}: {exc.strerror}", path="--out") from None
    show = sys.stderr.isatty() if args.progress is None else args.progress
    total = len(request.students)
    bar = Progress(total, show)
    sheets = []
    step = CHUNK if show else total
    for start in range(0, total, step):
        part = read_request(request.seed, request.students[start:start + step],
                            [dict(given, type=t.id) for t, given, _ in request.problems])
        sheets += gen.build(part, include_answers=True, reveal=args.practice)["sheets"]
        bar.update(len(sheets))
    bar.done()
    key = {"seed": request.seed, "version": GENERATOR_VERSION, "sheets": sheets}
    exports.write(key, formats, out)
    n = sum(len(s["problems"]) for s in sheets)
    print(f"wrote {len(sheets)} sheets ({n} problems) and the answer key as "
          f"{', '.join(formats)} to {out}")
    return 0


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, total: int, show: bool, width: int = 30):
        self.total, self.show, self.width = total, show, width
        self.started = time.perf_counter()

    def update(self, done: int) -> None:
        if not self.show:
            return
        filled = self.width * done // max(self.total, 1)
        rate = done / max(time.perf_counter() - self.started, 1e-9)
        sys.stderr.write(f"\rgenerating [{'#' * filled}{'.' * (self.width - filled)}] "
                         f"{done}/{self.total} students ({rate:.0f}/s)")
        sys.stderr.flush()

    def done(self) -> None:
        if self.show:
            sys.stderr.write("\n")


# --- grade -----------------------------------------------------------------------------

def read_json(path: str):
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ProblemSetError(f"cannot read {path}: {exc.strerror}", path="answers") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProblemSetError(f"{path} is not valid JSON: {exc.msg} (line {exc.lineno}, "
                              f"column {exc.colno})", path="answers") from None


def submissions(data) -> list[tuple[str, dict]]:
    """(where, {"token", "answers"}) for each problem in an answers file."""
    if isinstance(data, dict) and "problems" in data:
        data, where = data["problems"], "problems"
    elif isinstance(data, dict):
        return [("answers file", _submission(data, "answers file"))]
    else:
        where = "answers file"
    if not isinstance(data, list) or not data:
        raise ProblemSetError('must hold {"token", "answers"} objects', path="answers file")
    return [(f"{where}[{i}]", _submission(item, f"{where}[{i}]")) for i, item in enumerate(data)]


def _submission(item, where: str) -> dict:
    if not isinstance(item, dict) or "token" not in item:
        raise ProblemSetError('must be an object with "token" and "answers"', path=where)
    return item


def grade(args) -> int:
    gen = Generator()
    results = []
    for where, item in submissions(read_json(args.answers)):
        try:
            results.append(gen.grade(item["token"], item.get("answers", {})))
        except ProblemSetError as exc:
            raise ProblemSetError(exc.message, path=f"{where}.{exc.path}") from None
    score = sum(r["score"] for r in results)
    max_score = sum(r["max_score"] for r in results)
    if args.json:
        print(json.dumps({"score": score, "max_score": max_score, "problems": results},
                         indent=1, ensure_ascii=False))
        return 0
    for r in results:
        print(f"{r['problem']} ({r['type']}): {_fmt(r['score'])} / {_fmt(r['max_score'])}")
        for part in r["parts"]:
            mark = "ok " if part["correct"] else "-- "
            shown = "expected" in part and not part["correct"]
            extra = f" (expected {part['expected']})" if shown else ""
            print(f"  {mark}{part['part']}: {part['feedback']}{extra}")
    print(f"total: {_fmt(score)} / {_fmt(max_score)}")
    return 0


def _fmt(x: float) -> str:
    return f"{x:g}"


# --- trace -----------------------------------------------------------------------------

def trace(args) -> int:
    students = read_roster(args.roster) if args.roster else args.students
    gen = Generator()
    variant, token = args.variant, args.token
    if args.sheet:
        variant, token = leaked_codes(read_json(args.sheet))
    found = gen.trace(args.seed, students, variant=variant, token=token)
    if not found:
        print(f"no student of this roster has that sheet (seed {args.seed})", file=sys.stderr)
        return 1
    for student in found:
        print(student)
    return 0


def leaked_codes(data) -> tuple[str | None, str | None]:
    """(variant, token) found in a leaked sheet: its variant field, a problem id
    ("<variant>-<n>") or a token."""
    sheet = data["sheets"][0] if isinstance(data, dict) and data.get("sheets") else data
    if isinstance(sheet, dict):
        if isinstance(sheet.get("variant"), str):
            return sheet["variant"], None
        for p in sheet.get("problems") or []:
            if isinstance(p, dict) and isinstance(p.get("token"), str):
                return None, p["token"]
            if isinstance(p, dict) and isinstance(p.get("id"), str) and "-" in p["id"]:
                return p["id"].rsplit("-", 1)[0], None
    raise ProblemSetError("holds no variant, problem id or token to trace", path="--sheet")

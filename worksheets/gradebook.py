"""A class graded at once: answers files in, a gradebook CSV and each student's
feedback out, for `gradsheet grade` on a folder and for an instructor's upload alike.

    >>> book = grade_class([("ada.json", data)], roster=["ada", "alan"], seed=7)  # doctest: +SKIP
    >>> book.csv_text()                                                          # doctest: +SKIP

Each file holds one student's answers: a sheet as `gradsheet generate --format json`
writes it with an "answers" object added to each problem, a list of {"token",
"answers"} objects, or {"student", "problems": [...]}. A file may also hold a list of
such sheets (several students). Who a sheet belongs to, in this order:

1. with a roster and the set's seed, the student whose variant the tokens carry (the
   tokens are signed, so this cannot be claimed falsely; a "student" field that names
   someone else is reported);
2. else the sheet's "student" field;
3. else the file's name without its extension.

Points come from the weights table (worksheets.problem.POINTS), the same that Moodle
and Canvas read, so the gradebook agrees with an LMS quiz of the same set.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from worksheets.answer_files import submissions
from worksheets.errors import ProblemSetError
from worksheets.exports.archive import File, write_files
from worksheets.exports.sheetset import file_stem
from worksheets.generator import Generator, read_students

# What one upload may hold: every problem graded costs a regeneration.
MAX_FILE_BYTES = 2_000_000
GRADEBOOK_FILE = "gradebook.csv"


@dataclass
class StudentGrade:
    """One student's graded sheet: every problem's grade (as Generator.grade gives it)
    by its place on the sheet, or the error that stopped the file being graded."""

    student: str
    source: str
    problems: dict = field(default_factory=dict)    # place on the sheet (1-based) -> grade
    notes: list = field(default_factory=list)
    error: str | None = None

    @property
    def score(self) -> float:
        return round(sum(g["score"] for g in self.problems.values()), 6)

    @property
    def max_score(self) -> float:
        return sum(g["max_score"] for g in self.problems.values())

    def feedback_text(self) -> str:
        """The student's feedback in words: every problem and part, and the total."""
        lines = [f"gradsheet feedback for {self.student} ({self.source})"]
        lines += [f"note: {n}" for n in self.notes]
        if self.error is not None:
            return "\n".join(lines + [f"not graded: {self.error}"]) + "\n"
        for place, g in sorted(self.problems.items()):
            lines.append(f"P{place} ({g['type']}): {g['score']:g} / {g['max_score']:g}")
            for part in g["parts"]:
                mark = "ok" if part["correct"] else "--"
                shown = "expected" in part and not part["correct"]
                extra = f" (expected {part['expected']})" if shown else ""
                lines.append(f"  {mark} {part['part']}: {part['feedback']}{extra}")
        lines.append(f"total: {self.score:g} / {self.max_score:g}")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict:
        out = {"student": self.student, "source": self.source, "score": self.score,
               "max_score": self.max_score, "notes": self.notes,
               "problems": [self.problems[k] for k in sorted(self.problems)]}
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass
class Gradebook:
    students: list[StudentGrade]

    @property
    def places(self) -> list[int]:
        return sorted({k for s in self.students for k in s.problems})

    def _possible(self, place: int) -> float:
        return max((s.problems[place]["max_score"] for s in self.students
                    if place in s.problems), default=0.0)

    def header(self) -> list[str]:
        cols = [f"P{k} ({self._possible(k):g} pts)" for k in self.places]
        return ["Student", "SIS Login ID", *cols, "gradsheet total", "gradsheet percent"]

    def rows(self) -> list[list[str]]:
        possible = sum(self._possible(k) for k in self.places)
        out = []
        for s in self.students:
            points = [f"{s.problems[k]['score']:g}" if k in s.problems else ""
                      for k in self.places]
            total = "" if s.error else f"{s.score:g}"
            percent = "" if s.error or not possible else f"{100 * s.score / possible:.2f}"
            out.append([_cell(s.student), _cell(s.student), *points, total, percent])
        return out

    def csv_text(self) -> str:
        """The gradebook as CSV: one row per student, a column per problem (points),
        the total and the percent of the set's points; a file that could not be graded
        leaves its cells empty."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(self.header())
        writer.writerows(self.rows())
        return buffer.getvalue()

    def feedback(self) -> dict[str, str]:
        """Student id -> their feedback text."""
        return {s.student: s.feedback_text() for s in self.students}

    def to_dict(self) -> dict:
        return {"students": [s.to_dict() for s in self.students], "csv": self.csv_text()}


# A spreadsheet runs a cell that starts with one of these as a formula; a student id
# from an uploaded file is text, so it is written with a leading apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def grade_class(files: list[tuple[str, bytes]], *, roster=None, seed: int | None = None,
                secret=None, generator: Generator | None = None, templates=None) -> Gradebook:
    """Grade every (file name, bytes) of a class. A file that cannot be read or graded
    is a row with its error, never an exception; ProblemSetError only for a roster
    given without a seed, or the other way round."""
    gen = generator or Generator(secret)
    by_variant = _variants(gen, roster, seed)
    graded: list[StudentGrade] = []
    for name, data in files:
        stem = PurePath(name).stem or name
        try:
            sheets = _sheets(name, data)
        except ProblemSetError as exc:
            graded.append(StudentGrade(stem, name, error=str(exc)))
            continue
        for k, sheet in enumerate(sheets):
            fallback = stem if len(sheets) == 1 else f"{stem}[{k}]"
            graded.append(_grade_sheet(gen, name, sheet, fallback, by_variant, templates))
    return Gradebook(graded)


def _variants(gen: Generator, roster, seed) -> dict | None:
    if roster is None and seed is None:
        return None
    if roster is None or seed is None:
        raise ProblemSetError("name students by their tokens with both a roster and the "
                              "set's seed", path="roster" if roster is None else "seed")
    return {gen.variant(seed, s): str(s) for s in read_students(roster)}


def _sheets(name: str, data: bytes) -> list:
    """The sheets in one file: each an object {"student"?, "problems"} or a list of
    {"token", "answers"}."""
    if len(data) > MAX_FILE_BYTES:
        raise ProblemSetError(f"{name} has {len(data)} bytes; an answers file has at most "
                              f"{MAX_FILE_BYTES}", path=name)
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProblemSetError(f"{name} is not a JSON answers file: {exc}", path=name) from None
    if isinstance(doc, dict) and isinstance(doc.get("sheets"), list):
        return doc["sheets"]
    if isinstance(doc, list) and doc and all(isinstance(s, dict) and "problems" in s
                                             for s in doc):
        return doc
    return [doc]


def _grade_sheet(gen: Generator, name: str, sheet, fallback: str, by_variant,
                 templates=None) -> StudentGrade:
    claimed = sheet.get("student") if isinstance(sheet, dict) else None
    result = StudentGrade(str(claimed) if claimed is not None else fallback, name)
    try:
        items = submissions(sheet)
    except ProblemSetError as exc:
        result.error = str(exc)
        return result
    variants = set()
    for where, item in items:
        try:
            ticket = gen.signer.read(item["token"])
            g = gen.grade(item["token"], item.get("answers", {}), templates)
        except ProblemSetError as exc:
            result.notes.append(f"{where}: {exc.message} ({exc.path})" if exc.path
                                else f"{where}: {exc.message}")
            continue
        variants.add(ticket.variant)
        place = ticket.index + 1
        if place in result.problems:
            result.notes.append(f"{where}: P{place} is answered twice; the first counts")
            continue
        result.problems[place] = g
    if len(variants) > 1:
        result.notes.append("the tokens come from more than one student's sheet")
    if by_variant is not None and variants:
        owners = {by_variant.get(v) for v in variants}
        if None in owners:
            result.error = "its tokens belong to no student of the roster (another seed?)"
            result.problems = {}
        else:
            owner = sorted(owners)[0]
            if claimed is not None and str(claimed) != owner:
                result.notes.append(f"the file says student {claimed!r}, but its tokens are "
                                    f"{owner!r}'s sheet")
            result.student = owner
    if not result.problems and result.error is None:
        result.error = "no problem could be graded"
    return result


def gradebook_files(book: Gradebook) -> list[File]:
    """gradebook.csv and feedback/<student>.txt (file names made safe as `gradsheet
    generate` makes them): what `write_gradebook` writes and the instructor page zips."""
    files = [File(GRADEBOOK_FILE, book.csv_text().encode("utf-8"))]
    taken: set = set()
    for s in book.students:
        files.append(File(f"feedback/{file_stem(s.student, taken)}.txt",
                          s.feedback_text().encode("utf-8")))
    return files


def write_gradebook(book: Gradebook, out_dir) -> Path:
    """`gradebook_files` under `out_dir`; the folder written."""
    out = Path(out_dir)
    try:
        write_files(gradebook_files(book), out)
    except OSError as exc:
        raise ProblemSetError(f"cannot write to {out}: {exc.strerror}", path="--out") from None
    return out


def count_problems(files: list[tuple[str, bytes]]) -> int:
    """How many problems the files hold, counted before grading any (to price the
    work); a file that cannot be read counts as one."""
    total = 0
    for name, data in files:
        try:
            total += sum(len(submissions(sheet)) for sheet in _sheets(name, data))
        except ProblemSetError:
            total += 1
    return total

"""A class's answer files graded into a gradebook CSV, for the instructor page.

A stand-in until worksheets/gradebook.py (grade_class(files) -> Gradebook) lands on
main: each file is read as `gradsheet grade` reads one (worksheets.answer_files), each
problem graded against its token, and one row per file gives the student, the score
and the feedback per part in words. A file that cannot be read or graded gets a row
saying why, never a failed page.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import PurePath

from worksheets.answer_files import submissions
from worksheets.errors import ProblemSetError

COLUMNS = ("student", "file", "score", "max_score", "percent", "feedback")
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class GradeRow:
    student: str
    file: str
    score: float | None
    max_score: float | None
    feedback: str

    def cells(self) -> list[str]:
        percent = ("" if not self.max_score else f"{100 * self.score / self.max_score:.1f}")
        return [_cell(self.student), _cell(self.file),
                "" if self.score is None else f"{self.score:g}",
                "" if self.max_score is None else f"{self.max_score:g}", percent,
                _cell(self.feedback)]


def problems_in(files: list[tuple[str, bytes]]) -> int:
    """How many problems the files hold, counted before grading any (for admission);
    an unreadable file counts as one."""
    total = 0
    for _, data in files:
        try:
            total += len(submissions(json.loads(data)))
        except (ValueError, ProblemSetError):
            total += 1
    return total


def grade_files(generator, files: list[tuple[str, bytes]]) -> list[GradeRow]:
    """One row per (file name, bytes), graded with `generator` (Generator.grade)."""
    return [_grade_file(generator, name, data) for name, data in files]


def _grade_file(generator, name: str, data: bytes) -> GradeRow:
    stem = PurePath(name).stem or name
    try:
        parsed = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return GradeRow(stem, name, None, None, "could not grade: the file is not UTF-8 text")
    except json.JSONDecodeError as exc:
        return GradeRow(stem, name, None, None, f"could not grade: not valid JSON ({exc.msg}, "
                                                f"line {exc.lineno})")
    student = parsed.get("student") if isinstance(parsed, dict) else None
    student = str(student) if isinstance(student, (str, int)) else stem
    try:
        items = submissions(parsed)
    except ProblemSetError as exc:
        return GradeRow(student, name, None, None, f"could not grade: {exc}")
    score = max_score = 0.0
    notes = []
    for where, item in items:
        try:
            result = generator.grade(item["token"], item.get("answers", {}))
        except ProblemSetError as exc:
            notes.append(f"{where}: could not grade ({exc.path}: {exc.message})")
            continue
        score += result["score"]
        max_score += result["max_score"]
        misses = [f"{p['part']} {p['feedback']}" for p in result["parts"] if not p["correct"]]
        notes.append(f"problem {result['problem']} ({result['type']}): "
                     f"{result['score']:g}/{result['max_score']:g}"
                     + (f"; {'; '.join(misses)}" if misses else ""))
    return GradeRow(student, name, round(score, 6), max_score, " | ".join(notes))


def csv_text(rows: list[GradeRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(row.cells())
    return out.getvalue()


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text

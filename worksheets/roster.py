"""A class roster: the student ids of a CSV file, as `gradsheet generate --roster` and
`gradsheet trace --roster` read it."""

from __future__ import annotations

import csv

from worksheets.errors import ProblemSetError

# Header names that mark the id column; without one of them the first column is the id
# and the first row a student.
ID_COLUMNS = ("id", "student", "student_id", "email")


def read_roster(path: str) -> list[str]:
    """The student ids in `path`: the column named id, student, student_id or email,
    else the first column. Blank rows are skipped; a row without an id is an error
    naming its line."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [row for row in csv.reader(f) if any(cell.strip() for cell in row)]
    except OSError as exc:
        raise ProblemSetError(f"cannot read {path}: {exc.strerror}", path="--roster") from None
    if not rows:
        raise ProblemSetError(f"{path} holds no student ids", path="--roster")
    header = [cell.strip().lower() for cell in rows[0]]
    column = next((header.index(n) for n in ID_COLUMNS if n in header), None)
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

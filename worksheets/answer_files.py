"""Answers files, as `gradsheet grade` reads them: {"token", "answers"} objects, one, a
list of them, or a sheet {"problems": [...]} whose problems carry a token and answers;
each graded against its token."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from worksheets.errors import ProblemSetError
from worksheets.generator import Generator


@dataclass(frozen=True)
class GradedFile:
    """Every problem's grade (as Generator.grade gives it) and the totals."""

    problems: list
    score: float
    max_score: float

    def to_dict(self) -> dict:
        return {"score": self.score, "max_score": self.max_score, "problems": self.problems}


def read_json_file(path: str):
    """The JSON in `path` ('-' for stdin); ProblemSetError when it cannot be read or
    parsed, naming where."""
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


def grade_file(path: str, templates=None) -> GradedFile:
    """Grade every submission in the answers file at `path`, template problems against
    `templates`; an error names the problem it is in."""
    gen = Generator()
    results = []
    for where, item in submissions(read_json_file(path)):
        try:
            results.append(gen.grade(item["token"], item.get("answers", {}), templates))
        except ProblemSetError as exc:
            raise ProblemSetError(exc.message, path=f"{where}.{exc.path}") from None
    return GradedFile(results, sum(r["score"] for r in results),
                      sum(r["max_score"] for r in results))

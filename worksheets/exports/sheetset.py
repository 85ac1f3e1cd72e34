"""A problem set (issue 5's JSON shape) read once for every export format: its sheets
with safe, unique file names, each problem's title, and its figures drawn once however
many formats use them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from worksheets.exports.errors import ExportError
from worksheets.problems import TYPES

KEY_STEM = "answer-key"   # the key's file name, as `gradsheet generate` names it


@dataclass
class Sheet:
    student: object
    variant: str
    stem: str                  # file name without extension: the student id made safe
    problems: list
    _figures: dict = field(default_factory=dict)

    def figure(self, k: int, key: bool) -> str | None:
        """SVG of problem k (0-based), blank or for the key; drawn once."""
        slot = (k, key)
        if slot not in self._figures:
            self._figures[slot] = figure(self.problems[k], key, k + 1)
        return self._figures[slot]


class SheetSet:
    """The sheets of a set, with `has_answers` when every problem carries its key."""

    def __init__(self, data: dict):
        if not isinstance(data, dict) or not isinstance(data.get("sheets"), list) \
                or not data["sheets"]:
            raise ExportError("a problem set has a non-empty list of sheets", path="sheets")
        self.seed = data.get("seed")
        self.version = data.get("version", "")
        taken: set[str] = set()
        self.sheets: list[Sheet] = []
        for i, s in enumerate(data["sheets"]):
            if not isinstance(s, dict) or not isinstance(s.get("problems"), list):
                raise ExportError("a sheet has a list of problems", path=f"sheets[{i}]")
            for j, p in enumerate(s["problems"]):
                for name in ("type", "statement", "parameters"):
                    if not isinstance(p, dict) or name not in p:
                        raise ExportError(f"a problem has a {name}",
                                          path=f"sheets[{i}].problems[{j}]")
            self.sheets.append(Sheet(s.get("student", i + 1), str(s.get("variant", "")),
                                     file_stem(s.get("student", i + 1), taken), s["problems"]))
        self.has_answers = all("answers" in p for s in self.sheets for p in s.problems)
        self.slots = len(self.sheets[0].problems)

    def require_answers(self, fmt: str) -> None:
        if not self.has_answers:
            raise ExportError(f"the {fmt} export needs every problem's answers: make the set "
                              "with answers (include_answers)", path="format")

    @property
    def name(self) -> str:
        """gradsheet-7: what the set's files and quizzes are called."""
        return f"gradsheet-{self.seed}" if self.seed is not None else "gradsheet"


def figure(problem: dict, key: bool, number: int | None = None) -> str | None:
    """SVG text of the problem's figure, drawn by its type (None for a type without
    one). `key` fills in the answers, which the problem must then hold."""
    t = TYPES.get(problem["type"])
    if t is None or t.figure_shows is None:
        return None
    title = (f"Problem {number}: " if number is not None else "") + t.figure_shows + \
        (" (answer key)" if key else "")
    return t.figure(problem, key, title)


def title(problem: dict) -> str:
    t = TYPES.get(problem["type"])
    return t.title if t is not None else problem["type"].replace("_", " ")


def file_stem(student, taken: set) -> str:
    """The student id as a file name (letters, digits, . _ -), unique among `taken`
    ignoring case and never the key's name: the same rule as `gradsheet generate`."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", str(student)).strip("._")[:80] or "student"
    name, k = base, 2
    while name.lower() in taken or name.lower() == KEY_STEM:
        name, k = f"{base}-{k}", k + 1
    taken.add(name.lower())
    return name

"""One problem's answer as a web form: one labelled input per number of its key (per
node value, per gradient, per step value, per output position), the numbers students
type read into the submission the grader takes, and the grader's parts matched back to
the inputs they mark.

Inputs are grouped as the grader marks them: a map's numbers each on their own
(`values.q`, `gradients.w1`), a list as a whole (`windows`, `output`), so feedback sits
beside exactly the inputs it is about.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction

from worksheets.exports.parts import answer_parts
from worksheets.grading import CARRIED, MISSING

# What students type: -0.75, .5, 3/4, -3 / 4, 1e-3, 1.5E+2, with a typographic minus too.
_DECIMAL = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBER = re.compile(rf"\s*({_DECIMAL})\s*(?:/\s*({_DECIMAL})\s*)?")
FORMS = "a number such as -0.75, 3/4 or 1e-3"
MAX_CHARS = 64


class NumberError(ValueError):
    """What is wrong with a typed number, in words for the student."""


def read_typed_number(text: str) -> float:
    """The number a student typed; NumberError saying what is wrong otherwise."""
    typed = text.replace("\u2212", "-").replace("\u2013", "-")
    if len(typed) > MAX_CHARS:
        raise NumberError(f"is {len(typed)} characters long; write {FORMS}")
    m = _NUMBER.fullmatch(typed)
    if m is None:
        shown = typed.strip()
        if "," in shown and _NUMBER.fullmatch(shown.replace(",", ".")):
            raise NumberError(f"{shown!r}: write the decimal point as a dot, not a comma")
        raise NumberError(f"{shown!r} is not {FORMS}")
    top, bottom = m.group(1), m.group(2)
    if bottom is None:
        value = float(top)
    else:
        if float(bottom) == 0:
            raise NumberError(f"{typed.strip()!r} divides by zero")
        value = float(Fraction(top) / Fraction(bottom))
    if not math.isfinite(value):
        raise NumberError(f"{typed.strip()!r} is too large")
    return value


@dataclass
class Field:
    """One input: its form name (`p0-values.q`), label in words, and what was typed."""

    name: str
    label: str
    path: tuple
    typed: str = ""
    error: str | None = None
    expected: float | None = None


@dataclass
class Group:
    """The inputs the grader marks as one part, and that part's result once graded."""

    part: str
    tolerance: str
    fields: list = field(default_factory=list)
    result: dict | None = None

    @property
    def status(self) -> str | None:
        """right, carried, wrong, missing (or None before grading)."""
        r = self.result
        if r is None:
            return None
        if r["correct"]:
            return "carried" if r["feedback"] == CARRIED else "right"
        return "missing" if r["feedback"] == MISSING else "wrong"


def groups_of(problem: dict, prefix: str, tolerances: dict) -> list[Group]:
    """The input groups of `problem` (type, parameters, answers, tolerance as a set
    holds it), form names starting with `prefix`; `tolerances` maps each top-level part
    to its Tolerance."""
    answers = problem["answers"]
    out: dict[str, Group] = {}
    for part in answer_parts(problem):
        head = part.path[0]
        key = f"{head}.{part.path[1]}" if isinstance(answers[head], dict) else head
        group = out.get(key)
        if group is None:
            tol = tolerances.get(head)
            group = out[key] = Group(key, tol.describe() if tol is not None else "exactly")
        group.fields.append(Field(f"{prefix}{part.name}", part.label, part.path,
                                  expected=part.value))
    return list(out.values())


def read_answers(groups: list[Group], answers: dict, form) -> dict:
    """The submission (the key's shape) from what `form` (a mapping of form names to
    text) holds for `groups`; each field keeps what was typed and any error. A list
    is sent only when every position of it is filled, a map's number when it is."""
    submitted: dict = {}
    for group in groups:
        for f in group.fields:
            f.typed = (form.get(f.name) or "")[:MAX_CHARS * 2]
            f.error = None
    for group in groups:
        filled = [f for f in group.fields if f.typed.strip()]
        values = []
        for f in filled:
            try:
                values.append((f, read_typed_number(f.typed)))
            except NumberError as exc:
                f.error = str(exc)
        if not filled or any(f.error for f in filled):
            continue
        if len(filled) < len(group.fields):
            for f in group.fields:
                if not f.typed.strip():
                    f.error = ("empty: this list is marked as a whole, so fill in every "
                               "position of it (or none)")
            continue
        head = group.fields[0].path[0]
        if isinstance(answers[head], dict):
            submitted.setdefault(head, {})[group.fields[0].path[1]] = values[0][1]
        elif isinstance(answers[head], list):
            submitted[head] = _nested(answers[head], {f.path[1:]: v for f, v in values})
        else:
            submitted[head] = values[0][1]
    return submitted


def _nested(shape: list, numbers: dict, at: tuple = ()) -> list:
    return [_nested(item, numbers, at + (i,)) if isinstance(item, list) else numbers[at + (i,)]
            for i, item in enumerate(shape)]


def attach(groups: list[Group], parts: list[dict]) -> None:
    """Put each graded part (Generator.grade's `parts`) on the group it marks."""
    by_part = {g.part: g for g in groups}
    for r in parts:
        group = by_part.get(r["part"])
        if group is not None:
            group.result = r

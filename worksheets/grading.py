"""Marking one problem: the submission's shape, then per-part tolerance, partial
credit and feedback in words.

A submission mirrors the key: `{part: number | list | {name: number}}`. Its shape is
checked first, and a part the problem does not have, a string where a number belongs
or a map where a list belongs is an AnswerError naming the path (`answers.values.q`).
Wrong numbers, lists of the wrong length and missing parts are marked, not refused.
"""

from __future__ import annotations

import functools
import math
import numbers

from worksheets.errors import AnswerError
from worksheets.problem import PartResult, Tolerance, problem_points, share_points

CORRECT = "correct"
CARRIED = "correct for your own earlier numbers (error carried forward)"
MISSING = "not answered"
WRONG = "not right"


def _kind(value) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def read_number(value, path: str) -> float:
    kind = type(value)  # exact types first: a float or an int, as nearly every answer is
    if kind is float and value - value == 0.0:
        return value
    if kind is int:
        try:
            return float(value)
        except OverflowError:
            raise AnswerError("is too large", path=path) from None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise AnswerError(f"must be a number, not {_kind(value)}", path=path)
    try:
        x = float(value)
    except OverflowError:
        raise AnswerError("is too large", path=path) from None
    if not math.isfinite(x):
        raise AnswerError("must be a finite number", path=path)
    return x


def read_submission(key: dict, submitted, path: str = "answers") -> dict:
    """`submitted` with its numbers as floats, checked against the shapes of `key`."""
    if not isinstance(submitted, dict):
        raise AnswerError(f"must be an object mapping part names to answers, not "
                          f"{_kind(submitted)}", path=path)
    return _read_fields(key, submitted, path, "this problem has no part {name!r} (its parts: {names})")


def _read_fields(want: dict, got: dict, path: str, unknown: str) -> dict:
    """`got`'s fields read like `want`'s; `unknown` words a name `want` lacks (format
    fields name and names)."""
    out = {}
    for name, value in got.items():
        if name not in want:
            raise AnswerError(unknown.format(name=name, names=", ".join(want)), path=f"{path}.{name}")
        w = want[name]
        # a finite float where a number belongs is read as it is: its path is written
        # only for what needs more reading (or an error)
        if type(value) is float and value - value == 0.0 and (type(w) is float or type(w) is int):
            out[name] = value
        else:
            out[name] = _read_like(w, value, f"{path}.{name}")
    return out


def _read_like(want, got, path: str):
    kind = type(want)
    if kind is float or kind is int:
        return read_number(got, path)
    if isinstance(want, dict):
        if not isinstance(got, dict):
            raise AnswerError(f"must be an object mapping names to numbers, not {_kind(got)}",
                              path=path)
        return _read_fields(want, got, path, "{name!r} is not one of this part's names ({names})")
    if isinstance(want, list):
        if not isinstance(got, list):
            raise AnswerError(f"must be a list, not {_kind(got)}", path=path)
        if len(got) > 4 * len(want) + 16:
            raise AnswerError(f"holds {len(got)} elements; the answer has {len(want)}", path=path)
        inner = want[0] if want else 0.0
        if type(inner) is float or type(inner) is int:  # a list of numbers
            return _read_numbers(got, path)
        return [_read_like(inner, v, f"{path}[{i}]") for i, v in enumerate(got)]
    return read_number(got, path)


def _read_numbers(got: list, path: str) -> list:
    """A list of numbers, each read as read_number reads it; an element's path is
    written only for one that is not a finite float or an int (whole-number answers,
    windows and sizes, would otherwise write one for every element)."""
    out = []
    for i, v in enumerate(got):
        kind = type(v)
        if kind is float and v - v == 0.0:
            out.append(v)
        elif kind is int:
            try:
                out.append(float(v))
            except OverflowError:  # read_number names it
                out.append(read_number(v, f"{path}[{i}]"))
        else:
            out.append(read_number(v, f"{path}[{i}]"))
    return out


def correct(part: str, want, feedback: str = CORRECT) -> PartResult:
    return PartResult(part, True, 1.0, feedback, want)


def missing(part: str, want) -> PartResult:
    return PartResult(part, False, 0.0, MISSING, want)


def wrong(part: str, want, feedback: str = WRONG) -> PartResult:
    return PartResult(part, False, 0.0, feedback, want)


def mark_number(part: str, got, want: float, tol: Tolerance,
                mistakes: list[tuple[float, str]] = ()) -> PartResult:
    """One number: right within `tol`, or wrong with the first mistake it matches.
    `mistakes` may be a function that makes the list, called only for a wrong answer."""
    if got is None:
        return missing(part, want)
    if tol.accepts(got, want):
        return correct(part, want)
    if callable(mistakes):
        mistakes = mistakes()
    return wrong(part, want, diagnose(got, want, tol, mistakes))


def diagnose(got: float, want: float, tol: Tolerance, mistakes) -> str:
    """The words for the first mistake `got` matches. A mistake is (value, message) or
    (value, message, tolerance) when it needs a looser match than the part (a student
    who leaves an output size as 4.33)."""
    for value, message, *own in mistakes:
        t = own[0] if own else tol
        if value == value and t.accepts(got, value) and not tol.accepts(value, want):
            return message
    if want and tol.accepts(-got, want):
        return "the sign is flipped"
    return WRONG


def _same(got, want, tol: Tolerance) -> bool:
    if isinstance(want, list):
        if not (isinstance(got, list) and len(got) == len(want)):
            return False
        lo, rel = tol.abs, tol.rel
        for g, w in zip(got, want):
            # two plain numbers: Tolerance.accepts written out (windows are lists of them)
            if (type(g) is float or type(g) is int) and (type(w) is float or type(w) is int):
                if not abs(g - w) <= max(lo, rel * abs(w)):
                    return False
            elif not _same(g, w, tol):
                return False
        return True
    return not isinstance(got, list) and tol.accepts(got, want)


def mark_list(part: str, got, want: list, tol: Tolerance,
              mistakes: list[tuple[list, str]] = ()) -> PartResult:
    """A list, element by element: credit is the share of positions right, over the
    longer of the two lists (so extra elements cost as much as missing ones).
    `mistakes` may be a function that makes the list, called only for a wrong answer."""
    if got is None:
        return missing(part, want)
    right = sum(_same(g, w, tol) for g, w in zip(got, want))
    n = max(len(got), len(want))
    if right == n:
        return correct(part, want)
    if callable(mistakes):
        mistakes = mistakes()
    for value, message in mistakes:
        if _same(got, value, tol) and not _same(value, want, tol):
            return PartResult(part, False, right / n, message, want)
    # A mistake made throughout can still leave a few positions right (where it gives
    # the same number): it is named when it explains every position that is wrong.
    for value, message in mistakes:
        if len(value) == len(got) == len(want):
            wrong_at = [i for i, (g, w) in enumerate(zip(got, want)) if not _same(g, w, tol)]
            if wrong_at and all(_same(got[i], value[i], tol) for i in wrong_at):
                return PartResult(part, False, right / n,
                                  f"{message} ({right} of {len(want)} right)", want)
    notes = []
    if len(got) != len(want):
        notes.append(f"{len(got)} elements where the answer has {len(want)}")
    if right:
        notes.append(f"{right} of {len(want)} right")
    bad = next((i for i, (g, w) in enumerate(zip(got, want)) if not _same(g, w, tol)), None)
    if bad is not None:
        notes.append(f"first wrong at position {bad}")
    return PartResult(part, False, right / n, "; ".join(notes) or WRONG, want)


def flatten(submitted: dict) -> dict:
    """{"gradients": {"w1": 1.0}, "z": 2.0} -> {"gradients.w1": 1.0, "z": 2.0}."""
    out = {}
    for part, value in submitted.items():
        if isinstance(value, dict):
            for name, v in value.items():
                out[f"{part}.{name}"] = v
        else:
            out[part] = value
    return out


def score(type_id: str, results: list[PartResult]) -> tuple[float, float]:
    """(points earned, points possible) of one graded problem, by the weights table
    (problem.POINTS) that Moodle, Canvas and the gradebook read too."""
    shares, possible = _points(type_id, tuple(r.part for r in results))
    earned = sum(s * r.credit for s, r in zip(shares, results))
    return round(earned, 6), possible


@functools.lru_cache(maxsize=1024)
def _points(type_id: str, names: tuple) -> tuple[tuple[float, ...], float]:
    """(each part's points as a float, the problem's points) of one type's parts: a
    class's problems of a type have the same few lists of parts."""
    return (tuple(float(s) for s in share_points(type_id, list(names))),
            float(problem_points(type_id, list(names))))

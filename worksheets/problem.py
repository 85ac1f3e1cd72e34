"""The one small interface every problem type implements, and its building blocks.

A problem type is one module holding one `ProblemType` subclass: its id, title and
options, and the five things that define it in one place:

    sample(rng, options) -> Variant        the numbers, drawn from a keyed Stream
    graph_items(variant), conv_items(...)  the arithmetic its key needs, batched by the
                                           caller into one evaluate_many and one
                                           conv1d_many call per set
    solve(variant, options, evs, convs)    the answer key and the worked solution
    statement(variant, options)            Markdown with LaTeX math
    grade(variant, options, key, parts)    marks, credit and feedback per part
    figure(problem, key, title)            SVG, drawn with worksheets.drawing, from the
                                           problem as a set holds it (optional)
"""

from __future__ import annotations

import abc
import functools
import numbers
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, ClassVar

from worksheets.errors import ProblemSetError


@dataclass(frozen=True, slots=True)
class Tolerance:
    """An answer `got` is right when |got - want| <= max(abs, rel * |want|)."""

    abs: float
    rel: float = 0.0

    def accepts(self, got: float, want: float) -> bool:
        return abs(got - want) <= max(self.abs, self.rel * abs(want))

    def to_dict(self) -> dict:
        return {"abs": self.abs, "rel": self.rel}

    def describe(self) -> str:
        return _describe(self.abs, self.rel)


@functools.lru_cache(maxsize=64, typed=True)
def _describe(abs_: float, rel: float) -> str:
    # every statement of a type writes the same one or two tolerances
    if abs_ == 0 and rel == 0:
        return "exactly"
    parts = []
    if abs_:
        parts.append(f"within {abs_:g}")
    if rel:
        parts.append(f"{rel * 100:g} %")
    return " or ".join(parts)


EXACT = Tolerance(0.0)
# Values and gradients worked by hand to three decimals; samplers keep every non-zero
# answer at least ten times larger than the absolute tolerance.
# The sentence of a graph problem's statement that only a JSON answer needs: a printed
# sheet (its boxes name every part) and an LMS (its own blanks) leave it out.
JSON_ANSWER_NOTE = "Answer each with a map keyed by node and input names. "

HAND = Tolerance(0.005, 0.005)
# A descent step moves a value by a small amount; its tolerance must stay well below
# the step, or the update with the wrong sign would pass.
STEP = Tolerance(0.0005)


# Points per top-level answer part, per problem type: the one table that gradsheet's
# grader, the class gradebook, Moodle and Canvas all read, so a problem is worth the
# same everywhere. A part that holds several numbers (a list, a map of names) shares its
# points equally among them: every student's variant of a problem is worth the same,
# however long its lists or large its graph.
POINTS: dict[str, dict[str, int]] = {
    "conv_output_size": {"output_size": 1, "windows": 1, "centers": 1},
    "conv_same_padding": {"padding": 1},
    "graph_backprop": {"values": 2, "gradients": 3, "step": 1},
    "logistic_regression": {"z": 1, "h": 1, "loss": 1, "gradients": 3, "updated": 3},
    "gate_gradient": {"output": 1, "gradient": 1},
    "conv1d_backprop": {"output": 1, "grad_input": 1, "grad_weight": 1},
}
_TOP = re.compile(r"[.\[]")


def top_part(name: str) -> str:
    """The top-level answer part of a part's name: gradients.x -> gradients,
    windows[2][0] -> windows."""
    return _TOP.split(name, 1)[0]


def problem_points(type_id: str, names=()) -> int:
    """What a problem of this type is worth; a type missing from POINTS gives one point
    to each top-level part among `names`."""
    table = POINTS.get(type_id)
    return sum(table.values()) if table is not None else len({top_part(n) for n in names})


def share_points(type_id: str, names: list[str]) -> list[Fraction]:
    """The points of each named part of one problem (a leaf such as gradients.x or
    windows[0][1], or a whole list such as windows): its top-level part's points shared
    equally among the names under it."""
    tops = [top_part(n) for n in names]
    table = POINTS.get(type_id, {})
    counts: dict[str, int] = {}
    for t in tops:
        counts[t] = counts.get(t, 0) + 1
    return [_share(table.get(t, 1), counts[t]) for t in tops]


@functools.lru_cache(maxsize=256)
def _share(points: int, parts: int) -> Fraction:
    # Fraction(int, int) takes about 5 us (it normalises through the numbers ABCs);
    # grading asks for the same few shares thousands of times
    return Fraction(points, parts)


@dataclass(frozen=True)
class Option:
    """One option of a problem type, as GET /v1/problem-types documents it.

    kind: "integer" (minimum..maximum), "boolean", "choice" (one of `choices`) or
    "subset" (a non-empty list of distinct `choices`, kept in the order of `choices`).
    """

    name: str
    kind: str
    default: Any
    description: str
    choices: tuple = ()
    minimum: int | None = None
    maximum: int | None = None

    def check(self, value, path: str):
        """`value` validated and put in canonical form; ProblemSetError naming `path`."""
        if self.kind == "boolean":
            if type(value) is not bool:
                raise ProblemSetError(f"must be true or false, not {_show(value)}", path=path)
            return value
        if self.kind == "integer":
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                if not (type(value) is float and value.is_integer()):
                    raise ProblemSetError(f"must be a whole number, not {_show(value)}", path=path)
            value = int(value)
            if not self.minimum <= value <= self.maximum:
                raise ProblemSetError(f"must be between {self.minimum} and {self.maximum}, "
                                      f"not {value}", path=path)
            return value
        if self.kind == "choice":
            for c in self.choices:
                if value == c and type(value) is not bool:
                    return c
            raise ProblemSetError(f"must be one of {_list(self.choices)}, not {_show(value)}",
                                  path=path)
        if self.kind == "subset":
            if isinstance(value, (str, int, float)):
                value = [value]
            if type(value) is not list or not value:
                raise ProblemSetError(f"must be a non-empty list of {_list(self.choices)}",
                                      path=path)
            for i, v in enumerate(value):
                if type(v) is bool or v not in self.choices:
                    raise ProblemSetError(f"must be one of {_list(self.choices)}, not {_show(v)}",
                                          path=f"{path}[{i}]")
            return [c for c in self.choices if c in value]
        raise AssertionError(self.kind)

    def doc(self) -> dict:
        doc: dict = {"description": self.description, "default": self.default}
        if self.kind == "boolean":
            doc["type"] = "boolean"
        elif self.kind == "integer":
            doc.update(type="integer", minimum=self.minimum, maximum=self.maximum)
        elif self.kind == "choice":
            doc["enum"] = list(self.choices)
        else:
            doc.update(type="array", items={"enum": list(self.choices)}, minItems=1,
                       uniqueItems=True)
        return doc


def _show(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value) if len(value) < 40 else "a long string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return repr(value)


def _list(choices) -> str:
    return ", ".join(str(c) for c in choices)


@dataclass(slots=True)
class Variant:
    """One student's numbers for one problem: `parameters` (JSON, shown to the student)
    and `state`, anything the type keeps beside them (a parsed Graph, ...)."""

    parameters: dict
    state: Any = None


@dataclass(slots=True)
class PartResult:
    """The mark for one part: `credit` in [0, 1], with feedback in words."""

    part: str
    correct: bool
    credit: float
    feedback: str
    expected: Any = None

    def to_dict(self, reveal: bool) -> dict:
        out = {"part": self.part, "correct": self.correct, "credit": self.credit,
               "feedback": self.feedback}
        if reveal and self.expected is not None:
            out["expected"] = self.expected
        return out


class ProblemType(abc.ABC):
    """Base class: see the module docstring. Subclasses set the class attributes."""

    id: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    options: ClassVar[tuple[Option, ...]] = ()
    # top-level answer part -> tolerance
    tolerances: ClassVar[dict[str, Tolerance]] = {}
    # what the figure shows, for its title; None for a type drawn without a figure
    figure_shows: ClassVar[str | None] = None
    # (node ids, names) of the values and gradients its key and worked solution read
    # from a graph item's evaluation, when not all of them: settling the rest is skipped
    key_reads: ClassVar[tuple | None] = None

    def __init__(self):
        self._options = {o.name: o for o in self.options}
        self.defaults = {o.name: o.default for o in self.options}

    def read_options(self, raw: dict, path: str) -> dict:
        """The options a request gives (without "type"), checked; defaults not filled."""
        out = {}
        for name, value in raw.items():
            if name == "type":
                continue
            option = self._options.get(name)
            if option is None:
                known = ", ".join(self._options) or "none"
                raise ProblemSetError(f"{self.id} has no option {name!r} (its options: {known})",
                                      path=f"{path}.{name}")
            out[name] = option.check(value, f"{path}.{name}")
        return out

    def with_defaults(self, given: dict) -> dict:
        return {**self.defaults, **given}

    def check_options(self, options: dict, path: str) -> None:
        """Refuse options that are each valid but together leave nothing to draw."""

    def describe(self) -> dict:
        return {"id": self.id, "title": self.title, "description": self.description,
                "options": {o.name: o.doc() for o in self.options}}

    # -- what each type defines ----------------------------------------------------------
    @abc.abstractmethod
    def sample(self, rng, options: dict) -> Variant:
        """Draw one variant's parameters from `rng` (a keyed stream, see seeding)."""

    def graph_items(self, variant: Variant) -> list:
        """(graph, inputs, output_gradient) items for engine.evaluate_many."""
        return []

    def conv_items(self, variant: Variant) -> list:
        """Items for engine.conv.conv1d_many."""
        return []

    @abc.abstractmethod
    def solve(self, variant: Variant, options: dict, evaluations: list, convs: list,
              worked: bool = True) -> tuple[dict, list]:
        """(answers, solution steps); the steps are skipped when not `worked`."""

    @abc.abstractmethod
    def statement(self, variant: Variant, options: dict) -> str:
        """The problem statement, Markdown with LaTeX math."""

    @abc.abstractmethod
    def grade(self, variant: Variant, options: dict, answers: dict, submitted: dict) -> list:
        """PartResults for a submission already checked against the key's shape."""

    def part_tolerances(self, variant: Variant) -> dict[str, Tolerance]:
        return self.tolerances

    def figure(self, problem: dict, key: bool, title: str) -> str | None:
        """SVG text of the figure of `problem` as a set holds it (its parameters and,
        for the key, its answers): blank for a student's sheet, filled in when `key`.
        It reads only the set's JSON, so a set written to disk draws the same figures."""
        return None


def step(title: str, text: str) -> dict:
    """One step of a worked solution."""
    return {"title": title, "text": text}


@dataclass(slots=True)
class Work:
    """A problem being built: its type, options, variant and slices of the batch."""

    type: ProblemType
    options: dict
    given: dict
    variant: Variant
    graphs: tuple = field(default=(0, 0))
    convs: tuple = field(default=(0, 0))

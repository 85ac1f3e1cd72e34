"""The problem types by id, in the worksheet's order: one table, read by the set
generator, the grader, GET /v1/problem-types and the CLI."""

from __future__ import annotations

from worksheets.problems.conv1d_backprop import Conv1dBackprop
from worksheets.problems.conv_output_size import ConvOutputSize
from worksheets.problems.conv_same_padding import ConvSamePadding
from worksheets.errors import ProblemSetError
from worksheets.problems.gate_gradient import GateGradient
from worksheets.problems.graph_backprop import GraphBackprop
from worksheets.problems.logistic_regression import LogisticRegression
from worksheets.problems.template_problem import problem_type_of
from worksheets.problem import ProblemType

TYPES: dict[str, ProblemType] = {t.id: t for t in (
    ConvOutputSize(), ConvSamePadding(), GraphBackprop(), LogisticRegression(),
    GateGradient(), Conv1dBackprop(),
)}

# Without a list of problems, a sheet is the whole worksheet: one of each type.
WORKSHEET = tuple(TYPES)


def problem_type(type_id, path: str, templates: dict | None = None) -> ProblemType:
    """The type of that id: a built-in one, or one of `templates` (template_types)."""
    known = {**TYPES, **templates} if templates else TYPES
    t = known.get(type_id) if type(type_id) is str else None
    if t is None:
        raise ProblemSetError(f"unknown problem type {type_id!r} (known types: "
                              f"{', '.join(known)})", path=path)
    return t


def template_types(templates, path: str = "templates") -> dict[str, ProblemType]:
    """Instructor templates (worksheets.template.Template) as problem types by id; an id
    of a built-in type is refused, since a token names its type by id."""
    out: dict[str, ProblemType] = {}
    for i, template in enumerate(templates or ()):
        if template.id in TYPES:
            raise ProblemSetError(f"the id {template.id!r} is a built-in problem type; give "
                                  f"the template another id", path=f"{path}[{i}].id")
        if template.id in out:
            raise ProblemSetError(f"two templates have the id {template.id!r}",
                                  path=f"{path}[{i}].id")
        out[template.id] = problem_type_of(template)
    return out

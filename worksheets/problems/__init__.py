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
from worksheets.problem import ProblemType

TYPES: dict[str, ProblemType] = {t.id: t for t in (
    ConvOutputSize(), ConvSamePadding(), GraphBackprop(), LogisticRegression(),
    GateGradient(), Conv1dBackprop(),
)}

# Without a list of problems, a sheet is the whole worksheet: one of each type.
WORKSHEET = tuple(TYPES)


def problem_type(type_id, path: str) -> ProblemType:
    t = TYPES.get(type_id) if type(type_id) is str else None
    if t is None:
        raise ProblemSetError(f"unknown problem type {type_id!r} (known types: "
                              f"{', '.join(TYPES)})", path=path)
    return t

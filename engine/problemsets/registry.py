"""The problem types by id, in the worksheet's order: one table, read by the set
generator, the grader, GET /v1/problem-types and the CLI."""

from __future__ import annotations

from engine.problemsets.conv1d_backprop import Conv1dBackprop
from engine.problemsets.conv_output_size import ConvOutputSize
from engine.problemsets.conv_same_padding import ConvSamePadding
from engine.problemsets.errors import ProblemSetError
from engine.problemsets.gate_gradient import GateGradient
from engine.problemsets.graph_backprop import GraphBackprop
from engine.problemsets.logistic_regression import LogisticRegression
from engine.problemsets.problem import ProblemType

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

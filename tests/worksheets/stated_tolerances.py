"""The tolerances the problem statements state, written here from the statements and
not read from the code under test: "within 0.005 or 0.5 %" for values and gradients
worked by hand, "within 0.0005" for a descent step, whole numbers "exactly"."""

import math

HAND = (0.005, 0.005)
STEP = (0.0005, 0.0)
EXACT = (0.0, 0.0)
WORDS = {HAND: "within 0.005 or 0.5 %", STEP: "within 0.0005", EXACT: "exactly"}

STATED = {
    "conv_output_size": {"output_size": EXACT, "windows": EXACT, "centers": EXACT},
    "conv_same_padding": {"padding": EXACT},
    "graph_backprop": {"values": HAND, "gradients": HAND, "step": STEP},
    "logistic_regression": {"z": HAND, "h": HAND, "loss": HAND, "gradients": HAND,
                            "updated": STEP},
    "gate_gradient": {"output": HAND, "gradient": HAND},
    "conv1d_backprop": {"output": HAND, "grad_input": HAND, "grad_weight": HAND},
}


def width(tol: tuple, want: float) -> float:
    """How far an answer may miss `want`: |got - want| <= max(abs, rel * |want|)."""
    return max(tol[0], tol[1] * abs(want))


def leaves(value, path=()):
    """(path, number) for every number of an answer, depth first in the key's order."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, path + (i,))
    else:
        yield path, value


def graded(problem: dict, path: tuple) -> bool:
    """Whether the statement asks for this number: a graph's key also holds its inputs'
    values and the output's own gradient (1), which are given, not asked."""
    if problem["type"] != "graph_backprop" or path[0] == "step":
        return True
    spec = problem["parameters"]["graph"]
    if path[0] == "values":
        return path[1] in {n["id"] for n in spec["nodes"]}
    return path[1] != spec["output"]


def asked(problem: dict) -> list:
    """(path, want, width) of every number the statement asks for, in the order it lists
    them: a graph's node values, then the gradients (inputs first), then the step."""
    out = [(path, want) for path, want in leaves(problem["answers"]) if graded(problem, path)]
    if problem["type"] == "graph_backprop":
        spec = problem["parameters"]["graph"]
        order = ([("values", n["id"]) for n in spec["nodes"]]
                 + [("gradients", k) for k in problem["parameters"]["inputs"]]
                 + [("gradients", n["id"]) for n in spec["nodes"]])
        rank = {p: i for i, p in enumerate(order)}
        out.sort(key=lambda pw: (pw[0][0] == "step", rank.get(pw[0], math.inf)))
    tols = STATED[problem["type"]]
    return [(path, want, width(tols[path[0]], want)) for path, want in out]

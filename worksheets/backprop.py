"""Backpropagation by hand: one node and one edge at a time, in plain Python.

Answer keys come from the engine's kernels (engine.evaluate_many). This module redoes
the arithmetic the way a student does it, with the op table's own forward and local
derivative functions called as plain Python, so that

- the grader can follow a student's own numbers (error carried forward) and name a
  mistake by redoing the pass with that mistake made;
- a worked solution can show each edge's local factor;
- the random-graph generator can check a candidate graph before keeping it.

`env` maps every input and node id to a value; it may hold a student's numbers.
"""

from __future__ import annotations

import math

from engine.ops import OPS_BY_NAME

NAN = math.nan


def _args(node, env) -> list[float]:
    return [env[r] if r.__class__ is str else r for r in node.inputs]


def forward_node(node, env) -> float:
    """The node's value from its inputs' values in `env` (NaN or inf where the op is)."""
    args = _args(node, env)
    op = node.op
    # n-ary ops as a student adds and multiplies them, not as a chain of binary gates
    if op == "add":
        if len(args) == 2:
            return args[0] + args[1]
        try:
            return math.fsum(args)
        except (OverflowError, ValueError):  # inf - inf, or past the float range
            return sum(args)
    if op == "mul":
        out = args[0]
        for a in args[1:]:
            out *= a
        return out
    return OPS_BY_NAME[op].value(*args)


def local(node, env, k: int) -> float:
    """d node / d (input k) at the values in `env` (the node's own value included)."""
    op = node.op
    if op == "add":
        return 1.0
    args = _args(node, env)
    if op == "mul":
        out = 1.0
        for i, a in enumerate(args):
            if i != k:
                out *= a
        return out
    d = OPS_BY_NAME[op].local(*args, env[node.id])
    return d if len(args) == 1 else d[k]


def local_all(node, env) -> list[float]:
    """[d node / d input k for every k], each as `local` gives it, with the op's local
    derivative taken once for the node rather than once per input."""
    op = node.op
    args = _args(node, env)
    if op == "add":
        return [1.0] * len(args)
    if op == "mul":
        if len(args) == 2:  # the loop below for the usual binary product, unrolled
            return [1.0 * args[1], 1.0 * args[0]]
        out = []
        for k in range(len(args)):
            d = 1.0
            for i, a in enumerate(args):
                if i != k:
                    d *= a
            out.append(d)
        return out
    d = OPS_BY_NAME[op].local(*args, env[node.id])
    return [d] if len(args) == 1 else list(d[:len(args)])


def forward(graph, inputs: dict, given: dict | None = None) -> tuple[dict, dict]:
    """(env, fresh): `fresh[id]` is each node's value from its inputs' values in `env`,
    and `env[id]` is the student's value where `given` has one, else `fresh[id]`."""
    env = dict(inputs)
    fresh = {}
    for node in graph.nodes:
        v = forward_node(node, env)
        fresh[node.id] = v
        env[node.id] = given[node.id] if given and node.id in given else v
    return env, fresh


def backward(graph, env: dict, upstream: float, given: dict | None = None,
             change: tuple | None = None) -> dict:
    """d output / d name for every input and node, at the values in `env`.

    A consumer's gradient is the student's where `given` has one (error carried
    forward), else this pass's. `change` redoes the pass with one mistake made:
    ("local", node_id, k, factor) uses `factor` for that edge, ("drop", node_id, k)
    leaves the edge out, ("upstream", value) starts from another output gradient.
    """
    grads = dict.fromkeys(graph.names, 0.0)
    kind = change[0] if change else None
    grads[graph.output] = change[1] if kind == "upstream" else upstream
    for node in reversed(graph.nodes):
        g = grads[node.id]
        if given and node.id in given:
            g = given[node.id]
        factors = None  # the node's local derivatives, taken once when an edge needs them
        for k, r in enumerate(node.inputs):
            if r.__class__ is not str:
                continue
            if kind == "local" and change[1] == node.id and change[2] == k:
                grads[r] += g * change[3]
            elif kind == "drop" and change[1] == node.id and change[2] == k:
                continue
            else:
                if factors is None:
                    factors = local_all(node, env)
                grads[r] += g * factors[k]
    return grads


def edges_into(graph) -> dict[str, list[tuple]]:
    """name -> [(consumer node, input position)]: the paths a gradient arrives by."""
    into: dict[str, list[tuple]] = {name: [] for name in graph.names}
    for node in graph.nodes:
        for k, r in enumerate(node.inputs):
            if r.__class__ is str:
                into[r].append((node, k))
    return into


def mistaken_locals(node, env, k: int, shown_as: str | None = None) -> list[tuple[float, str]]:
    """Local factors a student commonly uses instead of d node / d (input k), each with
    the words that name the mistake (the op table's slips). `shown_as`: how the question
    names a node its program leaves unnamed (its expression, w·x), instead of its id."""
    args = tuple(_args(node, env))
    where = f"at {node.id} = {node.label}" if shown_as is None else f"at {shown_as}"
    return [(wrong, slip.says.format(where=where)) for slip in OPS_BY_NAME[node.op].slips
            if (wrong := _slipped(slip.wrong, args, env[node.id], k)) is not None]


def mistaken_values(node, env) -> list[tuple[float, str]]:
    """Values a student commonly writes instead of the node's, each with the words that
    name the mistake (the op table's value slips)."""
    args = tuple(_args(node, env))
    return [(wrong, slip.says) for slip in OPS_BY_NAME[node.op].value_slips
            if (wrong := _slipped(slip.wrong, args)) is not None]


def _slipped(wrong, *args):
    """The wrong number, or None where the slip does not apply or is not a number."""
    try:
        value = wrong(*args)
    except (ArithmeticError, ValueError):
        return None
    return value if isinstance(value, (float, int)) else None  # not None, not complex

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

_FORWARD = {op.name: op.forward.py_func for op in OPS_BY_NAME.values()}
_DERIVATIVE = {op.name: op.derivative.py_func for op in OPS_BY_NAME.values()}
_UNARY = {op.name for op in OPS_BY_NAME.values() if op.arity == 1}
NAN = math.nan


def _args(node, env) -> list[float]:
    return [env[r] if r.__class__ is str else r for r in node.inputs]


def forward_node(node, env) -> float:
    """The node's value from its inputs' values in `env` (NaN where the op is undefined)."""
    args = _args(node, env)
    op = node.op
    try:
        if op == "add":
            return math.fsum(args) if len(args) > 2 else args[0] + args[1]
        if op == "mul":
            out = args[0]
            for a in args[1:]:
                out *= a
            return out
        f = _FORWARD[op]
        return f(args[0]) if op in _UNARY else f(args[0], args[1])
    except (OverflowError, ZeroDivisionError, ValueError):
        return NAN


def local(node, env, k: int) -> float:
    """d node / d (input k) at the values in `env` (the node's own value included)."""
    op = node.op
    if op == "add":
        return 1.0
    args = _args(node, env)
    try:
        if op == "mul":
            out = 1.0
            for i, a in enumerate(args):
                if i != k:
                    out *= a
            return out
        d = _DERIVATIVE[op]
        if op in _UNARY:
            return d(args[0], env[node.id])
        return d(args[0], args[1], env[node.id])[k]
    except (OverflowError, ZeroDivisionError, ValueError):
        return NAN


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
        for k, r in enumerate(node.inputs):
            if r.__class__ is not str:
                continue
            if kind == "local" and change[1] == node.id and change[2] == k:
                grads[r] += g * change[3]
            elif kind == "drop" and change[1] == node.id and change[2] == k:
                continue
            else:
                grads[r] += g * local(node, env, k)
    return grads


def edges_into(graph) -> dict[str, list[tuple]]:
    """name -> [(consumer node, input position)]: the paths a gradient arrives by."""
    into: dict[str, list[tuple]] = {name: [] for name in graph.names}
    for node in graph.nodes:
        for k, r in enumerate(node.inputs):
            if r.__class__ is str:
                into[r].append((node, k))
    return into


def mistaken_locals(node, env, k: int) -> list[tuple[float, str]]:
    """Local factors a student commonly uses instead of d node / d (input k), each with
    the words that name the mistake."""
    op = node.op
    args = _args(node, env)
    y = env[node.id]
    a = args[0]
    where = f"at {node.id} = {node.label}"
    out = []
    if op == "sigmoid":
        out.append((y, f"σ used where σ(1 − σ) belongs ({where}): the sigmoid gate "
                       f"passes back σ(1 − σ) times the upstream gradient"))
    elif op == "tanh":
        out.append((y, f"tanh used where 1 − tanh² belongs ({where})"))
    elif op == "square" or (op == "pow" and args[1] == 2.0):
        out.append((a, f"u used where 2u belongs ({where}): d(u²)/du = 2u"))
    elif op == "pow":
        out.append((a ** (args[1] - 1.0), f"the exponent's factor p is missing ({where}): "
                                          f"d(u^p)/du = p·u^(p−1)"))
    elif op == "relu":
        if a > 0:
            out.append((0.0, f"this ReLU's input is positive, so it passes the gradient "
                             f"back unchanged ({where})"))
        else:
            out.append((1.0, f"this ReLU's input is not positive, so it passes no "
                             f"gradient back ({where})"))
    elif op == "mul":
        out.append((args[k], f"multiplied by the input's own value instead of the other "
                             f"factor ({where})"))
    elif op == "sub" and k == 1:
        out.append((1.0, f"the second input of a subtraction gets minus the gradient ({where})"))
    elif op == "neg":
        out.append((1.0, f"negation flips the sign of the gradient ({where})"))
    elif op in ("max", "min"):
        true = local(node, env, k)
        if true in (0.0, 1.0):
            which = "larger" if op == "max" else "smaller"
            out.append((1.0 - true,
                        f"{op} passes the gradient only to its {which} input ({where})"))
    elif op == "exp":
        out.append((1.0, f"d(e^u)/du = e^u, not 1 ({where})"))
    elif op == "log":
        out.append((a, f"d(log u)/du = 1/u ({where})"))
    elif op == "div" and k == 1:
        out.append((1.0 / args[1] if args[1] else NAN,
                    f"d(a/b)/db = −a/b², not 1/b ({where})"))
    return out

"""Marking a graph problem with error carried forward.

A student's forward value at a node is judged against the key and, when it differs,
against what the node gives from the student's own values of its inputs; gradients
likewise against a backward pass that uses the student's own values and, for each
consumer, the student's own gradient. A wrong number is then compared with the same
passes redone with one typical mistake made (a sum left out where a value feeds two
nodes, σ where σ(1 − σ) belongs, u where 2u belongs, the step taken uphill, ...) and
the feedback names the first mistake that explains it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from worksheets import backprop
from worksheets.grading import CARRIED, MISSING, WRONG, correct, diagnose
from worksheets.graph_text import shown_names
from worksheets.problem import PartResult
from worksheets.latex import num


@dataclass(frozen=True)
class GraphQuestion:
    """What a graph problem asks. `parts` are (answer path, kind, name) with kind
    "value", "gradient" or "step"; `tolerance` maps each kind to its tolerance."""

    graph: object
    inputs: dict
    upstream: float
    learning_rate: float | None
    parts: tuple
    tolerance: dict


def mark_graph(q: GraphQuestion, key: dict, leaves: dict) -> list[PartResult]:
    """PartResults for `leaves` ({answer path: number}); `key` maps each kind to the
    engine's numbers by name."""
    given = {"value": {}, "gradient": {}, "step": {}}
    for path, kind, name in q.parts:
        if path in leaves:
            given[kind][name] = leaves[path]
    passes = []  # the passes from the student's own numbers, made for the first wrong part

    def own_numbers():
        if not passes:
            env, fresh = backprop.forward(q.graph, q.inputs, given["value"])
            carried = backprop.backward(q.graph, env, q.upstream, given["gradient"])
            passes.append((env, fresh, carried, _Variants(q, env, given["gradient"])))
        return passes[0]
    results = []
    for path, kind, name in q.parts:
        want = key[kind][name]
        got = leaves.get(path)
        tol = q.tolerance[kind]
        if got is None:
            results.append(PartResult(path, False, 0.0, MISSING, want))
            continue
        if tol.accepts(got, want):
            results.append(correct(path, want))
            continue
        env, fresh, carried, variants = own_numbers()
        if kind == "value":
            follows = fresh[name]
            mistakes = backprop.mistaken_values(q.graph.node(name), env)
        elif kind == "gradient":
            follows = carried[name]
            mistakes = variants.gradient_mistakes(name)
        else:
            g = given["gradient"].get(name, key["gradient"][name])
            follows = q.inputs[name] - q.learning_rate * g
            mistakes = _step_mistakes(q.inputs[name], q.learning_rate, g, key["gradient"][name])
        if math.isfinite(follows) and tol.accepts(got, follows):
            results.append(PartResult(path, True, 1.0, CARRIED, want))
            continue
        feedback = diagnose(got, follows if math.isfinite(follows) else want, tol, mistakes)
        if feedback == WRONG and kind == "value":
            node = q.graph.node(name)
            feedback = (f"{name} = {node.label} does not give this from your values of its "
                        f"inputs")
        results.append(PartResult(path, False, 0.0, feedback, want))
    return results


# A backward pass redone with one mistake: (gradient of every name, the one name it is
# named at or None for any, the words)
_Pass = tuple[dict, Optional[str], str]


class _Variants:
    """Backward passes redone with one mistake each, computed once, when first needed."""

    def __init__(self, q: GraphQuestion, env: dict, given: dict):
        self.q, self.env, self.given = q, env, given
        self._passes: Optional[list[_Pass]] = None

    def _build(self) -> list[_Pass]:
        q, env, given = self.q, self.env, self.given
        passes = []
        # a node a template's program leaves unnamed is named as the question names it
        shown = shown_names(q.graph)
        into = backprop.edges_into(q.graph)
        for name, edges in into.items():
            if len(edges) < 2:
                continue
            consumers = ", ".join(sorted({shown.get(node.id, node.id) for node, _ in edges}))
            called = shown.get(name, name)
            for node, k in edges:
                grads = backprop.backward(q.graph, env, q.upstream, given, ("drop", node.id, k))
                passes.append((grads, name, f"gradients not summed: {called} feeds {consumers}, "
                                             f"so its gradient is the sum of what each passes "
                                             f"back (the path through "
                                             f"{shown.get(node.id, node.id)} is missing)"))
        for node in q.graph.nodes:
            for k, r in enumerate(node.inputs):
                if r.__class__ is not str:
                    continue
                for factor, message in backprop.mistaken_locals(node, env, k,
                                                                shown.get(node.id)):
                    grads = backprop.backward(q.graph, env, q.upstream, given,
                                              ("local", node.id, k, factor))
                    passes.append((grads, None, message))
        if q.upstream != 1.0:
            grads = backprop.backward(q.graph, env, q.upstream, given, ("upstream", 1.0))
            passes.append((grads, None, f"the local gradient is not multiplied by the upstream "
                                        f"gradient {num(q.upstream)}"))
        return passes

    def gradient_mistakes(self, name: str) -> list[tuple[float, str]]:
        if self._passes is None:
            self._passes = self._build()
        # A sum left out is named only at the value that fans out; further down the
        # graph the same pass would blame the wrong node.
        return [(grads[name], message) for grads, only, message in self._passes
                if only is None or only == name]


def _step_mistakes(x: float, lr: float, g: float, key_g: float) -> list[tuple[float, str]]:
    out = []
    for grad in (g, key_g) if g != key_g else (g,):
        out += [
            (x + lr * grad, "the update is taken with the wrong sign: gradient descent moves "
                            "against the gradient, x − η ∂f/∂x"),
            (x - grad, f"the learning rate is missing: x − η ∂f/∂x with η = {num(lr)}"),
            (-lr * grad, "this is the change −η ∂f/∂x; the new value is x plus that change"),
            (lr * grad, "this is η ∂f/∂x; the new value is x − η ∂f/∂x"),
        ]
    return out

"""One figure per problem, by problem type: a computational graph for the backprop
types, a conv strip for the convolution types. `figure(problem, key)` takes a problem
as a set holds it (issue 5's shape) and returns SVG text, blank for a student's sheet
or filled for the key.
"""

from __future__ import annotations

import functools

import engine
from worksheets.exports.conv_figure import conv1d_svg, output_size_svg, same_padding_svg
from worksheets.exports.graph_figure import graph_svg
from worksheets.problems.logistic_regression import PROGRAM as LOGISTIC_PROGRAM
from worksheets.latex import num


@functools.lru_cache(maxsize=1024)
def _graph_from(nodes: tuple, output: str):
    return engine.Graph.from_spec({
        "nodes": [{"id": i, "op": op, "inputs": list(refs)} for i, op, refs in nodes],
        "output": output})


def graph_of_spec(spec: dict):
    """The engine Graph of a node spec, parsed once per distinct spec."""
    nodes = tuple((n["id"], n["op"], tuple(n["inputs"])) for n in spec["nodes"])
    return _graph_from(nodes, spec["output"])


@functools.lru_cache(maxsize=16)
def parsed(program: str):
    return engine.parse(program)


def _labels(mapping: dict, names) -> dict:
    return {k: num(mapping[k]) for k in names if k in mapping}


def graph_backprop(problem: dict, key: bool, title: str) -> str:
    p = problem["parameters"]
    graph = graph_of_spec(p["graph"])
    if key:
        a = problem["answers"]
        return graph_svg(graph, _labels(a["values"], graph.names),
                         _labels(a["gradients"], graph.names), title)
    return graph_svg(graph, _labels(p["inputs"], graph.inputs), {graph.output: "1"}, title)


def logistic_regression(problem: dict, key: bool, title: str) -> str:
    p = problem["parameters"]
    graph = parsed(LOGISTIC_PROGRAM)
    inputs = {**p["weights"], **p["inputs"], "y": p["label"]}
    if key:
        # the answers hold z, h, L and three gradients; the figure shows every wire
        ev = engine.evaluate(graph, inputs)
        return graph_svg(graph, _labels(ev.values, graph.names),
                         _labels(ev.gradients, graph.names), title)
    return graph_svg(graph, _labels(inputs, graph.inputs), {graph.output: "1"}, title)


def gate_gradient(problem: dict, key: bool, title: str) -> str:
    p = problem["parameters"]
    graph = parsed(f"y = {p['gate']}(x)")
    values = {"x": num(p["input"])}
    gradients = {"y": num(p["upstream_gradient"])}
    if key:
        a = problem["answers"]
        values["y"] = num(a["output"])
        gradients["x"] = num(a["gradient"])
    return graph_svg(graph, values, gradients, title, of="L")


def conv_output_size(problem: dict, key: bool, title: str) -> str:
    p = problem["parameters"]
    return output_size_svg(p["width"], p["filter_size"], p["padding"], p["stride"], key, title)


def conv_same_padding(problem: dict, key: bool, title: str) -> str:
    p = problem["parameters"]
    return same_padding_svg(p["width"], p["filter_size"], p.get("dilation", 1), key, title)


def conv1d_backprop(problem: dict, key: bool, title: str) -> str:
    p = problem["parameters"]
    return conv1d_svg(p["input"], p["weight"], p["stride"], p["padding"], p["grad_output"],
                      key, problem.get("answers"), num, title)


# problem type -> (what the figure shows, drawing function)
FIGURES = {
    "conv_output_size": ("the input units, padding and windows", conv_output_size),
    "conv_same_padding": ("the input, the filter and the padding", conv_same_padding),
    "graph_backprop": ("the computational graph", graph_backprop),
    "logistic_regression": ("the logistic-regression circuit", logistic_regression),
    "gate_gradient": ("the gate", gate_gradient),
    "conv1d_backprop": ("the convolution's input, output and filter", conv1d_backprop),
}


def figure(problem: dict, key: bool, number: int | None = None) -> str | None:
    """SVG text of the problem's figure (None for a type without one). `key` fills in
    the answers, which the problem must then hold."""
    entry = FIGURES.get(problem["type"])
    if entry is None:
        return None
    what, draw = entry
    title = (f"Problem {number}: " if number is not None else "") + what + \
        (" (answer key)" if key else "")
    return draw(problem, key, title)

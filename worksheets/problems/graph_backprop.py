"""graph_backprop: the worksheet's questions 2 and 6. The forward value of every node,
the gradient of every node and input, and one gradient-descent step, for a graph from
a curated family or from the random-graph generator."""

from __future__ import annotations

import functools

import engine
from worksheets import families, randgraph
from worksheets.drawing.graph_figure import graph_svg, labels
from worksheets.grading import flatten
from worksheets.graph_grading import GraphQuestion, mark_graph
from worksheets.graph_text import GraphText
from worksheets.problem import HAND, JSON_ANSWER_NOTE, STEP, Option, ProblemType, Variant
from worksheets.latex import num, tex_name

CURATED = tuple(families.FAMILIES)


@functools.lru_cache(maxsize=1024)
def _graph_from(nodes: tuple, output: str):
    return engine.Graph.from_spec({
        "nodes": [{"id": i, "op": op, "inputs": list(refs)} for i, op, refs in nodes],
        "output": output})


def graph_of_spec(spec: dict):
    """The engine Graph of a node spec, parsed once per distinct spec: a class's
    figures draw the same few curated graphs over and over."""
    nodes = tuple((n["id"], n["op"], tuple(n["inputs"])) for n in spec["nodes"])
    return _graph_from(nodes, spec["output"])


class GraphState:
    """What a graph variant keeps beside its parameters: the parsed graph, its text,
    and the inputs its descent step moves."""

    __slots__ = ("graph", "text", "wrt")

    def __init__(self, graph, text, wrt):
        self.graph, self.text, self.wrt = graph, text, tuple(wrt)


class GraphBackprop(ProblemType):
    id = "graph_backprop"
    title = "Backpropagation through a computational graph"
    description = ("The forward value of every node, the gradient of the output with "
                   "respect to every node and input, and one gradient-descent step. Graphs "
                   "come from curated families (the worksheet's (3ab)^2 + cd and (x + y)z, "
                   "a sigmoid neuron, values feeding two nodes, a squared error, a ReLU "
                   "unit, a max gate) or, with family \"random\", from a generator whose "
                   "difficulty (1-5) sets the depth, the fan-out and the mix of ops. "
                   "parameters.graph, inputs, learning_rate and wrt are a request "
                   "/v1/evaluate accepts; the answers are its values, gradients and "
                   "step.inputs.")
    options = (
        Option("families", "subset", list(CURATED), "graph families to draw from; "
               "\"random\" draws from the random-graph generator",
               choices=CURATED + ("random",)),
        Option("difficulty", "integer", 2, "difficulty of random graphs: 1 (two gates, "
               "add and mul) to 5 (eight gates, fan-out, sigmoid, tanh, exp, max, div)",
               minimum=1, maximum=5),
    )
    tolerances = {"values": HAND, "gradients": HAND, "step": STEP}
    figure_shows = "the computational graph"

    def sample(self, rng, options) -> Variant:
        family = rng.choice(options["families"])
        if family == "random":
            r = randgraph.random_graph(rng, options["difficulty"])
            graph = r.graph
            state = GraphState(graph, GraphText(graph), graph.inputs)
            params = {"family": "random", "graph": graph.to_spec(), "inputs": r.inputs,
                      "learning_rate": r.learning_rate, "wrt": list(graph.inputs)}
            return Variant(params, state)
        c = families.compiled(family)
        inputs = c.family.sample(rng)
        lr = c.family.learning_rate(inputs)
        params = {"family": family, "graph": c.spec, "inputs": inputs, "learning_rate": lr,
                  "wrt": list(c.wrt)}
        return Variant(params, GraphState(c.graph, c.text, c.wrt))

    def variant_of(self, family: str, inputs: dict, learning_rate: float | None = None) -> Variant:
        """The variant of a curated family at given inputs (the worksheet's own numbers,
        or a test's)."""
        c = families.compiled(family)
        lr = c.family.learning_rate(inputs) if learning_rate is None else learning_rate
        params = {"family": family, "graph": c.spec, "inputs": dict(inputs), "learning_rate": lr,
                  "wrt": list(c.wrt)}
        return Variant(params, GraphState(c.graph, c.text, c.wrt))

    def graph_items(self, variant):
        return [(variant.state.graph, variant.parameters["inputs"])]

    def solve(self, variant, options, evaluations, convs, worked=True):
        ev = evaluations[0]
        p = variant.parameters
        state = variant.state
        values, gradients = ev.values, ev.gradients
        stepped = ev.step(p["learning_rate"], state.wrt)
        answers = {"values": values, "gradients": gradients, "step": stepped}
        if not worked:
            return answers, []
        text = state.text
        steps = (text.forward_steps(values) + text.backward_steps(values, gradients, 1.0)
                 + text.descent_steps(p["inputs"], gradients, p["learning_rate"], stepped))
        return answers, steps

    def statement(self, variant, options) -> str:
        p = variant.parameters
        state = variant.state
        text = state.text
        graph = state.graph
        out = tex_name(graph.output)
        given = ", ".join(f"${tex_name(k)} = {num(v)}$" for k, v in p["inputs"].items())
        moved = ("every input" if len(state.wrt) == len(graph.inputs) else
                 ", ".join(f"${tex_name(k)}$" for k in state.wrt))
        formula = (f"${out} = {text.formula}$, computed by these nodes"
                   if len(text.formula) <= 160 else "the graph of these nodes")
        return (
            f"Consider {formula}:\n\n{text.table}\n\nwith the inputs {given}.\n\n"
            "1. `values`: the forward value of every node.\n"
            f"2. `gradients`: $\\partial {out} / \\partial v$ for every node and every input $v$.\n"
            f"3. `step`: one step of gradient descent on {moved} with learning rate "
            f"$\\eta = {num(p['learning_rate'])}$, $v \\leftarrow v - \\eta \\, \\partial {out} / "
            "\\partial v$: the new values.\n\n"
            f"{JSON_ANSWER_NOTE}Values and gradients are marked {HAND.describe()}, the step "
            f"{STEP.describe()}; a wrong value is not counted twice: later values and the "
            "gradients are judged from your own numbers.")

    def grade(self, variant, options, answers, submitted):
        p = variant.parameters
        state = variant.state
        graph = state.graph
        parts = [(f"values.{n.id}", "value", n.id) for n in graph.nodes]
        parts += [(f"gradients.{name}", "gradient", name) for name in graph.names
                  if name != graph.output]
        parts += [(f"step.{name}", "step", name) for name in state.wrt]
        q = GraphQuestion(graph, p["inputs"], 1.0, p["learning_rate"], tuple(parts),
                          {"value": HAND, "gradient": HAND, "step": STEP})
        key = {"value": answers["values"], "gradient": answers["gradients"],
               "step": answers["step"]}
        return mark_graph(q, key, flatten(submitted))

    def figure(self, problem, key, title):
        p = problem["parameters"]
        graph = graph_of_spec(p["graph"])
        if key:
            a = problem["answers"]
            return graph_svg(graph, labels(a["values"], graph.names, num),
                             labels(a["gradients"], graph.names, num), title)
        return graph_svg(graph, labels(p["inputs"], graph.inputs, num), {graph.output: "1"},
                         title)


"""gate_gradient: the worksheet's questions 4 and 5. What gradient does a sigmoid, ReLU
or tanh gate pass back, given its input and the gradient arriving from above?"""

from __future__ import annotations

import engine
from worksheets.drawing.graph_figure import graph_svg
from worksheets.graph_grading import GraphQuestion, mark_graph
from worksheets.problem import HAND, Option, ProblemType, Variant, step
from worksheets.latex import num, signed

GATES = ("sigmoid", "relu", "tanh")
# Inputs where the gate's local gradient is worth working out (sigma'(2.5) = 0.07,
# 1 - tanh(1.5)^2 = 0.18), and upstream gradients of at least 1 in size: every
# non-zero answer is then at least 0.07, far above the tolerance.
INPUT_RANGE = {"sigmoid": 2.5, "relu": 3.0, "tanh": 1.5}
LOCAL = {"sigmoid": "\\sigma(x)(1 - \\sigma(x)) = y(1 - y)",
         "tanh": "1 - \\tanh^2(x) = 1 - y^2"}
SYMBOL = {"sigmoid": "\\sigma(x)", "tanh": "\\tanh(x)", "relu": "\\mathrm{ReLU}(x) = \\max(x, 0)"}


class GateGradient(ProblemType):
    id = "gate_gradient"
    title = "The gradient a gate passes back"
    description = ("A sigmoid, ReLU or tanh gate with input x receives the upstream "
                   "gradient dL/dy: its output y and the gradient dL/dx it passes back. "
                   "A ReLU with a negative input is dead and passes back 0.")
    options = (
        Option("gates", "subset", list(GATES), "gates to draw from", choices=GATES),
    )
    tolerances = {"output": HAND, "gradient": HAND}
    figure_shows = "the gate"

    def __init__(self):
        super().__init__()
        self.graphs = {gate: engine.parse(f"y = {gate}(x)") for gate in GATES}

    def sample(self, rng, options) -> Variant:
        gate = rng.choice(options["gates"])
        r = INPUT_RANGE[gate]
        x = rng.decimal(-r, r, 0.1, nonzero=gate == "relu")
        upstream = rng.choice((-1, 1)) * rng.decimal(1.0, 3.0, 0.1, nonzero=False)
        return Variant({"gate": gate, "input": x, "upstream_gradient": upstream})

    def graph_items(self, variant):
        p = variant.parameters
        return [(self.graphs[p["gate"]], {"x": p["input"]}, p["upstream_gradient"])]

    def solve(self, variant, options, evaluations, convs, worked=True):
        ev = evaluations[0]
        answers = {"output": ev.values["y"], "gradient": ev.gradients["x"]}
        if not worked:
            return answers, []
        p = variant.parameters
        gate, x, g = p["gate"], p["input"], p["upstream_gradient"]
        y = answers["output"]
        if gate == "relu":
            local = 1.0 if x > 0 else 0.0
            why = ("the input is positive, so the gate passes the gradient on unchanged"
                   if x > 0 else "the input is negative: the ReLU is dead and passes nothing back")
            local_text = f"$\\dfrac{{\\partial y}}{{\\partial x}} = [x > 0] = {num(local)}$: {why}."
        else:
            if gate == "tanh":
                local, filled = 1 - y * y, f"1 - {signed(y)}^2"
            else:
                local, filled = y * (1 - y), f"{signed(y)} \\cdot (1 - {signed(y)})"
            local_text = (f"$\\dfrac{{\\partial y}}{{\\partial x}} = {LOCAL[gate]} = {filled} = "
                          f"{num(local)}$")
        steps = [
            step("Forward", f"$y = {SYMBOL[gate].split(' = ')[0]} = {num(y)}$ at $x = {num(x)}$"),
            step("Local gradient", local_text),
            step("Chain rule", f"$\\dfrac{{\\partial L}}{{\\partial x}} = \\dfrac{{\\partial L}}"
                               f"{{\\partial y}} \\cdot \\dfrac{{\\partial y}}{{\\partial x}} = "
                               f"{signed(g)} \\cdot {signed(local)} = {num(answers['gradient'])}$"),
        ]
        return answers, steps

    def statement(self, variant, options) -> str:
        p = variant.parameters
        return (f"A {p['gate'] if p['gate'] != 'relu' else 'ReLU'} gate $y = {SYMBOL[p['gate']]}$ "
                f"receives the input $x = {num(p['input'])}$, and the gradient of the loss with "
                f"respect to its output is "
                f"$\\partial L / \\partial y = {num(p['upstream_gradient'])}$.\n\n"
                "1. `output`: the gate's output $y$.\n"
                "2. `gradient`: the gradient $\\partial L / \\partial x$ it passes back.\n\n"
                f"Both are marked {HAND.describe()}.")

    def grade(self, variant, options, answers, submitted):
        p = variant.parameters
        q = GraphQuestion(self.graphs[p["gate"]], {"x": p["input"]}, p["upstream_gradient"], None,
                          (("output", "value", "y"), ("gradient", "gradient", "x")),
                          {"value": HAND, "gradient": HAND})
        key = {"value": {"y": answers["output"]}, "gradient": {"x": answers["gradient"]}}
        return mark_graph(q, key, submitted)

    def figure(self, problem, key, title):
        p = problem["parameters"]
        values = {"x": num(p["input"])}
        gradients = {"y": num(p["upstream_gradient"])}
        if key:
            a = problem["answers"]
            values["y"] = num(a["output"])
            gradients["x"] = num(a["gradient"])
        return graph_svg(self.graphs[p["gate"]], values, gradients, title, of="L")


"""logistic_regression: the worksheet's question 3. One example through
h = sigmoid(w1 x1 + w2 x2 + b), its cross-entropy loss, the gradients, and one step."""

from __future__ import annotations

import engine
from worksheets.drawing.graph_figure import graph_svg, labels
from worksheets.grading import flatten
from worksheets.graph_grading import GraphQuestion, mark_graph
from worksheets.problem import HAND, STEP, Option, PartResult, ProblemType, Variant, step
from worksheets.latex import num, signed
from worksheets.numerals import settle

PROGRAM = """
p1 = w1*x1
p2 = w2*x2
z = p1 + p2 + b
h = sigmoid(z)
L = -(y*log(h) + (1 - y)*log(1 - h))
"""
PARAMS = ("w1", "w2", "b")
# The figure's gates as the statement writes them: it names z, h and L, and each other
# gate is labelled by what it computes (add1, the bracket, is -L).
SHOWN = {"p1": "w1·x1", "p2": "w2·x2", "log1": "log h", "sub1": "1−y", "sub2": "1−h",
         "log2": "log(1−h)", "mul1": "(1−y)·log(1−h)", "mul2": "y·log h", "add1": "−L"}
X_VALUES = (-3.0, -2.0, -1.5, -1.0, 1.0, 1.5, 2.0, 3.0)


class LogisticRegression(ProblemType):
    id = "logistic_regression"
    title = "Logistic regression: loss, gradients and one step"
    description = ("h = sigmoid(w1 x1 + w2 x2 + b) for one example (x1, x2) with label y: "
                   "z, h, the cross-entropy loss -[y log h + (1 - y) log(1 - h)], its "
                   "gradients with respect to w1, w2 and b, and the weights after one step "
                   "of gradient descent.")
    options = (
        Option("learning_rates", "subset", [0.1], "learning rates to draw from",
               choices=(0.01, 0.1, 0.5, 1.0)),
    )
    tolerances = {"z": HAND, "h": HAND, "loss": HAND, "gradients": HAND, "updated": STEP}
    figure_shows = "the logistic-regression circuit"
    # solve reads z, h, L, dL/dz and the weights' gradients, not the other nine gates'
    key_reads = (("z", "h", "L"), ("z",) + PARAMS)

    def __init__(self):
        super().__init__()
        self.graph = engine.parse(PROGRAM)

    def sample(self, rng, options) -> Variant:
        # |z| <= 2.5 keeps h between 0.08 and 0.92: |h - y| >= 0.076, so every gradient
        # is at least 0.076 in size (|x| >= 1) and the loss stays below 2.6.
        while True:
            x1, x2 = rng.choice(X_VALUES), rng.choice(X_VALUES)
            w1, w2 = rng.decimal(-1.0, 1.0, 0.1), rng.decimal(-1.0, 1.0, 0.1)
            b = rng.decimal(-1.0, 1.0, 0.1, nonzero=False)
            if abs(w1 * x1 + w2 * x2 + b) <= 2.5:
                break
        y = float(rng.integer(0, 1))
        lr = rng.choice(options["learning_rates"])
        return Variant({"inputs": {"x1": x1, "x2": x2}, "label": y,
                        "weights": {"w1": w1, "w2": w2, "b": b}, "learning_rate": lr})

    def _inputs(self, p) -> dict:
        return {**p["weights"], **p["inputs"], "y": p["label"]}

    def graph_items(self, variant):
        return [(self.graph, self._inputs(variant.parameters))]

    def solve(self, variant, options, evaluations, convs, worked=True):
        ev = evaluations[0]
        p = variant.parameters
        values, grads = ev.values, ev.gradients
        lr = p["learning_rate"]
        answers = {"z": values["z"], "h": values["h"], "loss": values["L"],
                   "gradients": {k: grads[k] for k in PARAMS},
                   "updated": ev.step(lr, PARAMS)}
        if not worked:
            return answers, []
        w, x, y = p["weights"], p["inputs"], p["label"]
        z, h, L, dz = values["z"], values["h"], values["L"], grads["z"]
        loss_text = (f"-\\log h = -\\log {num(h)}" if y == 1 else
                     f"-\\log(1 - h) = -\\log(1 - {num(h)})")
        steps = [
            step("Forward: z", f"$z = w_1 x_1 + w_2 x_2 + b = {signed(w['w1'])} \\cdot "
                               f"{signed(x['x1'])} + {signed(w['w2'])} \\cdot {signed(x['x2'])} + "
                               f"{signed(w['b'])} = {num(z)}$"),
            step("Forward: h", f"$h = \\sigma(z) = \\dfrac{{1}}{{1 + e^{{-z}}}} = "
                               f"\\dfrac{{1}}{{1 + e^{{{num(-z)}}}}} = {num(h)}$"),
            step("Loss", f"$L = -[y \\log h + (1 - y) \\log(1 - h)]$ with $y = {num(y)}$: "
                         f"$L = {loss_text} = {num(L)}$"),
            step("Backward: z", "$\\dfrac{\\partial L}{\\partial z} = \\dfrac{\\partial L}"
                                "{\\partial h} \\cdot h(1 - h) = \\left(-\\dfrac{y}{h} + "
                                "\\dfrac{1 - y}{1 - h}\\right) h(1 - h) = h - y = "
                                f"{num(h)} - {num(y)} = {num(dz)}$"),
            step("Backward: weights",
                 f"$\\dfrac{{\\partial L}}{{\\partial w_1}} = (h - y) x_1 = {signed(dz)} \\cdot "
                 f"{signed(x['x1'])} = {num(grads['w1'])}$, "
                 f"$\\dfrac{{\\partial L}}{{\\partial w_2}} = (h - y) x_2 = {signed(dz)} \\cdot "
                 f"{signed(x['x2'])} = {num(grads['w2'])}$, "
                 f"$\\dfrac{{\\partial L}}{{\\partial b}} = h - y = {num(grads['b'])}$"),
        ]
        for k, tex in (("w1", "w_1"), ("w2", "w_2"), ("b", "b")):
            steps.append(step(f"Descent step: {k}",
                              f"${tex} \\leftarrow {tex} - \\eta \\dfrac{{\\partial L}}"
                              f"{{\\partial {tex}}} = {num(w[k])} - {num(lr)} \\cdot "
                              f"{signed(grads[k])} = {num(answers['updated'][k])}$"))
        return answers, steps

    def statement(self, variant, options) -> str:
        p = variant.parameters
        w, x = p["weights"], p["inputs"]
        return (
            "A logistic-regression unit computes $h = \\sigma(z)$ with "
            "$z = w_1 x_1 + w_2 x_2 + b$ and is trained with the cross-entropy loss "
            "$L = -[y \\log h + (1 - y) \\log(1 - h)]$ (natural logarithm).\n\n"
            f"The example is $x_1 = {num(x['x1'])}$, $x_2 = {num(x['x2'])}$ with label "
            f"$y = {num(p['label'])}$; the weights are $w_1 = {num(w['w1'])}$, "
            f"$w_2 = {num(w['w2'])}$, $b = {num(w['b'])}$.\n\n"
            "1. `z`, `h` and `loss`: the forward pass.\n"
            "2. `gradients`: $\\partial L/\\partial w_1$, $\\partial L/\\partial w_2$ and "
            "$\\partial L/\\partial b$, as a map with keys `w1`, `w2`, `b`.\n"
            f"3. `updated`: the weights after one step of gradient descent with learning rate "
            f"$\\eta = {num(p['learning_rate'])}$, as a map with keys `w1`, `w2`, `b`.\n\n"
            f"Forward values and gradients are marked {HAND.describe()}, the updated weights "
            f"{STEP.describe()}.")

    def grade(self, variant, options, answers, submitted):
        p = variant.parameters
        parts = [("z", "value", "z"), ("h", "value", "h"), ("loss", "value", "L")]
        parts += [(f"gradients.{k}", "gradient", k) for k in PARAMS]
        parts += [(f"updated.{k}", "step", k) for k in PARAMS]
        q = GraphQuestion(self.graph, self._inputs(p), 1.0, p["learning_rate"], tuple(parts),
                          {"value": HAND, "gradient": HAND, "step": STEP})
        key = {"value": {"z": answers["z"], "h": answers["h"], "L": answers["loss"]},
               "gradient": answers["gradients"], "step": answers["updated"]}
        return [_named_sign_flip(r, p, submitted) for r in mark_graph(q, key, flatten(submitted))]

    def figure(self, problem, key, title):
        graph = self.graph
        inputs = self._inputs(problem["parameters"])
        if key:
            # the answers hold z, h, L and three gradients; the figure shows every wire
            ev = settle(graph, engine.evaluate(graph, inputs))
            return graph_svg(graph, labels(ev.values, graph.names, num),
                             labels(ev.gradients, graph.names, num), title, shown=SHOWN)
        return graph_svg(graph, labels(inputs, graph.inputs, num), {graph.output: "1"}, title,
                         shown=SHOWN)



def _named_sign_flip(result: PartResult, p: dict, submitted: dict) -> PartResult:
    """A gradient worked from y - h instead of h - y, named in the worksheet's symbols
    (the graph grader would blame the node that computes 1 - h)."""
    if result.correct or not result.part.startswith("gradients."):
        return result
    name = result.part.split(".", 1)[1]
    got = submitted.get("gradients", {}).get(name)
    if got is None:
        return result
    x = {"w1": p["inputs"]["x1"], "w2": p["inputs"]["x2"], "b": 1.0}[name]
    y = p["label"]
    # from the key's h, or from the student's own h (error carried forward)
    follows = [result.expected]
    if submitted.get("h") is not None:
        follows.append((submitted["h"] - y) * x)
    for want in follows:
        if want and HAND.accepts(got, -want):
            times = "" if name == "b" else f" · x{name[1]}"
            return PartResult(result.part, False, 0.0,
                              f"the sign is flipped: ∂L/∂z = h − y, not y − h, so "
                              f"∂L/∂{name} = (h − y){times}", result.expected)
    return result

"""A template (worksheets.template) as a problem type: seeded variants drawn from its
parameters, redrawn until the key is finite and meets every `require` condition; the
key, worked solution, figure and grading of the built-in graph and conv types.

A graph template's key comes from engine.evaluate as its variant is drawn (the
conditions read it), so its solve needs no batch. A conv template's geometry comes
from engine.conv_geometry, its numbers from conv1d_many, and with dilation 1 its
solution text and named slips are those of conv_output_size, conv_same_padding and
conv1d_backprop.
"""

from __future__ import annotations

import math
from abc import ABCMeta, abstractmethod
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

import engine
from engine.conv.geometry import same_padding
from engine.errors import ArgumentError, GraphError
from worksheets.errors import TokenError
from worksheets.drawing.conv_figure import conv1d_svg, output_size_svg, same_padding_svg
from worksheets.drawing.graph_figure import graph_svg, labels
from worksheets.grading import flatten, mark_list, mark_number
from worksheets.graph_grading import GraphQuestion, mark_graph
from worksheets.graph_text import GraphText, drawn_names, shown_names, unnamed_nodes
from worksheets.latex import num, tex_name
from worksheets.problem import EXACT, JSON_ANSWER_NOTE, ProblemType, Tolerance, Variant, step
from worksheets.problems.conv1d_backprop import Conv1dBackprop
from worksheets.problems.conv_output_size import ConvOutputSize
from worksheets.problems.conv_same_padding import ConvSamePadding
from worksheets.seeding import Stream, keys
from worksheets.template import (MAX_DRAWS, MAX_REJECTED_SHARE, NUMERIC_ASKS, STRESS_VARIANTS,
                                 Template, TemplateError, gradient_variable)

STRESS_SECRET = b"gradsheet-template-stress-test"
GRAPH_SHOWS = "the computational graph"
CONV_SHOWS = "the input units, padding and windows"
NUMERIC_SHOWS = "the convolution's input, output and filter"


def tolerances(precision: int) -> tuple[Tolerance, Tolerance]:
    """(values and gradients, step) for answers worked to `precision` decimals: at 3,
    the built-in types' HAND and STEP. A whole-number template (precision 0 or 1)
    still needs the right whole number."""
    hand = Tolerance(min(5 * 10.0 ** -precision, 0.5), 0.005)
    return hand, Tolerance(hand.abs / 10)


@dataclass
class Drawn:
    """A variant and the draws refused on the way to it: (path, why) each."""

    variant: Variant | None
    refused: list = field(default_factory=list)


class TemplateProblem(ProblemType, metaclass=ABCMeta):
    """The base of both kinds: a template's id, title and points, and its draws."""

    options = ()

    def __init__(self, template: Template):
        super().__init__()
        self.template = template
        self.id = template.id
        self.title = template.title
        self.template_hash = template.hash
        self.description = (f"Instructor template {template.id} (hash {template.hash}): "
                            f"asks {', '.join(template.parts)}.")

    def sample(self, rng, options) -> Variant:
        drawn = self.draw(rng)
        if drawn.variant is None:
            raise impossible(self.template, drawn.refused)
        return drawn.variant

    def draw(self, rng) -> Drawn:
        """Draws until one meets every condition, at most MAX_DRAWS; each refused draw
        is redrawn from the stream's next words (the next keyed sub-seed)."""
        refused = []
        for _ in range(MAX_DRAWS):
            variant, why = self.attempt(rng)
            if variant is not None:
                return Drawn(variant, refused)
            refused.append(why)
        return Drawn(None, refused)

    @abstractmethod
    def attempt(self, rng) -> tuple[Variant | None, tuple | None]:
        """One draw: (the variant, None), or (None, (field path, why it was refused)):
        the graph and conv templates each draw in their own way."""

    def failing(self, env: dict) -> tuple | None:
        for c in self.template.require:
            if not c.holds(env):
                return c.path, f"the condition {c.text!r} does not hold"
        return None

    def part_points(self, results) -> list[float]:
        """Each result's points: the template's points of its part (values.z -> values)."""
        points = self.template.points
        return [points[r.part.split(".")[0]] for r in results]

    def template_record(self) -> dict:
        return {"id": self.template.id, "title": self.template.title,
                "hash": self.template.hash}

    def fill(self, text: str, values: dict) -> str:
        """The instructor's text with {name} replaced by that parameter's number."""
        for name, v in values.items():
            text = text.replace("{" + name + "}", num(v))
        return text


def impossible(t: Template, refused: list) -> TemplateError:
    path, why = Counter(refused).most_common(1)[0][0]
    return TemplateError(f"no variant of {t.id!r} could be made in {MAX_DRAWS} draws; "
                         f"most failed because {why}", path=path)


# -- graph templates --------------------------------------------------------------------------

class GraphKey:
    """What a graph variant keeps beside its parameters: the engine's numbers."""

    __slots__ = ("values", "gradients", "stepped")

    def __init__(self, values, gradients, stepped):
        self.values, self.gradients, self.stepped = values, gradients, stepped


class GraphTemplateProblem(TemplateProblem):
    figure_shows = GRAPH_SHOWS

    def __init__(self, template: Template):
        super().__init__(template)
        self.text = GraphText(template.graph, unnamed_nodes(template.graph))
        self.hand, self.step_tol = tolerances(template.precision)
        self.tolerances = {p: self.step_tol if p == "step" else self.hand
                           for p in template.parts}

    def attempt(self, rng):
        t = self.template
        inputs = {p.name: p.draw(rng) for p in t.params}
        lr = t.learning_rate.draw(rng) if t.learning_rate is not None else None
        try:
            ev = engine.evaluate(t.graph, inputs, output_gradient=t.upstream)
            stepped = ev.step(lr, list(t.wrt)) if t.wrt else {}
        except GraphError as exc:
            return None, ("graph", f"the key is not finite ({exc.message})")
        values, gradients = ev.values, ev.gradients
        env = dict(values)
        env.update((gradient_variable(t.graph.output, n), g) for n, g in gradients.items())
        why = self.failing(env)
        if why is not None:
            return None, why
        params = {"template": self.template_record(), "graph": t.graph.to_spec(),
                  "inputs": inputs, "upstream": t.upstream}
        if t.wrt:
            params.update(learning_rate=lr, wrt=list(t.wrt))
        return Variant(params, GraphKey(values, gradients, stepped)), None

    def solve(self, variant, options, evaluations, convs, worked=True):
        t, k, p = self.template, variant.state, variant.parameters
        answers = {}
        if t.values:
            answers["values"] = {n: k.values[n] for n in t.values}
        if t.gradients:
            answers["gradients"] = {n: k.gradients[n] for n in t.gradients}
        if t.wrt:
            answers["step"] = dict(k.stepped)
        if not worked:
            return answers, []
        steps = (self.text.forward_steps(k.values)
                 + self.text.backward_steps(k.values, k.gradients, t.upstream))
        if t.wrt:
            steps += self.text.descent_steps(p["inputs"], k.gradients, p["learning_rate"],
                                             k.stepped)
        return answers, steps

    def statement(self, variant, options) -> str:
        t, p = self.template, variant.parameters
        graph, out = t.graph, tex_name(t.graph.output)
        given = ", ".join(f"${tex_name(k)} = {num(v)}$" for k, v in p["inputs"].items())
        if t.text is not None:
            head = self.fill(t.text, {**p["inputs"], **({"learning_rate": p["learning_rate"]}
                                                         if t.wrt else {})})
        else:
            by = ("in these steps (the figure shows every gate)" if self.text.unnamed
                  else "by these nodes")
            formula = (f"${out} = {self.text.formula}$, computed {by}"
                       if len(self.text.formula) <= 160 else "the graph of these nodes")
            head = f"Consider {formula}:\n\n{self.text.table}\n\nwith the inputs {given}."
        upstream = ("" if t.upstream == 1 else
                    f" The gradient arriving at ${out}$ from above is {num(t.upstream)}.")
        items = []
        names = lambda ns: ", ".join(f"${tex_name(n)}$" for n in ns)  # noqa: E731
        if t.values:
            items.append(f"`values`: the forward value of {names(t.values)}.")
        if t.gradients:
            items.append(f"`gradients`: $\\partial {out} / \\partial v$ for $v$ = "
                         f"{names(t.gradients)}.")
        if t.wrt:
            items.append(f"`step`: one step of gradient descent on {names(t.wrt)} with learning "
                         f"rate $\\eta = {num(p['learning_rate'])}$, $v \\leftarrow v - \\eta \\, "
                         f"\\partial {out} / \\partial v$: the new values.")
        listed = "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))
        marked = f"Values and gradients are marked {self.hand.describe()}" + (
            f", the step {self.step_tol.describe()}" if t.wrt else "")
        return (f"{head}{upstream}\n\n{listed}\n\n{JSON_ANSWER_NOTE}{marked}; a wrong value "
                "is not counted twice: later values and "
                "the gradients are judged from your own numbers.")

    def grade(self, variant, options, answers, submitted):
        t, k, p = self.template, variant.state, variant.parameters
        parts = tuple([(f"values.{n}", "value", n) for n in t.values]
                      + [(f"gradients.{n}", "gradient", n) for n in t.gradients]
                      + [(f"step.{n}", "step", n) for n in t.wrt])
        q = GraphQuestion(t.graph, p["inputs"], t.upstream, p.get("learning_rate"), parts,
                          {"value": self.hand, "gradient": self.hand, "step": self.step_tol})
        key = {"value": k.values, "gradient": k.gradients, "step": k.stepped}
        return mark_graph(q, key, flatten(submitted))

    def figure(self, problem, key, title):
        return graph_figure(problem, key, title)


def graph_figure(problem: dict, key: bool, title: str) -> str:
    """The graph of a template problem as a set holds it: its parameters and answers."""
    p = problem["parameters"]
    graph = engine.Graph.from_spec(p["graph"])
    names, short = shown_names(graph), drawn_names(graph)
    if key:
        a = problem["answers"]
        values = {**p["inputs"], **a.get("values", {})}
        return graph_svg(graph, labels(values, graph.names, num),
                         labels(a.get("gradients", {}), graph.names, num), title, shown=names,
                         drawn=short)
    return graph_svg(graph, labels(p["inputs"], graph.inputs, num),
                     {graph.output: num(p.get("upstream", 1))}, title, shown=names, drawn=short)


# -- conv templates ---------------------------------------------------------------------------

class ConvTemplateProblem(TemplateProblem):
    def __init__(self, template: Template):
        super().__init__(template)
        self.numeric = any(a in NUMERIC_ASKS for a in template.asks)
        self.hand, _ = tolerances(template.precision)
        self.tolerances = {a: self.hand if a in NUMERIC_ASKS else EXACT for a in template.asks}
        self.figure_shows = NUMERIC_SHOWS if self.numeric else CONV_SHOWS

    def attempt(self, rng):
        t = self.template
        W, F, P, S, D = (p.draw(rng) for p in t.params)
        try:
            g = engine.conv_geometry(W, F, P, S, D)
            same = same_padding(W, F, 1, D) if "same_padding" in t.asks else None
        except ArgumentError as exc:
            return None, ("conv", f"the geometry does not work ({exc})")
        env = {"width": W, "filter": F, "padding": P, "stride": S, "dilation": D,
               "output_size": g.output_size}
        why = self.failing(env)
        if why is not None:
            return None, why
        params = {"template": self.template_record(), "width": W, "filter_size": F,
                  "padding": P, "stride": S, "dilation": D}
        if self.numeric:
            lists = t.conv_lists
            params["input"] = [lists["input"].draw(rng) for _ in range(W)]
            params["weight"] = [lists["weight"].draw(rng) for _ in range(F)]
            params["grad_output"] = [lists["grad_output"].draw(rng)
                                     for _ in range(g.output_size)]
        return Variant(params, (g, same)), None

    def conv_items(self, variant):
        if not self.numeric:
            return []
        p = variant.parameters
        return [{"x": np.array(p["input"], dtype=np.float64),
                 "w": np.array(p["weight"], dtype=np.float64), "stride": p["stride"],
                 "padding": p["padding"], "dilation": p["dilation"],
                 "grad_output": np.array(p["grad_output"], dtype=np.float64)}]

    def _built_in(self, variant):
        """The parameters as the built-in conv types hold them, and whether their
        solution text and slips apply (they know no dilation)."""
        p = variant.parameters
        return ({"width": p["width"], "filter_size": p["filter_size"], "padding": p["padding"],
                 "stride": p["stride"], **{k: p[k] for k in ("input", "weight", "grad_output")
                                            if k in p}},
                p["dilation"] == 1)

    def _full_key(self, variant, convs) -> dict:
        g, same = variant.state
        key = {"output_size": g.output_size, "windows": g.windows, "centers": g.centers,
               "same_padding": same}
        if convs:
            r = convs[0]
            key.update(output=r.output.tolist(), grad_input=r.grad_input.tolist(),
                       grad_weight=r.grad_weight.tolist())
        return key

    def solve(self, variant, options, evaluations, convs, worked=True):
        key = self._full_key(variant, convs)
        answers = {a: key[a] for a in self.template.asks}
        if not worked:
            return answers, []
        plain, undilated = self._built_in(variant)
        asks = self.template.asks
        steps = []
        geometry = {"output_size", "windows", "centers"} & set(asks)
        if geometry and undilated:
            _, more = ConvOutputSize().solve(Variant(plain), {}, [], [], True)
            steps += more
        elif geometry:
            g = variant.state[0]
            steps.append(step("Output size",
                              f"With dilation $D = {g.dilation}$ the filter spans "
                              f"$D(F - 1) + 1 = {g.effective_filter_size}$ units: "
                              f"${g.formula}$."))
            steps.append(step("Windows", f"Window $o$ starts at $oS - P$ and spans "
                              f"{g.effective_filter_size} units: "
                              + ", ".join(f"$[{a}, {b}]$" for a, b in g.windows) + "."))
            steps.append(step("Centres", ", ".join(f"${c}$" for c in g.centers) + "."))
        if "same_padding" in asks:
            same = Variant({"width": plain["width"], "filter_size": plain["filter_size"],
                            "stride": 1, "dilation": variant.parameters["dilation"]})
            _, more = ConvSamePadding().solve(same, {}, [], [], True)
            steps += more
        if self.numeric and undilated:
            _, more = Conv1dBackprop().solve(Variant(plain), {}, [], convs, True)
            steps += more
        elif self.numeric:
            steps.append(step("Output and gradients",
                              f"$y_o = \\sum_k w_k \\, x_{{oS - P + kD}}$: $y = "
                              f"[{', '.join(num(v) for v in key['output'])}]$, "
                              f"$\\partial L / \\partial x = "
                              f"[{', '.join(num(v) for v in key['grad_input'])}]$, "
                              f"$\\partial L / \\partial w = "
                              f"[{', '.join(num(v) for v in key['grad_weight'])}]$."))
        return answers, steps

    def statement(self, variant, options) -> str:
        p, t = variant.parameters, self.template
        W, F, P, S, D = (p[k] for k in ("width", "filter_size", "padding", "stride",
                                        "dilation"))
        if t.text is not None:
            head = self.fill(t.text, {"width": W, "filter": F, "padding": P, "stride": S,
                                      "dilation": D})
        else:
            filt = f"a filter of size $F = {F}$" + (
                f" with dilation $D = {D}$ (its taps sit {D} units apart)" if D != 1 else "")
            head = (f"A 1-D convolution (cross-correlation, as PyTorch's `conv1d`) slides "
                    f"{filt} with stride $S = {S}$ over an input of width $W = {W}$ padded with "
                    f"$P = {P}$ zeros on each side. Number the input units "
                    f"$0, \\dots, {W - 1}$ (padding units get the indices below 0 and from "
                    f"${W}$ up).")
        if self.numeric:
            head += (f"\n\nThe input is $x = [{', '.join(map(num, p['input']))}]$, the filter "
                     f"$w = [{', '.join(map(num, p['weight']))}]$ and the gradient of the loss "
                     f"with respect to the output "
                     f"$\\partial L / \\partial y = [{', '.join(map(num, p['grad_output']))}]$.")
        say = {"output_size": "how many outputs does the layer produce?",
               "windows": "for each output, the first and last index of the units its window "
                          "covers, as a list of `[first, last]` pairs.",
               "centers": "for each output, the index of the unit at its window's centre.",
               "same_padding": "with stride 1, how many zeros $P$ on each side keep the output "
                               f"{W} units wide?",
               "output": "the list $y$.",
               "grad_input": "the list $\\partial L / \\partial x$ (one entry per input unit).",
               "grad_weight": "the list $\\partial L / \\partial w$."}
        listed = "\n".join(f"{i}. `{a}`: {say[a]}" for i, a in enumerate(t.asks, 1))
        marked = ("Sizes and indices are whole numbers, marked exactly"
                  + (f"; the numbers of $y$ and the gradients {self.hand.describe()}, a list "
                     "earning the share of its entries that are right" if self.numeric else ""))
        return f"{head}\n\n{listed}\n\n{marked}."

    def grade(self, variant, options, answers, submitted):
        asks = self.template.asks
        key = self._full_key(variant, self._convs(variant))
        plain, undilated = self._built_in(variant)
        results = {}
        if undilated and {"output_size", "windows", "centers"} & set(asks):
            for r in ConvOutputSize().grade(Variant(plain), {}, key, submitted):
                results[r.part] = r
        if "same_padding" in asks:
            same = Variant({"width": plain["width"], "filter_size": plain["filter_size"],
                            "dilation": variant.parameters["dilation"]})
            sub = {"padding": submitted["same_padding"]} if "same_padding" in submitted else {}
            r = ConvSamePadding().grade(same, {}, {"padding": key["same_padding"]}, sub)[0]
            r.part = "same_padding"
            results["same_padding"] = r
        if self.numeric and undilated:
            for r in Conv1dBackprop().grade(Variant(plain), {}, key, submitted):
                results[r.part] = r
        out = []
        for a in asks:
            if a in results:
                out.append(results[a])
            elif a == "output_size":
                out.append(mark_number(a, submitted.get(a), key[a], EXACT))
            else:
                tol = self.hand if a in NUMERIC_ASKS else EXACT
                out.append(mark_list(a, submitted.get(a), key[a], tol))
        return out

    def _convs(self, variant):
        items = self.conv_items(variant)
        return engine.conv1d_many(items) if items else []

    def figure(self, problem, key, title):
        return conv_figure(problem, key, title)


def conv_figure(problem: dict, key: bool, title: str) -> str | None:
    p = problem["parameters"]
    a = problem.get("answers") or {}
    if p["dilation"] == 1 and "input" in p:
        full = key and all(k in a for k in NUMERIC_ASKS)
        return conv1d_svg(p["input"], p["weight"], p["stride"], p["padding"],
                          p["grad_output"], full, a if full else None, num, title)
    if p["dilation"] == 1:
        return output_size_svg(p["width"], p["filter_size"], p["padding"], p["stride"], key,
                               title)
    if "same_padding" in a or not key:
        return same_padding_svg(p["width"], p["filter_size"], p["dilation"], key, title)
    return None


# -- problem types of templates, and the stress test ------------------------------------------

def problem_type_of(template: Template) -> TemplateProblem:
    kind = GraphTemplateProblem if template.kind == "graph" else ConvTemplateProblem
    return kind(template)


def template_type(ticket, templates) -> TemplateProblem:
    """The problem type of a template problem's ticket, from the template of its id in
    `templates`; TokenError unless that template is the one the token was made from."""
    found = [t for t in templates or () if t.id == ticket.type_id]
    if not found:
        raise TokenError(f"is a problem of the template {ticket.type_id!r}: send that "
                         f"template (templates) to grade it")
    if found[0].hash != ticket.template:
        raise TokenError(f"was made from another version of the template {ticket.type_id!r} "
                         f"(hash {ticket.template}; the template sent has hash "
                         f"{found[0].hash}): its numbers would differ, so it is not graded; "
                         f"send the template as it was when the sheets were made")
    return problem_type_of(found[0])


@dataclass
class StressReport:
    """What drawing `variants` variants of a template took: `draws` in all, `refused`
    by (path, why), and the variants that could not be made."""

    template: str
    variants: int
    draws: int
    refused: Counter
    impossible: list

    @property
    def rejection_rate(self) -> float:
        return (self.draws - self.variants + len(self.impossible)) / max(self.draws, 1)

    def describe(self) -> str:
        lines = [f"{self.template}: {self.variants} variants in {self.draws} draws, "
                 f"{self.rejection_rate:.1%} rejected"]
        for (path, why), n in self.refused.most_common(5):
            lines.append(f"  {n} x {path}: {why}")
        if self.impossible:
            lines.append(f"  {len(self.impossible)} variant(s) could not be made")
        return "\n".join(lines)


def stress(t: TemplateProblem, variants: int = STRESS_VARIANTS) -> StressReport:
    """Draw `variants` variants with a fixed key, and check each key is finite, meets the
    conditions and prints at the template's precision. TemplateError names the
    condition, parameter or answer responsible when more than half the draws are refused,
    a variant cannot be made or a key needs more decimals than the template states."""
    k = keys(STRESS_SECRET)
    refused: Counter = Counter()
    impossible, draws = [], 0
    template = t.template
    smallest = 0.5 * 10.0 ** -template.precision  # what rounds to 0 at that precision
    made = []
    for i in range(variants):
        drawn = t.draw(Stream(k, f"{i:016x}", 0, t.id))
        refused.update(drawn.refused)
        draws += len(drawn.refused) + (drawn.variant is not None)
        if drawn.variant is None:
            impossible.append(i)
        else:
            made.append((i, drawn.variant))
    # one conv1d_many for every variant, as a set's generation batches them
    items = [t.conv_items(v) for _, v in made]
    convs = engine.conv1d_many([x for item in items for x in item]) if any(items) else []
    at = 0
    for (i, variant), item in zip(made, items):
        answers, _ = t.solve(variant, {}, [], convs[at:at + len(item)], worked=False)
        at += len(item)
        for path, v in flatten_answers(answers):
            if v != 0 and abs(v) < smallest:
                raise TemplateError(
                    f"{path} = {v:.3g} in stress variant {i} (parameters "
                    f"{_shown_params(variant.parameters)}) prints as 0 at the template's "
                    f"precision of {template.precision} decimals; add a require condition "
                    f"that keeps it away from 0 or narrow the parameters",
                    path="ask." + path.split(".")[0].split("[")[0])
    report = StressReport(t.id, variants, draws, refused, impossible)
    if impossible or report.rejection_rate > MAX_REJECTED_SHARE:
        path, why = refused.most_common(1)[0][0]
        raise TemplateError(
            f"{report.rejection_rate:.0%} of {draws} draws were rejected (the limit is "
            f"{MAX_REJECTED_SHARE:.0%}; {len(impossible)} of {variants} variants could not be "
            f"made); most because {why}: widen the parameters or loosen the condition",
            path=path)
    return report


def flatten_answers(answers: dict, prefix: str = ""):
    """(path, number) for every number of an answer key."""
    for name, v in answers.items():
        path = f"{prefix}.{name}" if prefix else str(name)
        if isinstance(v, dict):
            yield from flatten_answers(v, path)
        elif isinstance(v, list):
            yield from flatten_answers(dict(enumerate(v)), path)
        elif isinstance(v, (int, float)) and math.isfinite(v):
            yield path, v


def _shown_params(params: dict) -> str:
    shown = params.get("inputs") or {k: v for k, v in params.items()
                                      if k in ("width", "filter_size", "padding", "stride",
                                               "dilation")}
    return ", ".join(f"{k} = {num(v)}" for k, v in shown.items())


def figure_type(problem: dict):
    """The drawer of a template problem as a set holds it (exports read only the set's
    JSON, so a template need not be loaded to draw it); None for other problems."""
    record = problem.get("parameters", {}).get("template")
    if not isinstance(record, dict):
        return None
    return _Drawer("graph" in problem["parameters"], str(record.get("title", problem["type"])),
                   problem)


@dataclass
class _Drawer:
    graph: bool
    title: str
    problem: dict

    @property
    def figure_shows(self) -> str:
        if self.graph:
            return GRAPH_SHOWS
        return NUMERIC_SHOWS if "input" in self.problem["parameters"] else CONV_SHOWS

    def figure(self, problem, key, title):
        return graph_figure(problem, key, title) if self.graph else conv_figure(problem, key,
                                                                                title)

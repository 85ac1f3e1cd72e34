"""A problem's answer key as a flat list of numbered parts, each with a label in words
and in LaTeX and the absolute tolerance an LMS checks it with.

The parts are those the grader marks (worksheets): for a graph, the values of
its nodes (the inputs are given), the gradient of every name but the output (which is
1), and the step. A part's tolerance is the problem's `tolerance` of its top-level
answer, |got - want| <= max(abs, rel * |want|), as one absolute width per number since
Moodle and Canvas take one; a part's points are its share of the weights table
(worksheets.problem.POINTS) that gradsheet's own grader reads too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from worksheets.latex import num, tex_name
from worksheets.problem import JSON_ANSWER_NOTE, share_points


@dataclass(frozen=True)
class Part:
    path: tuple      # ("gradients", "x"), ("windows", 2, 0), ...
    label: str       # in words: "∂f/∂x", "last unit of window 2"
    tex: str         # the same in LaTeX
    value: float
    tolerance: float
    points: Fraction = Fraction(0)

    @property
    def name(self) -> str:
        """values.q, windows[2][0]: how the grader names the part."""
        out = str(self.path[0])
        for p in self.path[1:]:
            out += f"[{p}]" if isinstance(p, int) else f".{p}"
        return out


def _graph_parts(problem: dict):
    p, a = problem["parameters"], problem["answers"]
    spec = p["graph"]
    out = spec["output"]
    nodes = [n["id"] for n in spec["nodes"]]
    for n in nodes:
        yield ("values", n), a["values"][n]
    for name in list(p["inputs"]) + nodes:
        if name != out and name in a["gradients"]:
            yield ("gradients", name), a["gradients"][name]
    for name, v in a["step"].items():
        yield ("step", name), v


def _walk(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, path + (k,))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _walk(v, path + (i,))
    else:
        yield path, value


def _partial(of: str, wrt: str) -> tuple[str, str]:
    return f"∂{of}/∂{wrt}", rf"\partial {tex_name(of)} / \partial {tex_name(wrt)}"


_CONV_TYPES = ("conv_output_size", "conv_same_padding", "conv1d_backprop")
_EXACT = {"abs": 0.0, "rel": 0.0}


def _label(problem: dict, path: tuple) -> tuple[str, str]:
    """(words, LaTeX) for one part of a problem of a known type; the path otherwise."""
    t, head = problem["type"], path[0]
    # a graph template's parts are a graph's: values, gradients and a step of names
    if t == "graph_backprop" or "graph" in problem.get("parameters", {}):
        name = path[1]
        if head == "values":
            return f"the value of {name}", tex_name(name)
        if head == "gradients":
            return _partial(problem["parameters"]["graph"]["output"], name)
        return f"{name} after one step", rf"{tex_name(name)} \text{{ after one step}}"
    if t == "logistic_regression":
        if head in ("z", "h"):
            return head, head
        if head == "loss":
            return "the loss L", "L"
        if head == "gradients":
            return _partial("L", path[1])
        return f"{path[1]} after one step", rf"{tex_name(path[1])} \text{{ after one step}}"
    if t == "gate_gradient":
        return ("the output y", "y") if head == "output" else _partial("L", "x")
    # conv problems, built in or from a conv template (which has a width and a filter)
    if t in _CONV_TYPES or "filter_size" in problem.get("parameters", {}):
        if head == "output_size":
            return "the output size", r"\text{output size}"
        if head == "windows":
            end = "first" if path[2] == 0 else "last"
            return (f"the {end} unit of window {path[1]}",
                    rf"\text{{{end} unit of window }} {path[1]}")
        if head == "centers":
            return f"the centre of window {path[1]}", rf"\text{{centre of window }} {path[1]}"
        if head == "padding":
            return "the padding P", "P"
        if head == "same_padding":
            return "the padding P that keeps the width", r"\text{same-width } P"
        i = path[1] if len(path) > 1 else 0
        if head == "output":
            return f"y{i}", f"y_{{{i}}}"
        if head == "grad_input":
            return f"∂L/∂x{i}", rf"\partial L / \partial x_{{{i}}}"
        if head == "grad_weight":
            return f"∂L/∂w{i}", rf"\partial L / \partial w_{{{i}}}"
    name = Part(path, "", "", 0.0, 0.0).name
    return name, rf"\texttt{{{name}}}".replace("_", r"\_")


def answer_parts(problem: dict) -> list[Part]:
    """Every part of the problem's key (which it must hold), in the key's order."""
    answers = problem.get("answers")
    if answers is None:
        raise ValueError(f"problem {problem.get('id', '?')} has no answers: make the set with "
                         "answers to export a key or an LMS quiz")
    items = (_graph_parts(problem) if problem["type"] == "graph_backprop"
             else _walk(answers))
    # a set written before tolerances were published has none: its parts are exact;
    # otherwise every part of the key has its tolerance
    tolerances = problem.get("tolerance")
    out = []
    for path, value in items:
        tol = _EXACT if tolerances is None else tolerances[path[0]]
        width = max(float(tol["abs"]), float(tol["rel"]) * abs(value))
        label, tex = _label(problem, path)
        out.append(Part(path, label, tex, float(value), width))
    shares = share_points(problem["type"], [p.name for p in out])
    return [Part(p.path, p.label, p.tex, p.value, p.tolerance, s) for p, s in zip(out, shares)]


def paper_statement(statement: str) -> str:
    """A statement as a printed sheet shows it: its boxes name every part, so the words
    on how a JSON answer is keyed go."""
    return statement.replace(JSON_ANSWER_NOTE, "")


# Where a statement stops setting the problem up and starts listing the parts of the
# JSON answer ("1. `output_size`: ...", "Answer each with a map keyed by ..."): an LMS
# asks for its own blanks instead, so it keeps only what comes before.
_ANSWER_LIST = re.compile(r"\n\n1\. `")
# A single-part statement names its part inline: "`padding`: how many zeros ...".
_PART_NAME = re.compile(r"(?m)^`\w+`: (\w)")


def lms_statement(problem: dict) -> str:
    """The problem's statement (Markdown) without the parts of the JSON answer and how
    gradsheet's own grader marks them: the setup an LMS question shows above its
    blanks."""
    text = problem["statement"]
    cut = _ANSWER_LIST.search(text)
    return text[:cut.start()] if cut else _PART_NAME.sub(lambda m: m.group(1).upper(), text)


def tolerance_words(part: Part) -> str:
    return "exactly" if part.tolerance == 0 else f"within ± {part.tolerance:.6g}"


def display(part: Part) -> str:
    return num(part.value)


@dataclass(frozen=True)
class Box:
    """One answer box of a student's sheet: its label in words, and `wide` for a part
    whose answer is a list (written on a line of its own)."""

    label: str
    wide: bool = False


# The parts a statement names: "1. `values`: ..." or "`padding`: ..."
_NAMED_PART = re.compile(r"(?m)^(?:\d+\. )?`(\w+)`:")


def answer_boxes(problem: dict) -> list[Box]:
    """The answer boxes of a problem on a student's sheet: one per part of its key,
    labelled as the key labels it, except that a list is one wide box (so many boxes
    would tell how long it is, which may be the question). A set made without answers
    gets a box per part its statement names. None where the figure holds the boxes
    (a 1-D convolution's backward pass has a cell per entry)."""
    if "grad_output" in problem.get("parameters", {}):
        return []
    if problem.get("answers") is None:
        return [Box(f"{name}", wide=True) for name in _NAMED_PART.findall(problem["statement"])]
    parts = answer_parts(problem)
    out: list[Box] = []
    for name, value in problem["answers"].items():
        if isinstance(value, list):
            out.append(Box(name, wide=True))
        else:
            out += [Box(p.label) for p in parts if p.path[0] == name]
    return out

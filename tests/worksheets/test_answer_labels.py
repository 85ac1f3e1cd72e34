"""Each part's label and each answer box, as LMS exports and printed sheets show them,
against the rule each label follows in the worksheet's words; for a problem as the set
holds it and as read back from a saved JSON set (whose keys are new string objects, so
the labels may not depend on which string object a name is)."""

import json

import pytest

import worksheets
from worksheets.exports.parts import Box, answer_boxes, answer_parts
from worksheets.template import library

SECRET = "test-answer-labels-secret-0123456789"
TEMPLATES = {t.id: t for t in library()}


def _problem(kind: str, *, answers: bool = True) -> dict:
    template = TEMPLATES.get(kind)
    s = worksheets.generate(5, 1, [kind], include_answers=answers, secret=SECRET,
                            templates=[template] if template else None)
    return s["sheets"][0]["problems"][0]


def _expected_label(problem: dict, path: tuple) -> str:
    head = path[0]
    if "graph" in problem["parameters"]:
        out = problem["parameters"]["graph"]["output"]
        return {"values": f"the value of {path[-1]}", "gradients": f"∂{out}/∂{path[-1]}",
                "step": f"{path[-1]} after one step"}[head]
    if problem["type"] == "logistic_regression":
        return {"z": "z", "h": "h", "loss": "the loss L", "gradients": f"∂L/∂{path[-1]}",
                "updated": f"{path[-1]} after one step"}[head]
    if problem["type"] == "gate_gradient":
        return {"output": "the output y", "gradient": "∂L/∂x"}[head]
    if head == "windows":
        return f"the {('first', 'last')[path[2]]} unit of window {path[1]}"
    return {"output_size": "the output size", "padding": "the padding P",
            "same_padding": "the padding P that keeps the width",
            "centers": f"the centre of window {path[-1]}", "output": f"y{path[-1]}",
            "grad_input": f"∂L/∂x{path[-1]}", "grad_weight": f"∂L/∂w{path[-1]}"}[head]


KINDS = [*worksheets.TYPES, "tanh-neuron", "dilated-conv-geometry", "strided-conv-backward"]


@pytest.fixture(params=[(kind, saved) for saved in (False, True) for kind in KINDS],
                ids=lambda p: f"{p[0]}-{'read from JSON' if p[1] else 'as made'}")
def problem(request):
    kind, saved = request.param
    made = _problem(kind)
    return json.loads(json.dumps(made)) if saved else made


def test_every_part_is_labelled_in_the_worksheets_words(problem):
    parts = answer_parts(problem)
    assert parts
    for part in parts:
        assert part.label == _expected_label(problem, part.path), part.path
    if "graph" in problem["parameters"]:
        # the output's own gradient (1) is no part
        out = problem["parameters"]["graph"]["output"]
        assert ("gradients", out) not in [p.path for p in parts]


def test_a_sheet_has_a_box_per_number_and_one_wide_box_per_list(problem):
    boxes = answer_boxes(problem)
    if "grad_output" in problem["parameters"]:
        assert boxes == []  # the figure holds a cell per entry
        return
    want = []
    for name, value in problem["answers"].items():
        if isinstance(value, list):
            want.append(Box(name, wide=True))
        elif isinstance(value, dict):
            want += [Box(_expected_label(problem, p.path)) for p in answer_parts(problem)
                     if p.path[0] == name]
        else:
            want.append(Box(_expected_label(problem, (name,))))
    assert boxes == want
    assert any(b.wide for b in boxes) == any(isinstance(v, list)
                                            for v in problem["answers"].values())


def test_a_sheet_without_answers_has_a_wide_box_per_part_its_statement_names():
    problem = _problem("conv_output_size", answers=False)
    assert problem.get("answers") is None
    assert answer_boxes(problem) == [Box("output_size", wide=True), Box("windows", wide=True),
                                     Box("centers", wide=True)]

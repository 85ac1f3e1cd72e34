"""The LMS exports accept what the grader accepts: each Moodle numerical answer, each
cloze blank and each Canvas range is the key plus or minus the width worked out here
from the problem's stated tolerance (tests/worksheets/stated_tolerances.py), never from
worksheets.exports.parts, the code the exporters themselves use."""

import io
import re
import xml.etree.ElementTree as ET
import zipfile

import pytest

from worksheets import exports, generate
from tests.worksheets.stated_tolerances import HAND, asked, width

SECRET = "exports-tolerance-secret"
STUDENTS = ["ada", "grace", "alan", "edsger", "barbara", "donald"]
QTI = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"
# Random graphs of difficulty 5 and ReLU gates give answers past 1 in size, where the
# relative term of "within 0.005 or 0.5 %" sets the width.
PROBLEMS = ["conv_output_size", "conv_same_padding",
            {"type": "graph_backprop", "families": ["random"], "difficulty": 5},
            "logistic_regression", {"type": "gate_gradient", "gates": ["relu"]},
            "conv1d_backprop"]
BLANK = re.compile(r"\{\d+:NUMERICAL:=([^:}]+):([^}]+)\}")


@pytest.fixture(scope="module")
def problem_set():
    s = generate(33, STUDENTS, PROBLEMS, secret=SECRET)
    # No type of ours asks for one hand-worked number alone, but a set read from a file
    # may hold such a problem: it is a Moodle numerical question with a non-zero
    # tolerance. Here: the ReLU gate's gradient (0, or 1 to 3 in size), asked on its own.
    for sheet in s["sheets"]:
        gate = sheet["problems"][4]
        sheet["problems"].append({
            "id": gate["id"] + "-alone", "type": "gradient_alone", "statement": "dL/dx?",
            "parameters": {}, "answers": {"gradient": gate["answers"]["gradient"]},
            "tolerance": {"gradient": {"abs": HAND[0], "rel": HAND[1]}}})
    return s


def _problems(s):
    return {p["id"]: p for sheet in s["sheets"] for p in sheet["problems"]}


def _asked(p) -> list:
    """(path, want, width) of every number a problem asks for, in the order it asks."""
    if p["type"] == "gradient_alone":
        v = p["answers"]["gradient"]
        return [(("gradient",), v, width(HAND, v))]
    return asked(p)


def _close(got: float, want: float) -> bool:
    # The exports write twelve significant digits.
    return abs(got - want) <= 1e-11 * max(1.0, abs(want))


def test_moodle_answers_and_blanks_are_the_key_within_the_stated_width(problem_set):
    (f,) = exports.render(problem_set, ["moodle"])
    quiz = ET.fromstring(f.data)
    problems = _problems(problem_set)
    relative = numerical = 0
    seen = set()
    for q in quiz.iter("question"):
        if q.get("type") == "category":
            continue
        p = problems[q.find("idnumber").text]
        seen.add(p["id"])
        want = _asked(p)
        if q.get("type") == "numerical":
            ((_, value, w),) = want
            answer = q.find("answer")
            assert _close(float(answer.find("text").text), value), p["id"]
            assert _close(float(answer.find("tolerance").text), w), (p["id"], w)
            numerical += w > 0
            relative += w > HAND[0]
            continue
        assert q.get("type") == "cloze", p["id"]
        blanks = BLANK.findall(q.find("questiontext/text").text)
        assert len(blanks) == len(want), p["id"]
        for (v, t), (path, value, w) in zip(blanks, want):
            assert _close(float(v), value), (p["id"], path)
            assert _close(float(t), w), (p["id"], path, float(t), w)
            relative += w > HAND[0]
    assert seen == set(problems)
    assert numerical == len(STUDENTS)
    assert relative >= 20


def test_canvas_ranges_are_every_number_within_the_stated_width(problem_set):
    # one quiz per student; in it, every number a problem asks for is a numerical
    # question whose range is the key plus or minus the stated width, in the key's order
    (f,) = exports.render(problem_set, ["qti"])
    z = zipfile.ZipFile(io.BytesIO(f.data))
    sheets = {sheet["student"]: sheet for sheet in problem_set["sheets"]}
    relative = quizzes = 0
    for name in z.namelist():
        if not name.endswith(".xml") or name == "imsmanifest.xml":
            continue
        root = ET.fromstring(z.read(name))
        student = root.find(f"{QTI}assessment").get("title").split(": ", 1)[1]
        want = [(f"P{slot + 1}", value, w) for slot, p in enumerate(sheets[student]["problems"])
                for _, value, w in _asked(p)]
        got = [(item.get("title").split(" ", 1)[0], item) for item in root.iter(f"{QTI}item")
               if item.find(f".//{QTI}varequal") is not None]
        assert len(got) == len(want), student
        for (slot, item), (want_slot, value, w) in zip(got, want):
            low = float(item.find(f".//{QTI}vargte").text)
            high = float(item.find(f".//{QTI}varlte").text)
            assert slot == want_slot, item.get("title")
            assert _close(float(item.find(f".//{QTI}varequal").text), value), item.get("title")
            assert _close(low, value - w) and _close(high, value + w), (item.get("title"), low,
                                                                         high, value, w)
            relative += w > HAND[0]
        quizzes += 1
    assert quizzes == len(sheets)
    assert relative >= 3


def test_a_problem_read_without_tolerances_is_marked_exactly(problem_set):
    # a set from before tolerances were published: every number is then exact
    s = {"seed": 33, "version": problem_set["version"], "sheets": [
        {**sheet, "problems": [{k: v for k, v in p.items() if k != "tolerance"}
                               for p in sheet["problems"]]} for sheet in problem_set["sheets"]]}
    (f,) = exports.render(s, ["moodle"])
    quiz = ET.fromstring(f.data)
    widths = [float(t) for q in quiz.iter("question") if q.get("type") == "cloze"
              for _, t in BLANK.findall(q.find("questiontext/text").text)]
    widths += [float(a.text) for a in quiz.iter("tolerance")]
    assert len(widths) > 100 and set(widths) == {0.0}


def _parts_of(problem_type: str) -> list:
    from worksheets.exports.parts import answer_parts
    from worksheets.template import library
    s = generate(8, ["ada"], [problem_type], secret=SECRET, templates=library())
    return answer_parts(s["sheets"][0]["problems"][0])


@pytest.mark.parametrize("problem_type", ["conv_output_size", "dilated-conv-geometry"])
def test_conv_geometry_parts_are_labelled_in_the_worksheets_words(problem_type):
    parts = _parts_of(problem_type)
    expected = {"output_size": "the output size", "same_padding": "the padding P that keeps "
                                                                   "the width"}
    for part in parts:
        head = part.path[0]
        if head == "windows":
            window, end = part.path[1], ("first", "last")[part.path[2]]
            assert part.label == f"the {end} unit of window {window}"
        elif head == "centers":
            assert part.label == f"the centre of window {part.path[1]}"
        else:
            assert part.label == expected[head]
    heads = [p.path[0] for p in parts]
    assert heads.count("windows") == 2 * heads.count("centers") >= 2


@pytest.mark.parametrize("problem_type", ["conv1d_backprop", "strided-conv-backward"])
def test_conv_backward_parts_are_labelled_by_their_symbol_and_index(problem_type):
    parts = _parts_of(problem_type)
    symbol = {"output": "y{}", "grad_input": "∂L/∂x{}", "grad_weight": "∂L/∂w{}"}
    tex = {"output": "y_{{{}}}", "grad_input": r"\partial L / \partial x_{{{}}}",
           "grad_weight": r"\partial L / \partial w_{{{}}}"}
    for part in parts:
        head, i = part.path
        assert (part.label, part.tex) == (symbol[head].format(i), tex[head].format(i))
    assert {p.path[0] for p in parts} == set(symbol)


def test_the_single_part_problems_name_what_they_ask():
    assert [(p.label, p.tex) for p in _parts_of("conv_same_padding")] == [("the padding P", "P")]
    assert [p.label for p in _parts_of("gate_gradient")] == ["the output y", "∂L/∂x"]


def test_logistic_parts_name_the_weights_as_the_question_does():
    labels = [p.label for p in _parts_of("logistic_regression")]
    assert labels[:3] == ["z", "h", "the loss L"]
    assert [x for x in labels if x.startswith("∂")] == ["∂L/∂w1", "∂L/∂w2", "∂L/∂b"]
    assert [x for x in labels if x.endswith("after one step")] == [
        "w1 after one step", "w2 after one step", "b after one step"]


def test_a_graph_problem_read_back_from_json_asks_no_gradient_of_its_output():
    import json

    from worksheets.exports.parts import answer_parts
    s = generate(8, ["ada"], ["graph_backprop"], secret=SECRET)
    # read back from a file, as `gradsheet export` does: equal strings, distinct objects
    problem = json.loads(json.dumps(s["sheets"][0]["problems"][0]))
    out = problem["parameters"]["graph"]["output"]
    gradients = [p.path[1] for p in answer_parts(problem) if p.path[0] == "gradients"]
    assert out not in gradients and gradients

"""Instructor templates: keys against the oracle, every kind of template error, the
shipped library's stress tests, grading, tokens and a golden Markdown sheet."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import worksheets
from worksheets import exports
from worksheets.errors import ProblemSetError, TokenError
from worksheets.problems.template_problem import problem_type_of, stress
from worksheets.seeding import Stream, keys
from worksheets.template import TemplateError, library, read_template, read_templates
from tests import oracle
from tests.engine.test_evaluate import _reference, random_graphs

SECRET = "template-test-secret"
GOLDEN = Path(__file__).parent / "data" / "golden-template"
UPDATE = os.environ.get("GRADSHEET_UPDATE_GOLDEN") == "1"

TANH = """\
id: tanh-neuron
title: One tanh neuron, one SGD step
graph: "z = w*x + b; h = tanh(z); f = h*y"
params:
  w: {choice: [-1, -0.5, 0.5, 1]}
  x: {int: [-3, 3], nonzero: true}
  b: {decimal: [-1, 1], step: 0.1, nonzero: true}
  y: {int: [1, 4]}
ask:
  values: [z, h, f]
  gradients: [w, x, b]
  step: {wrt: [w, b], learning_rate: 0.1}
require: ["abs(df/dw) >= 0.01", "h != 0"]
points: {values: 1, gradients: 2, step: 1}
"""


def _error(text: str) -> TemplateError:
    with pytest.raises(TemplateError) as info:
        read_templates(text, "mine.yaml")
    return info.value


def _variant(template, student: int = 0):
    t = problem_type_of(template)
    return t, t.draw(Stream(keys(SECRET.encode()), f"{student:016x}", 0, t.id)).variant


# -- keys against the oracle ---------------------------------------------------------------

@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(random_graphs(), st.sampled_from([0.1, 0.5, 0.05]), st.integers(0, 2 ** 32))
def test_random_graph_templates_have_keys_that_plain_python_and_complex_steps_agree_with(
        case, rate, student):
    spec, _ = case
    graph = worksheets.template.engine.Graph.from_spec(spec)
    data = {"id": "random", "graph": spec,
            "params": {x: {"decimal": [-3, 3], "step": 0.1} for x in graph.inputs},
            "ask": {"values": [n.id for n in graph.nodes], "gradients": list(graph.inputs),
                    "step": {"wrt": list(graph.inputs), "learning_rate": rate}}}
    t, variant = _variant(read_template(data), student)
    assume(variant is not None)
    inputs = variant.parameters["inputs"]
    env = _reference(graph, inputs)
    assume(env is not None)
    answers, _ = worksheets.generator.solve(t, variant)
    for name, got in answers["values"].items():
        assert got == pytest.approx(env[name], rel=1e-9, abs=1e-9), name
    analytic = all(n.op in oracle.ANALYTIC for n in graph.nodes)
    want = (oracle.complex_step_gradients(graph, inputs) if analytic
            else oracle.central_gradients(graph, inputs))
    # x ^ 1.5 at x = 0: a central difference steps outside the real domain and comes out
    # complex, so it cannot judge the point (test_op_table checks pow's derivative there)
    assume(not any(isinstance(g, complex) for g in want.values()))
    for name, got in answers["gradients"].items():
        tol = 1e-6 if analytic else 1e-4
        assert got == pytest.approx(want[name], rel=tol, abs=tol), (name, got, want[name])
        # keys hold 12 significant digits (worksheets.numerals): the step is rounded, and
        # so is the gradient it is checked from, whose rounding the step carries
        # absolutely: where x - rate * g cancels, far beyond the step's own 12th digit
        assert answers["step"][name] == pytest.approx(
            inputs[name] - rate * got, rel=oracle.KEY_REL,
            abs=rate * abs(got) * oracle.KEY_REL + 1e-12)


def test_a_template_key_for_the_tanh_neuron_is_what_the_formulas_give():
    t, variant = _variant(read_templates(TANH)[0])
    w, x, b, y = (variant.parameters["inputs"][k] for k in "wxby")
    answers, _ = worksheets.generator.solve(t, variant)
    h = math.tanh(w * x + b)
    dz = y * (1 - h * h)
    assert answers["values"] == pytest.approx({"z": w * x + b, "h": h, "f": h * y})
    assert answers["gradients"] == pytest.approx({"w": dz * x, "x": dz * w, "b": dz})
    assert answers["step"] == pytest.approx({"w": w - 0.1 * dz * x, "b": b - 0.1 * dz})
    assert abs(dz * x) >= 0.01 and h != 0


def test_every_draw_of_a_template_meets_its_conditions():
    template = read_templates(TANH)[0]
    t = problem_type_of(template)
    for i in range(200):
        variant = t.sample(Stream(keys(b"k"), f"{i:016x}", 3, t.id), {})
        p = variant.parameters["inputs"]
        h = math.tanh(p["w"] * p["x"] + p["b"])
        assert h != 0 and abs(p["y"] * (1 - h * h) * p["x"]) >= 0.01
        assert p["w"] in (-1, -0.5, 0.5, 1) and p["x"] != 0 and -3 <= p["x"] <= 3
        assert round(p["b"], 1) == p["b"] and p["b"] != 0 and 1 <= p["y"] <= 4


# -- the shipped library ---------------------------------------------------------------------

LIBRARY = library()


def test_the_library_holds_the_eight_examples():
    assert {t.id for t in LIBRARY} >= {
        "tanh-neuron", "two-layer-relu", "softmax-cross-entropy", "squared-loss-l2",
        "max-pool-gate", "leaky-relu-gate", "dilated-conv-geometry", "strided-conv-backward"}


@pytest.mark.parametrize("template", LIBRARY, ids=lambda t: t.id)
def test_each_library_template_passes_its_stress_test_and_grades_its_own_key_full_marks(
        template):
    report = stress(problem_type_of(template))
    assert report.variants == 1000 and report.rejection_rate <= 0.5 and not report.impossible
    s = worksheets.generate(1, ["ada"], [template.id], secret=SECRET, templates=[template])
    p = s["sheets"][0]["problems"][0]
    g = worksheets.grade(p["token"], p["answers"], secret=SECRET, templates=[template])
    assert g["score"] == g["max_score"] > 0


# -- errors ---------------------------------------------------------------------------------

def test_yaml_syntax_errors_give_line_and_column():
    e = _error("id: a\ngraph: [x\nparams: {}\n")
    assert e.line == 3 and "not valid YAML" in e.message and "mine.yaml, line 3" in str(e)


def test_a_bad_parameter_names_its_field_path_line_and_column():
    e = _error(TANH.replace("x: {int: [-3, 3], nonzero: true}", "x: {int: [3, -3]}"))
    assert e.path == "params.x.int" and (e.line, e.column) == (6, 7)
    assert "lowest value 3 is above the highest -3" in e.message


def test_an_unknown_field_of_a_parameter_suggests_the_right_one():
    e = _error(TANH.replace("nonzero: true}", "nonzeros: true}"))
    assert e.path == "params.x.nonzeros" and "did you mean 'nonzero'" in e.message


def test_an_unknown_op_in_the_graph_says_did_you_mean():
    e = _error(TANH.replace("tanh(z)", "tahn(z)"))
    assert e.path == "graph" and "did you mean 'tanh'" in e.message and e.line == 3


def test_asking_for_a_node_the_graph_does_not_have_is_refused():
    e = _error(TANH.replace("values: [z, h, f]", "values: [z, hh, f]"))
    assert e.path == "ask.values[1]" and "'hh' is not a node" in e.message
    assert "did you mean 'h'" in e.message


def test_a_step_on_a_node_is_refused_it_moves_inputs():
    e = _error(TANH.replace("wrt: [w, b]", "wrt: [w, z]"))
    assert e.path == "ask.step.wrt[1]" and "a node, not an input" in e.message


def test_a_parameter_the_graph_never_uses_is_refused():
    e = _error(TANH.replace("  y: {int: [1, 4]}", "  y: {int: [1, 4]}\n  q: 2"))
    assert e.path == "params.q" and "never uses 'q'" in e.message


def test_an_input_without_a_parameter_is_refused():
    e = _error(TANH.replace("  y: {int: [1, 4]}\n", ""))
    assert e.path == "params" and "'y' has no parameter" in e.message


def test_a_condition_naming_an_unknown_name_says_which():
    e = _error(TANH.replace("h != 0", "hh != 0"))
    assert e.path == "require[1]" and "names 'hh'" in e.message and "did you mean" in e.message


def test_a_condition_needs_exactly_one_comparison():
    assert "has no comparison" in _error(TANH.replace('"h != 0"', '"h"')).message
    assert "2 comparisons" in _error(TANH.replace('"h != 0"', '"0 < h < 1"')).message


def test_grad_forms_in_conditions_all_name_the_same_gradient():
    for form in ("grad(w)", "df/dw", "d_f_d_w"):
        t = read_templates(TANH.replace("abs(df/dw)", f"abs({form})"))[0]
        assert list(t.require[0].left.inputs) == ["d_f_d_w"]


def test_conditions_are_never_pythons_eval():
    e = _error(TANH.replace('"h != 0"', '"__import__(1) != 0"'))
    assert e.path == "require[1]" and "unknown op '__import__'" in e.message


def test_a_parameter_with_more_decimals_than_the_precision_is_refused():
    e = _error(TANH.replace("step: 0.1,", "step: 0.0001,"))
    assert e.path == "params.b.step" and "4 decimals" in e.message


def test_a_template_rejecting_most_draws_names_the_condition():
    t = read_templates(TANH.replace('"h != 0"', '"y >= 4"'))[0]
    with pytest.raises(TemplateError) as info:
        stress(problem_type_of(t))
    assert info.value.path == "require[1]" and "'y >= 4'" in info.value.message


def test_a_key_that_needs_more_decimals_than_stated_names_the_answer():
    t = read_templates("id: e\ngraph: f = exp(x)\nparams: {x: {int: [-12, -9]}}\n"
                       "ask: {values: [f]}\n")[0]
    with pytest.raises(TemplateError) as info:
        stress(problem_type_of(t))
    assert info.value.path == "ask.values" and "values.f" in info.value.message
    assert "prints as 0 at the template's precision of 3" in info.value.message


def test_a_template_that_can_never_be_drawn_is_refused():
    t = read_templates(TANH.replace('"h != 0"', '"y > 4"'))[0]
    with pytest.raises(TemplateError) as info:
        problem_type_of(t).sample(Stream(keys(b"k"), "0" * 16, 0, t.id), {})
    assert info.value.path == "require[1]"


def test_a_template_may_not_take_a_built_in_id():
    t = read_templates(TANH.replace("id: tanh-neuron", "id: graph_backprop"))
    with pytest.raises(ProblemSetError, match="built-in problem type"):
        worksheets.generate(1, 1, ["graph_backprop"], secret=SECRET, templates=t)


def test_a_conv_template_names_a_bad_ask():
    e = _error("id: c\nconv: {width: 8, filter: 3}\nask: [output_sise]\n")
    assert e.path == "ask[0]" and "did you mean 'output_size'" in e.message


# -- tokens, grading ---------------------------------------------------------------------

def _set(template_text=TANH):
    templates = read_templates(template_text)
    return templates, worksheets.generate(5, ["ada"], [templates[0].id, "conv_output_size"],
                                          secret=SECRET, templates=templates)


def test_a_token_is_graded_only_with_the_template_it_was_made_from():
    templates, s = _set()
    p = s["sheets"][0]["problems"][0]
    with pytest.raises(TokenError, match="send that template"):
        worksheets.grade(p["token"], p["answers"], secret=SECRET)
    changed = read_templates(TANH.replace("learning_rate: 0.1", "learning_rate: 0.2"))
    with pytest.raises(TokenError, match="another version of the template"):
        worksheets.grade(p["token"], p["answers"], secret=SECRET, templates=changed)
    assert s["templates"] == [templates[0].source]


def test_points_weigh_the_parts_and_an_uphill_step_is_named():
    templates, s = _set()
    p = s["sheets"][0]["problems"][0]
    inputs, key = p["parameters"]["inputs"], p["answers"]
    uphill = {n: inputs[n] + 0.1 * key["gradients"][n] for n in ("w", "b")}
    g = worksheets.grade(p["token"], {**key, "step": uphill}, secret=SECRET, templates=templates)
    # 3 values x 1 + 3 gradients x 2 + 2 steps x 1
    assert g["max_score"] == 11 and g["score"] == 9
    assert all("wrong sign" in part["feedback"] for part in g["parts"] if part["part"] in
               ("step.w", "step.b"))


def test_a_wrong_value_is_carried_forward():
    templates, s = _set()
    p = s["sheets"][0]["problems"][0]
    key, inputs = p["answers"], p["parameters"]["inputs"]
    z = key["values"]["z"] + 1
    h = math.tanh(z)
    g = worksheets.grade(p["token"], {"values": {"z": z, "h": h, "f": h * inputs["y"]}},
                         secret=SECRET, templates=templates)
    marks = {part["part"]: part["feedback"] for part in g["parts"]}
    assert not g["parts"][0]["correct"]
    assert "error carried forward" in marks["values.h"] and "error carried forward" in \
        marks["values.f"]


def test_a_slip_at_a_node_the_program_leaves_unnamed_is_named_as_the_question_writes_it():
    templates, s = _set()
    p = s["sheets"][0]["problems"][0]
    key, v = p["answers"], p["parameters"]["inputs"]
    # df/dw worked by hand with the slip at w*x: multiplied by w itself instead of x
    h = math.tanh(v["w"] * v["x"] + v["b"])
    slipped = v["y"] * (1 - h * h) * v["w"]
    assert abs(slipped - key["gradients"]["w"]) > 0.1  # seed 5: w != x, so the slip shows
    g = worksheets.grade(p["token"], {"gradients": {**key["gradients"], "w": slipped}},
                         secret=SECRET, templates=templates)
    marks = {part["part"]: part["feedback"] for part in g["parts"]}
    assert marks["gradients.w"] == ("multiplied by the input's own value instead of the other "
                                    "factor (at w·x)")


# -- golden sheet ---------------------------------------------------------------------------

def test_a_template_sheet_in_markdown_is_exactly_the_stored_one():
    templates = [t for t in LIBRARY if t.id == "tanh-neuron"]
    s = worksheets.generate(11, ["ada"], ["tanh-neuron"], secret=SECRET, templates=templates)
    got = {f.path: f.data for f in exports.render(s, ["markdown"])}
    if UPDATE:
        for path, data in got.items():
            (GOLDEN / path).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / path).write_bytes(data)
    stored = sorted(p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*") if p.is_file())
    assert sorted(got) == stored
    for path in stored:
        assert got[path] == (GOLDEN / path).read_bytes(), path

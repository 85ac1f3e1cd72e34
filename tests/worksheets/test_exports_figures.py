"""The figures: graphs with values above the wires and gradients below, conv strips with
padding, windows and centres; SVG that parses, text that stays text, same bytes twice."""

import re
import xml.etree.ElementTree as ET

import pytest

import engine
from worksheets.drawing import graph_figure, graph_layout
from worksheets.drawing.conv_figure import conv1d_svg, output_size_svg, same_padding_svg
from worksheets.exports import figure
from worksheets.drawing.graph_figure import graph_svg
from engine.conv.geometry import conv_geometry
from worksheets import generate
from worksheets.latex import num

SVG = "{http://www.w3.org/2000/svg}"
SECRET = "exports-test-secret"


def texts(svg: str) -> list[tuple[float, float, str, str]]:
    """(x, y, text, fill) of every <text> element, as a reader of the SVG sees them."""
    root = ET.fromstring(svg)
    assert root.tag == SVG + "svg"
    return [(float(t.get("x")), float(t.get("y")), t.text or "", t.get("fill"))
            for t in root.iter(SVG + "text")]


def evaluated_figure(program: str, inputs: dict):
    graph = engine.parse(program)
    ev = engine.evaluate(graph, inputs)
    values = {k: num(v) for k, v in ev.values.items()}
    gradients = {k: num(v) for k, v in ev.gradients.items()}
    return graph, ev, graph_svg(graph, values, gradients, "test")


def test_sum_times_graph_writes_minus_12_above_the_output_wire_and_minus_4_below_x():
    graph, ev, svg = evaluated_figure("q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4})
    lay = graph_layout.layout(graph_layout.structure(graph),
                              ("+", "×"))
    labels = texts(svg)
    wire_of = dict(zip(graph.names, lay.wires))
    for name in graph.names:
        wire = wire_of[name]
        above = [t for x, y, t, fill in labels if wire.x0 <= x <= wire.x1 and y < wire.y
                 and wire.y - y < 10]
        below = [t for x, y, t, fill in labels if wire.x0 <= x <= wire.x1 and y > wire.y
                 and y - wire.y < 20]
        assert num(ev.values[name]) in above, name
        assert num(ev.gradients[name]) in below, name
    assert "-12" in [t for _, _, t, _ in labels]


def test_graph_inputs_sit_left_of_every_gate_and_each_gate_shows_its_op_symbol():
    graph, _, svg = evaluated_figure("q = 3*a*b; s = q^2; p = c*d; f = s + p",
                                     {"a": 1, "b": 2, "c": 3, "d": 4})
    root = ET.fromstring(svg)
    circles = [float(c.get("cx")) for c in root.iter(SVG + "circle")]
    names = {t: x for x, _, t, _ in texts(svg)}
    assert len(circles) == len(graph.nodes)
    for name in graph.inputs:
        assert names[name] < min(circles)
    shown = [t for _, _, t, _ in texts(svg)]
    assert shown.count(engine.OPS[1].symbol) == 2          # two products
    assert "+" in shown and "^2" in shown and "3" in shown  # the constant 3 as a tag


def test_a_students_graph_shows_the_inputs_and_the_seed_gradient_but_no_answer():
    s = generate(3, ["ada"], [{"type": "graph_backprop", "families": ["sum_times"]}],
                 secret=SECRET)
    p = s["sheets"][0]["problems"][0]
    numbers = re.compile(r"-?\d+(\.\d+)?")
    blank = {t for *_, t, _ in texts(figure(p, key=False)) if numbers.fullmatch(t)}
    assert blank == {num(v) for v in p["parameters"]["inputs"].values()} | {"1"}
    key = [t for *_, t, _ in texts(figure(p, key=True))]
    for name, g in p["answers"]["gradients"].items():
        assert num(g) in key
    for name, v in p["answers"]["values"].items():
        assert num(v) in key


def test_one_layout_serves_every_student_of_a_family():
    graph_layout.layout.cache_clear()
    graph_figure._template.cache_clear()
    s = generate(5, 40, [{"type": "graph_backprop", "families": ["square_plus_product"]}],
                 secret=SECRET)
    for sheet in s["sheets"]:
        figure(sheet["problems"][0], key=True)
    assert graph_layout.layout.cache_info().misses == 1
    templates = graph_figure._template.cache_info()
    assert (templates.misses, templates.hits) == (1, 39)


def test_graph_text_is_text_not_glyph_outlines():
    _, ev, svg = evaluated_figure("sigmoid(w*x + b)", {"w": 2, "x": -1, "b": -3})
    root = ET.fromstring(svg)
    # paths draw edges and arrowheads only: short, and no text hides in them
    for path in root.iter(SVG + "path"):
        assert len(path.get("d")) < 400
    numbers = [t for *_, t, _ in texts(svg)]
    assert num(ev.value) in numbers and num(ev.gradients["w"]) in numbers
    sizes = {float(t.get("font-size")) for t in root.iter(SVG + "text")}
    assert min(sizes) >= 10                       # readable when printed


def test_output_size_key_pads_shades_the_centres_and_writes_the_formula():
    g = conv_geometry(10, 7, 3, 3)
    svg = output_size_svg(10, 7, 3, 3, key=True)
    root = ET.fromstring(svg)
    rects = list(root.iter(SVG + "rect"))
    padding = [r for r in rects if r.get("stroke-dasharray")]
    shaded = [r for r in rects if r.get("fill") == "#ffd8a8"]
    assert len(padding) == 2 * 3
    assert len(shaded) == len(set(g.centers)) == 4
    shown = [t for *_, t, _ in texts(svg)]
    assert "output size = (10 - 7 + 2*3)/3 + 1 = 4" in shown
    assert {"-3", "-1", "12"} <= set(shown)         # padding units keep their indices
    # each window's number sits above the input row, top to bottom, just left of the
    # first unit its window covers
    placed = texts(svg)
    (input_y,) = [y for x, y, t, _ in placed if t == "input"]
    (index_y,) = [y for x, y, t, _ in placed if t == "-3"]
    index_x = {t: x for x, y, t, _ in placed if y == index_y}
    cell = index_x["1"] - index_x["0"]
    labels = sorted((y, x, t) for x, y, t, _ in placed if y < input_y and re.fullmatch(r"\d+", t))
    assert [t for *_, t in labels] == ["0", "1", "2", "3"]
    for (_, x, _), (first, _) in zip(labels, g.windows):
        assert 0 < index_x[str(first)] - x < cell


def test_output_size_sheet_leaves_padding_windows_and_centres_to_the_student():
    svg = output_size_svg(10, 7, 3, 3, key=False)
    root = ET.fromstring(svg)
    rects = list(root.iter(SVG + "rect"))
    assert len(rects) == 10                          # the input units only
    assert not [r for r in rects if r.get("fill") != "#ffffff"]
    assert not any("output size" in t for *_, t, _ in texts(svg))


def test_same_padding_key_draws_p_units_each_side_and_dilated_taps():
    svg = same_padding_svg(20, 5, 2, key=True)
    root = ET.fromstring(svg)
    assert len([r for r in root.iter(SVG + "rect") if r.get("stroke-dasharray")]) == 2 * 4
    shown = [t for *_, t, _ in texts(svg)]
    assert any(t.startswith("P = 4 on each side") for t in shown)
    assert not any("P = 4" in t for *_, t, _ in texts(same_padding_svg(20, 5, 2, key=False)))


def test_wide_same_padding_input_is_elided_not_squeezed_unreadably():
    svg = same_padding_svg(200, 3, 1, key=True)
    shown = [t for *_, t, _ in texts(svg)]
    assert "…" in shown and "199" in shown and "100" not in shown


def test_conv1d_key_fills_output_and_both_gradients():
    x, w, g = [1, 2, -1, 3], [2, -1], [1, -2, 1]
    answers = {"output": [0.0, 5.0, -5.0], "grad_input": [2.0, -5.0, 4.0, -1.0],
               "grad_weight": [-4.0, 7.0]}
    key = [t for *_, t, _ in texts(conv1d_svg(x, w, 1, 0, g, True, answers, num))]
    blank = [t for *_, t, _ in texts(conv1d_svg(x, w, 1, 0, g, False, None, num))]
    for v in answers["output"] + answers["grad_input"] + answers["grad_weight"]:
        assert num(v) in key
    assert "-5" not in blank and "7" not in blank
    assert blank.count("-2") == 1                  # dL/dy, given


@pytest.mark.parametrize("key", [False, True])
def test_every_problem_type_draws_a_figure_that_parses_with_a_title(key):
    s = generate(11, ["ada"], secret=SECRET)
    for k, p in enumerate(s["sheets"][0]["problems"]):
        svg = figure(p, key, k + 1)
        root = ET.fromstring(svg)
        assert root.find(SVG + "title").text.startswith(f"Problem {k + 1}:")
        assert float(root.get("width")) > 100 and float(root.get("height")) > 40


def test_figures_are_the_same_bytes_every_time():
    s = generate(12, ["ada", "bob"], secret=SECRET)
    first = [figure(p, True) for sheet in s["sheets"] for p in sheet["problems"]]
    graph_layout.layout.cache_clear()
    graph_figure._template.cache_clear()
    output_size_svg.cache_clear()
    again = [figure(p, True) for sheet in s["sheets"] for p in sheet["problems"]]
    assert first == again


def test_a_long_number_is_squeezed_into_its_wire_instead_of_running_over():
    graph = engine.parse("f = x * y")
    svg = graph_svg(graph, {"x": "-123456.7891"}, {}, "")
    t = [e for e in ET.fromstring(svg).iter(SVG + "text") if e.text == "-123456.7891"][0]
    assert float(t.get("textLength")) <= graph_layout.STUB


def test_node_names_are_escaped_in_the_svg():
    graph = engine.Graph.from_spec({"nodes": [{"id": "a_b", "op": "neg", "inputs": ["x"]}],
                                    "output": "a_b"})
    svg = graph_svg(graph, {"x": "<1>"}, {}, 'title & "quotes"')
    root = ET.fromstring(svg)
    assert "<1>" in [e.text for e in root.iter(SVG + "text")]

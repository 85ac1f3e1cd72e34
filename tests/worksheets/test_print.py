"""Sheets as they print: every figure's text at 8 pt or more on the page, an answer box
for every part on the same page as its problem, per-student keys, and template
figures that name nodes as the question does."""

import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from worksheets import exports, generate
from worksheets.exports import pdf_sheets
from worksheets.exports.parts import answer_parts
from worksheets.exports.sheetset import SheetSet, title
from worksheets.template import read_templates

SECRET = "print-test-secret"
SVG = "{http://www.w3.org/2000/svg}"
TEMPLATES = Path(__file__).resolve().parents[2] / "worksheets" / "templates"
# The narrower of the two papers, less the sheets' 18 mm side margins, in points: a
# figure placed wider than this would be shrunk by the page.
A4_TEXT_WIDTH = 595.28 - 2 * 18 / 25.4 * 72
LETTER_TEXT_WIDTH = 612.0 - 2 * 18 / 25.4 * 72


def shipped_templates():
    return [t for f in sorted(TEMPLATES.glob("*.yaml"))
            for t in read_templates(f.read_text(), f.name)]


@pytest.fixture(scope="module")
def whole_set():
    """Every built-in type, twice, and every shipped template."""
    templates = shipped_templates()
    builtin = generate(21, ["ada", "bob"], secret=SECRET)
    tpl = generate(21, ["ada"], [t.id for t in templates], secret=SECRET, templates=templates)
    return builtin, tpl


def placed_images(source: str) -> dict:
    """image name -> the width (pt) the typst source gives it."""
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r'image\("([^"]+)", width: ([0-9.]+)pt\)', source)}


@pytest.mark.parametrize("which", [0, 1])
def test_every_figure_prints_its_text_at_8_pt_or_more_on_a4_and_letter(whole_set, which):
    s = SheetSet(whole_set[which])
    seen = set()
    for sheet in s.sheets:
        for source, images in (pdf_sheets.student_source(s, sheet),
                               pdf_sheets.student_key_source(s, sheet)):
            widths = placed_images(source)
            assert set(widths) == set(images)
            for name, data in images.items():
                root = ET.fromstring(data.decode())
                svg_width = float(root.get("width"))
                placed = widths[name]
                assert placed <= min(A4_TEXT_WIDTH, LETTER_TEXT_WIDTH) + 0.5
                scale = placed / svg_width                  # points per figure unit
                sizes = [float(t.get("font-size")) for t in root.iter(SVG + "text")]
                assert sizes, name
                assert min(sizes) * scale >= 8.0, (name, min(sizes), scale)
        seen |= {p["type"] for p in sheet.problems}
    assert len(seen) >= 6


def test_the_logistic_regression_circuit_is_laid_out_in_bands_not_shrunk(whole_set):
    s = SheetSet(whole_set[0])
    sheet = s.sheets[0]
    k = next(i for i, p in enumerate(sheet.problems) if p["type"] == "logistic_regression")
    root = ET.fromstring(sheet.figure(k, True))
    assert float(root.get("width")) * 0.72 <= A4_TEXT_WIDTH
    assert len(root.findall(SVG + "g")) >= 1                 # a second band below the first
    # and it fits on a page with its text: height under the A4 text height
    assert float(root.get("height")) * 0.72 < 842 - 100


def pdf_pages(data: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "sheet.pdf"
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout
    return [" ".join(page.split()) for page in text.split("\f")]


def box_labels(problem: dict) -> list[str]:
    """What the sheet must label a box with, from the key's parts: each part, or the
    part's name where the answer is a list."""
    out = []
    for part in answer_parts(problem):
        label = part.path[0] if isinstance(problem["answers"][part.path[0]], list) else part.label
        if label not in out:
            out.append(label)
    return out


def segments(pages: list[str], sheet) -> list[list[tuple[int, str]]]:
    """Each problem's text page by page, from its heading to the next problem's:
    [(page index, text on that page)]."""
    starts = []
    for k, p in enumerate(sheet.problems):
        heading = f"Problem {k + 1}. {title(p)}"
        on = [i for i, page in enumerate(pages) if heading in page]
        assert len(on) == 1, heading
        starts.append((on[0], pages[on[0]].index(heading)))
    out = []
    for k, (page, at) in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else (len(pages) - 1, None)
        parts = []
        for i in range(page, end[0] + 1):
            text = pages[i][at if i == page else 0:end[1] if i == end[0] else None]
            parts.append((i, text))
        out.append(parts)
    return out


def squeezed(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("which", [0, 1])
def test_every_part_has_a_box_on_the_page_of_its_problems_figure(whole_set, which, tmp_path):
    """Built-in types and every shipped template: the boxes on one page with the figure,
    and that page the heading's or the next (a problem too tall for one page runs its
    text on and starts the figure with its boxes on a page of its own)."""
    s = SheetSet(whole_set[which])
    sheet = s.sheets[0]
    pages = pdf_pages(pdf_sheets.student_pdf(s, sheet), tmp_path)
    for k, (p, parts) in enumerate(zip(sheet.problems, segments(pages, sheet))):
        labels = [" ".join(label.split()) for label in box_labels(p)]
        if "grad_output" in p["parameters"]:
            labels = ["∂L/∂x", "∂L/∂w"]    # the figure's cells are the boxes
        holding = [(i, text) for i, text in parts if all(label in text for label in labels)]
        assert len(holding) == 1, (k, p["type"], labels)
        i, text = holding[0]
        assert i - parts[0][0] <= 1, (k, p["type"])
        figure = sheet.figure(k, False)
        if figure is not None:
            words = [t.text for t in ET.fromstring(figure).iter(SVG + "text") if t.text]
            assert all(squeezed(w) in squeezed(text) for w in words), (k, p["type"])


def pdf_words(data: bytes, tmp_path: Path) -> list[list[tuple]]:
    """Each page's words as (xMin, yMin, xMax, yMax, text), from pdftotext -bbox, and
    the page's height as a last entry."""
    path = tmp_path / "boxes.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdftotext", "-bbox", str(path), "-"], check=True,
                         capture_output=True, text=True).stdout
    root = ET.fromstring(re.sub(r"<!DOCTYPE[^>]*>", "", out))
    ns = "{http://www.w3.org/1999/xhtml}"
    return [[(*(float(w.get(k)) for k in ("xMin", "yMin", "xMax", "yMax")), w.text)
             for w in page.iter(ns + "word")] + [float(page.get("height"))]
            for page in root.iter(ns + "page")]


def word_boxes(data: bytes, tmp_path: Path):
    """(page height, word, yMax) of every word of a PDF."""
    for page in pdf_words(data, tmp_path):
        for w in page[:-1]:
            yield page[-1], w[4], w[3]


@pytest.mark.parametrize("which", [0, 1])
def test_no_two_words_of_a_key_overlap_so_fractions_clear_the_next_line(whole_set, which,
                                                                         tmp_path):
    """A worked solution's display fractions (a numerator over a denominator) used to
    run into the line below: no two words' boxes on a page overlap by more than half a
    point, in the keys of every built-in type and shipped template."""
    s = SheetSet(whole_set[which])
    for sheet in s.sheets:
        data = pdf_sheets.typeset(*pdf_sheets.student_key_source(s, sheet))
        for n, page in enumerate(pdf_words(data, tmp_path)):
            words = page[:-1]
            for i, a in enumerate(words):
                for b in words[i + 1:]:
                    across = min(a[2], b[2]) - max(a[0], b[0])
                    down = min(a[3], b[3]) - max(a[1], b[1])
                    assert across <= 0.5 or down <= 0.5, (sheet.student, n + 1, a, b)


@pytest.mark.parametrize("which", [0, 1])
def test_nothing_runs_into_the_bottom_margin_of_a_sheet_or_key(whole_set, which, tmp_path):
    """An unbreakable block taller than a page runs past the page's foot, boxes over
    the figure: every word ends above the 18 mm bottom margin."""
    s = SheetSet(whole_set[which])
    margin = 18 / 25.4 * 72
    for sheet in s.sheets:
        for data in (pdf_sheets.student_pdf(s, sheet),
                     pdf_sheets.typeset(*pdf_sheets.student_key_source(s, sheet))):
            # a fraction's denominator on a page's last line may dip a point or two
            # below the line's box; a block that overflows runs on far past it
            low = [(w, y) for height, w, y in word_boxes(data, tmp_path)
                   if y > height - margin + 4]
            assert not low, low[:5]


def test_a_set_made_without_answers_gets_a_box_per_named_part(tmp_path):
    data = generate(4, ["ada"], ["gate_gradient", "conv_output_size"], secret=SECRET,
                    include_answers=False)
    s = SheetSet(data)
    page = " ".join(pdf_pages(pdf_sheets.student_pdf(s, s.sheets[0]), tmp_path))
    for name in ("output", "gradient", "output_size", "windows", "centers"):
        assert page.count(name) >= 2, name       # the statement's list and the box


def test_per_student_keys_are_written_beside_the_combined_key(tmp_path):
    data = generate(6, ["ada", "bob"], ["gate_gradient"], secret=SECRET)
    files = {f.path: f.data for f in exports.render(data, ["pdf"], keys="per-student")}
    assert {"answer-key.pdf", "keys/ada.pdf", "keys/bob.pdf"} <= set(files)
    for who, sheet in zip(("ada", "bob"), data["sheets"]):
        text = " ".join(pdf_pages(files[f"keys/{who}.pdf"], tmp_path))
        assert who in text and "answer key" in text
        other = "bob" if who == "ada" else "ada"
        assert other not in text
        answer = sheet["problems"][0]["answers"]["gradient"]
        # the key shows 4 significant digits: the answer rounded independently here
        shown = f"{float(f'{abs(answer):.4g}'):g}"
        assert shown in text.replace("−", "").replace("-", "")
    assert "keys/ada.pdf" not in {f.path for f in exports.render(data, ["pdf"])}


def test_unknown_keys_choice_is_refused_by_name():
    with pytest.raises(exports.ExportError, match="per-student"):
        exports.render(generate(6, ["ada"], ["gate_gradient"], secret=SECRET), ["pdf"],
                       keys="each")


def test_per_student_keys_without_the_pdf_format_are_refused_not_silently_skipped(tmp_path):
    data = generate(6, ["ada"], ["gate_gradient"], secret=SECRET)
    with pytest.raises(exports.ExportError, match="per-student keys are PDFs") as refused:
        exports.write(data, ["markdown"], tmp_path, keys="per-student")
    assert refused.value.path == "keys"
    assert list(tmp_path.iterdir()) == []


MADE_ID = re.compile(r"^(add|sub|mul|div|neg|pow|exp|log|relu|sigmoid|tanh|max|min)\d+$")


def test_template_figures_never_show_the_parsers_node_ids(whole_set):
    s = SheetSet(whole_set[1])
    shown = 0
    for k, p in enumerate(s.sheets[0].problems):
        if "graph" not in p["parameters"]:
            continue
        made = {n["id"] for n in p["parameters"]["graph"]["nodes"] if MADE_ID.match(n["id"])}
        for key in (False, True):
            root = ET.fromstring(s.sheets[0].figure(k, key))
            words = {t.text for t in root.iter(SVG + "text")}
            assert not (made & words), (p["type"], made & words)
        shown += bool(made)
    assert shown >= 2          # the shipped templates do leave nodes unnamed


def parser_ids(problem: dict, program: str) -> set:
    """The node ids of a template's graph that its program does not name (the parser
    made them up: mul1, add2), read from the program's own assignments."""
    named = set(re.findall(r"(\w+)\s*=(?!=)", program))
    spec = problem["parameters"]["graph"]
    return {n["id"] for n in spec["nodes"]} - named - {spec["output"]}


def test_no_student_facing_text_of_a_template_names_a_node_by_a_parser_id(whole_set, tmp_path):
    """Statement, worked solution, key labels and figures in Markdown, HTML and PDF
    text: a node the program leaves unnamed is written as its expression."""
    data = whole_set[1]
    programs = {t.id: t.source["graph"] for t in shipped_templates() if t.kind == "graph"}
    made = set()
    for p in data["sheets"][0]["problems"]:
        if "graph" in p["parameters"]:
            made |= parser_ids(p, programs[p["type"]])
    assert {"mul1", "add1", "exp1", "max1"} <= made     # the shipped templates leave some
    files = {f.path: f.data for f in exports.render(data, ["markdown", "html", "pdf"])}
    texts = {}
    for path, blob in files.items():
        if path.endswith(".pdf"):
            texts[path] = " ".join(pdf_pages(blob, tmp_path))
        elif path.endswith(".html"):
            texts[path] = re.sub(r"<[^>]+>", "", blob.decode())    # MathML reads mul1
        else:
            texts[path] = blob.decode()
    assert any(p.endswith(".svg") for p in texts) and any(p.endswith(".pdf") for p in texts)
    for path, text in texts.items():
        for node in made:
            op, k = re.fullmatch(r"([a-z_]+?)(\d+)", node).groups()
            assert not re.search(rf"(?<![\w]){node}(?![\w])", text), (path, node)
            assert f"\\mathrm{{{op}}}_{{{k}}}" not in text, (path, node)


@pytest.mark.parametrize("which", [0, 1])
def test_the_html_sheet_prints_from_chromium_with_a_box_per_part_beside_its_figure(
        whole_set, which, tmp_path):
    """Headless Chromium prints the HTML sheet as the PDF does: every problem's boxes on
    one page with its figure, that page the heading's or the next, and the next
    student's sheet on a new page."""
    from tests.worksheets.test_exports_browser import FLAGS, chromium_path

    data = whole_set[which]
    s = SheetSet(data)
    files = {f.path: f.data for f in exports.render(data, ["html"])}
    for sheet in s.sheets:
        page = tmp_path / f"{sheet.stem}.html"
        page.write_bytes(files[f"{sheet.stem}.html"])
        out = tmp_path / f"{sheet.stem}.pdf"
        subprocess.run([chromium_path(), "--headless", *FLAGS, "--no-pdf-header-footer",
                        f"--print-to-pdf={out}", page.as_uri()], check=True,
                       capture_output=True, timeout=120)
        pages = pdf_pages(out.read_bytes(), tmp_path)
        assert "Name" in pages[0] and "token" not in " ".join(pages)   # tokens are not printed
        for k, (p, parts) in enumerate(zip(sheet.problems, segments(pages, sheet))):
            labels = [" ".join(label.split()) for label in box_labels(p)]
            if "grad_output" in p["parameters"]:
                labels = ["∂L/∂x", "∂L/∂w"]
            holding = [(i, text) for i, text in parts
                       if all(label in text for label in labels)]
            assert len(holding) == 1, (sheet.student, k, p["type"], labels)
            i, text = holding[0]
            assert i - parts[0][0] <= 1, (sheet.student, k, p["type"])
            figure = sheet.figure(k, False)
            words = [t.text for t in ET.fromstring(figure).iter(SVG + "text") if t.text]
            assert all(squeezed(w) in squeezed(text) for w in words), (k, p["type"])


def test_a_class_key_in_html_prints_each_student_from_a_new_page(tmp_path):
    from tests.worksheets.test_exports_browser import FLAGS, chromium_path

    data = generate(6, ["ada", "bob"], ["gate_gradient"], secret=SECRET)
    files = {f.path: f.data for f in exports.render(data, ["html"])}
    page = tmp_path / "answer-key.html"
    page.write_bytes(files["answer-key.html"])
    out = tmp_path / "key.pdf"
    subprocess.run([chromium_path(), "--headless", *FLAGS, "--no-pdf-header-footer",
                    f"--print-to-pdf={out}", page.as_uri()], check=True, capture_output=True,
                   timeout=120)
    pages = pdf_pages(out.read_bytes(), tmp_path)
    firsts = [i for i, text in enumerate(pages) if "answer key" in text and "Problem set 6" in text]
    assert len(firsts) == 2 and all(pages[i].startswith("Problem set 6") for i in firsts)
    assert "ada" in pages[firsts[0]] and "bob" in pages[firsts[1]]


CURVE = re.compile(r"M([-\d.]+),([-\d.]+)C([-\d.]+),([-\d.]+) ([-\d.]+),([-\d.]+) "
                   r"([-\d.]+),([-\d.]+)$")


def curve_points(d: str, steps: int = 40):
    """Points along a wire drawn as one cubic Bézier, M x0,y0 C x1,y1 x2,y2 x3,y3."""
    m = CURVE.match(d)
    if m is None:
        return []
    x0, y0, x1, y1, x2, y2, x3, y3 = map(float, m.groups())
    out = []
    for i in range(steps + 1):
        t = i / steps
        a, b, c, e = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t ** 3
        out.append((a * x0 + b * x1 + c * x2 + e * x3, a * y0 + b * y1 + c * y2 + e * y3))
    return out


def muted_text_boxes(root):
    """(text, x0, y0, x1, y1) of the grey text a graph figure writes at gates: node names
    and constant tags, from each text's anchor, size and the monospace advance (0.602 em),
    from the cap height to the baseline."""
    for t in root.iter(SVG + "text"):
        if t.get("fill") != "#6e7781" or not t.text:
            continue
        x, y, size = float(t.get("x")), float(t.get("y")), float(t.get("font-size"))
        width = len(t.text) * 0.602 * size
        anchor = t.get("text-anchor", "start")
        x0 = x - width if anchor == "end" else x - width / 2 if anchor == "middle" else x
        yield t.text, x0, y - 0.7 * size, x0 + width, y


def test_no_wire_of_a_graph_figure_runs_through_a_node_name_or_constant_tag(whole_set):
    """The logistic-regression circuit's 1→ tag sat on the wire from y and its
    (1−y)·log(1−h) name on the wire into its gate: no wire of any graph figure (built-in
    and template, sheet and key) passes through grey text."""
    checked = 0
    for data in whole_set:
        s = SheetSet(data)
        for sheet in s.sheets:
            for k, p in enumerate(sheet.problems):
                for key in (False, True):
                    figure = sheet.figure(k, key)
                    if figure is None or "computational graph" not in figure:
                        continue
                    root = ET.fromstring(figure)
                    groups = [(0.0, root)] + [
                        (float(re.search(r"translate\(0,([\d.]+)\)", g.get("transform"))[1]), g)
                        for g in root.findall(SVG + "g")]
                    for _, group in groups:
                        wires = [pt for path in group.findall(SVG + "path")
                                 if path.get("fill") == "none"
                                 for pt in curve_points(path.get("d"))]
                        for text, x0, y0, x1, y1 in muted_text_boxes(group):
                            inside = [(x, y) for x, y in wires
                                      if x0 + 1 < x < x1 - 1 and y0 + 1 < y < y1 - 1]
                            assert not inside, (p["type"], key, text, inside[:2])
                    checked += 1
    assert checked >= 10


def test_a_printed_graph_problem_asks_for_boxes_not_a_json_map(tmp_path):
    data = generate(6, ["ada"], ["graph_backprop", "tanh-neuron"], secret=SECRET,
                    templates=[t for t in shipped_templates() if t.id == "tanh-neuron"])
    statements = [p["statement"] for p in data["sheets"][0]["problems"]]
    assert all("map keyed by node" in s for s in statements)  # the JSON sheet says how
    files = {f.path: f.data for f in exports.render(data, ["pdf", "html"])}
    pdf = " ".join(pdf_pages(files["ada.pdf"], tmp_path))
    html = " ".join(files["ada.html"].decode().split())
    for printed in (pdf, html):
        assert "map keyed" not in printed
        assert printed.count("a wrong value is not counted twice") == 2

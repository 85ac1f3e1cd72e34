"""Every format read the way its consumer reads it: Markdown's figure links resolve, the
HTML has MathML and inline SVG and nothing from outside, the PDF's text holds each
student's numbers, Moodle's XML has its categories and numerical/cloze questions,
Canvas's zip has a manifest pointing at real files and question groups."""

import base64
import io
import json
import re
import unicodedata
import xml.etree.ElementTree as ET
import zipfile
from html.parser import HTMLParser

import pypdf
import pytest

from worksheets import exports
from worksheets.exports.parts import answer_parts
from worksheets import generate
from worksheets.latex import num
from tests.worksheets.stated_tolerances import asked

SECRET = "exports-test-secret"
STUDENTS = ["ada", "Grace Hopper", "alan/turing"]
QTI = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"
CP = "{http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1}"


@pytest.fixture(scope="module")
def problem_set():
    return generate(21, STUDENTS, secret=SECRET)


@pytest.fixture(scope="module")
def rendered(problem_set):
    return {fmt: {f.path: f.data for f in exports.render(problem_set, [fmt])}
            for fmt in exports.FORMATS}


def test_each_format_gives_a_file_per_student_and_a_key(rendered):
    stems = ["ada", "Grace_Hopper", "alan_turing"]
    for fmt, ext in (("json", "json"), ("markdown", "md"), ("html", "html"), ("pdf", "pdf")):
        names = set(rendered[fmt])
        assert {f"{s}.{ext}" for s in stems} | {f"answer-key.{ext}"} <= names, fmt
    assert list(rendered["moodle"]) == ["gradsheet-21-moodle.xml"]
    assert list(rendered["qti"]) == ["gradsheet-21-canvas-qti.zip"]


def test_unknown_format_is_refused_by_name():
    with pytest.raises(exports.ExportError, match=r"unknown format 'docx' \(known formats: "
                                                  r"json, markdown, html, pdf, moodle, qti\)"):
        exports.parse_formats("html,docx")
    assert exports.parse_formats(" PDF, html,pdf") == ["html", "pdf"]


def test_lms_formats_need_the_answers():
    s = generate(21, ["ada"], include_answers=False, secret=SECRET)
    with pytest.raises(exports.ExportError, match="moodle export needs every problem's answers"):
        exports.render(s, ["moodle"])
    sheets = exports.render(s, ["html"])
    assert [f.path for f in sheets] == ["ada.html"]      # no key without answers


def test_markdown_keeps_math_in_dollars_and_links_figures_that_exist(rendered, problem_set):
    files = rendered["markdown"]
    sheet = files["ada.md"].decode()
    assert sheet.startswith("# Problem set 21: ada")
    first = problem_set["sheets"][0]["problems"][0]
    assert first["statement"] in sheet
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", sheet)
    assert len(links) == 6
    for link in links + re.findall(r"!\[[^\]]*\]\(([^)]+)\)", files["answer-key.md"].decode()):
        ET.fromstring(files[link])                      # each points at an SVG that parses
    key = files["answer-key.md"].decode()
    assert "| $\\text{output size}$ | " + str(first["answers"]["output_size"]) in key
    assert "### Worked solution" in key
    assert "### Answers" not in sheet and "Worked solution" not in sheet


class Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.urls = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]


def test_html_pages_are_self_contained_with_mathml_and_inline_svg(rendered):
    for name, data in rendered["html"].items():
        page = Elements()
        page.feed(data.decode())
        assert "script" not in page.tags and "link" not in page.tags
        assert page.urls == []                           # nothing fetched from anywhere
        assert page.tags.count("svg") >= 6 and page.tags.count("math") > 5, name
    assert b"@media print" in rendered["html"]["ada.html"]
    assert rendered["html"]["answer-key.html"].count(b'<article class="sheet">') == 3


def pdf_text(data: bytes) -> str:
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)
    # typst sets math in the math fonts' italic letters and the minus sign U+2212
    text = unicodedata.normalize("NFKC", text).replace("\u2212", "-")
    return re.sub(r"\s+", " ", text)


def test_pdf_text_holds_each_students_numbers(rendered, problem_set):
    for sheet, stem in zip(problem_set["sheets"], ["ada", "Grace_Hopper", "alan_turing"]):
        # spacing inside typeset math is not text: compare without spaces
        text = pdf_text(rendered["pdf"][f"{stem}.pdf"]).replace(" ", "")
        assert sheet["variant"] in text and str(sheet["student"]).replace(" ", "") in text
        p = {q["type"]: q["parameters"] for q in sheet["problems"]}
        assert f"W={p['conv_output_size']['width']}" in text
        assert f"W={p['conv_same_padding']['width']}" in text
        assert f"x={num(p['gate_gradient']['input'])}" in text
        for name, v in p["graph_backprop"]["inputs"].items():
            assert f"{name}={num(v)}" in text
        assert f"x=[{','.join(map(str, p['conv1d_backprop']['input']))}]" in text


KEY_ROW = re.compile(r"(-?\d+(?:\.\d+)?) (exactly|± (\d+(?:\.\d+)?))")


def test_pdf_key_holds_every_answer_with_its_stated_width_in_order(rendered, problem_set):
    # each row of a key table ends "<answer> exactly" or "<answer> ± <width>"
    rows = KEY_ROW.findall(pdf_text(rendered["pdf"]["answer-key.pdf"]))
    want = [(num(v), w) for sheet in problem_set["sheets"] for p in sheet["problems"]
            for _, v, w in asked(p)]
    assert [value for value, *_ in rows] == [value for value, _ in want]
    for (value, marked, width), (_, w) in zip(rows, want):
        if w == 0:
            assert marked == "exactly", value
        else:
            # the key prints the width to the decimals of its answer, at least four
            # (worksheets.numerals), or to four significant digits when that rounds to 0
            assert abs(float(width) - w) <= 0.5e-4 * (1 + 1e-9) or (
                float(width) == pytest.approx(w, rel=5e-4)), value


def test_pdf_has_no_date_and_is_the_same_bytes_twice(problem_set):
    again = exports.render(problem_set, ["pdf"])
    first = exports.render(problem_set, ["pdf"])
    assert [f.data for f in again] == [f.data for f in first]
    assert b"/CreationDate" not in first[0].data


def moodle_quiz(rendered) -> ET.Element:
    return ET.fromstring(rendered["moodle"]["gradsheet-21-moodle.xml"])


def test_moodle_has_one_category_per_slot_holding_every_students_variant(rendered,
                                                                          problem_set):
    quiz = moodle_quiz(rendered)
    assert quiz.tag == "quiz"
    questions = quiz.findall("question")
    categories = [i for i, q in enumerate(questions) if q.get("type") == "category"]
    assert len(categories) == 6
    for n, start in enumerate(categories):
        path = questions[start].find("category/text").text
        assert path.startswith("$course$/top/gradsheet-21/Problem ")
        end = categories[n + 1] if n + 1 < len(categories) else len(questions)
        members = questions[start + 1:end]
        assert len(members) == len(STUDENTS)
        variants = {q.find("idnumber").text.rsplit("-", 1)[0] for q in members}
        assert variants == {s["variant"] for s in problem_set["sheets"]}


def test_moodle_single_answer_problems_are_numerical_with_tolerance_and_feedback(rendered,
                                                                                 problem_set):
    quiz = moodle_quiz(rendered)
    numerical = quiz.findall("question[@type='numerical']")
    assert len(numerical) == len(STUDENTS)               # conv_same_padding: one part
    by_id = {p["id"]: p for s in problem_set["sheets"] for p in s["problems"]}
    for q in numerical:
        p = by_id[q.find("idnumber").text]
        answer = q.find("answer")
        assert answer.get("fraction") == "100"
        assert float(answer.find("text").text) == p["answers"]["padding"]
        assert float(answer.find("tolerance").text) == 0.0
        assert "Worked solution" in q.find("generalfeedback/text").text
        assert q.find("questiontext").get("format") == "html"


def test_moodle_figures_travel_inside_their_questions(rendered):
    quiz = moodle_quiz(rendered)
    for q in quiz.findall("question[@type='cloze']"):
        text = q.find("questiontext")
        assert "@@PLUGINFILE@@/figure.svg" in text.find("text").text
        svg = base64.b64decode(text.find("file[@name='figure.svg']").text)
        assert ET.fromstring(svg).tag == "{http://www.w3.org/2000/svg}svg"
        # the review shows each blank's answer: no second figure per variant
        assert q.find("generalfeedback/file") is None


def qti_zip(rendered) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(rendered["qti"]["gradsheet-21-canvas-qti.zip"]))


def test_zips_are_the_same_bytes_every_time_with_fixed_dates(problem_set):
    first = exports.render_zip(problem_set, ["markdown", "qti"])
    assert exports.render_zip(problem_set, ["markdown", "qti"]) == first
    z = zipfile.ZipFile(io.BytesIO(first))
    assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert z.namelist() == sorted(z.namelist())


def test_a_download_is_the_file_itself_or_a_zip(problem_set):
    name, media, data = exports.render_download(problem_set, "moodle")
    assert (name, media) == ("gradsheet-21-moodle.xml", "application/xml")
    ET.fromstring(data)
    name, media, data = exports.render_download(problem_set, "html,pdf")
    assert (name, media) == ("gradsheet-21-html-pdf.zip", "application/zip")
    assert "answer-key.pdf" in zipfile.ZipFile(io.BytesIO(data)).namelist()


def test_write_puts_every_format_side_by_side(tmp_path, problem_set):
    exports.write(problem_set, "json,markdown,moodle", tmp_path)
    names = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert {"ada.json", "ada.md", "answer-key.json", "gradsheet-21-moodle.xml",
            "figures/ada-p1.svg"} <= names
    copy = json.loads((tmp_path / "ada.json").read_text())
    assert "answers" not in copy["problems"][0] and copy["student"] == "ada"


def test_a_malformed_set_is_an_export_error_naming_the_field():
    with pytest.raises(exports.ExportError, match=r"sheets\[0\].problems\[0\]: a problem has "
                                                  r"a statement"):
        exports.render({"seed": 1, "sheets": [{"problems": [{"type": "gate_gradient",
                                                             "parameters": {}}]}]}, "html")


def test_html_and_markdown_are_the_same_bytes_every_time(problem_set, rendered):
    again = {f.path: f.data for f in exports.render(problem_set, ["html", "markdown"])}
    assert again == {**rendered["html"], **rendered["markdown"]}


POPPLER = ("pdfinfo", "pdffonts")


@pytest.mark.parametrize("tool", POPPLER)
def test_poppler_reads_the_student_and_key_pdfs_without_an_error(rendered, tmp_path, tool):
    import subprocess
    for name in ("ada.pdf", "answer-key.pdf", "all-sheets.pdf"):
        path = tmp_path / name
        path.write_bytes(rendered["pdf"][name])
        run = subprocess.run([tool, str(path)], capture_output=True, text=True, check=True)
        assert run.stderr == "", (name, run.stderr)


def test_every_pdf_page_carries_its_sheet_code(rendered):
    sheets = pypdf.PdfReader(io.BytesIO(rendered["pdf"]["all-sheets.pdf"])).pages
    codes = [re.search(r"variant ([0-9a-f]{16})", page.extract_text()) for page in sheets]
    assert all(codes) and len({c.group(1) for c in codes}) == len(STUDENTS)

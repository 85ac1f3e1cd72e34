"""The LMS exports read the way Moodle and Canvas read them: every number of every
problem is a gradable blank or question, with the problem's stated tolerance (worked
out here from the set's JSON) and its share of the one points table that gradsheet's
own grader uses too; the question text asks for the blanks, not for JSON."""

import hashlib
import io
import re
import xml.etree.ElementTree as ET
import zipfile
from fractions import Fraction

import pytest

from worksheets import exports, generate
from worksheets.problem import POINTS

SECRET = "lms-test-secret"
STUDENTS = ["ada", "grace", "alan"]
QTI = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"
CP = "{http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1}"
JSON_WORDS = ("map keyed", "`values`", "`output_size`", "`padding`", "error carried forward",
              "judged from your own numbers", "as a list of")


@pytest.fixture(scope="module")
def problem_set():
    return generate(33, STUDENTS, secret=SECRET)


def expected_parts(problem):
    """(value, tolerance, points) of every number the problem asks for, in the key's
    order: leaves of the answers, the
    tolerance max(abs, rel |value|) of the top-level part, the part's points shared
    equally among its numbers."""
    answers = problem["answers"]
    leaves = []

    def walk(top, value):
        if isinstance(value, dict):
            for v in value.values():
                walk(top, v)
        elif isinstance(value, list):
            for v in value:
                walk(top, v)
        else:
            leaves.append((top, float(value)))
    for top, value in answers.items():
        if problem["type"] == "graph_backprop":
            # the inputs' values and the output's gradient are given, not asked
            spec = problem["parameters"]["graph"]
            if top == "values":
                value = {n["id"]: value[n["id"]] for n in spec["nodes"]}
            if top == "gradients":
                value = {k: v for k, v in value.items() if k != spec["output"]}
        walk(top, value)
    counts = {}
    for top, _ in leaves:
        counts[top] = counts.get(top, 0) + 1
    out = []
    for top, value in leaves:
        tol = problem["tolerance"][top]
        width = max(tol["abs"], tol["rel"] * abs(value))
        out.append((value, width, Fraction(POINTS[problem["type"]][top], counts[top])))
    return out


def same_numbers(got, want):
    """Both lists of (value, tolerance, points) match, in any order."""
    assert len(got) == len(want)
    key = lambda t: (round(t[0], 9), round(t[1], 9), float(t[2]))  # noqa: E731
    for g, w in zip(sorted(got, key=key), sorted(want, key=key)):
        assert g[0] == pytest.approx(w[0], rel=1e-11, abs=1e-12)
        assert g[1] == pytest.approx(w[1], rel=1e-9, abs=1e-12)
        assert float(g[2]) == pytest.approx(float(w[2]), rel=1e-5)


def test_every_number_is_a_moodle_blank_with_its_tolerance_and_shared_points(problem_set):
    xml = exports.render(problem_set, ["moodle"])[0].data
    quiz = ET.fromstring(xml)
    by_id = {p["id"]: p for s in problem_set["sheets"] for p in s["problems"]}
    seen = 0
    for q in quiz.findall("question"):
        if q.get("type") == "category":
            continue
        p = by_id[q.find("idnumber").text]
        grade = float(q.find("defaultgrade").text)
        assert grade == sum(POINTS[p["type"]].values())
        text = q.find("questiontext/text").text
        if q.get("type") == "numerical":
            a = q.find("answer")
            got = [(float(a.find("text").text), float(a.find("tolerance").text),
                    Fraction(grade))]
        else:
            blanks = re.findall(r"\{([0-9]+):NUMERICAL:=([^:}]+):([^}]+)\}", text)
            total = sum(int(w) for w, _, _ in blanks)
            # Moodle shares the question's mark among the blanks by their weights
            got = [(float(v), float(t), Fraction(int(w), total) * Fraction(grade))
                   for w, v, t in blanks]
        same_numbers(got, expected_parts(p))
        for words in JSON_WORDS:
            assert words not in text, (p["type"], words)
        seen += 1
    assert seen == len(STUDENTS) * 6


def canvas(problem_set):
    data = exports.render(problem_set, ["qti"])[0].data
    return zipfile.ZipFile(io.BytesIO(data))


def test_every_number_is_a_canvas_numerical_question_with_shared_points(problem_set):
    z = canvas(problem_set)
    manifest = ET.fromstring(z.read("imsmanifest.xml"))
    quizzes = manifest.findall(f"{CP}resources/{CP}resource[@type='imsqti_xmlv1p2']")
    assert len(quizzes) == len(STUDENTS)
    for resource, sheet in zip(quizzes, problem_set["sheets"]):
        root = ET.fromstring(z.read(resource.get("href")))
        assessment = root.find(f"{QTI}assessment")
        assert sheet["student"] in assessment.get("title")
        sections = assessment.findall(f"{QTI}section/{QTI}section")
        assert len(sections) == len(sheet["problems"])
        for section, p in zip(sections, sheet["problems"]):
            got = []
            for item in section.findall(f"{QTI}item"):
                fields = {f.find(f"{QTI}fieldlabel").text: f.find(f"{QTI}fieldentry").text
                          for f in item.iter(f"{QTI}qtimetadatafield")}
                html = item.find(f"{QTI}presentation/{QTI}material/{QTI}mattext").text
                for words in JSON_WORDS:
                    assert words not in html
                if fields["question_type"] == "text_only_question":
                    continue
                assert fields["question_type"] == "numerical_question"
                cond = item.find(f"{QTI}resprocessing/{QTI}respcondition[@continue='No']"
                                 f"/{QTI}conditionvar/{QTI}or")
                value = float(cond.find(f"{QTI}varequal").text)
                low = float(cond.find(f"{QTI}and/{QTI}vargte").text)
                high = float(cond.find(f"{QTI}and/{QTI}varlte").text)
                assert low <= value <= high
                got.append((value, (high - low) / 2, Fraction(fields["points_possible"])))
            same_numbers(got, expected_parts(p))


def test_canvas_figures_are_files_in_the_zip_once_per_distinct_image(problem_set):
    z = canvas(problem_set)
    names = z.namelist()
    figures = [n for n in names if n.startswith("web_resources/")]
    digests = [hashlib.sha1(z.read(n)).hexdigest() for n in figures]
    assert len(set(digests)) == len(digests)
    listed = {f.get("href") for f in ET.fromstring(z.read("imsmanifest.xml")).iter(f"{CP}file")}
    assert listed | {"imsmanifest.xml"} == set(names)
    for name in names:
        if name.endswith(".xml") and name != "imsmanifest.xml":
            for src in re.findall(r'src="\$IMS-CC-FILEBASE\$/([^"]+)"', z.read(name).decode()):
                assert f"web_resources/{src}" in names


def test_each_canvas_quiz_depends_on_exactly_the_figures_it_shows(problem_set):
    z = canvas(problem_set)
    manifest = ET.fromstring(z.read("imsmanifest.xml"))
    files = {r.get("identifier"): r.get("href") for r in manifest.iter(f"{CP}resource")
             if r.get("type") == "webcontent"}
    quizzes = manifest.findall(f"{CP}resources/{CP}resource[@type='imsqti_xmlv1p2']")
    for quiz in quizzes:
        shown = {f"web_resources/{src}" for src in re.findall(
            r'src="\$IMS-CC-FILEBASE\$/([^"]+)"', z.read(quiz.get("href")).decode())}
        depends = [files[d.get("identifierref")] for d in quiz.findall(f"{CP}dependency")]
        assert shown and sorted(depends) == sorted(shown)

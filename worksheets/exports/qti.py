"""Canvas QTI 1.2: a zip of imsmanifest.xml, one quiz per student, and the figures.

Canvas's classic quizzes draw questions from a group at random, one by one, so they
cannot keep the parts of one student's variant together; each student gets a quiz of
their own instead (assign it to them with Canvas's "Assign to"). A quiz has a section
per problem: a text-only question with the problem's setup and figure, then one
`numerical_question` per number, its answer a range (the key plus or minus its
tolerance) and its points the part's share of the shared points table, so Canvas
grades every part as gradsheet's own grader weighs it (without error carried
forward). The last part's feedback holds the answers, the key's figure and the worked
solution. Figures are files in the zip, one per distinct image, that the manifest
lists and the questions reference through $IMS-CC-FILEBASE$, as Canvas's own exports do.
"""

from __future__ import annotations

import hashlib
from html import escape
from xml.etree import ElementTree as ET

from worksheets.exports import markup
from worksheets.exports.archive import File, zip_bytes
from worksheets.exports.moodle import answer_table, number, solution_html
from worksheets.exports.parts import Part, answer_parts, lms_statement, tolerance_words
from worksheets.exports.sheetset import SheetSet, title

QTI_NS = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"
CP_NS = "http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"
FILES_DIR = "web_resources"   # what $IMS-CC-FILEBASE$ stands for in a Canvas package


def ident(*parts) -> str:
    """A stable identifier: the same set gives the same ids, and no two things share one."""
    return "g" + hashlib.sha1("\x1f".join(map(str, parts)).encode("utf-8")).hexdigest()[:31]


def _meta(parent, fields: list[tuple[str, str]]) -> None:
    q = ET.SubElement(parent, "qtimetadata")
    for label, entry in fields:
        f = ET.SubElement(q, "qtimetadatafield")
        ET.SubElement(f, "fieldlabel").text = label
        ET.SubElement(f, "fieldentry").text = entry


def _mattext(parent, html: str) -> None:
    m = ET.SubElement(parent, "material")
    ET.SubElement(m, "mattext", {"texttype": "text/html"}).text = html


def points_text(points) -> str:
    return f"{float(points):.6g}"


def _figure(figures: dict, svg: str) -> str:
    """The figure's path in the package: named by its content, so a figure that two
    students share is one file."""
    name = f"figure_{hashlib.sha1(svg.encode('utf-8')).hexdigest()[:20]}.svg"
    figures[name] = svg
    return name


def _img(name: str, alt: str) -> str:
    return f'<p><img src="$IMS-CC-FILEBASE$/{escape(name)}" alt="{escape(alt)}"></p>'


def _setup_item(section, item_id: str, slot: int, problem: dict, figure: str | None) -> None:
    item = ET.SubElement(section, "item", {"ident": item_id,
                                           "title": f"P{slot + 1} {title(problem)}"})
    md = ET.SubElement(item, "itemmetadata")
    _meta(md, [("question_type", "text_only_question"), ("points_possible", "0"),
               ("assessment_question_identifierref", ident(item_id, "bank"))])
    body = f"<p><strong>Problem {slot + 1}</strong></p>" + \
        markup.lms_html(lms_statement(problem))
    if figure is not None:
        body += _img(figure, f"Problem {slot + 1}: figure")
    _mattext(ET.SubElement(item, "presentation"), body)


def _part_item(section, item_id: str, slot: int, part: Part, feedback: str | None) -> None:
    item = ET.SubElement(section, "item", {"ident": item_id,
                                           "title": f"P{slot + 1} {part.name}"})
    md = ET.SubElement(item, "itemmetadata")
    _meta(md, [("question_type", "numerical_question"),
               ("points_possible", points_text(part.points)),
               ("original_answer_ids", ident(item_id, "answer")),
               ("assessment_question_identifierref", ident(item_id, "bank"))])
    pres = ET.SubElement(item, "presentation")
    _mattext(pres, f"<p>Problem {slot + 1}: enter \\({escape(part.tex)}\\) "
                   f"({tolerance_words(part)}).</p>")
    resp = ET.SubElement(pres, "response_str", {"ident": "response1", "rcardinality": "Single"})
    fib = ET.SubElement(resp, "render_fib", {"fibtype": "Decimal"})
    ET.SubElement(fib, "response_label", {"ident": ident(item_id, "answer")})

    proc = ET.SubElement(item, "resprocessing")
    out = ET.SubElement(proc, "outcomes")
    ET.SubElement(out, "decvar", {"maxvalue": "100", "minvalue": "0", "varname": "SCORE",
                                  "vartype": "Decimal"})
    if feedback is not None:
        general = ET.SubElement(proc, "respcondition", {"continue": "Yes"})
        ET.SubElement(ET.SubElement(general, "conditionvar"), "other")
        ET.SubElement(general, "displayfeedback", {"feedbacktype": "Response",
                                                   "linkrefid": "general_fb"})
    right = ET.SubElement(proc, "respcondition", {"continue": "No"})
    cond = ET.SubElement(ET.SubElement(right, "conditionvar"), "or")
    ET.SubElement(cond, "varequal", {"respident": "response1"}).text = number(part.value)
    both = ET.SubElement(cond, "and")
    ET.SubElement(both, "vargte", {"respident": "response1"}).text = \
        number(part.value - part.tolerance)
    ET.SubElement(both, "varlte", {"respident": "response1"}).text = \
        number(part.value + part.tolerance)
    ET.SubElement(right, "setvar", {"action": "Set", "varname": "SCORE"}).text = "100"
    if feedback is not None:
        fb = ET.SubElement(item, "itemfeedback", {"ident": "general_fb"})
        _mattext(ET.SubElement(fb, "flow_mat"), feedback)


def assessment_xml(s: SheetSet, sheet, assessment_id: str, figures: dict) -> bytes:
    root = ET.Element("questestinterop", {"xmlns": QTI_NS})
    a = ET.SubElement(root, "assessment", {"ident": assessment_id,
                                           "title": f"Problem set {s.seed}: {sheet.student}"})
    _meta(a, [("cc_maxattempts", "1")])
    top = ET.SubElement(a, "section", {"ident": "root_section"})
    for slot, problem in enumerate(sheet.problems):
        group = ET.SubElement(top, "section", {
            "ident": ident(assessment_id, slot, "section"),
            "title": f"Problem {slot + 1}: {title(problem)}"})
        blank = sheet.figure(slot, False)
        _setup_item(group, ident(assessment_id, slot, "setup"), slot, problem,
                    None if blank is None else _figure(figures, blank))
        parts = answer_parts(problem)
        key = sheet.figure(slot, True)
        feedback = ((_img(_figure(figures, key), f"Problem {slot + 1}: figure with the answers")
                     if key is not None else "") + answer_table(parts) + solution_html(problem))
        for n, part in enumerate(parts):
            _part_item(group, ident(assessment_id, slot, part.name), slot, part,
                       feedback if n == len(parts) - 1 else None)
    ET.indent(root, space=" ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def manifest_xml(s: SheetSet, assessments: list[tuple[str, str, list[str]]],
                 figure_paths: list[str]) -> bytes:
    """The package's manifest: each quiz (id, path, the figures it shows) and every
    figure. A quiz depends on its own figures only: listing every figure under every
    quiz made the manifest grow with the square of the class (10 million entries and
    3 minutes for 1,000 students)."""
    root = ET.Element("manifest", {"identifier": ident(s.name, s.version, "manifest"),
                                   "xmlns": CP_NS})
    md = ET.SubElement(root, "metadata")
    ET.SubElement(md, "schema").text = "IMS Content"
    ET.SubElement(md, "schemaversion").text = "1.1.3"
    ET.SubElement(root, "organizations")
    resources = ET.SubElement(root, "resources")
    for assessment_id, assessment_path, shown in assessments:
        quiz = ET.SubElement(resources, "resource", {"identifier": assessment_id,
                                                     "type": "imsqti_xmlv1p2",
                                                     "href": assessment_path})
        ET.SubElement(quiz, "file", {"href": assessment_path})
        for path in shown:
            ET.SubElement(quiz, "dependency", {"identifierref": ident("file", path)})
    for path in figure_paths:
        r = ET.SubElement(resources, "resource", {"identifier": ident("file", path),
                                                  "type": "webcontent", "href": path})
        ET.SubElement(r, "file", {"href": path})
    ET.indent(root, space=" ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def package(s: SheetSet) -> list[File]:
    """The files of the package: imsmanifest.xml, a quiz per student and the figures."""
    s.require_answers("qti")
    figures: dict = {}
    quizzes = []
    for sheet in s.sheets:
        assessment_id = ident(s.name, s.version, sheet.variant, "assessment")
        shown: dict = {}
        xml = assessment_xml(s, sheet, assessment_id, shown)
        figures.update(shown)
        quizzes.append((assessment_id, f"{assessment_id}/{assessment_id}.xml",
                        [f"{FILES_DIR}/{name}" for name in sorted(shown)], xml))
    figure_paths = [f"{FILES_DIR}/{name}" for name in sorted(figures)]
    files = [File("imsmanifest.xml", manifest_xml(s, [q[:3] for q in quizzes],
                                                  figure_paths))]
    files += [File(path, xml) for _, path, _, xml in quizzes]
    files += [File(f"{FILES_DIR}/{name}", figures[name]) for name in sorted(figures)]
    return files


def files(s: SheetSet) -> list[File]:
    return [File(f"{s.name}-canvas-qti.zip", zip_bytes(package(s)))]

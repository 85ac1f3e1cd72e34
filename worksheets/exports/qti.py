"""Canvas QTI 1.2: a zip of imsmanifest.xml, one assessment, and the figures.

The assessment has one question group per problem slot ("pick 1"), holding every
student's variant of it as a `numerical_question` whose answer is a range (the key
plus or minus its tolerance). Canvas's numerical question takes one number, so each
asks for the number its problem builds up to (parts.HEADLINE: the output size, the
gradient of the first input, ...) and shows every part, and the worked solution, as
feedback after the attempt. Figures are files in the zip that the manifest lists and
the questions reference through $IMS-CC-FILEBASE$, as Canvas's own exports do.
"""

from __future__ import annotations

import hashlib
from html import escape
from xml.etree import ElementTree as ET

from worksheets.exports import markup
from worksheets.exports.archive import File, zip_bytes
from worksheets.exports.markdown_sheets import tolerance_text
from worksheets.exports.moodle import number, solution_html
from worksheets.exports.parts import answer_parts, display, headline_part
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


def _item(section, s: SheetSet, slot: int, sheet, problem: dict, figures: dict) -> None:
    part = headline_part(problem)
    item_id = ident(s.name, s.version, sheet.variant, slot, "item")
    item = ET.SubElement(section, "item", {
        "ident": item_id, "title": f"P{slot + 1} {title(problem)} ({sheet.variant})"})
    md = ET.SubElement(item, "itemmetadata")
    _meta(md, [("question_type", "numerical_question"), ("points_possible", "1.0"),
               ("original_answer_ids", ident(item_id, "answer")),
               ("assessment_question_identifierref", ident(item_id, "bank"))])
    body = markup.lms_html(problem["statement"])
    key_img = ""
    for key in (False, True):
        svg = sheet.figure(slot, key)
        if svg is None:
            continue
        name = f"{s.name}/{sheet.variant}-p{slot + 1}{'-key' if key else ''}.svg"
        figures[name] = svg
        img = (f'<p><img src="$IMS-CC-FILEBASE$/{escape(name)}" '
               f'alt="Problem {slot + 1}: figure{" with the answers" if key else ""}"></p>')
        if key:
            key_img = img
        else:
            body += img
    body += (f"<p><strong>Enter \\({escape(part.tex)}\\)</strong> "
             f"({'exactly' if part.tolerance == 0 else 'within ' + tolerance_text(part)}). "
             "Work out the other parts on paper: all of them appear in the feedback.</p>")
    pres = ET.SubElement(item, "presentation")
    _mattext(pres, body)
    resp = ET.SubElement(pres, "response_str", {"ident": "response1", "rcardinality": "Single"})
    fib = ET.SubElement(resp, "render_fib", {"fibtype": "Decimal"})
    ET.SubElement(fib, "response_label", {"ident": ident(item_id, "answer")})

    proc = ET.SubElement(item, "resprocessing")
    out = ET.SubElement(proc, "outcomes")
    ET.SubElement(out, "decvar", {"maxvalue": "100", "minvalue": "0", "varname": "SCORE",
                                  "vartype": "Decimal"})
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

    rows = "".join(f"<tr><td>\\({escape(p.tex)}\\)</td><td>{escape(display(p))}</td></tr>"
                   for p in answer_parts(problem))
    feedback = (key_img + f"<table><tbody>{rows}</tbody></table>"
                + solution_html(problem))
    fb = ET.SubElement(item, "itemfeedback", {"ident": "general_fb"})
    _mattext(ET.SubElement(fb, "flow_mat"), feedback)


def assessment_xml(s: SheetSet, assessment_id: str, figures: dict) -> bytes:
    root = ET.Element("questestinterop", {"xmlns": QTI_NS})
    a = ET.SubElement(root, "assessment", {"ident": assessment_id,
                                           "title": f"Problem set {s.seed}"})
    _meta(a, [("cc_maxattempts", "1")])
    top = ET.SubElement(a, "section", {"ident": "root_section"})
    for slot in range(s.slots):
        first = s.sheets[0].problems[slot]
        group = ET.SubElement(top, "section", {
            "ident": ident(s.name, s.version, slot, "group"),
            "title": f"Problem {slot + 1}: {title(first)}"})
        sel = ET.SubElement(ET.SubElement(group, "selection_ordering"), "selection")
        ET.SubElement(sel, "selection_number").text = "1"
        ext = ET.SubElement(sel, "selection_extension")
        ET.SubElement(ext, "points_per_item").text = "1.0"
        for sheet in s.sheets:
            if slot < len(sheet.problems):
                _item(group, s, slot, sheet, sheet.problems[slot], figures)
    ET.indent(root, space=" ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def manifest_xml(s: SheetSet, assessment_id: str, assessment_path: str,
                 figure_paths: list[str]) -> bytes:
    root = ET.Element("manifest", {"identifier": ident(s.name, s.version, "manifest"),
                                   "xmlns": CP_NS})
    md = ET.SubElement(root, "metadata")
    ET.SubElement(md, "schema").text = "IMS Content"
    ET.SubElement(md, "schemaversion").text = "1.1.3"
    ET.SubElement(root, "organizations")
    resources = ET.SubElement(root, "resources")
    quiz = ET.SubElement(resources, "resource", {"identifier": assessment_id,
                                                 "type": "imsqti_xmlv1p2",
                                                 "href": assessment_path})
    ET.SubElement(quiz, "file", {"href": assessment_path})
    for path in figure_paths:
        ET.SubElement(quiz, "dependency", {"identifierref": ident("file", path)})
    for path in figure_paths:
        r = ET.SubElement(resources, "resource", {"identifier": ident("file", path),
                                                  "type": "webcontent", "href": path})
        ET.SubElement(r, "file", {"href": path})
    ET.indent(root, space=" ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def package(s: SheetSet) -> list[File]:
    """The files of the package: imsmanifest.xml, the assessment and the figures."""
    s.require_answers("qti")
    assessment_id = ident(s.name, s.version, "assessment")
    figures: dict = {}
    assessment = assessment_xml(s, assessment_id, figures)
    assessment_path = f"{assessment_id}/{assessment_id}.xml"
    figure_paths = [f"{FILES_DIR}/{name}" for name in sorted(figures)]
    files = [File("imsmanifest.xml", manifest_xml(s, assessment_id, assessment_path,
                                                  figure_paths)),
             File(assessment_path, assessment)]
    files += [File(f"{FILES_DIR}/{name}", figures[name]) for name in sorted(figures)]
    return files


def files(s: SheetSet) -> list[File]:
    return [File(f"{s.name}-canvas-qti.zip", zip_bytes(package(s)))]

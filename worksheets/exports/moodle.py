"""Moodle XML: a quiz bank with one category per problem slot holding every student's
variant of it, so a quiz draws each student a "random question from category" per slot.

A problem with one answer is a `numerical` question; one with several (most of them)
is a `cloze` question with a NUMERICAL blank per part. Tolerances are the key's, as
one absolute width per number; the worked solution is the general feedback. Math is
written \\(...\\) for Moodle's MathJax filter, and each figure travels inside the
question as a file (@@PLUGINFILE@@), blank in the text and filled in the feedback.
"""

from __future__ import annotations

import base64
from html import escape
from xml.etree import ElementTree as ET

from worksheets.exports import markup
from worksheets.exports.archive import File
from worksheets.exports.parts import Part, answer_parts
from worksheets.exports.sheetset import SheetSet, title
from worksheets.numerals import key_text

PENALTY = "0.3333333"


def number(x: float) -> str:
    """A number as Moodle reads it: '.' decimals, the key's digits (numerals.key_text)."""
    return key_text(x)


def _text(parent, tag: str, value: str, fmt: str | None = None) -> ET.Element:
    e = ET.SubElement(parent, tag, {"format": fmt} if fmt else {})
    ET.SubElement(e, "text").text = value
    return e


def _file(parent, name: str, svg: str) -> None:
    f = ET.SubElement(parent, "file", {"name": name, "path": "/", "encoding": "base64"})
    f.text = base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _img(name: str, alt: str) -> str:
    return f'<p><img src="@@PLUGINFILE@@/{escape(name)}" alt="{escape(alt)}"></p>'


def cloze_blank(part: Part) -> str:
    """{1:NUMERICAL:=want:tolerance}: Moodle's embedded-answer syntax for one number."""
    return f"{{1:NUMERICAL:={number(part.value)}:{number(part.tolerance)}}}"


def solution_html(problem: dict) -> str:
    steps = problem.get("solution") or []
    if not steps:
        return ""
    items = "".join(f"<li><strong>{escape(s['title'])}</strong>: "
                    f"{_inline(markup.lms_html(s['text']))}</li>" for s in steps)
    return f"<p><strong>Worked solution</strong></p><ol>{items}</ol>"


def _inline(html: str) -> str:
    html = html.strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        return html[3:-4]
    return html


def _question(quiz, slot: int, sheet, problem: dict, blank_svg, key_svg) -> None:
    parts = answer_parts(problem)
    kind = "numerical" if len(parts) == 1 else "cloze"
    q = ET.SubElement(quiz, "question", {"type": kind})
    _text(q, "name", f"P{slot + 1} {title(problem)} ({sheet.variant})")
    body = markup.lms_html(problem["statement"])
    if blank_svg is not None:
        body += _img("figure.svg", f"Problem {slot + 1}: figure")
    if kind == "cloze":
        rows = "".join(f"<li>\\({escape(p.tex)}\\) = {cloze_blank(p)}</li>" for p in parts)
        body += f"<p>Answers:</p><ul>{rows}</ul>"
    text = _text(q, "questiontext", body, "html")
    if blank_svg is not None:
        _file(text, "figure.svg", blank_svg)
    feedback = solution_html(problem)
    if key_svg is not None:
        feedback = _img("key.svg", f"Problem {slot + 1}: figure with the answers") + feedback
    fb = _text(q, "generalfeedback", feedback, "html")
    if key_svg is not None:
        _file(fb, "key.svg", key_svg)
    ET.SubElement(q, "defaultgrade").text = str(len(parts)) if kind == "cloze" else "1"
    ET.SubElement(q, "penalty").text = PENALTY
    ET.SubElement(q, "hidden").text = "0"
    ET.SubElement(q, "idnumber").text = problem.get("id", f"{sheet.variant}-{slot + 1}")
    if kind == "numerical":
        part = parts[0]
        a = ET.SubElement(q, "answer", {"fraction": "100", "format": "moodle_auto_format"})
        ET.SubElement(a, "text").text = number(part.value)
        ET.SubElement(a, "tolerance").text = number(part.tolerance)
        _text(a, "feedback", "", "html")
        ET.SubElement(q, "unitgradingtype").text = "0"
        ET.SubElement(q, "unitpenalty").text = "0.1"
        ET.SubElement(q, "showunits").text = "3"
        ET.SubElement(q, "unitsleft").text = "0"


def quiz_xml(s: SheetSet) -> bytes:
    s.require_answers("moodle")
    quiz = ET.Element("quiz")
    for slot in range(s.slots):
        first = s.sheets[0].problems[slot]
        c = ET.SubElement(quiz, "question", {"type": "category"})
        _text(c, "category", f"$course$/top/{s.name}/Problem {slot + 1}: {title(first)}")
        _text(c, "info", f"Every student's variant of problem {slot + 1} of problem set "
                         f"{s.seed} ({s.version}): add a random question from this category.",
              "html")
        ET.SubElement(c, "idnumber").text = f"{s.name}-p{slot + 1}"
        for sheet in s.sheets:
            if slot >= len(sheet.problems):
                continue
            _question(quiz, slot, sheet, sheet.problems[slot], sheet.figure(slot, False),
                      sheet.figure(slot, True))
    ET.indent(quiz, space=" ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(quiz, encoding="utf-8",
                                                                     xml_declaration=False) + b"\n"


def files(s: SheetSet) -> list[File]:
    return [File(f"{s.name}-moodle.xml", quiz_xml(s))]

"""Moodle XML: a quiz bank with one category per problem slot holding every student's
variant of it, so a quiz draws each student a "random question from category" per slot.

A problem with one answer is a `numerical` question; one with several (most of them)
is a `cloze` question with a NUMERICAL blank per number, each with its own tolerance
(the key's, as one absolute width) and its weight from the shared points table, so
Moodle marks every part as gradsheet's own grader weighs it (without error carried
forward, which Moodle cannot apply). The question text is the problem's setup and one
labelled blank per number; the general feedback is the worked
solution (Moodle's review shows each blank's right answer itself). Math is written \\(...\\) for Moodle's MathJax filter, and the figure travels
inside the question as one compact SVG file (@@PLUGINFILE@@).
"""

from __future__ import annotations

import base64
import io
import math
import re
from fractions import Fraction
from html import escape
from typing import BinaryIO
from xml.etree import ElementTree as ET

from worksheets.exports import markup
from worksheets.exports.archive import File
from worksheets.exports.parts import Part, answer_parts, display, lms_statement, tolerance_words
from worksheets.exports.sheetset import SheetSet, title
from worksheets.numerals import key_text

PENALTY = "0.3333333"


def number(x: float) -> str:
    """A number as Moodle reads it: '.' decimals, the key's digits (numerals.key_text)."""
    return key_text(x)


def _text(parent, tag: str, value: str, fmt: str | None = None,
          cdata: list | None = None) -> ET.Element:
    """<tag format=fmt><text>value</text></tag>; HTML is held back in `cdata` and later
    written as a CDATA section (as Moodle's own exports do), not escaped tag by tag."""
    e = ET.SubElement(parent, tag, {"format": fmt} if fmt else {})
    if cdata is not None:
        cdata.append(value)
        value = f"{_HOLD[0]}{len(cdata) - 1}{_HOLD[1]}"
    ET.SubElement(e, "text").text = value
    return e


# Private-use characters that mark where a CDATA section goes: ElementTree writes them
# as they are, and no text of ours holds them.
_HOLD = ("\ue000", "\ue001")
_HELD = re.compile(f"{_HOLD[0]}([0-9]+){_HOLD[1]}")


def _with_cdata(xml: str, cdata: list) -> str:
    def section(m) -> str:
        return "<![CDATA[" + cdata[int(m.group(1))].replace("]]>", "]]]]><![CDATA[>") + "]]>"
    return _HELD.sub(section, xml)


def _file(parent, name: str, svg: str) -> None:
    f = ET.SubElement(parent, "file", {"name": name, "path": "/", "encoding": "base64"})
    f.text = base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _img(name: str, alt: str) -> str:
    return f'<p><img src="@@PLUGINFILE@@/{escape(name)}" alt="{escape(alt)}"></p>'


def cloze_blank(part: Part, weight: int = 1) -> str:
    """{weight:NUMERICAL:=want:tolerance}: Moodle's embedded-answer syntax for one
    number."""
    return f"{{{weight}:NUMERICAL:={number(part.value)}:{number(part.tolerance)}}}"


def solution_html(problem: dict) -> str:
    steps = problem.get("solution") or []
    if not steps:
        return ""
    items = "".join(f"<li><strong>{escape(s['title'])}</strong>: "
                    f"{_inline(lms_html(s['text']))}</li>" for s in steps)
    return f"<p><strong>Worked solution</strong></p><ol>{items}</ol>"


def _inline(html: str) -> str:
    html = html.strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        return html[3:-4]
    return html


# MathJax finds \\(...\\) by itself: the span around it only adds bytes to every
# variant of a large bank.
_MATH_SPAN = re.compile(r'<span class="math inline">(\\\(.*?\\\))</span>', re.S)


def lms_html(markdown: str) -> str:
    return _MATH_SPAN.sub(r"\1", markup.lms_html(markdown))


def cloze_weights(parts: list[Part]) -> list[int]:
    """Each blank's weight: Moodle takes whole numbers and shares the question's mark in
    their proportion, so the parts' points are scaled to the smallest whole numbers with
    the same ratios."""
    scale = math.lcm(*(Fraction(p.points).denominator for p in parts))
    whole = [int(Fraction(p.points) * scale) for p in parts]
    common = math.gcd(*whole) or 1
    return [max(w // common, 1) for w in whole]


def answer_table(parts: list[Part]) -> str:
    rows = "".join(f"<tr><td>\\({escape(p.tex)}\\)</td><td>{escape(display(p))}</td></tr>"
                   for p in parts)
    return f"<table><tbody>{rows}</tbody></table>"


def _question(quiz, slot: int, sheet, problem: dict, blank_svg, cdata: list) -> None:
    parts = answer_parts(problem)
    kind = "numerical" if len(parts) == 1 else "cloze"
    q = ET.SubElement(quiz, "question", {"type": kind})
    _text(q, "name", f"P{slot + 1} {title(problem)} ({sheet.variant})")
    body = lms_html(lms_statement(problem))
    if blank_svg is not None:
        body += _img("figure.svg", f"Problem {slot + 1}: figure")
    if kind == "cloze":
        # one tolerance for every blank is said once, not on every line
        words = {tolerance_words(p) for p in parts}
        each = f" ({words.pop()})" if len(words) == 1 else ""
        rows = "".join(f"<li>\\({escape(p.tex)}\\) = {cloze_blank(p, w)}"
                       + ("" if each else f" ({tolerance_words(p)})") + "</li>"
                       for p, w in zip(parts, cloze_weights(parts)))
        body += f"<p>Enter each number{each}:</p><ul>{rows}</ul>"
    else:
        body += (f"<p>Enter \\({escape(parts[0].tex)}\\) "
                 f"({tolerance_words(parts[0])}).</p>")
    text = _text(q, "questiontext", body, "html", cdata)
    if blank_svg is not None:
        _file(text, "figure.svg", blank_svg)
    _text(q, "generalfeedback", solution_html(problem), "html", cdata)
    points = sum(Fraction(p.points) for p in parts)
    ET.SubElement(q, "defaultgrade").text = number(float(points))
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


def write_quiz_xml(s: SheetSet, out: BinaryIO) -> None:
    """The bank's XML, written to `out` a question at a time: the bank of a class of
    1,000 is tens of megabytes, and its tree several times that."""
    s.require_answers("moodle")
    out.write(b'<?xml version="1.0" encoding="UTF-8"?>\n<quiz>')
    for slot in range(s.slots):
        first = s.sheets[0].problems[slot]
        c = ET.Element("question", {"type": "category"})
        _text(c, "category", f"$course$/top/{s.name}/Problem {slot + 1}: {title(first)}")
        _text(c, "info", f"Every student's variant of problem {slot + 1} of problem set "
                         f"{s.seed} ({s.version}): add a random question from this category.",
              "html")
        ET.SubElement(c, "idnumber").text = f"{s.name}-p{slot + 1}"
        _write_question(out, c, [])
        for sheet in s.sheets:
            if slot >= len(sheet.problems):
                continue
            cdata: list = []
            holder = ET.Element("quiz")
            _question(holder, slot, sheet, sheet.problems[slot],
                      sheet.compact_figure(slot, False), cdata)
            _write_question(out, holder[0], cdata)
    out.write(b"\n</quiz>\n")


def _write_question(out: BinaryIO, question: ET.Element, cdata: list) -> None:
    # indented as ET.indent indents the whole bank: one space a level, a question at one
    ET.indent(question, space=" ", level=1)
    out.write(b"\n " + _with_cdata(ET.tostring(question, encoding="unicode"),
                                    cdata).encode("utf-8"))


def quiz_xml(s: SheetSet) -> bytes:
    out = io.BytesIO()
    write_quiz_xml(s, out)
    return out.getvalue()


def bank_name(s: SheetSet) -> str:
    """The bank's file name, as the CLI and a job write it."""
    return f"{s.name}-moodle.xml"


def files(s: SheetSet) -> list[File]:
    return [File(bank_name(s), quiz_xml(s))]

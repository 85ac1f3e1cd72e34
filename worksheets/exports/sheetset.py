"""A problem set (issue 5's JSON shape) read once for every export format: its sheets
with safe, unique file names, each problem's title, and its figures drawn once however
many formats use them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

from pathvalidate import sanitize_filename

from worksheets.exports.errors import ExportError
from worksheets.problems import TYPES
from worksheets.problems.template_problem import figure_type

KEY_STEM = "answer-key"   # the key's file name, as `gradsheet generate` names it
CLASS_STEM = "all-sheets"  # every student's sheet in one file, to print for a class
STEM_CHARS = 80
STEM_BYTES = 200
# \w is Unicode-aware: letters, digits and _ of every script stay in a file name.
_UNSAFE_RUN = re.compile(r"[^\w.-]+")


@dataclass
class Sheet:
    student: object
    variant: str
    stem: str                  # file name without extension: the student id made safe
    problems: list
    _figures: dict = field(default_factory=dict)

    def figure(self, k: int, key: bool) -> str | None:
        """SVG of problem k (0-based), blank or for the key; drawn once."""
        slot = (k, key)
        if slot not in self._figures:
            self._figures[slot] = figure(self.problems[k], key, k + 1)
        return self._figures[slot]

    def forget_figures(self) -> None:
        """Let the drawn figures go: a class's PDFs draw every student's, tens of
        kilobytes each, and drawing one again takes about a millisecond."""
        self._figures.clear()

    def compact_figure(self, k: int, key: bool) -> str | None:
        """The figure of problem k as compact_svg makes it, for the formats that carry
        a figure per student variant (an LMS question bank)."""
        svg = self.figure(k, key)
        return None if svg is None else compact_svg(svg)


class SheetSet:
    """The sheets of a set, with `has_answers` when every problem carries its key."""

    def __init__(self, data: dict):
        if not isinstance(data, dict) or not isinstance(data.get("sheets"), list) \
                or not data["sheets"]:
            raise ExportError("a problem set has a non-empty list of sheets", path="sheets")
        self.seed = data.get("seed")
        self.version = data.get("version", "")
        taken: set[str] = set()
        self.sheets: list[Sheet] = []
        for i, s in enumerate(data["sheets"]):
            if not isinstance(s, dict) or not isinstance(s.get("problems"), list):
                raise ExportError("a sheet has a list of problems", path=f"sheets[{i}]")
            for j, p in enumerate(s["problems"]):
                for name in ("type", "statement", "parameters"):
                    if not isinstance(p, dict) or name not in p:
                        raise ExportError(f"a problem has a {name}",
                                          path=f"sheets[{i}].problems[{j}]")
            self.sheets.append(Sheet(s.get("student", i + 1), str(s.get("variant", "")),
                                     file_stem(s.get("student", i + 1), taken), s["problems"]))
        self.has_answers = all("answers" in p for s in self.sheets for p in s.problems)
        self.per_student_keys = False   # a key PDF per student as well (render's keys)
        self.slots = len(self.sheets[0].problems)

    def require_answers(self, fmt: str) -> None:
        if not self.has_answers:
            raise ExportError(f"the {fmt} export needs every problem's answers: make the set "
                              "with answers (include_answers)", path="format")

    @property
    def name(self) -> str:
        """gradsheet-7: what the set's files and quizzes are called."""
        return f"gradsheet-{self.seed}" if self.seed is not None else "gradsheet"


def figure(problem: dict, key: bool, number: int | None = None) -> str | None:
    """SVG text of the problem's figure, drawn by its type (None for a type without
    one). `key` fills in the answers, which the problem must then hold."""
    t = TYPES.get(problem["type"]) or figure_type(problem)
    if t is None or t.figure_shows is None:
        return None
    title = (f"Problem {number}: " if number is not None else "") + t.figure_shows + \
        (" (answer key)" if key else "")
    return t.figure(problem, key, title)


def title(problem: dict) -> str:
    t = TYPES.get(problem["type"]) or figure_type(problem)
    return t.title if t is not None else problem["type"].replace("_", " ")


def file_stem(student, taken: set) -> str:
    """The student id as a file name that reads like the id and is safe on Windows,
    macOS and Linux and inside a Markdown link: letters and digits of any script are
    kept (NFC, as macOS would store them), every other run of characters (spaces,
    slashes, punctuation) becomes one _, and Windows' reserved device names (CON, nul,
    COM1, ...) get a trailing _. Unique among `taken` ignoring case and never the key's
    name: the same rule as `gradsheet generate`."""
    text = unicodedata.normalize("NFC", str(student))
    base = _UNSAFE_RUN.sub("_", text).strip("._")[:STEM_CHARS]
    # pathvalidate: the reserved names, and a byte budget that leaves room for the
    # figures' "answer-key-" prefix, "-p12.svg" suffix and a "-2" in a 255-byte name.
    base = sanitize_filename(base, platform="universal", max_len=STEM_BYTES) or "student"
    name, k = base, 2
    while name.casefold() in taken or name.casefold() in (KEY_STEM, CLASS_STEM):
        name, k = f"{base}-{k}", k + 1
    taken.add(name.casefold())
    return name


SVG_NS = "http://www.w3.org/2000/svg"
# Presentation attributes that CSS may set as well; a figure repeats a few combinations
# of them on every line, box and label, and a class per combination says each once.
STYLED = ("fill", "stroke", "stroke-width", "stroke-dasharray", "stroke-linecap",
          "stroke-linejoin", "font-size", "font-weight", "font-style", "font-family",
          "text-anchor", "dominant-baseline", "opacity", "fill-opacity")
# CSS, unlike an attribute, needs a unit on these lengths.
_LENGTHS = ("stroke-width", "font-size")
_NUMBER = re.compile(r"-?[0-9.]+")


def compact_svg(svg: str) -> str:
    """The same picture in fewer bytes, for an <img> that carries the alt text: each
    combination of presentation attributes written once as a CSS class, whitespace
    between elements and the title dropped. An LMS bank embeds
    one figure per student variant, so this is most of its size."""
    ET.register_namespace("", SVG_NS)
    root = ET.fromstring(svg)
    # An <img> shows its own alt text; the figure's title and ARIA label say it again.
    for title_ in root.findall(f"{{{SVG_NS}}}title"):
        root.remove(title_)
    for name in ("role", "aria-label"):
        root.attrib.pop(name, None)
    styled = []
    for e in root.iter():
        if e.text is not None and not e.text.strip():
            e.text = None
        if e.tail is not None and not e.tail.strip():
            e.tail = None
        if e is root:
            continue
        style = tuple((name, e.attrib.pop(name)) for name in STYLED if name in e.attrib)
        if dict(style).get("stroke") == "none":
            style = tuple((n, v) for n, v in style if not n.startswith("stroke-"))
        if style:
            styled.append((e, _local(e.tag), style))
    # Each element type's most common style is its type selector; the others are
    # classes that unset whatever that selector sets and they do not.
    common: dict[str, tuple] = {}
    for tag in {t for _, t, _ in styled}:
        counts: dict[tuple, int] = {}
        for _, t, style in styled:
            if t == tag:
                counts[style] = counts.get(style, 0) + 1
        best = max(counts, key=lambda st: (counts[st], st))
        if counts[best] > 1:
            common[tag] = best
    rules = [f"{tag}{{{';'.join(_css(n, v) for n, v in style)}}}"
             for tag, style in sorted(common.items())]
    classes: dict[tuple, str] = {}
    for e, tag, style in styled:
        if common.get(tag) == style:
            continue
        unset = tuple((n, "unset") for n, _ in common.get(tag, ())
                      if n not in dict(style))
        key = (tag, style + unset)
        if key not in classes:
            classes[key] = _class_name(len(classes))
            rules.append(f".{classes[key]}{{{';'.join(_css(n, v) for n, v in key[1])}}}")
        e.set("class", f"{classes[key]} {e.get('class')}" if e.get("class") else classes[key])
    if rules:
        sheet = ET.Element(f"{{{SVG_NS}}}style")
        sheet.text = "".join(rules)
        root.insert(0, sheet)
    # ElementTree ends an empty element with " />"; text escapes its ">", so only a tag
    # can hold the pair.
    return ET.tostring(root, encoding="unicode").replace(" />", "/>")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _css(name: str, value: str) -> str:
    if name in _LENGTHS and _NUMBER.fullmatch(value):
        value += "px"
    return f"{name}:{value}"


def _class_name(i: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return letters[i] if i < len(letters) else f"{letters[i % len(letters)]}{i // len(letters)}"

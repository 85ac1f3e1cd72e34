"""PDF: one file per student and the key, typeset by typst (a pip package with its own
fonts: no TeX, no browser). Statements and solutions become typst markup and math,
figures are placed as SVG, whose text typst keeps as text.

Only the fonts typst embeds are used (system fonts are ignored) and the document has no
date, so the same set gives the same bytes on any machine.
"""

from __future__ import annotations

import io
import re
from typing import BinaryIO

import typst

from worksheets.drawing.svg import PT_PER_UNIT
from worksheets.exports import markup
from worksheets.exports.archive import File
from worksheets.exports.markdown_sheets import tolerance_text
from worksheets.exports.pdf_join import JoinedPdf
from worksheets.exports.parts import answer_boxes, answer_parts, display, paper_statement
from worksheets.exports.sheetset import CLASS_STEM, KEY_STEM, Sheet, SheetSet, title

TEXT_WIDTH_PT = 490.0     # A4 less 2 x 18 mm
KEYS_DIR = "keys"          # per-student keys, apart from the sheets students get
BOXES_PER_ROW = 3         # answer boxes on a student's sheet
# Students per typst call in the key and the class's print file (see _write_joined):
# the memory they take is bounded by this many students' pages, whatever the class.
PIECE = 4

PREAMBLE = """#set document(title: {title}, author: "gradsheet", date: none)
#set page(paper: "a4", margin: (x: 18mm, top: 16mm, bottom: 18mm),
          footer: context [#set text(size: 8pt, fill: luma(110)); {footer} #h(1fr) page #counter(page).display()])
#set text(font: ("Libertinus Serif", "New Computer Modern"), size: 10.5pt, lang: "en")
// leading for inline fractions (\\dfrac): without it a fraction's denominator meets
// the next line's numerator
#set par(justify: false, leading: 0.9em)
// a worked solution's lines hold display fractions (\\dfrac) taller than any letter,
// which typst's default line box (cap height to baseline) lets run into the next line:
// in lists, lines are spaced from the glyphs' real bounds
#show enum: set text(top-edge: "bounds", bottom-edge: "bounds")
#show enum: set par(leading: 0.7em)
#show raw: set text(font: "DejaVu Sans Mono", size: 0.9em)
#show heading.where(level: 2): set block(above: 1.4em, below: 0.7em)
#set table(stroke: 0.5pt + luma(170), inset: 4pt)
// A problem's text and its figure with the answer boxes: on one page when they fit on
// a page, else the text runs on and the figure with its boxes starts a page of its own
// (an unbreakable block taller than a page would run over the footer)
#let kept(first, second) = context {{
  let whole = block(width: 100%, breakable: false, first + parbreak() + second)
  let room = page.height - 16mm - 18mm     // the margins set above
  if measure(whole, width: page.width - 2 * 18mm).height <= room {{ whole }} else {{
    block(width: 100%, first)
    block(width: 100%, breakable: false, second)
  }}
}}
"""


def _svg_width(svg: str) -> float:
    m = re.search(r'width="([0-9.]+)"', svg)
    return float(m.group(1)) if m else TEXT_WIDTH_PT / PT_PER_UNIT


def _sheet(s: SheetSet, sheet: Sheet, key: bool, prefix: str, images: dict) -> str:
    head = f"Problem set {s.seed}" + (" — answer key" if key else "")
    # Every page carries the sheet's code, so a loose paper page is traced to its student
    # and graded against the right key; a set-page rule also starts the sheet on a page.
    code = f"{s.name} · {sheet.student} · variant {sheet.variant}" + (" · key" if key else "")
    out = ["#set page(footer: none, header: context [#set text(size: 8pt, fill: luma(110)); "
           f"{markup.typst_text(code)} #h(1fr) page #counter(page).display()])",
           "#counter(page).update(1)",
           f"#block(width: 100%, below: 1em)[#text(size: 16pt, weight: \"bold\")"
           f"[{markup.typst_text(head)}] #h(1fr) "
           + ("" if key else "Name: #box(width: 15em, stroke: (bottom: 0.6pt), height: 1.1em)")
           + f"\\ #text(size: 9pt, fill: luma(90))[{markup.typst_text(str(sheet.student))} · "
           f"variant #raw({markup.typst_string(sheet.variant)})]]",
           "#line(length: 100%, stroke: 1pt)"]
    for k, p in enumerate(sheet.problems):
        # a problem's heading, text, figure and boxes on one page where they fit (kept)
        together = [f"#heading(level: 2)[Problem {k + 1}. {markup.typst_text(title(p))}]",
                    markup.typst(paper_statement(p["statement"]))]
        fig = sheet.figure(k, key)
        if fig is not None:
            name = f"{prefix}p{k + 1}{'-key' if key else ''}.svg"
            images[name] = fig.encode("utf-8")
            width = min(_svg_width(fig) * PT_PER_UNIT, TEXT_WIDTH_PT)
            together.append(f"#align(center, image({markup.typst_string(name)}, "
                            f"width: {width:.1f}pt))")
        if not key:
            boxes = _answer_boxes(p)
            if boxes:
                together.append(boxes)
        first, second = "\n\n".join(together[:2]), "\n\n".join(together[2:])
        out.append(f"#kept[\n{first}\n][\n{second}\n]")
        if key:
            rows = []
            for part in answer_parts(p):
                rows.append(f"[${markup.tex_to_typst(part.tex)}$], "
                            f"[{markup.typst_text(display(part))}], "
                            f"[{markup.typst_text(tolerance_text(part))}]")
            out.append("#table(columns: 3, table.header([*part*], [*answer*], [*marked*]), "
                       + ", ".join(rows) + ")")
            if p.get("solution"):
                out.append("=== Worked solution")
                items = [f"[#strong[{markup.typst_text(step['title'])}]: "
                         f"{markup.typst_inline(step['text'])}]" for step in p["solution"]]
                out.append("#enum(" + ", ".join(items) + ")")
    return "\n\n".join(out)


def _answer_boxes(problem: dict) -> str:
    """A labelled box per part, three to a row; a list's box has a row of its own."""
    cells, used = [], 0
    for box in answer_boxes(problem):
        label = (f"#raw({markup.typst_string(box.label)})" if box.wide
                 else markup.typst_text(box.label))
        frame = (f"box(width: 100%, height: {'2.4em' if box.wide else '1.6em'}, "
                 "stroke: 0.6pt + luma(110))")
        cell = (f"grid(columns: (auto, 1fr), column-gutter: 6pt, align: horizon, "
                f"[{label}], {frame})")
        while box.wide and used % BOXES_PER_ROW:
            cells.append("[]")      # a list's box starts a row
            used += 1
        cells.append(f"grid.cell(colspan: {BOXES_PER_ROW}, {cell})" if box.wide else cell)
        used += BOXES_PER_ROW if box.wide else 1
    if not cells:
        return ""
    return (f"#v(0.3em)\n#grid(columns: (1fr,) * {BOXES_PER_ROW}, column-gutter: 14pt, "
            "row-gutter: 6pt, "
            + ", ".join(cells) + ")")


def student_source(s: SheetSet, sheet: Sheet) -> tuple[str, dict]:
    """The typst source of a student's sheet and the figures it places, by file name."""
    images: dict = {}
    body = _sheet(s, sheet, False, "", images)
    pre = PREAMBLE.format(title=markup.typst_string(f"Problem set {s.seed}: {sheet.student}"),
                          footer=markup.typst_text(f"{s.name} · {sheet.variant}"))
    return pre + body, images


def student_key_source(s: SheetSet, sheet: Sheet) -> tuple[str, dict]:
    """The typst source of one student's key: the combined key's pages of that sheet."""
    images: dict = {}
    body = _sheet(s, sheet, True, "", images)
    pre = PREAMBLE.format(title=markup.typst_string(f"Answer key: problem set {s.seed}: "
                                                    f"{sheet.student}"),
                          footer=markup.typst_text(f"{s.name} · {sheet.variant} · key"))
    return pre + body, images


def key_source(s: SheetSet, students: range | None = None) -> tuple[str, dict]:
    """The typst source of the answer key for `students` (indices into s.sheets; every
    student when None) and the figures it places."""
    return _combined_source(s, students, True, f"Answer key: problem set {s.seed}",
                            "answer key")


def class_source(s: SheetSet, students: range | None = None) -> tuple[str, dict]:
    """Every student's sheet (or those of `students`) in one document, each from a fresh
    page: one file to print for the class."""
    return _combined_source(s, students, False, f"Problem set {s.seed}: every sheet",
                            "every sheet")


def _combined_source(s: SheetSet, students: range | None, key: bool, doc_title: str,
                     what: str) -> tuple[str, dict]:
    images: dict = {}
    students = range(len(s.sheets)) if students is None else students
    bodies = [_sheet(s, s.sheets[i], key, f"s{i + 1}-", images) for i in students]
    pre = PREAMBLE.format(title=markup.typst_string(doc_title),
                          footer=markup.typst_text(f"{s.name} · {what}"))
    # A sheet's own reset of the page counter comes after its first page's header has
    # shown the count run on from the sheet before; set to 0 on that sheet's last page
    # instead, the count steps to 1 as the next sheet's first page begins.
    return pre + "\n\n#counter(page).update(0)\n\n".join(bodies), images


def typeset(source: str, images: dict, fmt: str = "pdf", ppi: float | None = None,
            tags: bool = True):
    """PDF bytes of a typst source; with fmt="png", a PNG per page. `tags` off leaves out
    the PDF's structure tree (for a piece of a joined document, which cannot keep it)."""
    files = {"main": source.encode("utf-8"), **images}
    out = typst.compile(files, ignore_system_fonts=True, format=fmt, ppi=ppi, pdf_tags=tags)
    if fmt == "pdf":
        # typst marks the catalog /Suspects false, which the spec allows and poppler
        # (pdfinfo, pdffonts, evince) reports as an error on every open; blanked in
        # place, so no object moves and the cross-reference table stays right
        out = out.replace(b"/Suspects false", b" " * len(b"/Suspects false"), 1)
    return out


def student_pdf(s: SheetSet, sheet: Sheet) -> bytes:
    return typeset(*student_source(s, sheet))


def write_key_pdf(s: SheetSet, out: BinaryIO) -> None:
    """The answer key of the whole class as one PDF, written to `out`."""
    _write_joined(s, key_source, f"Answer key: problem set {s.seed}", out)


def write_class_pdf(s: SheetSet, out: BinaryIO) -> None:
    """Every student's sheet as one PDF, written to `out`."""
    _write_joined(s, class_source, f"Problem set {s.seed}: every sheet", out)


def key_pdf(s: SheetSet) -> bytes:
    out = io.BytesIO()
    write_key_pdf(s, out)
    return out.getvalue()


def class_pdf(s: SheetSet) -> bytes:
    out = io.BytesIO()
    write_class_pdf(s, out)
    return out.getvalue()


def _write_joined(s: SheetSet, source, doc_title: str, out: BinaryIO) -> None:
    """A document of every student typeset PIECE students at a time and joined page by
    page (pdf_join). typst holds a whole document's layout until it has written it
    (about 9 MiB a student), so one document for a class of 1,000 would take gigabytes;
    a piece is typeset, copied into `out` and let go before the next. typst-py also keeps
    what its last ten compiles used, so the memory is that of ten pieces, whatever the
    class's size: PIECE trades it against the fonts each piece embeds again (a key of
    1,000 students is about 57 MB in pieces of four, 99 MB in pieces of one).

    Every sheet numbers its own pages from 1 in its header, so the pieces read as the
    whole document would. The pieces are untagged: a join cannot keep their structure
    trees (each page would point into a tree no longer there), and without them a piece
    is a third of the size and typesets faster."""
    joined = JoinedPdf(out)
    for start in range(0, len(s.sheets), PIECE):
        piece = range(start, min(start + PIECE, len(s.sheets)))
        joined.add(typeset(*source(s, piece), tags=False))
        for i in piece:
            s.sheets[i].forget_figures()
    joined.finish(doc_title)


def files(s: SheetSet) -> list[File]:
    out = [File(f"{sheet.stem}.pdf", student_pdf(s, sheet)) for sheet in s.sheets]
    if len(s.sheets) > 1:
        out.append(File(f"{CLASS_STEM}.pdf", class_pdf(s)))
    if s.has_answers:
        out.append(File(f"{KEY_STEM}.pdf", key_pdf(s)))
        if s.per_student_keys:
            out += [File(f"{KEYS_DIR}/{sheet.stem}.pdf", typeset(*student_key_source(s, sheet)))
                    for sheet in s.sheets]
    return out

"""HTML: one self-contained page per student and the key. Math is MathML, figures are
inline SVG, and a print stylesheet puts each sheet on its own pages: no JavaScript, no
fonts or files from anywhere else."""

from __future__ import annotations

import re
from html import escape

from worksheets.drawing.svg import PT_PER_UNIT
from worksheets.exports import markup
from worksheets.exports.archive import File
from worksheets.exports.markdown_sheets import tolerance_text
from worksheets.exports.parts import answer_boxes, answer_parts, display, paper_statement
from worksheets.exports.sheetset import KEY_STEM, Sheet, SheetSet, title

# A4 less the print margins below, in points: a problem whose figure alone takes more
# than TALL of it may break in its text (Chromium moves a problem that avoids breaks
# to a new page even where it cannot fit there, leaving a page blank)
PAGE_HEIGHT_PT = (297 - 2 * 12) / 25.4 * 72
TALL = 0.7

STYLE = """
:root { color: #1f2328; background: #fff; }
body { font: 16px/1.45 "Libertinus Serif", "Times New Roman", Georgia, serif; max-width: 52rem;
       margin: 2rem auto; padding: 0 1rem; }
header.sheet-head { display: flex; justify-content: space-between; align-items: baseline;
                    border-bottom: 2px solid #1f2328; margin-bottom: 1rem; gap: 1rem; }
header.sheet-head h1 { font-size: 1.5rem; margin: 0 0 .3rem; }
.who { font-size: .9rem; color: #57606a; }
.name-line { min-width: 14rem; border-bottom: 1px solid #1f2328; padding-top: 1.2rem;
             font-size: .85rem; color: #57606a; }
section.problem { margin: 1.4rem 0 2rem; }
section.problem h2 { font-size: 1.15rem; margin: 0 0 .5rem; }
figure { margin: .8rem 0; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { font-size: .8rem; color: #57606a; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border: 1px solid #d0d7de; padding: .2rem .6rem; text-align: left; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .85em; }
.token { font-size: .7rem; color: #8c959f; word-break: break-all; }
ol.solution li { margin: .25rem 0; }
.boxes { display: grid; grid-template-columns: repeat(3, 1fr); gap: .45rem 1.2rem;
         margin: .6rem 0 0; }
.box { display: flex; align-items: center; gap: .4rem; }
.box .blank { flex: 1; min-width: 3rem; height: 1.7em; border: 1px solid #6e7781; }
.box.wide { grid-column: 1 / -1; }
.box.wide .blank { height: 2.6em; }
math { font-size: 1.05em; }
@page { size: A4; margin: 12mm 14mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10.5pt; line-height: 1.35; }
  section.problem { margin: 0 0 1.2rem; }
  figure { margin: .4rem 0; }
  article.sheet { break-after: page; }
  section.problem { break-inside: avoid-page; }
  section.problem h2 { break-after: avoid-page; }
  /* a problem taller than a page breaks in its text: the figure and its boxes stay whole */
  section.problem.tall { break-inside: auto; }
  .work, figure, .box { break-inside: avoid-page; }
  /* figures at the PDF's scale, so that their smallest text prints at 8 pt */
  figure svg { width: calc(var(--units) * PT_PER_UNITpt); max-width: 100%; }
  .token { display: none; }
}
""".replace("PT_PER_UNIT", f"{PT_PER_UNIT:g}")


def _page(title_text: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{escape(title_text)}</title>\n<style>{STYLE}</style>\n</head>\n"
            f"<body>\n{body}</body>\n</html>\n")


def _sheet(s: SheetSet, sheet: Sheet, key: bool) -> str:
    out = ['<article class="sheet">',
           '<header class="sheet-head"><div>'
           f"<h1>Problem set {escape(str(s.seed))}{' — answer key' if key else ''}</h1>"
           f'<div class="who">{escape(str(sheet.student))} · variant '
           f"<code>{escape(sheet.variant)}</code></div></div>"
           + ("" if key else '<div class="name-line">Name</div>') + "</header>"]
    for k, p in enumerate(sheet.problems):
        fig = sheet.figure(k, key)
        size = _svg_size(fig) if fig is not None else (0.0, 0.0)
        tall = " tall" if size[1] * PT_PER_UNIT > TALL * PAGE_HEIGHT_PT else ""
        out.append(f'<section class="problem{tall}" id="p{k + 1}">'
                   f"<h2>Problem {k + 1}. {escape(title(p))}</h2>")
        out.append(markup.html(paper_statement(p["statement"])))
        work = ([f'<figure style="--units: {size[0]:g}">{fig}</figure>'] if fig is not None
                else [])
        if not key:
            work += _answer_boxes(p)
        if work:
            out.append('<div class="work">' + "".join(work) + "</div>")
        if key:
            out.append('<table class="answers"><thead><tr><th>part</th><th>answer</th>'
                       "<th>marked</th></tr></thead><tbody>")
            for part in answer_parts(p):
                out.append(f"<tr><td>{markup.mathml(part.tex)}</td>"
                           f"<td>{escape(display(part))}</td>"
                           f"<td>{escape(tolerance_text(part))}</td></tr>")
            out.append("</tbody></table>")
            if p.get("solution"):
                out.append('<h3>Worked solution</h3><ol class="solution">')
                out += [f"<li><strong>{escape(step['title'])}</strong>: "
                        f"{markup.inline_html(step['text'])}</li>" for step in p["solution"]]
                out.append("</ol>")
        elif "token" in p:
            out.append(f'<p class="token">token {escape(p["token"])}</p>')
        out.append("</section>")
    out.append("</article>\n")
    return "\n".join(out)


def _svg_size(svg: str) -> tuple[float, float]:
    """(width, height) of a figure in its own units."""
    m = re.search(r'<svg[^>]*?width="([0-9.]+)"[^>]*?height="([0-9.]+)"', svg)
    return (float(m.group(1)), float(m.group(2))) if m else (0.0, 0.0)


def _answer_boxes(problem: dict) -> list[str]:
    """A labelled blank per part, as on the PDF sheet: three to a row, a list's on a row
    of its own."""
    boxes = answer_boxes(problem)
    if not boxes:
        return []
    cells = [f'<div class="box{" wide" if b.wide else ""}">'
             + (f"<code>{escape(b.label)}</code>" if b.wide else f"<span>{escape(b.label)}</span>")
             + '<span class="blank"></span></div>' for b in boxes]
    return ['<div class="boxes">' + "".join(cells) + "</div>"]


def student_page(s: SheetSet, sheet: Sheet) -> str:
    return _page(f"Problem set {s.seed}: {sheet.student}", _sheet(s, sheet, key=False))


def key_page(s: SheetSet) -> str:
    return _page(f"Answer key: problem set {s.seed}",
                 "".join(_sheet(s, sheet, key=True) for sheet in s.sheets))


def files(s: SheetSet) -> list[File]:
    out = [File(f"{sheet.stem}.html", student_page(s, sheet)) for sheet in s.sheets]
    if s.has_answers:
        out.append(File(f"{KEY_STEM}.html", key_page(s)))
    return out

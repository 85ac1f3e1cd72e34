"""HTML: one self-contained page per student and the key. Math is MathML, figures are
inline SVG, and a print stylesheet puts each sheet on its own pages: no JavaScript, no
fonts or files from anywhere else."""

from __future__ import annotations

from html import escape

from worksheets.exports import markup
from worksheets.exports.archive import File
from worksheets.exports.markdown_sheets import tolerance_text
from worksheets.exports.parts import answer_parts, display
from worksheets.exports.sheetset import KEY_STEM, Sheet, SheetSet, title

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
math { font-size: 1.05em; }
@page { size: A4; margin: 15mm 14mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 11pt; }
  article.sheet { break-after: page; }
  section.problem { break-inside: avoid-page; }
  figure { break-inside: avoid; }
  .token { display: none; }
}
"""


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
        out.append(f'<section class="problem" id="p{k + 1}">'
                   f"<h2>Problem {k + 1}. {escape(title(p))}</h2>")
        out.append(markup.html(p["statement"]))
        fig = sheet.figure(k, key)
        if fig is not None:
            out.append(f"<figure>{fig}</figure>")
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

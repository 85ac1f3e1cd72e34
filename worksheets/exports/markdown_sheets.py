"""Markdown: one file per student and the key, math in `$...$`, each figure an SVG file
in figures/ beside them."""

from __future__ import annotations

from worksheets.exports.archive import File
from worksheets.exports.parts import Part, answer_parts, display
from worksheets.exports.sheetset import KEY_STEM, Sheet, SheetSet, title
from worksheets.numerals import show_tolerance


def figure_path(sheet: Sheet, k: int, key: bool) -> str:
    return f"figures/{KEY_STEM + '-' if key else ''}{sheet.stem}-p{k + 1}.svg"


def tolerance_text(part: Part) -> str:
    """How closely a part is marked, to the decimals its answer is shown with."""
    return show_tolerance(part.tolerance, part.value)


def _header(s: SheetSet, sheet: Sheet, level: str = "#") -> list[str]:
    return [f"{level} Problem set {s.seed}: {sheet.student}", "",
            f"Variant `{sheet.variant}` · {s.version}", ""]


def _problem(sheet: Sheet, k: int, key: bool) -> list[str]:
    p = sheet.problems[k]
    lines = [f"## Problem {k + 1} ({p['type']}): {title(p)}", "", p["statement"], ""]
    if sheet.figure(k, key) is not None:
        lines += [f"![Problem {k + 1}]({figure_path(sheet, k, key)})", ""]
    if key:
        lines += ["### Answers", "", "| part | answer | marked |", "|---|---|---|"]
        lines += [f"| ${part.tex}$ | {display(part)} | {tolerance_text(part)} |"
                  for part in answer_parts(p)]
        lines.append("")
        if p.get("solution"):
            lines += ["### Worked solution", ""]
            lines += [f"{i}. **{step['title']}**: {step['text']}"
                      for i, step in enumerate(p["solution"], start=1)]
            lines.append("")
    elif "token" in p:
        lines += [f"Token: `{p['token']}`", ""]
    return lines


def files(s: SheetSet) -> list[File]:
    out = []
    for sheet in s.sheets:
        lines = _header(s, sheet)
        for k in range(len(sheet.problems)):
            lines += _problem(sheet, k, key=False)
        out.append(File(f"{sheet.stem}.md", "\n".join(lines)))
        out += [File(figure_path(sheet, k, False), sheet.figure(k, False))
                for k in range(len(sheet.problems)) if sheet.figure(k, False) is not None]
    if s.has_answers:
        lines = [f"# Answer key: problem set {s.seed}", ""]
        for sheet in s.sheets:
            lines += _header(s, sheet, "#")
            for k in range(len(sheet.problems)):
                lines += _problem(sheet, k, key=True)
                fig = sheet.figure(k, True)
                if fig is not None:
                    out.append(File(figure_path(sheet, k, True), fig))
        out.append(File(f"{KEY_STEM}.md", "\n".join(lines)))
    return out

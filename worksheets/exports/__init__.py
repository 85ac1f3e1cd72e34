"""Problem sets as worksheets people print and import: figures, Markdown, HTML, PDF,
Moodle XML and Canvas QTI, from a set in issue 5's JSON shape.

    >>> import worksheets
    >>> from worksheets import exports
    >>> s = worksheets.generate(7, ["ada", "alan"])
    >>> exports.write(s, ["html", "pdf"], "sheets/")          # doctest: +SKIP
    >>> name, media_type, data = exports.render_download(s, ["moodle"])  # doctest: +SKIP

`FORMATS` is the one table of formats: the CLI's --format, the service's `format` and
the docs all read it. Every writer returns `File`s (a relative path and its bytes), and
the same set always gives the same bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from worksheets.exports import html_sheets, markdown_sheets, moodle, pdf_sheets, qti
from worksheets.exports.archive import File, write_files, zip_bytes
from worksheets.exports.errors import ExportError
from worksheets.exports.sheetset import KEY_STEM, SheetSet, figure


def json_files(s: SheetSet, data: dict) -> list[File]:
    """The set as `gradsheet generate --format json` writes it: each student's copy
    without answers, and the whole set as the key."""
    out = []
    for sheet in s.sheets:
        copy = {"seed": s.seed, "version": s.version, "student": sheet.student,
                "variant": sheet.variant,
                "problems": [{k: v for k, v in p.items() if k not in ("answers", "solution")}
                             for p in sheet.problems]}
        out.append(File(f"{sheet.stem}.json", json.dumps(copy, indent=1, ensure_ascii=False)
                        + "\n"))
    if s.has_answers:
        out.append(File(f"{KEY_STEM}.json", json.dumps(data, indent=1, ensure_ascii=False)
                        + "\n"))
    return out


@dataclass(frozen=True)
class Format:
    name: str
    description: str
    files: Callable[[SheetSet, dict], list[File]]
    media_type: str          # of the file it makes, when it makes exactly one


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("json", "one JSON file per student (no answers) and the set with answers as the key",
           json_files, "application/json"),
    Format("markdown", "one Markdown file per student and a key, math in $...$, figures as "
                       "SVG files in figures/", lambda s, d: markdown_sheets.files(s),
           "text/markdown; charset=utf-8"),
    Format("html", "one self-contained HTML page per student and a key: MathML, inline SVG, "
                   "a print stylesheet", lambda s, d: html_sheets.files(s),
           "text/html; charset=utf-8"),
    Format("pdf", "one PDF per student and a key, typeset by typst",
           lambda s, d: pdf_sheets.files(s), "application/pdf"),
    Format("moodle", "Moodle XML question bank: a category per problem, every student's "
                     "variant as a numerical or cloze question", lambda s, d: moodle.files(s),
           "application/xml"),
    Format("qti", "Canvas QTI 1.2 zip: a question group per problem, numerical questions "
                  "with answer ranges", lambda s, d: qti.files(s), "application/zip"),
)}


def parse_formats(formats) -> list[str]:
    """`formats` ("json,html" or a list) as a list of known names, in the table's order;
    an unknown one is an ExportError naming it and the known ones."""
    if isinstance(formats, str):
        formats = formats.split(",")
    if not isinstance(formats, (list, tuple)):
        raise ExportError("must be a format name or a list of them")
    names = []
    for f in formats:
        name = f.strip().lower() if isinstance(f, str) else f
        if name == "" and isinstance(f, str):
            continue
        if name not in FORMATS:
            raise ExportError(f"unknown format {f!r} (known formats: {', '.join(FORMATS)})")
        names.append(name)
    if not names:
        raise ExportError(f"name at least one format ({', '.join(FORMATS)})")
    return [n for n in FORMATS if n in names]


KEYS = ("combined", "per-student")


def render(data: dict, formats, keys: str = "combined") -> list[File]:
    """Every file of the given formats, for a set in issue 5's shape. `keys`
    "per-student" adds a key PDF per student (keys/<student>.pdf) beside the combined one."""
    if keys not in KEYS:
        raise ExportError(f"unknown keys {keys!r} (known: {', '.join(KEYS)})", path="keys")
    names = parse_formats(formats)
    if keys == "per-student" and "pdf" not in names:
        raise ExportError("per-student keys are PDFs: ask for the pdf format as well",
                          path="keys")
    s = SheetSet(data)
    s.per_student_keys = keys == "per-student"
    out: list[File] = []
    for name in names:
        out += FORMATS[name].files(s, data)
    return out


def write(data: dict, formats, out_dir, keys: str = "combined") -> list[Path]:
    """Write the formats' files under `out_dir`: every format side by side (their names
    differ by extension), Markdown's figures in figures/."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return write_files(render(data, formats, keys), out)


def render_download(data: dict, formats, keys: str = "combined") -> tuple[str, str, bytes]:
    """(file name, media type, bytes) of one download: the file itself when the formats
    make exactly one (Moodle's XML, Canvas's zip), else a zip of every file."""
    names = parse_formats(formats)
    files = render(data, names, keys)
    if len(files) == 1:
        return files[0].path, FORMATS[names[0]].media_type, files[0].data
    stem = SheetSet(data).name
    return f"{stem}-{'-'.join(names)}.zip", "application/zip", zip_bytes(files)


def render_zip(data: dict, formats) -> bytes:
    """A zip of every file of the formats."""
    return zip_bytes(render(data, formats))


__all__ = ["ExportError", "FORMATS", "Format", "File", "KEYS", "figure", "parse_formats", "render",
           "render_download", "render_zip", "write"]

"""A job's result: the files `gradsheet generate` writes for the same set (the same
bytes for the same seed and secret), in a zip written as the students are made.

The CLI renders every student before it writes anything; a job writes each student's
files into the zip and lets them go before making the next, so a worker's memory
does not grow with the class. What needs the whole class (the answer key, Moodle's
bank, Canvas's package) is rendered last, from the sheets' JSON, which is small; the
class's PDFs are typeset a few students at a time and written through a file on disk
(pdf_sheets), so neither they nor typst's memory grow with the class either.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path
from typing import Callable

from worksheets import exports
from worksheets.exports import html_sheets, moodle, pdf_sheets
from worksheets.exports.archive import ZIP_DATE, File
from worksheets.exports.sheetset import CLASS_STEM, KEY_STEM, SheetSet, file_stem
from worksheets.generator import Generator, read_request
from worksheets.seeding import GENERATOR_VERSION
from worksheets.set_folder import MANIFEST, manifest_bytes, set_identity

# Students built per engine call: batched enough to cost nothing, small enough that the
# first progress comes at once and a chunk's sheets take little memory.
CHUNK = 16
# Formats with one file per student besides the key; the rest describe the whole class.
PER_STUDENT = ("json", "markdown", "html", "pdf")


class Cancelled(Exception):
    """Raised by a progress callback to stop the job between two students."""


def _add(archive: zipfile.ZipFile, f: File) -> None:
    info = zipfile.ZipInfo(f.path, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, f.data, compresslevel=6)


def _student_files(seed: int, sheet: dict, stem: str, formats: list[str]) -> list[File]:
    """One student's own files: the formats' renderers over a set of this sheet alone,
    named as in the whole class (`stem`) and with the key left out."""
    alone = SheetSet({"seed": seed, "version": GENERATOR_VERSION,
                      "sheets": [sheet]})
    alone.sheets[0].stem = stem
    alone.has_answers = False
    out: list[File] = []
    for name in formats:
        if name in PER_STUDENT:
            out += exports.FORMATS[name].files(alone, {})
    return out


def _add_written(archive: zipfile.ZipFile, path: str, write: Callable, scratch: Path) -> None:
    """A file that `write(stream)` makes, into the zip through `scratch` on disk: a
    class's PDF is tens of megabytes, and is never held in memory whole."""
    try:
        with open(scratch, "w+b") as f:
            write(f)
            size = f.tell()
            f.seek(0)
            info = zipfile.ZipInfo(path, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.file_size = size
            with archive.open(info, "w") as entry:
                shutil.copyfileobj(f, entry, 1 << 20)
    finally:
        scratch.unlink(missing_ok=True)


def _class_writers(whole: SheetSet, name: str) -> list[tuple[str, Callable]] | None:
    """The format's files that need the whole class and are written as they are made
    (path, writer), or None for a format whose class files are small enough to render."""
    if name == "pdf":
        # a class of more than one also gets every sheet in one PDF, as the CLI writes
        every = [(f"{CLASS_STEM}.pdf", lambda f: pdf_sheets.write_class_pdf(whole, f))]
        return (every if len(whole.sheets) > 1 else []) + [
            (f"{KEY_STEM}.pdf", lambda f: pdf_sheets.write_key_pdf(whole, f))]
    if name == "moodle":
        return [(moodle.bank_name(whole), lambda f: moodle.write_quiz_xml(whole, f))]
    return None


def _class_files(whole: SheetSet, data: dict, name: str, written: set[str]) -> list[File]:
    """The format's files that need the whole class: its key, or all of it."""
    if name == "html":
        return [File(f"{KEY_STEM}.html", html_sheets.key_page(whole))]
    # the others render their students again, cheaply, beside the key: keep the rest
    return [f for f in exports.FORMATS[name].files(whole, data) if f.path not in written]


def write_result(seed, students, problems, formats, out: Path, *, reveal: bool = False,
                 progress: Callable[[int, int], None] | None = None, templates=None) -> int:
    """Write the set's files into the zip `out` (atomically: it appears whole or not at
    all); `progress(done, total)` hears each student as their files are written and may
    raise Cancelled; `templates` (worksheets.template.Template) are the set's template
    problems. The number of students."""
    formats = exports.parse_formats(formats)
    request = read_request(seed, students, problems, templates)
    problem_list = [dict(given, type=t.id) for t, given, _ in request.problems]
    gen = Generator()
    total = len(request.students)
    # per process: a worker taken for dead may still be writing its own
    partial = out.with_name(f"{out.name}.{os.getpid()}.partial")
    sheets: list[dict] = []
    written: set[str] = set()
    taken: set[str] = set()
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for start in range(0, total, CHUNK):
                part = read_request(request.seed, request.students[start:start + CHUNK],
                                    problem_list, templates)
                for sheet in gen.build(part, include_answers=True, reveal=reveal)["sheets"]:
                    stem = file_stem(sheet["student"], taken)
                    for f in _student_files(request.seed, sheet, stem, formats):
                        _add(archive, f)
                        written.add(f.path)
                    sheets.append(sheet)
                    if progress is not None:
                        progress(len(sheets), total)
            data = {"seed": request.seed, "version": GENERATOR_VERSION, "sheets": sheets}
            whole = SheetSet(data)
            for name in formats:
                writers = _class_writers(whole, name)
                for path, write in writers or []:
                    _add_written(archive, path, write,
                                 partial.with_name(f"{partial.name}.scratch"))
                    written.add(path)
                if writers is not None:
                    continue
                for f in _class_files(whole, data, name, written):
                    _add(archive, f)
                    written.add(f.path)
            _add(archive, File(MANIFEST, manifest_bytes(set_identity(request, reveal), formats,
                                                         written)))
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return total

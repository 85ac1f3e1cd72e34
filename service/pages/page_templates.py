"""The problem templates the pages know: the shipped library (worksheets/templates/),
which the server holds, and an instructor's own, which a form brings (a YAML file or
pasted text) because the server keeps no state.

A template problem's token carries the hash of its template, so the template a token
is opened with is chosen by that hash: the library's, or one the form brought. A token
whose template is neither is refused with a message that names the template and what
to bring (the file the instructor handed out); a template of the same id but another
hash is refused by the generator, so a sheet is never graded against other numbers.
"""

from __future__ import annotations

import functools
import json

from worksheets.errors import TokenError
from worksheets.problems import template_types
from worksheets.template import (MAX_TEMPLATE_CHARS, MAX_TEMPLATES, Template, TemplateError,
                                 library, read_inline, read_templates)

FIELD = "templates"            # pasted YAML or JSON
FILE_FIELD = "templates_file"  # the same, uploaded
CARRIED_FIELD = "templates_json"   # a sheet's own templates, carried from form to form
# The carried JSON of at most MAX_TEMPLATES templates of at most MAX_TEMPLATE_CHARS each
# would be far more than a sheet needs; a sheet's tokens name at most this many.
MAX_CARRIED_CHARS = 4 * MAX_TEMPLATE_CHARS


@functools.lru_cache(maxsize=1)
def library_templates() -> tuple[Template, ...]:
    return tuple(library())


@functools.lru_cache(maxsize=1)
def library_types() -> dict:
    """The library's templates as problem types, by id, in the library's order."""
    return template_types(library_templates())


def read_form_templates(form, files) -> list[Template]:
    """The templates a form brings: an uploaded file and/or pasted text (YAML or JSON,
    the format of `gradsheet check-template`). TemplateError (line, column and field)
    when one cannot be used; [] when the form brings none."""
    out: list[Template] = []
    upload = files.get(FILE_FIELD) if files else None
    if upload is not None and upload.filename:
        raw = upload.read(MAX_TEMPLATE_CHARS + 1)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise TemplateError("is not UTF-8 text", path="template",
                                source=upload.filename) from None
        out += read_templates(text, upload.filename)
    pasted = (form.get(FIELD) or "").strip()
    if pasted:
        out += read_templates(pasted, "the pasted templates")
    ids = [t.id for t in out]
    for t in out:
        if ids.count(t.id) > 1:
            raise TemplateError(f"the id {t.id!r} is given twice (in the file and the pasted "
                                f"text); give each template once", path="id")
    if len(out) > MAX_TEMPLATES:
        raise TemplateError(f"{len(out)} templates; the limit is {MAX_TEMPLATES}",
                            path="templates")
    return out


def carried(form) -> list[Template]:
    """The templates a sheet's form carries along (CARRIED_FIELD, as the sheet page
    wrote it); TemplateError when the field was tampered with past reading."""
    text = form.get(CARRIED_FIELD) or ""
    if not text:
        return []
    if len(text) > MAX_CARRIED_CHARS:
        raise TemplateError(f"are {len(text):,} characters; the limit is "
                            f"{MAX_CARRIED_CHARS:,}", path=CARRIED_FIELD)
    try:
        data = json.loads(text)
    except ValueError:
        raise TemplateError("are not the JSON this page wrote", path=CARRIED_FIELD) from None
    return read_inline(data, CARRIED_FIELD)


def carry(templates) -> str:
    """The CARRIED_FIELD value for `templates` (those of a sheet the server lacks)."""
    return json.dumps([t.source for t in templates], separators=(",", ":")) if templates else ""


def template_for(ticket, given=()) -> list[Template]:
    """The templates to open `ticket` with (for Generator.regenerate): none for a
    built-in problem; the library's or a given template of the token's hash; a given
    one of the same id and another hash, which the generator refuses as changed.
    TokenError, saying what to bring, when neither the server nor the form has it."""
    if ticket.template is None:
        return []
    for t in (*given, *library_templates()):
        if t.id == ticket.type_id and t.hash == ticket.template:
            return [t]
    same_id = [t for t in given if t.id == ticket.type_id]
    if same_id:
        return same_id
    raise TokenError(
        f"is a problem of your instructor's own template {ticket.type_id!r} (version "
        f"{ticket.template}), which this server does not hold: open the sheet again with "
        f"the templates file your instructor handed out with it (paste it or choose it "
        f"under \u201cYour instructor's templates\u201d)")


def held_by_server(template: Template) -> bool:
    return any(t.hash == template.hash for t in library_templates())

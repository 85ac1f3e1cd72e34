"""A whole problem set written into a folder, as `gradsheet generate` writes it: the
problem list it is asked for, and the sheets built (in chunks, when someone watches the
progress) and written in every requested format beside the answer key."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from worksheets import exports
from worksheets.errors import ProblemSetError
from worksheets.generator import Generator, read_request
from worksheets.seeding import GENERATOR_VERSION

# Students per engine call while progress is reported: each chunk is still batched.
CHUNK = 100


@dataclass(frozen=True)
class WrittenSet:
    """What write_set wrote: how many sheets and problems, in which formats, where."""

    sheets: int
    problems: int
    formats: list[str]
    out: Path


def read_problem_list(text: str | None):
    """The problems of a set from "type,type,..." or "@FILE" (a JSON list of
    {"type": id, ...options}); None (the whole worksheet) when not given. The list is
    checked later, with the rest of the request."""
    if text is None:
        return None
    if text.startswith("@"):
        try:
            with open(text[1:], encoding="utf-8") as f:
                return json.load(f)
        except OSError as exc:
            raise ProblemSetError(f"cannot read {text[1:]}: {exc.strerror}",
                                  path="--problems") from None
        except json.JSONDecodeError as exc:
            raise ProblemSetError(f"{text[1:]} is not valid JSON: {exc.msg} (line {exc.lineno})",
                                  path="--problems") from None
    return [name.strip() for name in text.split(",") if name.strip()]


def write_set(seed, students, problems, formats, out_dir, *, reveal: bool = False,
              progress: Callable[[int, int], None] | None = None,
              templates=None) -> WrittenSet:
    """Build every student's sheet with answers and write them and the key in
    `formats` under `out_dir`. `progress`, when given, hears (sheets built, students)
    after each chunk of CHUNK students."""
    formats = exports.parse_formats(formats)
    request = read_request(seed, students, problems, templates)
    gen = Generator()
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProblemSetError(f"cannot create {out}: {exc.strerror}", path="--out") from None
    total = len(request.students)
    step = CHUNK if progress is not None else total
    sheets: list = []
    for start in range(0, total, step):
        part = read_request(request.seed, request.students[start:start + step],
                            [dict(given, type=t.id) for t, given, _ in request.problems],
                            templates)
        sheets += gen.build(part, include_answers=True, reveal=reveal)["sheets"]
        if progress is not None:
            progress(len(sheets), total)
    key = {"seed": request.seed, "version": GENERATOR_VERSION, "sheets": sheets}
    if templates:  # grading the set's tokens needs them
        key["templates"] = [t.source for t in templates]
    exports.write(key, formats, out)
    return WrittenSet(len(sheets), sum(len(s["problems"]) for s in sheets), formats, out)

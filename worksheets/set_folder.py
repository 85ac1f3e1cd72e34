"""A whole problem set written into a folder, as `gradsheet generate` writes it: the
problem list it is asked for, and the sheets built (in chunks, when someone watches the
progress) and written in every requested format beside the answer key.

The folder gets a manifest (gradsheet-manifest.json: seed, students, problems, formats,
generator version and every file written), so a folder holds one set at a time: writing
another set into it is refused unless `force`, which first removes the files the old
manifest lists (only those: anything else in the folder stays). The same set written
again, in the same or other formats, needs no force.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from worksheets import exports
from worksheets.errors import ProblemSetError
from worksheets.exports.sheetset import KEY_STEM
from worksheets.generator import Generator, read_request
from worksheets.seeding import GENERATOR_VERSION

# Students per engine call while progress is reported: each chunk is still batched.
CHUNK = 100
MANIFEST = "gradsheet-manifest.json"


@dataclass(frozen=True)
class WrittenSet:
    """What write_set wrote: how many sheets and problems, in which formats, where."""

    sheets: int
    problems: int
    formats: list[str]
    out: Path
    removed: list[str] = field(default_factory=list)   # the old set's files, with force


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


def set_identity(request, reveal: bool) -> dict:
    """What makes two sets the same set: same seed, students, problems and generator."""
    return {"seed": request.seed, "students": [str(s) for s in request.students],
            "problems": [dict(given, type=t.id) for t, given, _ in request.problems],
            "practice": reveal, "version": GENERATOR_VERSION}


def manifest_bytes(identity: dict, formats, files) -> bytes:
    """The manifest of a set (what `set_identity` says, its formats and its files, in
    name order): the CLI writes it into the folder and a job into its zip."""
    manifest = {**identity, "formats": list(formats), "files": sorted(files)}
    return (json.dumps(manifest, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def read_manifest(out: Path) -> dict | None:
    path = out / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise ProblemSetError(f"{path} is not a manifest gradsheet can read; move it away "
                              f"or pick another --out", path="--out") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise ProblemSetError(f"{path} lists no files; move it away or pick another --out",
                              path="--out")
    return manifest


def _describe(manifest: dict) -> str:
    students = manifest.get("students")
    count = len(students) if isinstance(students, list) else "?"
    return f"seed {manifest.get('seed')}, {count} students"


def _old_set_files(out: Path, identity: dict, force: bool) -> list[Path]:
    """The files of another set in `out` to remove first ([] for none or the same set);
    ProblemSetError refusing another set without `force`."""
    manifest = read_manifest(out)
    if manifest is None:
        unlisted = (out / f"{KEY_STEM}.json").exists() or any(out.glob("gradsheet-*-moodle.xml"))
        if unlisted and not force:
            raise ProblemSetError(
                f"{out} holds a problem set written without a manifest; pick an empty "
                f"folder, or pass --force to write over it (nothing is removed)",
                path="--out")
        return []
    if {k: manifest.get(k) for k in identity} == identity:
        return []
    if not force:
        raise ProblemSetError(
            f"{out} holds another problem set ({_describe(manifest)}; see {MANIFEST}); "
            f"pick another folder, or pass --force to remove that set's "
            f"{len(manifest['files'])} files and write this one", path="--out")
    root = out.resolve()
    old = []
    for name in manifest["files"] + [MANIFEST]:
        path = (out / str(name)).resolve()
        # only files the old set wrote, inside the folder: a manifest is just a file
        if path.is_file() and path.is_relative_to(root):
            old.append(path)
    return old


def write_set(seed, students, problems, formats, out_dir, *, reveal: bool = False,
              force: bool = False,
              progress: Callable[[int, int], None] | None = None,
              writing: Callable[[str], None] | None = None,
              templates=None, keys: str = "combined") -> WrittenSet:
    """Build every student's sheet with answers and write them and the key in
    `formats` under `out_dir`, with the manifest. Another set in `out_dir` is refused
    unless `force`, which removes its files first. `progress`, when given, hears
    (sheets built, students) after each chunk of CHUNK students; `writing` hears each
    format's name before its files are made (PDF's typesetting takes longer than
    building the sheets)."""
    formats = exports.parse_formats(formats)
    request = read_request(seed, students, problems, templates)
    gen = Generator()
    out = Path(out_dir)
    identity = set_identity(request, reveal)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProblemSetError(f"cannot create {out}: {exc.strerror}", path="--out") from None
    old = _old_set_files(out, identity, force)
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
    removed = []
    for path in old:
        try:
            path.unlink()
        except OSError as exc:
            raise ProblemSetError(f"cannot remove {path}: {exc.strerror}", path="--out") from None
        removed.append(path.relative_to(out.resolve()).as_posix())
    if templates:  # grading the set's tokens needs them
        key["templates"] = [t.source for t in templates]
    written = []
    for name in formats:
        if writing is not None:
            writing(name)
        written += [p.relative_to(out).as_posix() for p in exports.write(key, [name], out, keys)]
    previous = read_manifest(out)   # the same set written before, in other formats
    if previous is not None:
        formats = [f for f in exports.FORMATS if f in set(previous["formats"]) | set(formats)]
        written = sorted(set(written) | {f for f in previous["files"] if (out / f).is_file()})
    (out / MANIFEST).write_bytes(manifest_bytes(identity, formats, written))
    return WrittenSet(len(sheets), sum(len(s["problems"]) for s in sheets), formats, out,
                      removed)

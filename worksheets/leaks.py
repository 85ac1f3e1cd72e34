"""A leaked sheet traced back to its student, as `gradsheet trace` does it: the sheet's
variant code (in its variant field, its problem ids and its tokens) matched against the
variants of a roster."""

from __future__ import annotations

from worksheets.answer_files import read_json_file
from worksheets.errors import ProblemSetError
from worksheets.generator import Generator


def leaked_codes(data) -> tuple[str | None, str | None]:
    """(variant, token) found in a leaked sheet: its variant field, a problem id
    ("<variant>-<n>") or a token."""
    sheet = data["sheets"][0] if isinstance(data, dict) and data.get("sheets") else data
    if isinstance(sheet, dict):
        if isinstance(sheet.get("variant"), str):
            return sheet["variant"], None
        for p in sheet.get("problems") or []:
            if isinstance(p, dict) and isinstance(p.get("token"), str):
                return None, p["token"]
            if isinstance(p, dict) and isinstance(p.get("id"), str) and "-" in p["id"]:
                return p["id"].rsplit("-", 1)[0], None
    raise ProblemSetError("holds no variant, problem id or token to trace", path="--sheet")


def trace_leak(seed, students, *, variant: str | None = None, token: str | None = None,
               sheet: str | None = None) -> list:
    """The students of the roster whose sheet has the given variant code, token, or
    leaked sheet (a JSON file); empty when none has."""
    if sheet is not None:
        variant, token = leaked_codes(read_json_file(sheet))
    return Generator().trace(seed, students, variant=variant, token=token)

"""One small set's exports, byte for byte: the Markdown sheets and key, every figure,
the Moodle XML and the Canvas package's files. The set itself is stored beside them
(tests/worksheets/data/golden/set.json), so only the exports are pinned here, not the generator.

After a deliberate change to the output, rewrite the files with
    GRADSHEET_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/worksheets/test_exports_golden.py
and read the diff before committing it.
"""

import io
import json
import os
import zipfile
from pathlib import Path

import pytest

from worksheets import exports

GOLDEN = Path(__file__).parent / "data" / "golden"
UPDATE = os.environ.get("GRADSHEET_UPDATE_GOLDEN") == "1"


def outputs() -> dict[str, bytes]:
    data = json.loads((GOLDEN / "set.json").read_text(encoding="utf-8"))
    out = {f.path: f.data for f in exports.render(data, ["markdown", "moodle"])}
    qti = exports.render(data, ["qti"])[0]
    with zipfile.ZipFile(io.BytesIO(qti.data)) as z:
        # the package's figures are the Markdown ones again: compared, not stored twice
        out.update({f"qti/{name}": z.read(name) for name in z.namelist()
                    if not name.startswith("web_resources/")})
    return out


def test_canvas_package_carries_the_same_figures_as_the_markdown_sheets():
    data = json.loads((GOLDEN / "set.json").read_text(encoding="utf-8"))
    with zipfile.ZipFile(io.BytesIO(exports.render(data, ["qti"])[0].data)) as z:
        packaged = {z.read(n) for n in z.namelist() if n.startswith("web_resources/")}
    # one file per distinct image: the Markdown figures of every sheet, each once
    assert packaged == {p.read_bytes() for p in (GOLDEN / "figures").glob("*.svg")}


EXPECTED = sorted(p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*")
                  if p.is_file() and p.name != "set.json")


def test_golden_set_gives_exactly_the_stored_files():
    got = outputs()
    if UPDATE:
        for path, data in got.items():
            target = GOLDEN / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    assert sorted(got) == sorted(p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*")
                                 if p.is_file() and p.name != "set.json")


@pytest.mark.parametrize("path", EXPECTED)
def test_golden_file_is_unchanged(path):
    got = outputs_once()[path]
    want = (GOLDEN / path).read_bytes()
    assert got == want, f"{path} changed: rerun with GRADSHEET_UPDATE_GOLDEN=1 if meant"


_cache: dict = {}


def outputs_once() -> dict[str, bytes]:
    if "out" not in _cache:
        _cache["out"] = outputs()
    return _cache["out"]

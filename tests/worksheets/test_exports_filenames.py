"""Per-student file names: readable in any script, safe on Windows (no device names such
as CON or nul), free of spaces so Markdown's figure links work, and unique."""

import io
import unicodedata
import zipfile
from urllib.parse import unquote

import pytest
from markdown_it import MarkdownIt

from worksheets import exports, generate
from worksheets.exports.sheetset import file_stem

SECRET = "filenames-test-secret"
# Windows refuses these as a file's name before the first dot, in any case.
WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                   *(f"LPT{i}" for i in range(1, 10))}


def stems(*students) -> list[str]:
    taken: set = set()
    return [file_stem(s, taken) for s in students]


@pytest.mark.parametrize("student, stem", [
    ("José Núñez", "José_Núñez"),
    ("李雷", "李雷"),
    ("Zoë O'Brien-Smith", "Zoë_O_Brien-Smith"),
    ("ada", "ada"),                  # the golden set's student: unchanged
    ("Grace Hopper", "Grace_Hopper"),
    ("alan/turing", "alan_turing"),
    (42, "42"),
    ("..", "student"),
])
def test_a_student_id_becomes_a_readable_file_name(student, stem):
    assert stems(student) == [stem]


def test_a_decomposed_accent_gives_the_same_name_as_a_composed_one():
    decomposed = unicodedata.normalize("NFD", "José Núñez")
    assert decomposed != "José Núñez"
    assert stems(decomposed) == ["José_Núñez"]


@pytest.mark.parametrize("student, stem", [
    ("CON", "CON_"), ("nul", "nul_"), ("Com1", "Com1_"), ("lpt9", "lpt9_"), ("aux.txt", "aux_.txt"),
])
def test_windows_device_names_are_changed(student, stem):
    [got] = stems(student)
    assert got == stem
    assert got.split(".")[0].upper() not in WINDOWS_DEVICES


def test_names_that_collide_get_a_number_ignoring_case_and_accents_form():
    got = stems("José Núñez", "josé núñez", unicodedata.normalize("NFD", "JOSÉ NÚÑEZ"),
                "José/Núñez", "answer-key")
    assert got == ["José_Núñez", "josé_núñez-2", "JOSÉ_NÚÑEZ-3", "José_Núñez-4", "answer-key-2"]
    assert len({g.casefold() for g in got}) == len(got)


def test_a_long_name_leaves_room_for_the_figures_prefix_and_suffix():
    [cjk, latin] = stems("李雷" * 100, "x" * 300)
    for stem in (cjk, latin):
        figure_name = f"answer-key-{stem}-2-p12.svg"
        assert len(figure_name.encode()) <= 255
    assert cjk == "李雷" * (len(cjk) // 2) and len(cjk) >= 40
    assert latin == "x" * 80


@pytest.fixture(scope="module")
def unicode_set():
    return generate(5, ["José Núñez", "李雷", "Grace Hopper", "CON"],
                    ["conv_output_size", "graph_backprop"], secret=SECRET)


def test_markdown_figure_links_resolve_for_every_student(unicode_set):
    files = {f.path: f.data for f in exports.render(unicode_set, ["markdown"])}
    assert {"José_Núñez.md", "李雷.md", "Grace_Hopper.md", "CON_.md"} <= set(files)
    md = MarkdownIt()
    for path in ("José_Núñez.md", "李雷.md", "CON_.md", "answer-key.md"):
        images = [tok.attrs["src"] for block in md.parse(files[path].decode())
                  for tok in block.children or () if tok.type == "image"]
        assert len(images) >= 2, path
        for src in images:
            # markdown-it percent-encodes the link as a browser would; the file is there
            assert " " not in src and unquote(src) in files, (path, src)


def test_a_zip_keeps_the_unicode_names(unicode_set):
    name, media_type, data = exports.render_download(unicode_set, ["markdown", "json"])
    assert media_type == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert {"José_Núñez.json", "李雷.json", "CON_.json", "figures/李雷-p1.svg"} <= set(names)

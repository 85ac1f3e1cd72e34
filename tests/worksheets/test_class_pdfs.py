"""The class's PDFs (the answer key and every sheet in one file) are typeset a few
students at a time and joined: read back, they hold every student's pages in the
roster's order, each sheet numbered from its own page 1, the print file page for page
what the students' own PDFs say, and poppler opens them without a complaint."""

import io
import re
import subprocess

import pypdf
import pytest

from worksheets import exports, generate
from worksheets.exports import pdf_sheets

SECRET = "class-pdfs-test-secret"
# five students in pieces of two: two whole pieces and one of a single student
STUDENTS = ["ada", "Grace Hopper", "alan/turing", "émilie", "kurt"]
STEMS = ["ada", "Grace_Hopper", "alan_turing", "émilie", "kurt"]
HEADER = re.compile(r"gradsheet-31 · (.+?) · variant ([0-9a-f]{16})( · key)? page (\d+)")


@pytest.fixture(scope="module")
def problem_set():
    return generate(31, STUDENTS, secret=SECRET)


@pytest.fixture(scope="module")
def pdfs(problem_set):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pdf_sheets, "PIECE", 2)
        return {f.path: f.data for f in exports.render(problem_set, ["pdf"])}


def page_texts(data: bytes) -> list[str]:
    return [re.sub(r"\s+", " ", page.extract_text())
            for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def headers(data: bytes) -> list[tuple[str, str, bool, int]]:
    """(student, variant, is the key, page number) from each page's running header."""
    out = []
    for text in page_texts(data):
        m = HEADER.search(text)
        assert m, text[:120]
        out.append((m.group(1), m.group(2), m.group(3) is not None, int(m.group(4))))
    return out


def runs(pages) -> list[tuple[str, str, list[int]]]:
    """Consecutive pages of one sheet: (student, variant, their page numbers)."""
    out: list = []
    for student, variant, _, number in pages:
        if out and out[-1][:2] == (student, variant):
            out[-1][2].append(number)
        else:
            out.append((student, variant, [number]))
    return out


@pytest.mark.parametrize("name, key", [("answer-key.pdf", True), ("all-sheets.pdf", False)])
def test_each_students_pages_come_together_in_roster_order(pdfs, problem_set, name, key):
    pages = headers(pdfs[name])
    assert {is_key for _, _, is_key, _ in pages} == {key}
    got = runs(pages)
    assert [(student, variant) for student, variant, _ in got] == [
        (str(sheet["student"]), sheet["variant"]) for sheet in problem_set["sheets"]]
    for student, _, numbers in got:
        assert numbers == list(range(1, len(numbers) + 1)), student


def test_the_print_file_is_the_students_own_pdfs_page_for_page(pdfs):
    # spacing inside typeset math is not text (the tagged and untagged files space it
    # differently): compare without spaces
    own = [text.replace(" ", "") for stem in STEMS for text in page_texts(pdfs[f"{stem}.pdf"])]
    assert [text.replace(" ", "") for text in page_texts(pdfs["all-sheets.pdf"])] == own


def test_the_keys_bookmarks_open_each_students_problems_on_their_pages(pdfs, problem_set):
    reader = pypdf.PdfReader(io.BytesIO(pdfs["answer-key.pdf"]))
    pages = headers(pdfs["answer-key.pdf"])
    top = [item for item in reader.outline if not isinstance(item, list)]
    slots = len(problem_set["sheets"][0]["problems"])
    assert len(top) == slots * len(STUDENTS)
    for k, item in enumerate(top):
        student = problem_set["sheets"][k // slots]
        assert item.title.startswith(f"Problem {k % slots + 1}. ")
        assert pages[reader.get_destination_page_number(item)][:2] == (
            str(student["student"]), student["variant"])


@pytest.mark.parametrize("tool", ["pdfinfo", "pdffonts"])
def test_poppler_reads_the_joined_pdfs_without_an_error(pdfs, tmp_path, tool):
    for name in ("answer-key.pdf", "all-sheets.pdf"):
        path = tmp_path / name
        path.write_bytes(pdfs[name])
        run = subprocess.run([tool, str(path)], capture_output=True, text=True, check=True)
        assert run.stderr == "", (name, run.stderr)


def test_pdfinfo_reads_the_title_and_every_page(pdfs):
    import tempfile
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdfs["answer-key.pdf"])
        f.flush()
        info = subprocess.run(["pdfinfo", f.name], capture_output=True, text=True,
                              check=True).stdout
    assert re.search(r"^Title:\s+Answer key: problem set 31$", info, re.M)
    pages = int(re.search(r"^Pages:\s+(\d+)$", info, re.M).group(1))
    assert pages == len(headers(pdfs["answer-key.pdf"]))

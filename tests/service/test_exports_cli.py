"""`gradsheet generate --format ...`: every export format through the real CLI."""

import xml.etree.ElementTree as ET
import zipfile

import pytest

from service.cli import main


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("GRADSHEET_SECRET", "exports-cli-secret")


def test_generate_writes_every_format_side_by_side(capsys, tmp_path):
    code = main(["generate", "--seed", "4", "--students", "2", "--problems",
                 "conv_output_size,gate_gradient", "--format", "json,markdown,html,pdf,moodle,qti",
                 "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "wrote 2 sheets (4 problems) and the answer key as json, markdown, html, pdf, " \
           "moodle, qti" in out
    names = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    for stem in ("student-01", "student-02", "answer-key"):
        assert {f"{stem}.{ext}" for ext in ("json", "md", "html", "pdf")} <= names
    assert "figures/student-01-p1.svg" in names
    quiz = ET.parse(tmp_path / "gradsheet-4-moodle.xml").getroot()
    assert len(quiz.findall("question[@type='category']")) == 2
    assert "imsmanifest.xml" in zipfile.ZipFile(tmp_path / "gradsheet-4-canvas-qti.zip").namelist()


def test_an_unknown_format_is_an_error_naming_it(capsys, tmp_path):
    code = main(["generate", "--seed", "4", "--students", "2", "--format", "html,docx",
                 "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown format 'docx' (known formats: json, markdown, html, pdf, moodle, qti)" in err
    assert list(tmp_path.iterdir()) == []        # refused before anything is written

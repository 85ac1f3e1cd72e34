"""A job's zip holds exactly the files `gradsheet generate` writes, byte for byte, in
every format, with student ids whose file names collide."""

from __future__ import annotations

import zipfile

import pytest

from service.jobs.result import Cancelled, write_result
from worksheets.set_folder import write_set

# "Ada"/"ada" and "a b"/"a_b" make the same file name: the second of each gets "-2"
STUDENTS = ["ada", "Ada", "a b", "a_b", 12]
EVERY_FORMAT = "json,markdown,html,pdf,moodle,qti"


def test_the_zip_holds_the_clis_files_in_every_format(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADSHEET_SECRET", "job-result-test-secret-0123456789")
    write_set(21, STUDENTS, ["graph_backprop", "conv_output_size"], EVERY_FORMAT,
              tmp_path / "cli", reveal=True)
    heard = []
    count = write_result(21, STUDENTS, ["graph_backprop", "conv_output_size"], EVERY_FORMAT,
                         tmp_path / "job.zip", reveal=True,
                         progress=lambda done, total: heard.append((done, total)))
    assert count == 5 and heard == [(k, 5) for k in range(1, 6)]
    cli = {str(p.relative_to(tmp_path / "cli")): p.read_bytes()
           for p in (tmp_path / "cli").rglob("*") if p.is_file()}
    archive = zipfile.ZipFile(tmp_path / "job.zip")
    assert sorted(archive.namelist()) == sorted(cli)
    assert {"Ada-2.pdf", "a_b-2.md", "answer-key.html"} <= set(cli)
    for name, content in cli.items():
        assert archive.read(name) == content, name


def test_a_cancelled_result_leaves_no_zip_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADSHEET_SECRET", "job-result-test-secret-0123456789")
    def stop_at_two(done, total):
        if done == 2:
            raise Cancelled("test")
    with pytest.raises(Cancelled):
        write_result(1, 5, None, "json", tmp_path / "job.zip", progress=stop_at_two)
    assert list(tmp_path.iterdir()) == []

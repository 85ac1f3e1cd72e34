"""What `gradsheet generate`, `grade` and `trace` do, without the command line: a roster
read from CSV, a set written into a folder chunk by chunk, an answers file graded, a
leaked sheet traced."""

import json

import pytest

from worksheets import ProblemSetError
from worksheets.answer_files import grade_file
from worksheets.leaks import trace_leak
from worksheets.roster import read_roster
from worksheets.set_folder import CHUNK, read_problem_list, write_set


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("GRADSHEET_SECRET", "class-files-test-secret")


def test_a_roster_without_a_known_header_is_all_ids_and_blank_rows_are_skipped(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("ada,A\n\n alan ,B\n")
    assert read_roster(str(roster)) == ["ada", "alan"]


def test_a_roster_row_without_an_id_names_its_line(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("name,student\nAda,ada\nAlan,\n")
    with pytest.raises(ProblemSetError, match=r"line 3: no student id in column 2"):
        read_roster(str(roster))


def test_a_problem_list_is_names_or_a_json_file(tmp_path):
    assert read_problem_list(" gate_gradient, ,conv_same_padding") == [
        "gate_gradient", "conv_same_padding"]
    listed = tmp_path / "problems.json"
    listed.write_text('[{"type": "gate_gradient", "gates": ["relu"]}]')
    assert read_problem_list(f"@{listed}") == [{"type": "gate_gradient", "gates": ["relu"]}]
    assert read_problem_list(None) is None


def test_a_set_written_with_progress_reports_each_chunk_and_the_same_files(tmp_path):
    heard = []
    students = CHUNK + 20
    watched = write_set(3, students, ["gate_gradient"], "json", tmp_path / "watched",
                        progress=lambda done, total: heard.append((done, total)))
    assert heard == [(CHUNK, students), (students, students)]
    assert (watched.sheets, watched.problems, watched.formats) == (students, students, ["json"])
    # chunking is invisible in the files: a run without progress writes the same bytes
    write_set(3, students, ["gate_gradient"], "json", tmp_path / "quiet")
    key = "answer-key.json"
    assert (tmp_path / "watched" / key).read_bytes() == (tmp_path / "quiet" / key).read_bytes()


def test_a_keyed_sheet_graded_as_an_answers_file_earns_full_marks_and_a_leak_is_traced(
        tmp_path):
    write_set(5, ["ada", "alan", "grace"], ["gate_gradient", "conv_same_padding"], "json",
              tmp_path)
    sheet = json.loads((tmp_path / "answer-key.json").read_text())["sheets"][1]
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"problems": sheet["problems"]}))
    graded = grade_file(str(answers))
    assert graded.max_score > 0 and graded.score == graded.max_score
    assert [p["type"] for p in graded.problems] == ["gate_gradient", "conv_same_padding"]
    assert trace_leak(5, ["ada", "alan", "grace"], sheet=str(tmp_path / "alan.json")) == ["alan"]
    assert trace_leak(5, ["ada", "alan", "grace"],
                      token=sheet["problems"][0]["token"]) == ["alan"]
    assert trace_leak(6, ["ada", "alan", "grace"], sheet=str(tmp_path / "alan.json")) == []

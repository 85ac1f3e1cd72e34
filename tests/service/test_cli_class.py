"""The command line as an instructor grading a class uses it: a folder that holds one
set at a time, a gradebook for a folder of answers files, exit codes that mean the same
with and without --json, and the list of problem types."""

import csv
import io
import json

import pytest

from service.cli import main
from worksheets.problem import POINTS

SECRET = "cli-class-secret"


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("GRADSHEET_SECRET", SECRET)


def run(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as exc:   # argparse's own usage errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def files_in(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_a_folder_holding_another_set_is_refused_and_force_removes_only_that_sets_files(
        capsys, tmp_path):
    out = tmp_path / "sheets"
    assert run(capsys, "generate", "--seed", "7", "--students", "30", "--out", str(out))[0] == 0
    manifest = json.loads((out / "gradsheet-manifest.json").read_text())
    assert manifest["seed"] == 7 and len(manifest["students"]) == 30
    assert manifest["formats"] == ["json"] and len(manifest["files"]) == 31
    (out / "notes.txt").write_text("mine")
    before = files_in(out)

    code, _, err = run(capsys, "generate", "--seed", "9", "--students", "3", "--out", str(out))
    assert code == 2 and "holds another problem set (seed 7, 30 students" in err
    assert "--force" in err and files_in(out) == before

    code, stdout, _ = run(capsys, "generate", "--seed", "9", "--students", "3", "--out",
                          str(out), "--force")
    assert code == 0 and "removed the 32 files" in stdout
    assert files_in(out) == ["answer-key.json", "gradsheet-manifest.json", "notes.txt",
                             "student-01.json", "student-02.json", "student-03.json"]
    assert json.loads((out / "student-01.json").read_text())["seed"] == 9


def test_the_same_set_in_another_format_needs_no_force(capsys, tmp_path):
    args = ["generate", "--seed", "7", "--students", "2", "--out", str(tmp_path)]
    assert run(capsys, *args)[0] == 0
    assert run(capsys, *args, "--format", "markdown")[0] == 0
    manifest = json.loads((tmp_path / "gradsheet-manifest.json").read_text())
    assert manifest["formats"] == ["json", "markdown"]
    assert {"student-01.json", "student-01.md"} <= set(manifest["files"])


def answers_folder(capsys, tmp_path, wrong_student):
    """Three students' sheets with every answer of the key filled in, one part wrong
    for `wrong_student`, and one file that is not JSON."""
    sheets = tmp_path / "sheets"
    run(capsys, "generate", "--seed", "5", "--students", "3", "--out", str(sheets))
    key = json.loads((sheets / "answer-key.json").read_text())
    answers = tmp_path / "answers"
    answers.mkdir()
    for sheet in key["sheets"]:
        problems = [{"token": p["token"], "answers": p["answers"]} for p in sheet["problems"]]
        if sheet["student"] == wrong_student:
            gate = next(p for p in problems if set(p["answers"]) == {"output", "gradient"})
            gate["answers"]["gradient"] += 1
        # named by the file only: no "student" field
        (answers / f"{sheet['student']}.json").write_text(json.dumps(problems))
    return answers, key


def test_a_folder_of_answers_files_gives_a_gradebook_csv_and_feedback_files(capsys, tmp_path):
    answers, key = answers_folder(capsys, tmp_path, "student-02")
    out = tmp_path / "grades"
    code, stdout, _ = run(capsys, "grade", str(answers), "--out", str(out))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO((out / "gradebook.csv").read_text())))
    slots = [p["type"] for p in key["sheets"][0]["problems"]]
    worth = [sum(POINTS[t].values()) for t in slots]
    assert list(rows[0]) == (["Student", "SIS Login ID"]
                             + [f"P{k + 1} ({w} pts)" for k, w in enumerate(worth)]
                             + ["gradsheet total", "gradsheet percent"])
    by_student = {r["Student"]: r for r in rows}
    assert set(by_student) == {"student-01", "student-02", "student-03"}
    full = sum(worth)
    assert float(by_student["student-01"]["gradsheet total"]) == full
    assert float(by_student["student-01"]["gradsheet percent"]) == 100.0
    gate = slots.index("gate_gradient")
    # the gate's gradient is one of its two one-point parts
    assert float(by_student["student-02"][f"P{gate + 1} (2 pts)"]) == 1
    assert float(by_student["student-02"]["gradsheet total"]) == full - 1
    assert float(by_student["student-02"]["gradsheet percent"]) == pytest.approx(
        100 * (full - 1) / full, abs=0.005)
    feedback = (out / "feedback" / "student-02.txt").read_text()
    assert "-- gradient:" in feedback and f"total: {full - 1:g} / {full:g}" in feedback


def test_a_roster_and_seed_name_each_sheet_by_its_tokens_not_its_file_name(capsys, tmp_path):
    answers, _ = answers_folder(capsys, tmp_path, "student-03")
    (answers / "student-03.json").rename(answers / "mystery.json")
    code, stdout, _ = run(capsys, "grade", str(answers), "--seed", "5", "--roster",
                          str(roster(tmp_path)))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(stdout)))
    assert sorted(r["Student"] for r in rows) == ["student-01", "student-02", "student-03"]


def roster(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("id\nstudent-01\nstudent-02\nstudent-03\n")
    return path


def test_a_file_that_cannot_be_graded_is_a_row_and_exit_1(capsys, tmp_path):
    answers, _ = answers_folder(capsys, tmp_path, None)
    (answers / "broken.json").write_text("{not json")
    for extra in ((), ("--json",)):
        code, stdout, _ = run(capsys, "grade", str(answers), *extra)
        assert code == 1
    result = json.loads(stdout)
    broken = next(s for s in result["students"] if s["source"] == "broken.json")
    assert "not a JSON answers file" in broken["error"]


def test_a_list_of_sheets_in_one_file_is_a_class(capsys, tmp_path):
    answers, key = answers_folder(capsys, tmp_path, None)
    sheets = [{"student": s["student"], "problems": [{"token": p["token"],
                                                      "answers": p["answers"]}
                                                     for p in s["problems"]]}
              for s in key["sheets"]]
    path = tmp_path / "class.json"
    path.write_text(json.dumps(sheets))
    code, stdout, _ = run(capsys, "grade", str(path))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(stdout)))
    assert [r["Student"] for r in rows] == ["student-01", "student-02", "student-03"]
    assert {r["gradsheet percent"] for r in rows} == {"100.00"}


@pytest.mark.parametrize("json_flag", [(), ("--json",)])
def test_conv_exits_1_when_not_exact_with_or_without_json(capsys, json_flag):
    # (10 - 7 + 2*3)/4 = 2.25: the floor leaves a unit unvisited
    assert run(capsys, "conv", "-W", "10", "-F", "7", "-P", "3", "-S", "4", *json_flag)[0] == 1
    # (10 - 7 + 2*3)/3 = 3 exactly
    assert run(capsys, "conv", "-W", "10", "-F", "7", "-P", "3", "-S", "3", *json_flag)[0] == 0
    assert run(capsys, "conv", "-W", "2", "-F", "7", *json_flag)[0] == 2


@pytest.mark.parametrize("flag", [("--wrt", "x"), ("--steps", "3")])
def test_a_descent_option_without_a_learning_rate_is_an_error(capsys, flag):
    code, _, err = run(capsys, "eval", "x*y", "x=1", "y=2", *flag)
    assert code == 2 and "--lr" in err
    assert run(capsys, "eval", "x*y", "x=1", "y=2", *flag, "--lr", "0.1")[0] == 0


def test_types_lists_every_type_with_its_options_defaults_and_points(capsys):
    code, out, _ = run(capsys, "types")
    assert code == 0
    assert "conv_output_size: Output size of a 1-D convolution" in out
    assert "  max_width = 32  (a whole number 8..64): largest input width W" in out
    assert "  points: output_size 1, windows 1, centers 1 (total 3)" in out
    code, text, _ = run(capsys, "types", "--json")
    listed = {t["id"]: t for t in json.loads(text)["types"]}
    assert set(listed) == set(POINTS)
    assert listed["conv1d_backprop"]["options"]["max_width"]["default"] == 8

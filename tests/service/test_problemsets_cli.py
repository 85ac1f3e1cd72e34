"""`gradsheet generate`, `grade` and `trace` through the real CLI entry point."""

import json

import pytest

from service.cli import main

SECRET = "cli-test-secret"


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("GRADSHEET_SECRET", SECRET)


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_generate_writes_one_file_per_student_and_an_answer_key(capsys, tmp_path):
    code, out, _ = run(capsys, "generate", "--seed", "7", "--students", "3", "--out", str(tmp_path))
    assert code == 0 and "wrote 3 sheets (18 problems)" in out
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["answer-key.json", "gradsheet-manifest.json", "student-01.json",
                     "student-02.json", "student-03.json"]
    sheet = json.loads((tmp_path / "student-02.json").read_text())
    assert sheet["student"] == "student-02" and sheet["seed"] == 7
    assert len(sheet["problems"]) == 6  # the whole worksheet
    assert all("answers" not in p and "solution" not in p for p in sheet["problems"])
    key = json.loads((tmp_path / "answer-key.json").read_text())
    keyed = key["sheets"][1]["problems"]
    assert [p["token"] for p in keyed] == [p["token"] for p in sheet["problems"]]
    assert all(p["answers"] and p["solution"] for p in keyed)


def test_a_roster_and_a_problem_list(capsys, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("name,email\nAda,ada@uni.edu\nAlan,alan@uni.edu\n")
    out_dir = tmp_path / "out"
    code, _, _ = run(capsys, "generate", "--seed", "7", "--roster", str(roster), "--problems",
                     "graph_backprop,gate_gradient", "--out", str(out_dir))
    assert code == 0
    sheet = json.loads((out_dir / "alan_uni.edu.json").read_text())
    assert sheet["student"] == "alan@uni.edu"
    assert [p["type"] for p in sheet["problems"]] == ["graph_backprop", "gate_gradient"]


def test_problem_options_from_a_json_file_and_markdown_sheets(capsys, tmp_path):
    spec = tmp_path / "problems.json"
    spec.write_text(json.dumps([{"type": "graph_backprop", "families": ["random"], "difficulty": 3},
                                "conv_output_size"]))
    code, _, _ = run(capsys, "generate", "--seed", "1", "--students", "2", "--problems",
                     f"@{spec}", "--format", "markdown", "--out", str(tmp_path / "md"))
    assert code == 0
    text = (tmp_path / "md" / "student-01.md").read_text()
    assert text.startswith("# Problem set 1: student-01") and "## Problem 2 (conv_output_size)" in text
    assert "### Answers" not in text
    key = (tmp_path / "md" / "answer-key.md").read_text()
    assert "### Worked solution" in key and "Backward:" in key


def test_the_same_command_writes_the_same_files(capsys, tmp_path):
    for name in ("a", "b"):
        run(capsys, "generate", "--seed", "5", "--students", "4", "--out", str(tmp_path / name))
    assert (tmp_path / "a" / "answer-key.json").read_text() == \
        (tmp_path / "b" / "answer-key.json").read_text()


def test_a_progress_bar_for_long_runs(capsys, tmp_path):
    code, _, err = run(capsys, "generate", "--seed", "5", "--students", "150", "--problems",
                       "gate_gradient", "--out", str(tmp_path), "--progress")
    assert code == 0 and "generating [" in err and "150/150 students" in err


def test_grade_an_answers_file_against_its_tokens(capsys, tmp_path):
    run(capsys, "generate", "--seed", "3", "--students", "1", "--out", str(tmp_path))
    key = json.loads((tmp_path / "answer-key.json").read_text())
    answers = [{"token": p["token"], "answers": p["answers"]} for p in key["sheets"][0]["problems"]]
    gate = next(a for a in answers if "gradient" in a["answers"] and "output" in a["answers"])
    gate["answers"]["gradient"] += 1
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers))
    code, out, _ = run(capsys, "grade", str(path))
    assert code == 1                      # short of full marks, with or without --json
    code, text, _ = run(capsys, "grade", str(path), "--json")
    assert code == 1
    result = json.loads(text)
    assert result["score"] == result["max_score"] - 1 and len(result["problems"]) == 6
    assert "-- gradient:" in out
    assert out.splitlines()[-1] == f"total: {result['score']:g} / {result['max_score']:g}"


def test_trace_finds_the_student_of_a_leaked_sheet(capsys, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("id\n" + "\n".join(f"s{i}" for i in range(25)) + "\n")
    run(capsys, "generate", "--seed", "9", "--roster", str(roster), "--out", str(tmp_path / "set"))
    leaked = tmp_path / "set" / "s13.json"
    code, out, _ = run(capsys, "trace", "--seed", "9", "--roster", str(roster), "--sheet", str(leaked))
    assert code == 0 and out.strip() == "s13"
    token = json.loads(leaked.read_text())["problems"][0]["token"]
    code, out, _ = run(capsys, "trace", "--seed", "9", "--roster", str(roster), "--token", token)
    assert out.strip() == "s13"
    code, _, err = run(capsys, "trace", "--seed", "10", "--roster", str(roster), "--sheet", str(leaked))
    assert code == 1 and "no student" in err


@pytest.mark.parametrize("argv", [
    ["generate", "--seed", "1", "--students", "2", "--problems", "no_such_type", "--out", "{tmp}"],
    ["generate", "--seed", "-4", "--students", "2", "--out", "{tmp}"],
    ["generate", "--seed", "1", "--roster", "{tmp}/missing.csv", "--out", "{tmp}"],
    ["generate", "--seed", "1", "--students", "2", "--problems", "@{tmp}/nope.json", "--out", "{tmp}"],
    ["grade", "{tmp}/missing.json"],
    ["grade", "{tmp}/bad.json"],
    ["grade", "{tmp}/tampered.json"],
])
def test_errors_exit_2_with_a_message_not_a_traceback(capsys, tmp_path, argv):
    (tmp_path / "bad.json").write_text("{nope")
    (tmp_path / "tampered.json").write_text(json.dumps({"token": "abc.def", "answers": {}}))
    code, _, err = run(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert code == 2
    assert err.startswith("gradsheet: error: ") and "Traceback" not in err

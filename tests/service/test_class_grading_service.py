"""POST /v1/problem-sets/grade: a class's answers files graded at once, for the
instructor's token only, bounded by the set-size limit."""

import csv
import io

import pytest

from service import create_app

SECRET = "class-grading-secret"
TOKEN = "class-grading-instructor-token"
SET = {"seed": 11, "students": ["ada", "alan"], "problems": ["conv_output_size",
                                                             "gate_gradient"]}


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("GRADSHEET_SECRET", SECRET)


def app_client(**config):
    return create_app({"warmup": "off", "secret": SECRET, "instructor_tokens": TOKEN,
                       **config}).test_client()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def submissions(client):
    key = client.post("/v1/problem-sets", json={**SET, "include_answers": True},
                      headers=AUTH).get_json()
    out = []
    for sheet in key["sheets"]:
        problems = [{"token": p["token"], "answers": p["answers"]} for p in sheet["problems"]]
        if sheet["student"] == "alan":
            problems[0]["answers"]["output_size"] += 1
        out.append({"name": f"upload-{sheet['student']}.json",
                    "answers": {"student": sheet["student"], "problems": problems}})
    return out


def test_a_class_is_graded_into_per_student_results_and_a_gradebook():
    client = app_client()
    resp = client.post("/v1/problem-sets/grade", json={"submissions": submissions(client)},
                       headers=AUTH)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    by_student = {s["student"]: s for s in body["students"]}
    # conv_output_size 3 points + gate_gradient 2 points; alan's output size is wrong
    assert by_student["ada"]["score"] == 5 and by_student["alan"]["score"] == 4
    rows = list(csv.DictReader(io.StringIO(body["csv"])))
    assert [(r["Student"], r["P1 (3 pts)"], r["gradsheet percent"]) for r in rows] == [
        ("ada", "3", "100.00"), ("alan", "2", "80.00")]


def test_class_grading_needs_the_instructor_token():
    client = app_client()
    resp = client.post("/v1/problem-sets/grade", json={"submissions": submissions(client)})
    assert resp.status_code == 401


def test_class_grading_is_bounded_by_the_set_size_limit():
    four = submissions(app_client())      # 2 students x 2 problems
    client = app_client(max_set_problems=3)
    resp = client.post("/v1/problem-sets/grade", json={"submissions": four}, headers=AUTH)
    assert resp.status_code == 422
    assert resp.get_json()["limit"] == "max_set_problems"

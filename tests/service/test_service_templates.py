"""Templates over REST (inline in /v1/problem-sets, /v1/grade, /v1/templates/check) and
on the command line (check-template, generate --templates, grade --templates)."""

from __future__ import annotations

import json

import pytest
import yaml

from service import create_app
from service.cli import main
from tests.worksheets.test_templates import TANH

SECRET = "template-service-secret"
TOKEN = "template-service-instructor"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("GRADSHEET_SECRET", SECRET)


@pytest.fixture(scope="module")
def client():
    return create_app({"warmup": "off", "secret": SECRET,
                       "instructor_tokens": TOKEN}).test_client()


def test_an_inline_template_makes_a_set_whose_tokens_grade_with_it_and_only_with_it(client):
    template = yaml.safe_load(TANH)
    resp = client.post("/v1/problem-sets", headers=AUTH, json={
        "seed": 3, "students": 2, "problems": ["tanh-neuron"], "templates": [template],
        "include_answers": True})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    p = resp.get_json()["sheets"][1]["problems"][0]
    graded = client.post("/v1/grade", json={"token": p["token"], "answers": p["answers"],
                                            "templates": [template]}).get_json()
    assert graded["score"] == graded["max_score"] == 11
    changed = dict(template, upstream=2)
    refused = client.post("/v1/grade", json={"token": p["token"], "answers": p["answers"],
                                             "templates": [changed]})
    assert refused.status_code == 422
    assert "another version of the template" in refused.get_json()["detail"]


def test_a_bad_inline_template_is_a_422_naming_its_field(client):
    template = yaml.safe_load(TANH.replace("values: [z, h, f]", "values: [z, q]"))
    resp = client.post("/v1/problem-sets", json={"seed": 3, "students": 2,
                                                 "problems": ["tanh-neuron"],
                                                 "templates": [template]})
    assert resp.status_code == 422
    assert "templates[0].ask.values[1]" in resp.get_json()["errors"]


def test_templates_check_reports_the_rejection_rate_by_condition(client):
    resp = client.post("/v1/templates/check", json={"templates": [yaml.safe_load(TANH)]})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    report = resp.get_json()["templates"][0]
    assert report["id"] == "tanh-neuron" and report["variants"] == 200
    assert 0 < report["rejection_rate"] < 0.5
    assert report["draws"] == 200 + sum(report["refused"].values())


def test_check_template_prints_the_stress_test_and_a_sample(capsys, tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(TANH)
    assert main(["check-template", str(path), "--variants", "300"]) == 0
    out = capsys.readouterr().out
    assert "tanh-neuron: 300 variants in" in out and "key: {\"values\"" in out


def test_check_template_reports_a_located_error(capsys, tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(TANH.replace("tanh(z)", "tahn(z)"))
    assert main(["check-template", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}, line 3, column 1: graph: unknown op 'tahn'; did you mean 'tanh'" in err
    assert "(in the graph: line 1, column 18)" in err


def test_generate_with_templates_and_grade_with_them(capsys, tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(TANH)
    out = tmp_path / "set"
    assert main(["generate", "--seed", "4", "--students", "2", "--templates", str(path),
                 "--problems", "tanh-neuron,conv_output_size", "--out", str(out)]) == 0
    key = json.loads((out / "answer-key.json").read_text())
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps([{"token": p["token"], "answers": p["answers"]}
                                   for p in key["sheets"][0]["problems"]]))
    capsys.readouterr()
    assert main(["grade", str(answers), "--templates", str(path)]) == 0
    assert "total: 14 / 14" in capsys.readouterr().out
    assert main(["grade", str(answers)]) == 2
    assert "send that template" in capsys.readouterr().err

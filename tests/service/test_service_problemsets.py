"""/v1/problem-types, /v1/problem-sets, /v1/grade and /v1/problem-sets/trace, through
Flask's test client, and once over HTTP against gunicorn with two workers (any worker
grades any token)."""

from __future__ import annotations

import copy
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from service import create_app
from service.local_server import call, local_server
from tests.worksheets.stated_tolerances import asked

PROBLEM = "application/problem+json"
SECRET = "service-test-secret"
INSTRUCTOR_TOKEN = "service-test-instructor-token"
AUTH = {"Authorization": f"Bearer {INSTRUCTOR_TOKEN}"}


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("GRADSHEET_SECRET", SECRET)


@pytest.fixture(scope="module")
def client():
    # The app reads GRADSHEET_SECRET once, with its other settings; this module-scoped
    # app is made before the per-test environment above, so it gets the secret here.
    return create_app({"warmup": "off", "secret": SECRET,
                       "instructor_tokens": INSTRUCTOR_TOKEN}).test_client()


def problem(resp, status: int) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.content_type == PROBLEM
    return resp.get_json()


def make_set(client, **body):
    resp = client.post("/v1/problem-sets", json={"seed": 7, "students": 3, **body}, headers=AUTH)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def test_problem_types_lists_the_six_types_with_their_options(client):
    resp = client.get("/v1/problem-types")
    assert resp.status_code == 200
    types = resp.get_json()["types"]
    assert [t["id"] for t in types] == ["conv_output_size", "conv_same_padding", "graph_backprop",
                                        "logistic_regression", "gate_gradient", "conv1d_backprop"]
    assert all(t["title"] and t["description"] for t in types)
    difficulty = types[2]["options"]["difficulty"]
    assert difficulty["type"] == "integer" and difficulty["default"] == 2
    assert (difficulty["minimum"], difficulty["maximum"]) == (1, 5)


def test_a_set_with_answers_has_a_sheet_per_student_and_a_key_per_problem(client):
    body = make_set(client, students=["ada", "alan"], include_answers=True)
    assert body["seed"] == 7 and body["version"].startswith("gradsheet-problems/")
    assert [s["student"] for s in body["sheets"]] == ["ada", "alan"]
    for sheet in body["sheets"]:
        assert len(sheet["problems"]) == 6
        for p in sheet["problems"]:
            assert {"id", "type", "statement", "parameters", "token", "answers", "solution"} <= p.keys()
            assert p["id"].startswith(sheet["variant"])


def test_without_include_answers_no_problem_carries_answers(client):
    for body in (make_set(client), make_set(client, include_answers=False)):
        for sheet in body["sheets"]:
            assert all("answers" not in p and "solution" not in p for p in sheet["problems"])


def test_the_same_request_gives_the_same_body(client):
    a = client.post("/v1/problem-sets", json={"seed": 3, "students": 4, "include_answers": True},
                    headers=AUTH)
    b = client.post("/v1/problem-sets", json={"seed": 3, "students": 4, "include_answers": True},
                    headers=AUTH)
    assert a.get_data() == b.get_data()


def test_graph_answers_are_exactly_what_evaluate_computes(client):
    body = make_set(client, students=20, include_answers=True,
                    problems=[{"type": "graph_backprop"},
                              {"type": "graph_backprop", "families": ["random"], "difficulty": 4}])
    for sheet in body["sheets"]:
        for p in sheet["problems"]:
            q, a = p["parameters"], p["answers"]
            ev = client.post("/v1/evaluate", json={"graph": q["graph"], "inputs": q["inputs"],
                                                   "learning_rate": q["learning_rate"],
                                                   "wrt": q["wrt"]}).get_json()
            # the key is evaluate's answer as a key stores it: 12 significant digits, and
            # a value that is 0 up to rounding noise is 0
            for part, want in (("values", ev["values"]), ("gradients", ev["gradients"]),
                               ("step", ev["step"]["inputs"])):
                assert a[part].keys() == want.keys()
                for name, v in want.items():
                    assert a[part][name] == float(f"{v:.12g}") or \
                        (a[part][name] == 0 and abs(v) < 1e-12), (part, name, v)


def test_conv_answers_are_what_the_conv_endpoints_compute(client):
    body = make_set(client, students=10, include_answers=True,
                    problems=["conv1d_backprop", "conv_output_size"])
    for sheet in body["sheets"]:
        conv, geometry = sheet["problems"]
        got = client.post("/v1/conv1d", json=conv["parameters"]).get_json()
        assert {k: got[k] for k in ("output", "grad_input", "grad_weight")} == conv["answers"]
        g = client.post("/v1/conv1d/geometry", json=geometry["parameters"]).get_json()
        assert g["output_size"] == geometry["answers"]["output_size"]
        assert g["windows"] == geometry["answers"]["windows"]
        assert g["centers"] == geometry["answers"]["centers"]


def asked_parts(p) -> list:
    """The parts a problem's statement asks for, as the grader names them: one per
    number of a graph problem's maps, one per top-level answer otherwise."""
    per_name = p["type"] in ("graph_backprop", "logistic_regression")
    names = [f"{path[0]}.{path[1]}" if per_name and len(path) > 1 else path[0]
             for path, _, _ in asked(p)]
    return list(dict.fromkeys(names))


def test_grading_a_problems_own_answers_scores_full_marks(client):
    body = make_set(client, include_answers=True)
    for p in body["sheets"][1]["problems"]:
        resp = client.post("/v1/grade", json={"token": p["token"], "answers": p["answers"]})
        assert resp.status_code == 200
        result = resp.get_json()
        # full marks: every part right (points per part come from worksheets' table)
        assert result["score"] == result["max_score"] > 0
        assert [part["part"] for part in result["parts"]] == asked_parts(p), p["type"]
        assert all(part["correct"] and part["credit"] == 1.0 for part in result["parts"])


def test_grading_a_wrong_step_names_the_sign(client):
    body = make_set(client, include_answers=True, problems=[{"type": "graph_backprop",
                                                             "families": ["sum_times"]}])
    p = body["sheets"][0]["problems"][0]
    answers = copy.deepcopy(p["answers"])
    lr = p["parameters"]["learning_rate"]
    answers["step"]["y"] = p["parameters"]["inputs"]["y"] + lr * answers["gradients"]["y"]
    result = client.post("/v1/grade", json={"token": p["token"], "answers": answers}).get_json()
    steps = [part for part in result["parts"] if part["part"].startswith("step.")]
    # one of the step's numbers wrong: the step's point shared among them
    assert result["score"] == pytest.approx(result["max_score"] - 1 / len(steps))
    step = next(part for part in result["parts"] if part["part"] == "step.y")
    assert step["credit"] == 0 and "wrong sign" in step["feedback"]
    assert step["expected"] == p["answers"]["step"]["y"]


def test_a_tampered_or_foreign_token_is_a_422(client):
    p = make_set(client)["sheets"][0]["problems"][0]
    body = problem(client.post("/v1/grade", json={"token": p["token"][:-4] + "AAAA",
                                                  "answers": {}}), 422)
    assert "token" in body["errors"] and "signature" in body["detail"]
    other = create_app({"warmup": "off", "secret": "a different deployment"}).test_client()
    body = problem(other.post("/v1/grade", json={"token": p["token"], "answers": {}}), 422)
    assert "another GRADSHEET_SECRET" in body["errors"]["token"][0]


@pytest.mark.parametrize("answers, path", [
    ({"values": {"zz": 1}}, "answers.values.zz"),
    ({"values": {"f": "12"}}, "answers.values.f"),
    ({"gradients": [1, 2]}, "answers.gradients"),
    ({"colour": 1}, "answers.colour"),
])
def test_answers_of_the_wrong_shape_are_a_422_naming_the_field(client, answers, path):
    body = make_set(client, problems=[{"type": "graph_backprop", "families": ["sum_times"]}])
    token = body["sheets"][0]["problems"][0]["token"]
    err = problem(client.post("/v1/grade", json={"token": token, "answers": answers}), 422)
    assert list(err["errors"]) == [path]


@pytest.mark.parametrize("request_body, path", [
    ({"seed": 1, "students": 2, "problems": ["nope"]}, "problems[0].type"),
    ({"seed": 1, "students": 2, "problems": [{"type": "gate_gradient", "gates": ["max"]}]},
     "problems[0].gates[0]"),
    ({"seed": 1, "students": 2, "problems": [{"type": "graph_backprop", "difficulty": 0}]},
     "problems[0].difficulty"),
    ({"seed": -1, "students": 2}, "seed"),
    ({"seed": 2 ** 60, "students": 2}, "seed"),
    ({"seed": 1, "students": ["a", "a"]}, "students[1]"),
    ({"seed": 1, "students": 20_000}, "students"),
    ({"seed": 1, "students": 2, "include_answers": "yes"}, "include_answers"),
    ({"seed": 1, "students": 2, "problems": "graph_backprop"}, "problems"),
    ({"students": 2}, "seed"),
])
def test_a_bad_set_request_is_a_422_naming_the_field(client, request_body, path):
    err = problem(client.post("/v1/problem-sets", json=request_body), 422)
    assert path in err["errors"], err


def test_trace_finds_the_student_of_a_leaked_token(client):
    roster = [f"student{i}@uni.edu" for i in range(30)]
    body = make_set(client, students=roster)
    token = body["sheets"][21]["problems"][4]["token"]
    resp = client.post("/v1/problem-sets/trace", json={"seed": 7, "students": roster, "token": token},
                       headers=AUTH)
    assert resp.status_code == 200 and resp.get_json() == {"students": ["student21@uni.edu"]}
    variant = body["sheets"][5]["variant"]
    resp = client.post("/v1/problem-sets/trace", json={"seed": 7, "students": roster,
                                                       "variant": variant}, headers=AUTH)
    assert resp.get_json() == {"students": ["student5@uni.edu"]}
    problem(client.post("/v1/problem-sets/trace", json={"seed": 7, "students": roster},
                        headers=AUTH), 422)


# --- over HTTP: any worker grades any token ----------------------------------------------

@pytest.fixture(scope="module")
def served():
    # every worker must share the secret, or a token from one would fail on the other
    with local_server(2, threads=4, env={"GRADSHEET_SECRET": SECRET,
                                          "GRADSHEET_INSTRUCTOR_TOKENS": INSTRUCTOR_TOKEN}) as server:
        yield server.base


def test_over_http_a_set_is_graded_by_either_worker(served):
    status, _, raw = call(served, "/v1/problem-sets", {"seed": 11, "students": 4,
                                                       "include_answers": True}, headers=AUTH)
    assert status == 200
    problems = [p for sheet in json.loads(raw)["sheets"] for p in sheet["problems"]]

    def grade(p):
        status, _, raw = call(served, "/v1/grade", {"token": p["token"], "answers": p["answers"]})
        return status, json.loads(raw)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(grade, problems * 3))  # 72 requests over both workers
    assert all(status == 200 and r["score"] == r["max_score"] for status, r in results)
    status, headers, raw = call(served, "/v1/grade", {"token": "x.y", "answers": {}})
    assert status == 422 and headers["Content-Type"] == PROBLEM


def test_over_http_answer_keys_need_the_instructor_token_and_refusals_come_at_once(served):
    body = {"seed": 7, "students": ["alice"], "include_answers": True}
    for headers, status in (({}, 401), ({"Authorization": "Bearer "}, 401),
                            ({"Authorization": "Bearer wrong-token-of-some-length"}, 401)):
        started = time.monotonic()
        got, response_headers, raw = call(served, "/v1/problem-sets", body, headers=headers)
        assert time.monotonic() - started < 1
        assert got == status and response_headers["Content-Type"] == PROBLEM
        assert response_headers["WWW-Authenticate"].startswith("Bearer")
        assert b'"answers"' not in raw
    status, _, raw = call(served, "/v1/problem-sets", body, headers=AUTH)
    assert status == 200 and "answers" in json.loads(raw)["sheets"][0]["problems"][0]

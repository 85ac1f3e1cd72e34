"""Answer keys for instructors only, grading that is not an oracle, and no service
without a secret: the attacks of the security review, each refused with problem+json."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import time

import orjson
import pytest
from itsdangerous import Signer

from service import create_app
from service.cli.server import service_environment
from service.local_server import ROOT, call, local_server
from worksheets.seeding import DEVELOPMENT_SECRET, keys
from worksheets.tokens import TokenSigner

PROBLEM = "application/problem+json"
SECRET = "security-test-secret"
TOKENS = ("first-instructor-token", "second-instructor-token")
SET = {"seed": 7, "students": ["alice", "bob"],
       "problems": ["conv_output_size", "graph_backprop"]}
# Every request that reveals answers or identifies students.
INSTRUCTOR_REQUESTS = [
    ("/v1/problem-sets", {**SET, "include_answers": True}),
    ("/v1/problem-sets", {**SET, "include_answers": True, "format": "moodle"}),
    ("/v1/problem-sets", {**SET, "include_answers": True, "format": "qti"}),
    ("/v1/problem-sets", {**SET, "include_answers": True, "format": "markdown"}),
    ("/v1/problem-sets/trace", {"seed": 7, "students": ["alice", "bob"], "variant": "0" * 16}),
]


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("GRADSHEET_SECRET", SECRET)


def app_client(**config):
    # the app reads its secret once, with its other settings: a module-scoped app is
    # made before the per-test environment above, so it is given the secret here
    return create_app({"warmup": "off", "secret": SECRET, "instructor_tokens": ",".join(TOKENS),
                       **config}).test_client()


@pytest.fixture(scope="module")
def client():
    return app_client()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def problem(resp, status: int) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.content_type == PROBLEM
    return resp.get_json()


def sheet(client, include_answers=False, **body):
    headers = bearer(TOKENS[0]) if include_answers else {}
    resp = client.post("/v1/problem-sets", json={**SET, "include_answers": include_answers,
                                                 **body}, headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()["sheets"][0]["problems"]


# --- instructor endpoints --------------------------------------------------------------

@pytest.mark.parametrize("path, body", INSTRUCTOR_REQUESTS)
@pytest.mark.parametrize("headers, error", [
    ({}, None),
    (bearer("not-an-instructor-token"), "invalid_token"),
    ({"Authorization": "Bearer "}, "invalid_token"),
    ({"Authorization": "Bearer"}, "invalid_token"),
    ({"Authorization": f"Basic {TOKENS[0]}"}, None),
    (bearer(TOKENS[0][:-1]), "invalid_token"),
])
def test_instructor_requests_without_a_right_bearer_are_401(client, path, body, headers, error):
    resp = client.post(path, json=body, headers=headers)
    err = problem(resp, 401)
    assert err["type"] == "/problems/unauthorized"
    challenge = resp.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert ('error="invalid_token"' in challenge) == (error is not None)
    assert "answers" not in resp.get_data(as_text=True).replace("reveals answers", "")


@pytest.mark.parametrize("path, body", INSTRUCTOR_REQUESTS)
def test_with_no_instructor_token_configured_they_are_403_saying_what_to_set(path, body):
    client = app_client(instructor_tokens="")
    for headers in ({}, bearer(TOKENS[0])):
        err = problem(client.post(path, json=body, headers=headers), 403)
        assert err["type"] == "/problems/instructor-access-off"
        assert "GRADSHEET_INSTRUCTOR_TOKENS" in err["detail"]


@pytest.mark.parametrize("token", TOKENS)
def test_either_configured_token_opens_them(client, token):
    for path, body in INSTRUCTOR_REQUESTS:
        resp = client.post(path, json=body, headers=bearer(token))
        assert resp.status_code == 200, (path, body, resp.get_data(as_text=True)[:300])
    problems = sheet(client, include_answers=True)
    assert all("answers" in p for p in problems)


def test_student_sheets_and_grading_stay_open_without_any_token():
    for client in (app_client(), app_client(instructor_tokens="")):
        problems = sheet(client)
        assert all("answers" not in p and "solution" not in p for p in problems)
        resp = client.post("/v1/grade", json={"token": problems[0]["token"],
                                              "answers": {"output_size": 1}})
        assert resp.status_code == 200
        assert client.get("/v1/problem-types").status_code == 200


def test_a_short_instructor_token_stops_the_app_naming_the_setting():
    with pytest.raises(ValueError, match="GRADSHEET_INSTRUCTOR_TOKENS: token 2 has 5"):
        create_app({"warmup": "off", "instructor_tokens": f"{TOKENS[0]}, short"})


def test_openapi_declares_the_bearer_scheme_on_the_instructor_operations(client):
    doc = client.get("/openapi.json").get_json()
    schemes = doc["components"]["securitySchemes"]
    (name, scheme), = schemes.items()
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    paths = doc["paths"]
    assert paths["/v1/problem-sets/trace"]["post"]["security"] == [{name: []}]
    # a set needs the token only with answers: the empty requirement is the other choice
    assert paths["/v1/problem-sets"]["post"]["security"] == [{}, {name: []}]
    assert "security" not in paths["/v1/grade"]["post"]
    for path in ("/v1/problem-sets", "/v1/problem-sets/trace"):
        assert {"401", "403"} <= set(paths[path]["post"]["responses"])
    assert "429" in paths["/v1/grade"]["post"]["responses"]


# --- grading -----------------------------------------------------------------------------

def test_grade_shows_the_expected_answers_only_for_practice_tokens(client):
    practice = sheet(client, include_answers=True)[0]
    result = client.post("/v1/grade", json={"token": practice["token"],
                                            "answers": {"output_size": -1}}).get_json()
    expected = {part["part"]: part.get("expected") for part in result["parts"]}
    assert expected["output_size"] == practice["answers"]["output_size"]
    student = sheet(client)[0]
    assert student["token"] != practice["token"]
    result = client.post("/v1/grade", json={"token": student["token"],
                                            "answers": {"output_size": -1}}).get_json()
    assert result["score"] == 0 and all("expected" not in part for part in result["parts"])


def test_grading_one_problem_past_its_limit_is_429_with_retry_after():
    client = app_client(grade_limit_per_problem="3 per minute")
    token = sheet(client)[0]["token"]
    # The same problem through another token (its default options given explicitly)
    # shares the count: the limit is per problem, not per token string.
    other = sheet(client, problems=[{"type": "conv_output_size", "exact": True},
                                    "graph_backprop"])[0]["token"]
    assert other != token
    statuses = [client.post("/v1/grade", json={"token": t, "answers": {"output_size": n}}
                            ).status_code for n, t in enumerate([token, other, token])]
    assert statuses == [200, 200, 200]
    started = time.monotonic()
    resp = client.post("/v1/grade", json={"token": other, "answers": {"output_size": 4}})
    assert time.monotonic() - started < 1
    err = problem(resp, 429)
    assert err["type"] == "/problems/too-many-requests"
    assert "3 per minute" in err["detail"] and "problem" in err["detail"]
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    # another student's problem is counted apart
    bob = client.post("/v1/problem-sets", json={**SET, "students": ["bob"]}).get_json()
    resp = client.post("/v1/grade", json={"token": bob["sheets"][0]["problems"][0]["token"],
                                          "answers": {"output_size": 4}})
    assert resp.status_code == 200


def test_grading_from_one_address_past_its_limit_is_429():
    client = app_client(grade_limit_per_address="4 per minute")
    tokens = [client.post("/v1/problem-sets", json={**SET, "students": [s]}).get_json()
              ["sheets"][0]["problems"][0]["token"] for s in "abcde"]
    statuses = [client.post("/v1/grade", json={"token": t, "answers": {"output_size": 1}}
                            ).status_code for t in tokens[:4]]
    assert statuses == [200] * 4
    resp = client.post("/v1/grade", json={"token": tokens[4], "answers": {"output_size": 1}})
    err = problem(resp, 429)
    assert "address" in err["detail"] and "4 per minute" in err["detail"]
    assert int(resp.headers["Retry-After"]) >= 1


def test_practice_tokens_are_not_counted():
    client = app_client(grade_limit_per_problem="2 per minute",
                        grade_limit_per_address="2 per minute")
    practice = sheet(client, include_answers=True)[0]
    for _ in range(6):
        resp = client.post("/v1/grade", json={"token": practice["token"],
                                              "answers": practice["answers"]})
        assert resp.status_code == 200 and resp.get_json()["score"] == 3


def test_with_its_redis_gone_a_worker_counts_gradings_in_memory_rather_than_not_at_all():
    # nothing listens on port 9: every call to the storage fails
    client = app_client(grade_limit_per_problem="2 per minute",
                        ratelimit_storage_uri="redis://127.0.0.1:9/0")
    token = sheet(client)[0]["token"]
    statuses = [client.post("/v1/grade", json={"token": token, "answers": {"output_size": 1}}
                            ).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_an_unreadable_token_counts_against_its_address_and_is_refused():
    client = app_client(grade_limit_per_address="2 per minute")
    bad = [client.post("/v1/grade", json={"token": "not.a-token", "answers": {}}).status_code
           for _ in range(3)]
    assert bad == [422, 422, 429]


def test_a_limit_that_cannot_be_read_stops_the_app_naming_the_setting():
    with pytest.raises(ValueError, match="GRADSHEET_GRADE_LIMIT_PER_PROBLEM: 'often'"):
        app_client(grade_limit_per_problem="often")


def signed_with(secret: str, payload: list) -> str:
    signer = Signer(keys(secret.encode()).token, salt=b"gradsheet.problem",
                    digest_method=hashlib.sha256, key_derivation="none")
    return signer.sign(base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=")).decode()


def test_a_token_forged_with_the_development_secret_is_refused(client):
    real = sheet(client)[0]["token"]
    payload = orjson.loads(base64.urlsafe_b64decode(real.split(".")[0] + "=="))
    payload[5] = 1  # reveal: the forger wants the expected answers
    err = problem(client.post("/v1/grade", json={"token": signed_with(DEVELOPMENT_SECRET, payload),
                                                 "answers": {"output_size": 1}}), 422)
    assert "another GRADSHEET_SECRET" in err["errors"]["token"][0]


@pytest.mark.parametrize("change, message", [
    ({"index": 2 ** 62}, "names problem 4611686018427387904 of its sheet"),
    ({"options": {"speed": 3}}, "conv_output_size has no option 'speed'"),
])
def test_a_signed_token_no_sheet_could_hold_is_refused(client, change, message):
    real = TokenSigner(keys(SECRET.encode())).read(sheet(client)[0]["token"])
    token = TokenSigner(keys(SECRET.encode())).sign(
        **{"variant": real.variant, "index": real.index, "type_id": real.type_id,
           "options": real.options, "reveal": real.reveal, **change})
    err = problem(client.post("/v1/grade", json={"token": token, "answers": {}}), 422)
    assert message in err["errors"]["token"][0]


# --- gradsheet serve -----------------------------------------------------------------------

def serve(*args, env: dict, timeout: float = 30) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("GRADSHEET_SECRET", "GRADSHEET_INSTRUCTOR_TOKENS", "GRADSHEET_ENV")}
    return subprocess.run([sys.executable, "-m", "service.cli", "serve", "--port", "1", *args],
                          cwd=ROOT, env={**environ, **env}, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("env, args, says", [
    ({}, (), "GRADSHEET_SECRET is not set"),
    ({"GRADSHEET_SECRET": DEVELOPMENT_SECRET, "GRADSHEET_INSTRUCTOR_TOKENS": TOKENS[0]}, (),
     "public development secret"),
    ({"GRADSHEET_SECRET": "short"}, (), "GRADSHEET_SECRET has 5 characters"),
    ({"GRADSHEET_SECRET": "x" * 32}, (), "GRADSHEET_INSTRUCTOR_TOKENS is not set"),
    ({"GRADSHEET_SECRET": "x" * 32, "GRADSHEET_INSTRUCTOR_TOKENS": "tiny"}, (),
     "token 1 has 4 characters"),
    ({"GRADSHEET_SECRET": "x" * 32, "GRADSHEET_INSTRUCTOR_TOKENS": TOKENS[0],
      "GRADSHEET_GRADE_LIMIT_PER_ADDRESS": "lots"}, (), "GRADSHEET_GRADE_LIMIT_PER_ADDRESS"),
])
def test_serve_refuses_to_start_without_what_service_mode_needs(env, args, says):
    result = serve(*args, env=env)
    assert result.returncode != 0
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_dev_starts_without_a_secret_warns_loudly_and_serves_student_sheets():
    env = {"GRADSHEET_SECRET": None, "GRADSHEET_INSTRUCTOR_TOKENS": None}
    with local_server(1, threads=2, env=env, args=("--dev",)) as server:
        base = server.base
        log = server.log()
        assert "DEVELOPMENT MODE" in log and "PUBLIC development secret" in log
        status, _, raw = call(base, "/v1/problem-sets", SET)
        assert status == 200
        # signed with the development secret, as the warning says
        token = json.loads(raw)["sheets"][0]["problems"][0]["token"]
        assert TokenSigner(keys(DEVELOPMENT_SECRET.encode())).read(token).index == 0
        started = time.monotonic()
        status, headers, raw = call(base, "/v1/problem-sets", {**SET, "include_answers": True})
        assert time.monotonic() - started < 1
        assert status == 403 and headers["Content-Type"] == PROBLEM
        assert "GRADSHEET_INSTRUCTOR_TOKENS" in json.loads(raw)["detail"]


def test_serve_no_instructor_starts_without_tokens_and_answers_keys_with_403():
    env = {"GRADSHEET_INSTRUCTOR_TOKENS": "tiny, ignored"}
    with local_server(1, threads=2, env=env, args=("--no-instructor",)) as server:
        base = server.base
        status, headers, raw = call(base, "/v1/problem-sets/trace",
                                    {"seed": 7, "students": 2, "variant": "0" * 16},
                                    headers=bearer("tiny"))
        assert status == 403 and headers["Content-Type"] == PROBLEM
        assert call(base, "/v1/problem-sets", SET)[0] == 200


def test_make_run_keeps_a_private_secret_and_token_that_serve_accepts(tmp_path):
    env_file = tmp_path / "gradsheet" / "local.env"
    make = ["make", "-s", "-C", str(ROOT), f"LOCAL_ENV={env_file}", str(env_file)]
    subprocess.run(make, check=True, capture_output=True, timeout=60)
    first = env_file.read_text()
    assert env_file.stat().st_mode & 0o777 == 0o600
    values = dict(line.split("=", 1) for line in first.splitlines())
    assert set(values) == {"GRADSHEET_SECRET", "GRADSHEET_INSTRUCTOR_TOKENS"}
    assert values["GRADSHEET_SECRET"] != values["GRADSHEET_INSTRUCTOR_TOKENS"]
    subprocess.run(make, check=True, capture_output=True, timeout=60)
    assert env_file.read_text() == first  # made once, then kept
    # what `make run` then starts with passes serve's checks, which change nothing
    args = argparse.Namespace(dev=False, no_instructor=False)
    assert service_environment(args, values) == {}
    assert "/.gradsheet/" in (ROOT / ".gitignore").read_text().split()

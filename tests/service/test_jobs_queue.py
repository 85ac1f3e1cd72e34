"""The jobs' routes in the app, with a real `gradsheet worker` consuming the queue:
embedded SQLite here, and Redis against a real redis-server on a loopback port.
Auth, ownership between tokens, idempotency keys, the per-token cap, expiry and bad
input."""

from __future__ import annotations

import re

import io
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

from service import create_app
from service.local_server import ROOT, free_port

ALICE, BOB = secrets.token_urlsafe(20), secrets.token_urlsafe(20)
SECRET = secrets.token_urlsafe(32)
EXPIRY = 4


def _settings(jobs_dir: str, queue_url: str = "") -> dict:
    return {"GRADSHEET_JOBS_DIR": jobs_dir, "GRADSHEET_JOBS_QUEUE_URL": queue_url,
            "GRADSHEET_JOBS_RESULT_SECONDS": str(EXPIRY), "GRADSHEET_JOBS_PER_TOKEN": "2",
            "GRADSHEET_JOBS_MAX_PROBLEMS": "600", "GRADSHEET_JOBS_LEASE_SECONDS": "4"}


def _worker(settings: dict, workers: int = 1) -> subprocess.Popen:
    env = {**os.environ, **settings, "GRADSHEET_SECRET": SECRET}
    return subprocess.Popen([sys.executable, "-m", "service.cli", "worker", "--workers",
                             str(workers)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _client(settings: dict):
    app = create_app({"warmup": "off", "instructor_tokens": f"{ALICE},{BOB}", **settings})
    return app.test_client()


def _as(token):
    return {"Authorization": f"Bearer {token}"}


def _wait(client, job_id, token=ALICE, timeout=240.0):
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/v1/jobs/{job_id}", headers=_as(token)).json
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


@pytest.fixture(scope="module")
def embedded():
    jobs_dir = tempfile.mkdtemp(prefix="gradsheet-jobs-queue-")
    settings = _settings(jobs_dir)
    proc = _worker(settings)
    try:
        yield _client(settings), jobs_dir
    finally:
        _stop(proc)
        shutil.rmtree(jobs_dir, ignore_errors=True)


def test_every_jobs_route_needs_an_instructor_token(embedded):
    client, _ = embedded
    body = {"seed": 1, "students": 2}
    for method, path in (("post", "/v1/jobs/problem-sets"), ("get", "/v1/jobs"),
                         ("get", "/v1/jobs/abcdefghijklmnopqrstuvwx"),
                         ("get", "/v1/jobs/abcdefghijklmnopqrstuvwx/result"),
                         ("delete", "/v1/jobs/abcdefghijklmnopqrstuvwx")):
        for headers in ({}, _as("not-a-token-of-this-server")):
            reply = getattr(client, method)(path, json=body, headers=headers)
            assert reply.status_code == 401, (method, path, reply.json)
            assert reply.headers["Content-Type"] == "application/problem+json"


def test_a_job_answers_only_the_token_that_submitted_it(embedded):
    client, _ = embedded
    reply = client.post("/v1/jobs/problem-sets", json={"seed": 2, "students": 2},
                        headers=_as(ALICE))
    job_id = reply.json["id"]
    # 128 random bits, in hex: unguessable, and never read as a command-line option
    assert re.fullmatch(r"[0-9a-f]{32}", job_id)
    assert _wait(client, job_id)["status"] == "done"
    for method, path in (("get", f"/v1/jobs/{job_id}"), ("get", f"/v1/jobs/{job_id}/result"),
                         ("delete", f"/v1/jobs/{job_id}")):
        assert getattr(client, method)(path, headers=_as(BOB)).status_code == 404
    assert job_id not in [j["id"] for j in client.get("/v1/jobs", headers=_as(BOB)).json["jobs"]]
    assert job_id in [j["id"] for j in client.get("/v1/jobs", headers=_as(ALICE)).json["jobs"]]


def test_an_idempotency_key_gives_the_same_job_back_for_its_token_only(embedded):
    client, _ = embedded
    body = {"seed": 3, "students": ["ada", "alan"], "format": "json,moodle"}
    key = {"Idempotency-Key": "week-3-set"}
    first = client.post("/v1/jobs/problem-sets", json=body, headers={**_as(ALICE), **key})
    again = client.post("/v1/jobs/problem-sets", json=body, headers={**_as(ALICE), **key})
    assert first.status_code == again.status_code == 202
    assert first.json["id"] == again.json["id"]
    other = client.post("/v1/jobs/problem-sets", json=body, headers={**_as(BOB), **key})
    assert other.status_code == 202 and other.json["id"] != first.json["id"]
    changed = client.post("/v1/jobs/problem-sets", json={**body, "seed": 4},
                          headers={**_as(ALICE), **key})
    assert changed.status_code == 422 and "Idempotency-Key" in changed.json["errors"]
    for token, reply in ((ALICE, first), (BOB, other)):
        job = _wait(client, reply.json["id"], token)
        assert job["status"] == "done"
        archive = zipfile.ZipFile(io.BytesIO(client.get(job["result_url"],
                                                        headers=_as(token)).data))
        assert sorted(archive.namelist()) == ["ada.json", "alan.json", "answer-key.json",
                                              "gradsheet-3-moodle.xml",
                                              "gradsheet-manifest.json"]
        key_file = json.loads(archive.read("answer-key.json"))
        assert [s["student"] for s in key_file["sheets"]] == ["ada", "alan"]


def test_results_expire_and_are_removed(embedded):
    client, jobs_dir = embedded
    job_id = client.post("/v1/jobs/problem-sets", json={"seed": 5, "students": 1},
                         headers=_as(ALICE)).json["id"]
    job = _wait(client, job_id)
    assert job["status"] == "done" and job["expires"] > time.time()
    assert client.get(job["result_url"], headers=_as(ALICE)).status_code == 200
    deadline = time.monotonic() + EXPIRY + 30
    while (Path(jobs_dir) / job_id).exists():   # the worker's sweeper removes it
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert client.get(f"/v1/jobs/{job_id}", headers=_as(ALICE)).status_code == 404
    assert client.get(f"/v1/jobs/{job_id}/result", headers=_as(ALICE)).status_code == 404


def test_a_token_has_at_most_its_cap_of_active_jobs_and_cancelling_a_queued_one_frees_it(
        tmp_path):
    # no worker on this directory: the jobs stay queued
    client = _client(_settings(str(tmp_path)))
    body = {"seed": 6, "students": 3}
    ids = [client.post("/v1/jobs/problem-sets", json=body, headers=_as(ALICE)).json["id"]
           for _ in range(2)]
    over = client.post("/v1/jobs/problem-sets", json=body, headers=_as(ALICE))
    assert over.status_code == 429 and over.headers["Retry-After"]
    assert client.post("/v1/jobs/problem-sets", json=body, headers=_as(BOB)).status_code == 202
    cancelled = client.delete(f"/v1/jobs/{ids[0]}", headers=_as(ALICE))
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert client.delete(f"/v1/jobs/{ids[0]}", headers=_as(ALICE)).json["status"] == "cancelled"
    assert client.post("/v1/jobs/problem-sets", json=body, headers=_as(ALICE)).status_code == 202


def test_bad_jobs_are_refused_at_submission_naming_the_field(tmp_path):
    client = _client(_settings(str(tmp_path)))
    cases = [({"seed": 1, "students": 101}, "students"),          # 101 x 6 > 600
             ({"seed": 1, "students": 2, "problems": ["nope"]}, "problems[0].type"),
             ({"seed": 1, "students": 2, "format": "docx"}, "format"),
             ({"seed": -1, "students": 2}, "seed"),
             ({"seed": 1, "students": ["a", "a"]}, "students[1]")]
    for body, field in cases:
        reply = client.post("/v1/jobs/problem-sets", json=body, headers=_as(ALICE))
        assert reply.status_code == 422, (body, reply.json)
        assert field in reply.json["errors"], (body, reply.json)
    too_many = client.post("/v1/jobs/problem-sets", json={"seed": 1, "students": 101},
                           headers=_as(ALICE)).json
    assert "(101 x 6) would be 606; the limit of one job is 600 (jobs_max_problems)" \
        in too_many["errors"]["students"][0]
    assert client.get("/v1/jobs", headers=_as(ALICE)).json["jobs"] == []


@pytest.fixture(scope="module")
def redis_url():
    """A real redis-server on a free loopback port, with nothing saved to disk."""
    server = shutil.which("redis-server")
    assert server, "redis-server is missing: `make test` installs it (apt-get install redis-server)"
    port = free_port()
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    import redis
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline and proc.poll() is None, "redis-server did not start"
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_with_redis_two_workers_share_the_queue_and_a_second_web_app_sees_the_job(
        redis_url, tmp_path):
    # Which worker takes a job is up to the queue: to see both take jobs from it, one
    # job is made while only the first worker runs and one while only the second does.
    # results kept long enough that the first job is still there once the second worker
    # (which sweeps expired results) has started and made the second, on a loaded machine
    settings = {**_settings(str(tmp_path), redis_url), "GRADSHEET_JOBS_RESULT_SECONDS": "600"}
    submitter, watcher = _client(settings), _client(settings)   # two web replicas
    workers, pids, archives = [], [], []
    try:
        for k in range(2):
            workers.append(_worker(settings))
            job_id = submitter.post("/v1/jobs/problem-sets",
                                    json={"seed": 9 + k, "students": 4, "format": "json"},
                                    headers=_as(ALICE)).json["id"]
            job = _wait(watcher, job_id)
            assert job["status"] == "done"
            # read at once: a result expires EXPIRY seconds after it is done, and the next
            # worker's start can take longer than that on a loaded machine
            pids.append(json.loads((tmp_path / job_id / "job.json").read_text())["worker"])
            archives.append(zipfile.ZipFile(io.BytesIO(watcher.get(
                job["result_url"], headers=_as(ALICE)).data)))
            _stop(workers[-1])
        assert len(set(pids)) == 2   # each job was made by the worker running then
        for archive in archives:
            assert len([n for n in archive.namelist() if n.startswith("student-")]) == 4
    finally:
        for proc in workers:
            _stop(proc)

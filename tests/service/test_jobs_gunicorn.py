"""Problem-set jobs through a real `gradsheet serve` (gunicorn, with its embedded Huey
consumer on SQLite): progress, the zip against the CLI's files, cancelling, a worker
killed mid-job, and a restart of the server mid-job."""

from __future__ import annotations

import io
import json
import os
import signal
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from service.local_server import call, local_server
from worksheets.set_folder import write_set

LEASE = 3


def _env(jobs_dir: str, **more) -> dict:
    return {"GRADSHEET_JOBS_DIR": jobs_dir, "GRADSHEET_JOBS_LEASE_SECONDS": str(LEASE),
            "GRADSHEET_JOBS_PER_TOKEN": "4", **more}


@pytest.fixture(scope="module")
def jobs_dir():
    with tempfile.TemporaryDirectory(prefix="gradsheet-jobs-test-") as d:
        yield d


@pytest.fixture(scope="module")
def server(jobs_dir):
    with local_server(workers=1, threads=4, env=_env(jobs_dir)) as s:
        yield s


def _submit(s, body, headers=None):
    status, head, data = call(s.base, "/v1/jobs/problem-sets", body,
                              headers={**s.auth, **(headers or {})})
    assert status == 202, data
    reply = json.loads(data)
    assert head["Location"] == reply["status_url"] == f"/v1/jobs/{reply['id']}"
    return reply["id"]


def _status(s, job_id):
    status, _, data = call(s.base, f"/v1/jobs/{job_id}", headers=s.auth)
    assert status == 200, data
    return json.loads(data)


def _wait(s, job_id, until, timeout=300.0, seen=None):
    """The job's status once `until(status)` holds; every status polled goes in `seen`."""
    deadline = time.monotonic() + timeout
    while True:
        job = _status(s, job_id)
        if seen is not None:
            seen.append(job)
        if until(job):
            return job
        assert time.monotonic() < deadline, f"job {job_id} stuck: {job}"
        time.sleep(0.1)


def _record(jobs_dir, job_id) -> dict:
    return json.loads((Path(jobs_dir) / job_id / "job.json").read_text())


def _delete(s, job_id):
    req = urllib.request.Request(s.base + f"/v1/jobs/{job_id}", method="DELETE", headers=s.auth)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, json.loads(resp.read())


def test_a_40_student_pdf_and_moodle_job_reports_progress_and_zips_the_clis_bytes(
        server, monkeypatch, tmp_path):
    job_id = _submit(server, {"seed": 11, "students": 40, "format": "pdf,moodle"})
    seen: list = []
    job = _wait(server, job_id, lambda j: j["status"] in ("done", "failed"), seen=seen)
    assert job["status"] == "done", job
    assert job["done"] == job["of"] == 40
    counts = [j["done"] for j in seen]
    assert counts == sorted(counts)
    assert len({c for c in counts if 0 < c < 40}) >= 3, counts   # progress came student by student
    status, head, data = call(server.base, job["result_url"], headers=server.auth)
    assert status == 200 and head["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(data))
    # the oracle: `gradsheet generate` with the server's secret, in this process
    monkeypatch.setenv("GRADSHEET_SECRET", server.secret)
    write_set(11, 40, None, "pdf,moodle", tmp_path)
    cli = {str(p.relative_to(tmp_path)): p.read_bytes() for p in tmp_path.rglob("*")
           if p.is_file()}
    assert sorted(archive.namelist()) == sorted(cli)
    students = [n for n in cli if n.startswith("student-") and n.endswith(".pdf")]
    assert len(students) == 40 and "answer-key.pdf" in cli and "gradsheet-11-moodle.xml" in cli
    for name, content in cli.items():
        assert archive.read(name) == content, name


SQUARE = {"id": "square-of-product", "title": "The square of a product",
          "graph": "z = w*x; f = z*z", "params": {"w": {"int": [1, 3]}, "x": {"int": [-3, -1]}},
          "ask": {"values": ["z", "f"], "gradients": ["w", "x"]}}


def test_a_job_sent_over_rest_with_a_template_makes_its_problems(server):
    job_id = _submit(server, {"seed": 4, "students": 12, "format": "json",
                              "problems": ["square-of-product"], "templates": [SQUARE]})
    job = _wait(server, job_id, lambda j: j["status"] in ("done", "failed"))
    assert job["status"] == "done", job
    status, _, data = call(server.base, job["result_url"], headers=server.auth)
    assert status == 200
    key = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("answer-key.json"))
    assert len(key["sheets"]) == 12
    for sheet in key["sheets"]:
        (problem,) = sheet["problems"]
        inputs = problem["parameters"]["inputs"]
        w, x = inputs["w"], inputs["x"]
        z = w * x  # worked by hand: f = z^2, df/dw = 2 z x, df/dx = 2 z w
        assert problem["answers"]["values"] == {"z": z, "f": z * z}
        assert problem["answers"]["gradients"] == {"w": 2 * z * x, "x": 2 * z * w}


def test_a_job_with_a_broken_template_is_refused_naming_the_field(server):
    status, _, data = call(server.base, "/v1/jobs/problem-sets", {
        "seed": 4, "students": 2, "problems": ["square-of-product"],
        "templates": [{**SQUARE, "graph": "z = w*x; f = z*q"}]}, headers=server.auth)
    assert status == 422, data
    assert json.loads(data)["errors"] == {
        "templates[0].params": ["the graph's input 'q' has no parameter: add params.q"]}


def test_cancelling_a_running_job_stops_it_within_a_student(server):
    job_id = _submit(server, {"seed": 3, "students": 300, "format": "pdf"})
    _wait(server, job_id, lambda j: j["done"] >= 2)
    status, job = _delete(server, job_id)
    asked_at = job["done"]
    assert status in (200, 202) and job["status"] in ("running", "cancelled")
    job = _wait(server, job_id, lambda j: j["status"] != "running", timeout=30)
    assert job["status"] == "cancelled"
    assert job["done"] <= asked_at + 2   # the student in hand, and one the poll raced
    status, _, data = call(server.base, f"/v1/jobs/{job_id}/result", headers=server.auth)
    assert status == 409 and json.loads(data)["type"] == "/problems/job-finished"


def test_a_killed_worker_is_retried_once_then_the_job_fails_with_a_problem(server, jobs_dir):
    # killed once: the second attempt finishes it
    job_id = _submit(server, {"seed": 5, "students": 30, "format": "pdf"})
    _wait(server, job_id, lambda j: j["done"] >= 1)
    os.kill(_record(jobs_dir, job_id)["worker"], signal.SIGKILL)
    job = _wait(server, job_id, lambda j: j["status"] in ("done", "failed"))
    assert job["status"] == "done" and job["done"] == 30
    assert _record(jobs_dir, job_id)["attempt"] == 2
    # killed on both attempts: failed, with the problem saying why, never left running
    job_id = _submit(server, {"seed": 6, "students": 200, "format": "pdf"})
    killed: list = []
    for attempt in (1, 2):
        # the retry's own worker, once it has taken the job (until then the record still
        # names the worker killed before)
        _wait(server, job_id, lambda j: j["done"] >= 1
              and _record(jobs_dir, job_id)["attempt"] == attempt
              and _record(jobs_dir, job_id)["worker"] not in killed)
        killed.append(_record(jobs_dir, job_id)["worker"])
        os.kill(killed[-1], signal.SIGKILL)
    job = _wait(server, job_id, lambda j: j["status"] in ("done", "failed"), timeout=60)
    assert job["status"] == "failed"
    assert job["error"]["type"] == "/problems/worker-lost" and job["error"]["status"] == 500
    assert "2 attempts" in job["error"]["detail"]


def test_a_job_survives_a_restart_of_gradsheet_serve(tmp_path):
    env = _env(str(tmp_path))
    with local_server(workers=1, threads=2, env=env) as first:
        job_id = _submit(first, {"seed": 8, "students": 60, "format": "pdf"})
        _wait(first, job_id, lambda j: j["done"] >= 1)
    # the server and its consumer are gone, the job with them mid-run
    assert _record(tmp_path, job_id)["status"] == "running"
    env.update(GRADSHEET_SECRET=first.secret, GRADSHEET_INSTRUCTOR_TOKENS=first.instructor_token)
    with local_server(workers=1, threads=2, env=env) as second:
        job = _wait(second, job_id, lambda j: j["status"] in ("done", "failed"))
    assert job["status"] == "done" and job["done"] == 60
    assert _record(tmp_path, job_id)["attempt"] == 2


def test_gradsheet_jobs_submits_watches_lists_and_downloads(server, monkeypatch, tmp_path,
                                                            capsys):
    from service.cli import main
    monkeypatch.setenv("GRADSHEET_INSTRUCTOR_TOKEN", server.instructor_token)
    monkeypatch.setenv("GRADSHEET_SERVER", server.base)
    roster = tmp_path / "roster.csv"
    roster.write_text("id\nada\nalan\n")
    assert main(["jobs", "submit", "--seed", "4", "--roster", str(roster),
                 "--format", "json", "--idempotency-key", "cli-test"]) == 0
    job_id = capsys.readouterr().out.strip()
    assert main(["jobs", "submit", "--seed", "4", "--roster", str(roster),
                 "--format", "json", "--idempotency-key", "cli-test"]) == 0
    assert capsys.readouterr().out.strip() == job_id
    assert main(["jobs", "watch", job_id, "--interval", "0.2"]) == 0
    assert capsys.readouterr().out.strip().endswith("done")
    assert main(["jobs", "list"]) == 0
    assert f"{job_id}  done       2/2 students" in capsys.readouterr().out
    assert main(["jobs", "download", job_id, "--out", str(tmp_path / "set.zip")]) == 0
    assert sorted(zipfile.ZipFile(tmp_path / "set.zip").namelist()) == [
        "ada.json", "alan.json", "answer-key.json", "gradsheet-manifest.json"]
    monkeypatch.setenv("GRADSHEET_INSTRUCTOR_TOKEN", "not-the-servers-token-at-all")
    assert main(["jobs", "list"]) == 2
    assert "401" in capsys.readouterr().err

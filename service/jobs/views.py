"""The jobs' REST routes: submit, watch, download, cancel, list. Every route needs an
instructor token, and a job answers only the token that submitted it (another
token's job is not found, as if it did not exist)."""

from __future__ import annotations

from flask import request, send_file, url_for
from marshmallow import Schema, fields

import worksheets
from service import auth
from service.fields import settings
from service.jobs import store as jobstore
from service.jobs.queue import enqueuer
from service.openapi import ApiBlueprint
from service.orjson_provider import json_response
from service.problems import InvalidContent, NotFound, Problem, TooManyRequests
from service.problemsets import ProblemSetRequestSchema, StrictBoolean, request_templates
from worksheets.generator import read_request

blp = ApiBlueprint("jobs", __name__, description="Class-sized problem sets made in the "
                   "background: submit, watch the progress, download the zip")

IDEMPOTENCY_KEY = "Idempotency-Key"
MAX_KEY_CHARS = 200


class Conflict(Problem):
    slug, title, status = "job-finished", "Job already finished", 409
    description = "The job has finished; there is nothing left to cancel."


class JobRequestSchema(ProblemSetRequestSchema):
    practice = StrictBoolean(load_default=False, metadata={
        "type": "boolean", "description": "grading shows the expected answer of every part "
                                          "(gradsheet generate --practice)"})


class SubmittedSchema(Schema):
    id = fields.String(required=True)
    status_url = fields.String(required=True)


class JobSchema(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True, metadata={
        "enum": ["queued", "running", "done", "failed", "cancelled"]})
    done = fields.Integer(required=True, metadata={"description": "students finished"})
    of = fields.Integer(required=True, metadata={"description": "students in the set"})
    result_url = fields.String(metadata={"description": "once done: the zip"})
    error = fields.Dict(metadata={"description": "once failed: a problem+json object"})
    expires = fields.Float(metadata={"description": "once finished: when the job and its "
                                                    "result are removed (Unix time)"})


class JobListSchema(Schema):
    jobs = fields.List(fields.Nested(JobSchema), required=True)


def _store() -> jobstore.JobStore:
    return jobstore.JobStore.for_settings(settings())


def _owner() -> str:
    # instructor_only has checked the header: a bearer token of this server
    return jobstore.owner_digest(request.headers["Authorization"].strip().partition(" ")[2]
                                 .strip())


def _owned(job_id: str) -> dict:
    record = _store().read(job_id)
    if record is None or record["owner"] != _owner():
        raise NotFound(f"no job {job_id!r} of this instructor token (finished jobs are "
                       f"removed {settings().jobs_result_seconds} s after they finish)")
    return record


def _shown(record: dict) -> dict:
    shown = {"id": record["id"], "status": record["status"], "done": record["done"],
             "of": record["of"]}
    if record["status"] == jobstore.DONE:
        shown["result_url"] = url_for("jobs.job_result", job_id=record["id"])
    if record["status"] == jobstore.FAILED:
        shown["error"] = record["error"]
    if record["expires"] is not None:
        shown["expires"] = record["expires"]
    return shown


def _idempotency_key() -> str | None:
    key = request.headers.get(IDEMPOTENCY_KEY)
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_CHARS:
        message = f"must be 1 to {MAX_KEY_CHARS} characters"
        raise InvalidContent(f"{IDEMPOTENCY_KEY}: {message}", errors={IDEMPOTENCY_KEY: [message]})
    return key


@blp.endpoint("/v1/jobs/problem-sets", body=JobRequestSchema, response=SubmittedSchema,
              problems=(401, 403, 429))
@blp.doc(security=auth.INSTRUCTOR, responses={"202": {
    "description": "Accepted: the job is queued; Location is its status URL"}})
@auth.instructor_only
def submit(req):
    """Queue a problem set (the body of POST /v1/problem-sets, plus practice): every
    student's sheet and the answer key in the formats asked for, as one zip."""
    templates = request_templates(req.get("templates"), stressed=True)
    try:
        parsed = read_request(req["seed"], req["students"], req.get("problems"), templates)
    except worksheets.ProblemSetError as exc:
        raise InvalidContent(str(exc), errors={exc.path: [exc.message]}) from None
    students = len(parsed.students)
    per_sheet = len(parsed.problems)
    limit = settings().jobs_max_problems
    if students * per_sheet > limit:
        message = (f"students x problems ({students} x {per_sheet}) would be "
                   f"{students * per_sheet:,}; the limit of one job is {limit:,} "
                   f"(jobs_max_problems): split the class into several jobs")
        raise InvalidContent(f"students: {message}", errors={"students": [message]})
    body = {"seed": req["seed"], "students": req["students"], "problems": req.get("problems"),
            "format": req["format"], "practice": req["practice"]}
    if templates:
        body["templates"] = req["templates"]  # as sent: the worker reads them the same way
    cfg = settings()
    store = _store()
    store.sweep(enqueuer(cfg))
    try:
        submitted = store.submit(_owner(), body, students, max_active=cfg.jobs_per_token,
                                 idempotency_key=_idempotency_key())
    except jobstore.TooManyActive as exc:
        raise TooManyRequests(f"this instructor token has {exc.limit} jobs queued or running, "
                              f"the most it may (jobs_per_token); wait for one to finish or "
                              f"cancel one", headers={"Retry-After": "30"}) from None
    except jobstore.KeyReused:
        message = "was sent before with a different body; use a new key for a new job"
        raise InvalidContent(f"{IDEMPOTENCY_KEY}: {message}",
                             errors={IDEMPOTENCY_KEY: [message]}) from None
    record = submitted.record
    if submitted.created:
        enqueuer(cfg)(record["id"], record["attempt"])
    status_url = url_for("jobs.job_status", job_id=record["id"])
    return json_response({"id": record["id"], "status_url": status_url}, 202,
                         headers={"Location": status_url})


@blp.endpoint("/v1/jobs", method="GET", response=JobListSchema, problems=(401, 403))
@blp.doc(security=auth.INSTRUCTOR)
@auth.instructor_only
def job_list():
    """This instructor token's jobs, oldest first."""
    return json_response({"jobs": [_shown(r) for r in _store().records(_owner())]})


@blp.endpoint("/v1/jobs/<job_id>", method="GET", response=JobSchema, problems=(401, 403, 404))
@blp.doc(security=auth.INSTRUCTOR)
@auth.instructor_only
def job_status(job_id):
    """The job's status and progress (students done of all)."""
    return json_response(_shown(_owned(job_id)))


@blp.endpoint("/v1/jobs/<job_id>/result", method="GET", content_type="application/zip",
              problems=(401, 403, 404, 409))
@blp.doc(security=auth.INSTRUCTOR)
@auth.instructor_only
def job_result(job_id):
    """The zip of every file `gradsheet generate` writes for the set."""
    record = _owned(job_id)
    if record["status"] != jobstore.DONE:
        raise Conflict(f"the job is {record['status']}; its result is there once it is done")
    path = _store().result_path(job_id)
    if not path.exists():
        raise NotFound(f"job {job_id!r}'s result has expired")
    seed = record["body"]["seed"]
    return send_file(path, mimetype="application/zip", as_attachment=True,
                     download_name=f"gradsheet-{seed}-{job_id[:8]}.zip", max_age=0)


@blp.endpoint("/v1/jobs/<job_id>", method="DELETE", response=JobSchema,
              problems=(401, 403, 404, 409))
@blp.doc(security=auth.INSTRUCTOR)
@auth.instructor_only
def job_cancel(job_id):
    """Cancel a queued job, or stop a running one before its next student (202: the
    worker has been told; GET the job to see it cancelled)."""
    _owned(job_id)
    record = _store().request_cancel(job_id)
    if record is None:
        raise NotFound(f"no job {job_id!r}")
    if record["status"] in (jobstore.DONE, jobstore.FAILED):
        raise Conflict(f"the job is already {record['status']}")
    return json_response(_shown(record), 202 if record["status"] == jobstore.RUNNING else 200)

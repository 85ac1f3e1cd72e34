"""The instructor page's class-sized sets, made as background jobs (service.jobs): a set
past the synchronous limits is queued under the signed-in instructor's token, and the
page watches it, cancels it and hands over its zip.

A job belongs to the token's SHA-256, which is exactly what the page's session keeps,
so a job submitted on the page is the same token's job over the REST API (GET
/v1/jobs/<id> with that token) and the other way round. The page's script polls the
page's own status route with the session cookie rather than /v1/jobs/<id> with the
bearer token: the page never holds the token, only the session does (HttpOnly).
"""

from __future__ import annotations

from dataclasses import dataclass

from service.fields import settings
from service.jobs import store as jobstore
from service.jobs.queue import enqueuer

# Seconds between reloads of a job's page without JavaScript, and between polls with it.
REFRESH_SECONDS = 2
POLL_MS = 700


class JobRefused(Exception):
    """The job cannot be queued: `message` in words, `status` as HTTP says it."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message, self.status = message, status


def submit(owner: str, body: dict, students: int, per_sheet: int,
           idempotency_key: str | None) -> str:
    """Queue the set `body` (the body of POST /v1/jobs/problem-sets) for `owner` (a
    token's digest); the job's id. The same key and body give the same job back (a form
    sent twice); JobRefused past the job's size or the token's jobs."""
    cfg = settings()
    limit = cfg.jobs_max_problems
    if students * per_sheet > limit:
        raise JobRefused(f"Students x problems ({students} x {per_sheet}) would be "
                         f"{students * per_sheet:,}; the limit of one background job is "
                         f"{limit:,} (jobs_max_problems): split the class into several sets "
                         f"(a roster each, the same seed).", 400)
    store = jobstore.JobStore.for_settings(cfg)
    store.sweep(enqueuer(cfg))
    try:
        try:
            submitted = store.submit(owner, body, students, max_active=cfg.jobs_per_token,
                                     idempotency_key=idempotency_key)
        except jobstore.KeyReused:   # the form was changed and sent again: a new set
            submitted = store.submit(owner, body, students, max_active=cfg.jobs_per_token)
    except jobstore.TooManyActive as exc:
        raise JobRefused(f"You have {exc.limit} sets being made already, the most one "
                         f"instructor token may (jobs_per_token): wait for one to finish or "
                         f"cancel one below.", 429) from None
    record = submitted.record
    if submitted.created:
        enqueuer(cfg)(record["id"], record["attempt"])
    return record["id"]


def owned(owner: str, job_id: str) -> dict | None:
    """The job's record when it is `owner`'s, else None (another token's job is not
    found, as over the API)."""
    record = jobstore.JobStore.for_settings(settings()).read(job_id)
    return record if record is not None and record["owner"] == owner else None


def records(owner: str) -> list[dict]:
    return jobstore.JobStore.for_settings(settings()).records(owner)


def cancel(job_id: str) -> dict | None:
    return jobstore.JobStore.for_settings(settings()).request_cancel(job_id)


def result_path(job_id: str):
    return jobstore.JobStore.for_settings(settings()).result_path(job_id)


@dataclass(frozen=True)
class JobView:
    """A job as the page shows it."""

    id: str
    status: str
    done: int
    of: int
    seed: int
    formats: tuple
    error: str | None

    @property
    def active(self) -> bool:
        return self.status in jobstore.ACTIVE

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.of) if self.of else 0

    def to_dict(self) -> dict:
        """What the page's script reads (the shape of GET /v1/jobs/<id>, less its URLs)."""
        out = {"id": self.id, "status": self.status, "done": self.done, "of": self.of}
        if self.error:
            out["error"] = self.error
        return out


def view_of(record: dict) -> JobView:
    error = None
    if record["status"] == jobstore.FAILED and record.get("error"):
        problem = record["error"]
        error = problem.get("detail") or problem.get("title") or "the job failed"
    return JobView(record["id"], record["status"], record["done"], record["of"],
                   record["body"]["seed"], tuple(record["body"]["format"]), error)

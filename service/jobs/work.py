"""What a worker does with a job: claim it, make the set into its zip student by
student, and keep the record told (progress, lease, outcome).

A claimed job's worker renews its lease from a thread while it works, so a long
answer key keeps it; a worker that dies stops renewing, and the sweeper retries the
job or fails it. Every write checks that the record is still this attempt's: a worker
that was thought dead and comes back stops instead of racing its successor.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from service.jobs import store as jobstore

log = logging.getLogger("gradsheet.jobs")


def warm() -> None:
    """In each worker process as it starts: one student's sheet and PDF, so that the
    kernels a set uses are loaded and typst has read its fonts before the first job."""
    from worksheets.exports import pdf_sheets
    from worksheets.exports.sheetset import SheetSet
    from worksheets.generator import Generator, read_request
    data = Generator().build(read_request(0, ["warm-up"]), include_answers=True)
    sheets = SheetSet(data)
    pdf_sheets.student_pdf(sheets, sheets.sheets[0])


class _Lease:
    """Renews the job's heartbeat every quarter lease until stopped."""

    def __init__(self, store: jobstore.JobStore, job_id: str, attempt: int):
        self.store, self.job_id, self.attempt = store, job_id, attempt
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{job_id[:8]}",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.store.lease_seconds / 4):
            try:
                beat(self.store, self.job_id, self.attempt)
            except jobstore.Superseded:
                self.lost = True
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def beat(store: jobstore.JobStore, job_id: str, attempt: int, **changes) -> dict:
    """Renew the lease (and make `changes`) while the job is this attempt's, running."""
    ours = False

    def edit(record):
        nonlocal ours
        ours = record["status"] == jobstore.RUNNING and record["attempt"] == attempt
        return {"heartbeat": time.time(), **changes} if ours else None
    record = store.change(job_id, edit)
    if not ours:
        raise jobstore.Superseded(job_id)
    return record


def _claim(store: jobstore.JobStore, job_id: str, attempt: int) -> dict | None:
    claimed = False

    def edit(record):
        nonlocal claimed
        claimed = record["status"] == jobstore.QUEUED and record["attempt"] == attempt
        return {"status": jobstore.RUNNING, "heartbeat": time.time(), "worker": os.getpid(),
                "started": time.time()} if claimed else None
    record = store.change(job_id, edit)
    return record if claimed else None


def run_job(job_id: str, attempt: int) -> None:
    """The task's body, with the worker's settings (its GRADSHEET_* environment): a job
    cancelled, retried or removed since it was queued is left alone."""
    from service.jobs.result import Cancelled, write_result
    from service.problems import InternalError, InvalidContent
    from worksheets import ProblemSetError
    from worksheets.exports import ExportError
    from worksheets.template import read_inline

    from service.config import Settings

    settings = Settings.from_mapping()
    result_seconds = settings.jobs_result_seconds
    store = jobstore.JobStore.for_settings(settings)
    record = _claim(store, job_id, attempt)
    if record is None:
        return
    body = record["body"]
    lease = _Lease(store, job_id, attempt)

    def progress(done: int, total: int) -> None:
        if store.cancel_requested(job_id):
            raise Cancelled(job_id)
        beat(store, job_id, attempt, done=done)

    outcome: dict
    try:
        templates = read_inline(body["templates"]) if body.get("templates") else None
        write_result(body["seed"], body["students"], body.get("problems"), body["format"],
                     store.result_path(job_id), reveal=body["practice"], progress=progress,
                     templates=templates)
        outcome = {"status": jobstore.DONE}
    except Cancelled:
        outcome = {"status": jobstore.CANCELLED}
    except jobstore.Superseded:
        return
    except ProblemSetError as exc:
        outcome = {"status": jobstore.FAILED, "error": InvalidContent(
            str(exc), errors={exc.path: [exc.message]}).to_dict()}
    except ExportError as exc:
        outcome = {"status": jobstore.FAILED, "error": InvalidContent(
            f"{exc.path}: {exc.message}", errors={exc.path: [exc.message]}).to_dict()}
    except Exception:
        log.exception("job %s failed", job_id)
        outcome = {"status": jobstore.FAILED, "error": InternalError(
            "making the set failed on the worker; the server's log has the details").to_dict()}
    finally:
        lease.stop()
    try:
        beat(store, job_id, attempt, expires=time.time() + result_seconds, **outcome)
    except jobstore.Superseded:
        store.result_path(job_id).unlink(missing_ok=True)

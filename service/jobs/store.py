"""Job records on disk: one directory per job under the jobs directory, holding
`job.json` (the record), `result.zip` once done, and `cancel` when someone asked to stop
it. Every web replica and worker reads and writes the same directory (a shared volume),
so any replica answers for any job and the records outlive every process.

A record is replaced whole (written beside it, then renamed), so a reader never sees
half of one; read-modify-write happens under an flock on the job's `lock` file. A job
belongs to the instructor token that submitted it: the record keeps the token's
SHA-256, never the token.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
ACTIVE = (QUEUED, RUNNING)
FINISHED = (DONE, FAILED, CANCELLED)
# A job whose worker died is run once more; a second death fails it.
MAX_ATTEMPTS = 2
RESULT_NAME = "result.zip"
# Ids are made with secrets.token_hex; the pattern also takes token_urlsafe's alphabet
# (ids made before), and an id that could leave the directory never matches.
_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


def owner_digest(token: str) -> str:
    """What a record keeps of the instructor token that owns it."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def body_digest(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Submitted:
    """What `JobStore.submit` did: the job's record, and whether this call made it (an
    Idempotency-Key seen before gives the earlier job back)."""
    record: dict
    created: bool


class TooManyActive(Exception):
    """The owner already has `limit` queued or running jobs."""

    def __init__(self, limit: int):
        super().__init__(limit)
        self.limit = limit


class KeyReused(Exception):
    """An Idempotency-Key sent again with a different body."""


class Superseded(Exception):
    """The job is no longer this attempt's to write: retried elsewhere, or gone."""


class JobStore:
    def __init__(self, root, result_seconds: int, lease_seconds: int):
        self.root = Path(root).resolve()
        self.result_seconds = result_seconds
        self.lease_seconds = lease_seconds
        (self.root / "keys").mkdir(parents=True, exist_ok=True)

    @classmethod
    def for_settings(cls, settings) -> JobStore:
        return cls(settings.jobs_dir, settings.jobs_result_seconds, settings.jobs_lease_seconds)

    # -- one job ---------------------------------------------------------------------

    def folder(self, job_id: str) -> Path | None:
        """The job's directory, or None for an id that cannot be one."""
        return self.root / job_id if _ID.fullmatch(job_id) else None

    def read(self, job_id: str) -> dict | None:
        folder = self.folder(job_id)
        if folder is None:
            return None
        try:
            return json.loads((folder / "job.json").read_bytes())
        except (FileNotFoundError, NotADirectoryError):
            return None

    def result_path(self, job_id: str) -> Path:
        return self.root / job_id / RESULT_NAME

    @contextlib.contextmanager
    def _locked(self, path: Path):
        with open(path, "a+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def change(self, job_id: str, edit: Callable[[dict], dict | None]) -> dict | None:
        """Apply `edit` to the record under the job's lock: it returns the changes to
        make (None or {} for none). The record after, or None when there is no job."""
        folder = self.folder(job_id)
        if folder is None or not folder.is_dir():
            return None
        with self._locked(folder / "lock"):
            record = self.read(job_id)
            if record is None:
                return None
            changes = edit(record)
            if changes:
                record.update(changes, updated=time.time())
                self._write(folder, record)
            return record

    def _write(self, folder: Path, record: dict) -> None:
        tmp = folder / f"job.json.{os.getpid()}.tmp"
        tmp.write_bytes(json.dumps(record).encode())
        os.replace(tmp, folder / "job.json")

    def request_cancel(self, job_id: str) -> dict | None:
        """Cancel a queued job now; mark a running one for its worker, which stops
        before its next student. The record after."""
        def edit(record):
            if record["status"] == QUEUED:
                return {"status": CANCELLED, "expires": time.time() + self.result_seconds}
            if record["status"] == RUNNING:
                (self.root / job_id / "cancel").touch()
            return None
        return self.change(job_id, edit)

    def cancel_requested(self, job_id: str) -> bool:
        return (self.root / job_id / "cancel").exists()

    # -- submitting ------------------------------------------------------------------

    def submit(self, owner: str, body: dict, of: int, *, max_active: int,
               idempotency_key: str | None = None) -> Submitted:
        """A new queued job for `owner` (a digest), or the one an earlier submission
        with the same idempotency key made. TooManyActive past `max_active`; KeyReused
        for a key seen with another body."""
        digest = body_digest(body)
        key_file = None
        if idempotency_key is not None:
            key_file = self.root / "keys" / hashlib.sha256(
                f"{owner}\0{idempotency_key}".encode()).hexdigest()
        # One owner submits one job at a time, so two requests cannot both pass the cap.
        with self._locked(self.root / "keys" / f"{owner}.lock"):
            if key_file is not None and key_file.exists():
                earlier = self.read(key_file.read_text().strip())
                if earlier is not None:
                    if earlier["body_digest"] != digest:
                        raise KeyReused(idempotency_key)
                    return Submitted(earlier, False)
            active = sum(1 for r in self.records(owner) if r["status"] in ACTIVE)
            if active >= max_active:
                raise TooManyActive(max_active)
            # hex, not token_urlsafe: an id starting with "-" read as an option on the
            # command line (`gradsheet jobs watch -Xy...`)
            job_id = secrets.token_hex(16)
            folder = self.root / job_id
            folder.mkdir()
            now = time.time()
            record = {"id": job_id, "owner": owner, "status": QUEUED, "done": 0, "of": of,
                      "attempt": 1, "created": now, "updated": now, "heartbeat": None,
                      "expires": None, "error": None, "body": body, "body_digest": digest,
                      "key_file": key_file.name if key_file else None}
            self._write(folder, record)
            if key_file is not None:
                key_file.write_text(job_id)
            return Submitted(record, True)

    def records(self, owner: str | None = None) -> list[dict]:
        """Every job's record (of `owner` when given), oldest first."""
        found = []
        for folder in self.root.iterdir():
            if folder.name == "keys" or not folder.is_dir():
                continue
            record = self.read(folder.name)
            if record is not None and (owner is None or record["owner"] == owner):
                found.append(record)
        return sorted(found, key=lambda r: r["created"])

    # -- the sweeper -----------------------------------------------------------------

    def sweep(self, enqueue: Callable[[str, int], None], now: float | None = None) -> None:
        """Remove finished jobs past their expiry; retry (via `enqueue(id, attempt)`) or
        fail a running job whose worker let its lease run out."""
        now = time.time() if now is None else now
        for record in self.records():
            if record["status"] in FINISHED and record["expires"] is not None \
                    and record["expires"] <= now:
                self.remove(record)
            elif record["status"] == RUNNING and (record["heartbeat"] or 0) \
                    + self.lease_seconds < now:
                retried = self.change(record["id"], lambda r: self._expire_lease(r, now))
                if retried is not None and retried["status"] == QUEUED:
                    enqueue(retried["id"], retried["attempt"])

    def _expire_lease(self, record: dict, now: float) -> dict | None:
        if record["status"] != RUNNING or (record["heartbeat"] or 0) + self.lease_seconds >= now:
            return None   # its worker spoke since the sweep read the record
        if record["attempt"] < MAX_ATTEMPTS:
            return {"status": QUEUED, "attempt": record["attempt"] + 1, "heartbeat": None,
                    "done": 0}
        return {"status": FAILED, "expires": now + self.result_seconds, "error": {
            "type": "/problems/worker-lost", "title": "Worker lost", "status": 500,
            "detail": f"the worker running this job stopped answering ({MAX_ATTEMPTS} "
                      f"attempts, {self.lease_seconds} s lease each); submit it again, "
                      f"perhaps with fewer students", "errors": {}}}

    def remove(self, record: dict) -> None:
        if record.get("key_file"):
            (self.root / "keys" / record["key_file"]).unlink(missing_ok=True)
        shutil.rmtree(self.root / record["id"], ignore_errors=True)

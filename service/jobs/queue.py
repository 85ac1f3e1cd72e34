"""The Huey instance for a settings object, with the one task registered.

Embedded (no GRADSHEET_JOBS_QUEUE_URL): SQLite storage in the jobs directory, a file
that outlives a restart of `gradsheet serve` and needs no other service. With a
redis:// URL: Redis storage, which consumers on any machine read; a web replica that
restarts loses nothing, since the messages live in Redis.

A message carries only (job id, attempt); everything else is in the job's record.
"""

from __future__ import annotations

import functools
from pathlib import Path

from huey import RedisHuey, SqliteHuey

from service.jobs import work

NAME = "gradsheet-jobs"
TASK = "problem_set"


@functools.lru_cache(maxsize=8)
def _queue(jobs_dir: str, url: str):
    if url:
        huey = RedisHuey(NAME, url=url, results=False)
    else:
        folder = Path(jobs_dir).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        huey = SqliteHuey(NAME, filename=str(folder / "queue.sqlite3"), results=False)
    task = huey.task(name=TASK)(work.run_job)
    huey.on_startup("gradsheet.warm")(work.warm)
    return huey, task


def make_queue(settings):
    """(huey, task) for the settings' queue; the same pair for the same queue."""
    return _queue(settings.jobs_dir, settings.jobs_queue_url)


def enqueuer(settings):
    """A function (job id, attempt) that queues that attempt of the job."""
    _, task = make_queue(settings)
    return lambda job_id, attempt: task(job_id, attempt)

"""`gradsheet worker`: a job consumer on its own, for machines that only make sets.

    GRADSHEET_JOBS_QUEUE_URL=redis://queue-host:6379/1 GRADSHEET_JOBS_DIR=/mnt/jobs \\
        GRADSHEET_SECRET=... gradsheet worker --workers 4

It needs the servers' GRADSHEET_SECRET (a student's numbers depend on it), their queue
and their jobs directory (a shared volume); `gradsheet serve` starts one itself unless
GRADSHEET_JOBS_EMBEDDED=false.
"""

from __future__ import annotations

import os

from service.config import Settings
from worksheets.seeding import SECRET_ENV


def register(subparsers) -> None:
    cmd = subparsers.add_parser(
        "worker", help="take problem-set jobs from the queue and make them",
        description="Run a job consumer: it takes jobs submitted to POST "
                    "/v1/jobs/problem-sets from the queue (GRADSHEET_JOBS_QUEUE_URL, or "
                    "SQLite in GRADSHEET_JOBS_DIR) and writes their results into "
                    "GRADSHEET_JOBS_DIR. Ctrl-C finishes the running jobs (a few seconds at "
                    "most); SIGTERM stops at once, and their jobs are retried.")
    cmd.add_argument("--workers", type=int, default=None,
                     help="job processes (default: GRADSHEET_JOBS_WORKERS, 1)")
    cmd.add_argument("--parent-pid", type=int, default=None, help="stop when this process "
                     "is gone (gradsheet serve passes its own)")
    cmd.set_defaults(handler=worker_command)


def worker_command(args) -> int:
    from service.jobs import consumer

    if args.workers is not None and args.workers < 1:
        raise ValueError("--workers: must be at least 1")
    if not os.environ.get(SECRET_ENV):
        raise ValueError(f"{SECRET_ENV} is not set: a worker makes the same students' numbers "
                         f"as the servers only with their secret; set it to theirs")
    consumer.run(Settings.from_mapping(), args.workers, args.parent_pid)
    return 0

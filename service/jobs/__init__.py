"""Class-sized problem sets as background jobs.

    POST /v1/jobs/problem-sets   -> 202, Location: /v1/jobs/<id>
    GET  /v1/jobs/<id>           -> {"status", "done", "of", "result_url"?, "error"?}
    GET  /v1/jobs/<id>/result    -> the zip `gradsheet generate` would have written
    DELETE /v1/jobs/<id>         -> cancels a queued or running job

Huey carries the work: its SQLite storage (a file in GRADSHEET_JOBS_DIR) when nothing
else is configured, so `gradsheet serve` alone runs jobs, or Redis
(GRADSHEET_JOBS_QUEUE_URL) so that `gradsheet worker` on any machine takes them. A
job's record, progress and result are files under the jobs directory (`store`), which
every replica and worker shares (a volume); the queue message only names the job.

- `store`: records, ownership, idempotency keys, leases and expiry.
- `result`: the zip, written one student at a time.
- `work`: what a worker does with a job (the Huey task's body).
- `queue`: the Huey instance for the settings, with the task registered.
- `consumer`: a Huey consumer with the sweeper beside it (`gradsheet worker`).
- `views`: the REST blueprint.
"""

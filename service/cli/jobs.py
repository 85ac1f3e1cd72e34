"""`gradsheet jobs`: problem-set jobs on a gradsheet server, for instructors who script.

    export GRADSHEET_INSTRUCTOR_TOKEN=...        # one of the server's instructor tokens
    gradsheet jobs submit --server https://gradsheet.example --seed 7 --roster roster.csv \\
        --format pdf,moodle                       # prints the job id
    gradsheet jobs watch ID                       # progress until it finishes
    gradsheet jobs download ID --out set.zip
    gradsheet jobs list
    gradsheet jobs cancel ID

Only the standard library talks to the server; the token never appears on a command
line unless --token is given.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from service.cli.worksheets import Bars, Lines
from worksheets.roster import read_roster
from worksheets.set_folder import read_problem_list

TOKEN_ENV = "GRADSHEET_INSTRUCTOR_TOKEN"
SERVER_ENV = "GRADSHEET_SERVER"
DEFAULT_SERVER = "http://127.0.0.1:8000"
FINISHED = ("done", "failed", "cancelled")


def register(subparsers) -> None:
    cmd = subparsers.add_parser(
        "jobs", help="submit, watch and download problem-set jobs on a server",
        description=f"Problem-set jobs on a gradsheet server (--server or ${SERVER_ENV}, "
                    f"default {DEFAULT_SERVER}) with an instructor token (--token or "
                    f"${TOKEN_ENV}).")
    cmd.add_argument("--server", default=None, help=f"the server's URL (${SERVER_ENV})")
    cmd.add_argument("--token", default=None, help=f"an instructor token (${TOKEN_ENV})")
    sub = cmd.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")

    s = sub.add_parser("submit", help="queue a problem set; prints the job id")
    s.add_argument("--seed", type=int, required=True)
    who = s.add_mutually_exclusive_group(required=True)
    who.add_argument("--students", type=int, metavar="N")
    who.add_argument("--roster", metavar="CSV")
    s.add_argument("--problems", metavar="TYPES", help="as for gradsheet generate")
    s.add_argument("--format", default="json", metavar="FORMATS")
    s.add_argument("--practice", action="store_true")
    s.add_argument("--idempotency-key", default=None,
                   help="the same key gives the same job back, however often it is sent")
    s.set_defaults(handler=submit)

    sub.add_parser("list", help="this token's jobs").set_defaults(handler=list_jobs)

    w = sub.add_parser("watch", help="show a job's progress until it finishes")
    w.add_argument("id")
    w.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    w.set_defaults(handler=watch)

    d = sub.add_parser("download", help="save a finished job's zip")
    d.add_argument("id")
    d.add_argument("--out", required=True, metavar="FILE")
    d.set_defaults(handler=download)

    c = sub.add_parser("cancel", help="cancel a queued or running job")
    c.add_argument("id")
    c.set_defaults(handler=cancel)


class _Client:
    def __init__(self, args):
        self.base = (args.server or os.environ.get(SERVER_ENV) or DEFAULT_SERVER).rstrip("/")
        token = args.token or os.environ.get(TOKEN_ENV, "")
        if not token:
            raise ValueError(f"no instructor token: set {TOKEN_ENV} or pass --token")
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body=None, headers=None) -> tuple[int, dict, bytes]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method, headers={
            "Content-Type": "application/json", **self.headers, **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            detail = err.read()
            try:
                problem = json.loads(detail)
                message = problem.get("detail") or problem.get("title")
            except ValueError:
                message = detail[:200].decode(errors="replace")
            raise ValueError(f"{method} {path}: {err.code}: {message}") from None
        except urllib.error.URLError as err:
            raise ValueError(f"cannot reach {self.base}: {err.reason}") from None

    def job(self, job_id: str) -> dict:
        return json.loads(self.call("GET", _job_path(job_id))[2])


def _job_path(job_id: str) -> str:
    return "/v1/jobs/" + urllib.parse.quote(job_id, safe="")


def submit(args) -> int:
    client = _Client(args)
    students = read_roster(args.roster) if args.roster else args.students
    body = {"seed": args.seed, "students": students, "format": args.format,
            "practice": args.practice}
    problems = read_problem_list(args.problems)
    if problems is not None:
        body["problems"] = problems
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else None
    _, _, data = client.call("POST", "/v1/jobs/problem-sets", body, headers)
    print(json.loads(data)["id"])
    return 0


def list_jobs(args) -> int:
    jobs = json.loads(_Client(args).call("GET", "/v1/jobs")[2])["jobs"]
    for job in jobs:
        print(f"{job['id']}  {job['status']:<9}  {job['done']}/{job['of']} students")
    return 0


def watch(args) -> int:
    """0 when the job is done; 1 when it failed or was cancelled."""
    client = _Client(args)
    progress = Bars() if sys.stderr.isatty() else Lines()
    try:
        while True:
            job = client.job(args.id)
            progress.students(job["done"], job["of"])
            if job["status"] in FINISHED:
                break
            time.sleep(max(args.interval, 0.1))
    finally:
        progress.close()
    print(job["status"] if "error" not in job else
          f"{job['status']}: {job['error'].get('detail', job['error'])}")
    return 0 if job["status"] == "done" else 1


def download(args) -> int:
    _, _, data = _Client(args).call("GET", _job_path(args.id) + "/result")
    with open(args.out, "wb") as f:
        f.write(data)
    print(f"wrote {len(data):,} bytes to {args.out}")
    return 0


def cancel(args) -> int:
    _, _, data = _Client(args).call("DELETE", _job_path(args.id))
    print(json.loads(data)["status"])
    return 0

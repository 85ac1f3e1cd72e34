"""The service's settings, read and checked in one place: defaults, then GRADSHEET_*
environment variables, then per-app overrides passed to `create_app(config)`.

Each setting is one field below with its default and bounds; its environment variable
is its name upper-cased after ``GRADSHEET_``. A value outside the bounds stops the app
(or gunicorn, or `gradsheet config`) with a `ConfigError` that names the variable, the
value and what is allowed. `gradsheet config` prints the effective values with the
secret masked.

pydantic-settings reads the environment and the overrides through the same field
checks, and its errors carry the offending input and the bound that failed, which is
what a message has to name.
"""

from __future__ import annotations

import os
import re
import typing
from typing import Annotated, Literal

import annotated_types
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PREFIX = "GRADSHEET_"
MIB = 1024 * 1024

# A field whose name says it holds a credential is masked even if someone forgets to
# type it SecretStr.
_SECRET_NAME = re.compile(r"secret|token|password|passwd|credential|api_?key", re.IGNORECASE)


class ConfigError(ValueError):
    """Settings whose values are not allowed; the message has one line per setting."""


def _count(default: int, low: int, high: int, doc: str):
    return Field(default, ge=low, le=high, description=doc)


class _Checked(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="forbid",
                                      validate_default=True)

    @classmethod
    def from_mapping(cls, overrides: dict | None = None):
        """Defaults, then GRADSHEET_* environment variables, then `overrides` (keys with or
        without the GRADSHEET_ prefix, any case; keys that name no setting, such as
        Flask's own TESTING, are left to the caller)."""
        values = {}
        for key, value in (overrides or {}).items():
            name = key.lower().removeprefix(PREFIX.lower())
            if name in cls.model_fields:
                values[name] = value
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ConfigError("\n".join(cls._explain(error) for error in exc.errors())) from None

    @classmethod
    def _explain(cls, error: dict) -> str:
        name = str(error["loc"][0]) if error["loc"] else "?"
        value = "'********'" if cls.is_secret(name) else repr(error["input"])
        message = error["msg"][:1].lower() + error["msg"][1:]
        return f"{variable(name)}={value}: {message}; allowed: {cls.allowed(name)}"

    @classmethod
    def is_secret(cls, name: str) -> bool:
        field = cls.model_fields.get(name)
        return bool(_SECRET_NAME.search(name)) or (
            field is not None and SecretStr in typing.get_args(field.annotation) + (field.annotation,))

    @classmethod
    def allowed(cls, name: str) -> str:
        """What the setting accepts, in words, from its type and bounds."""
        field = cls.model_fields.get(name)
        if field is None:
            return "no such setting"
        if typing.get_origin(field.annotation) is Literal:
            return "one of " + ", ".join(map(str, typing.get_args(field.annotation)))
        if field.annotation is bool:
            return "true or false (also 1/0, yes/no, on/off)"
        if field.annotation is int:
            low = next((m.ge for m in field.metadata if isinstance(m, annotated_types.Ge)), None)
            high = next((m.le for m in field.metadata if isinstance(m, annotated_types.Le)), None)
            return f"a whole number from {low} to {high}"
        if field.annotation is float:
            low = next((m.gt for m in field.metadata if isinstance(m, annotated_types.Gt)), None)
            high = next((m.le for m in field.metadata if isinstance(m, annotated_types.Le)), None)
            return f"a number above {low}, at most {high}"
        return "a non-empty string"

    def effective(self) -> list[tuple[str, str, str, str]]:
        """(variable, value as printed, where it came from, what it is) for every
        setting, secrets masked."""
        rows = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                shown = ""
            elif self.is_secret(name):
                shown = "********"
            else:
                shown = str(value).lower() if isinstance(value, bool) else str(value)
            source = "environment" if variable(name) in os.environ else "default"
            rows.append((variable(name), shown, source,
                         type(self).model_fields[name].description or ""))
        return rows


def variable(name: str) -> str:
    return PREFIX + name.upper()


class Settings(_Checked):
    """What one app enforces and how it serves."""

    # Limits a client can hit; each one answers with a problem naming the limit.
    max_body_bytes: int = _count(16 * MIB, 1, 1024 * MIB, "largest request body, in bytes")
    max_nodes: int = _count(10_000, 1, 10_000_000, "nodes in one graph")
    max_expr_chars: int = _count(100_000, 1, 100_000_000, "characters in one expression")
    max_depth: int = _count(200, 1, 1_000, "nesting depth of one expression")
    max_batch_items: int = _count(10_000, 1, 1_000_000, "items in one batch request")
    max_array_elements: int = _count(1_000_000, 1, 1_000_000_000, "elements in one array")
    max_conv_elements: int = _count(10_000_000, 1, 1_000_000_000,
                                    "elements a conv1d request computes")
    # /v1/conv1d/geometry lists every window: its padded width is bounded too.
    max_geometry_width: int = _count(100_000, 1, 10_000_000,
                                     "padded width /v1/conv1d/geometry lists")
    # Admission by work (service/admission.py), checked before anything is allocated.
    # Defaults keep one request near 2 s of compute and 256 MB; bench/bench_admission.py
    # measured the rates behind them (README, "Limits").
    max_conv_multiply_adds: int = _count(4_000_000_000, 1, 10**15, "multiply-adds of one conv1d")
    max_conv_working_elements: int = _count(16_000_000, 1, 10**12,
                                            "floats one conv1d request works in")
    max_node_lanes: int = _count(40_000_000, 1, 10**13, "nodes x lanes of one evaluation")
    max_response_numbers: int = _count(4_000_000, 1, 10**12, "numbers in one response")
    max_node_inputs: int = _count(10_000, 2, 10_000_000, "inputs of one node")
    max_set_problems: int = _count(2_000, 1, 10**9, "students x problems of one set")
    max_export_problems_markdown: int = _count(250, 1, 10**9, "students x problems, Markdown")
    max_export_problems_html: int = _count(80, 1, 10**9, "students x problems, HTML")
    max_export_problems_pdf: int = _count(12, 1, 10**9, "students x problems, PDF")
    max_export_problems_moodle: int = _count(250, 1, 10**9, "students x problems, Moodle XML")
    max_export_problems_qti: int = _count(2_000, 1, 10**9, "students x problems, Canvas QTI")
    graph_cache_bytes: int = _count(64 * MIB, 0, 64 * 1024 * MIB,
                                    "bytes of parsed graphs one worker keeps")
    # Work above this share of a limit is big: one big request at a time per worker, and
    # one that cannot start within big_lane_wait_ms answers 503.
    big_work_share: float = Field(0.05, gt=0, le=1, description="share of a limit that is big work")
    big_lane_wait_ms: int = _count(250, 0, 600_000, "ms a big request waits for its lane")
    # downloads and embedded jobs, in processes of their own, run this much nicer than the
    # requests served beside them (0: the same priority)
    big_work_niceness: int = _count(10, 0, 19, "niceness added to download children and "
                                               "to the embedded job consumer")
    # Load shedding: compute requests one worker holds, running or queued for a
    # thread, before it answers 503.
    # 0 sheds every compute request: a worker kept up for health checks only.
    max_pending: int = _count(64, 0, 100_000, "compute requests one worker holds before 503")
    retry_after_seconds: int = _count(1, 1, 3_600, "Retry-After of a 503, in seconds")
    # Warm-up of the Numba kernels: "sync" (in create_app), "background" (a thread;
    # /readyz says 503 until it is done) or "off".
    warmup: Literal["sync", "background", "off"] = Field(
        "background", description="when the kernels are compiled or loaded")
    # Signs problem tokens and keys students' variants; unset means the public
    # development secret (worksheets.seeding warns loudly).
    secret: SecretStr | None = Field(None, description="key of problem tokens and variants")

    # Bearer tokens, comma-separated, that open the endpoints revealing answers or
    # identifying students (service/auth.py checks them); none: those answer 403.
    instructor_tokens: str = Field("", description="instructor bearer tokens, comma-separated")
    # /v1/grade and the pages' Check on a non-practice token (service/grading_limits.py),
    # in the `limits` notation ("10 per minute;60 per hour"), per client address and per problem,
    # counted in memory:// (each worker) or redis://host:port/db (every replica).
    grade_limit_per_address: str = Field("120 per minute",
                                         description="gradings per client address")
    grade_limit_per_problem: str = Field("10 per minute;60 per hour",
                                         description="gradings of one problem, by any token")
    ratelimit_storage_uri: str = Field("memory://", description="where grading counts live")
    # Proxies in front that append to X-Forwarded-For (nginx in docker-compose: 1): the
    # client address is that many entries from its end; 0 trusts no header.
    forwarded_hops: int = _count(0, 0, 16, "proxies in front that add X-Forwarded-For")

    # Background jobs (service/jobs): class-sized sets made by a job consumer, not in
    # the request. Records and results live under jobs_dir (a volume every replica and
    # worker shares); the queue is SQLite in jobs_dir unless jobs_queue_url names Redis.
    jobs_dir: Annotated[str, Field(min_length=1)] = Field(
        ".gradsheet/jobs", description="directory of job records, results and the embedded queue")
    jobs_queue_url: str = Field("", description="redis://host:port/db for workers on other "
                                                "machines; empty: SQLite in jobs_dir")
    # `gradsheet serve` starts a consumer beside gunicorn; off where `gradsheet worker`
    # runs elsewhere (docker-compose's worker service).
    jobs_embedded: bool = Field(True, description="serve starts a job consumer beside gunicorn")
    jobs_workers: int = _count(1, 1, 64, "job processes one consumer runs")
    # A PDF student with the whole worksheet (6 problems) costs about 0.16 s, sheet and
    # key together: 30,000 students x problems is near 15 minutes on one worker.
    jobs_max_problems: int = _count(30_000, 1, 10**9, "students x problems of one job")
    jobs_per_token: int = _count(2, 1, 10_000, "queued or running jobs of one instructor token")
    jobs_result_seconds: int = _count(24 * 3600, 1, 365 * 24 * 3600,
                                      "seconds a finished job and its result are kept")
    # A running job's worker renews its lease a few times per lease; a job whose lease
    # ran out (its worker died) is retried once, then failed.
    jobs_lease_seconds: int = _count(60, 2, 3_600, "seconds a job's worker may be silent")

    @field_validator("secret", mode="before")
    @classmethod
    def _empty_secret_is_unset(cls, value):
        # compose files pass ${GRADSHEET_SECRET:-}: empty means "not set", as before
        return None if value in ("", b"") else value

    @property
    def secret_value(self) -> str | None:
        return self.secret.get_secret_value() if self.secret is not None else None


class ServerSettings(_Checked):
    """gunicorn's knobs (service/gunicorn_conf.py reads them in the master)."""

    bind: Annotated[str, Field(min_length=1)] = Field(
        "127.0.0.1:8000", description="address gunicorn listens on")
    workers: int = _count(os.cpu_count() or 1, 1, 256, "worker processes")
    # gthread runs several requests per worker; sync one at a time.
    worker_class: Literal["gthread", "sync"] = Field("gthread", description="gunicorn worker")
    threads: int = _count(4, 1, 256, "threads per worker")
    timeout: int = _count(120, 1, 3_600, "seconds before a silent worker is restarted")
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        "info", description="gunicorn's log level")
    cache_warmup: bool = Field(True, description="fill Numba's cache before forking workers")

"""GET /healthz, /readyz and /metrics: liveness, readiness, Prometheus."""

from __future__ import annotations

import sys

from marshmallow import Schema, fields

from engine import bulk
from service import metrics
from service.openapi import ApiBlueprint
from service.orjson_provider import json_response
from service.problems import NotReady
from service.runtime import runtime

blp = ApiBlueprint("health", __name__, description="Liveness, readiness and metrics")


class HealthSchema(Schema):
    status = fields.String(required=True)


class ReadySchema(Schema):
    status = fields.String(required=True)
    warmup_seconds = fields.Float(required=True)
    pending = fields.Integer(required=True)
    kernel_threads = fields.Integer(required=True, metadata={
        "description": "threads a large evaluation or convolution is split across in this "
                       "worker ($GRADSHEET_KERNEL_THREADS; under gunicorn, cores / workers)"})
    gil_switch_interval_ms = fields.Float(required=True, metadata={
        "description": "how long a thread holding the GIL runs before a waiting one takes "
                       "over (1 under gunicorn, so small requests wait little beside big work)"})


@blp.endpoint("/healthz", method="GET", response=HealthSchema)
def healthz():
    """Alive: the process answers HTTP."""
    return json_response({"status": "alive"})


@blp.endpoint("/readyz", method="GET", response=ReadySchema, problems=(503,))
def readyz():
    """Ready: kernels compiled (or loaded from cache) and warmed, and not overloaded."""
    rt = runtime()
    retry = {"Retry-After": str(rt.settings.retry_after_seconds)}
    if rt.readiness.error is not None:
        raise NotReady(f"warm-up failed: {rt.readiness.error}", headers=retry)
    if not rt.readiness.ready:
        done, of = rt.readiness.progress
        raise NotReady(f"warming up: {rt.readiness.phase} the kernels ({done} of {of})",
                       headers=retry, warming=True, phase=rt.readiness.phase, done=done, of=of)
    if rt.admission.overloaded:
        raise NotReady(f"overloaded: {rt.admission.waiting} requests pending", headers=retry)
    return json_response({"status": "ready", "warmup_seconds": rt.readiness.seconds,
                          "pending": rt.admission.waiting,
                          "kernel_threads": bulk.threads(),
                          "gil_switch_interval_ms": round(sys.getswitchinterval() * 1e3, 3)})


@blp.endpoint("/metrics", method="GET", content_type="text/plain")
def prometheus_metrics():
    """Prometheus metrics, summed over every gunicorn worker."""
    return metrics.exposition()

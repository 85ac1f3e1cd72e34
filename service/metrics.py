"""Prometheus metrics, correct under several gunicorn workers.

With PROMETHEUS_MULTIPROC_DIR set (the `serve` command creates it before gunicorn
forks), every worker writes its samples to files there and /metrics, answered by any
one worker, sums them all; gunicorn's child_exit hook marks dead workers so their
live gauges drop out. Without it (tests, the Flask dev server) the process's own
registry is used.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Request, Response, request
from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter,
                               Gauge, Histogram, generate_latest, multiprocess)

REQUESTS = Counter("gradsheet_http_requests_total", "HTTP requests answered",
                   ["endpoint", "method", "status"])
LATENCY = Histogram("gradsheet_http_request_duration_seconds",
                    "Time from the app receiving a request to its response",
                    ["endpoint"],
                    buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10))
GRAPHS = Counter("gradsheet_graphs_evaluated_total", "Graphs evaluated (batch items count one each)")
BATCH_ITEMS = Histogram("gradsheet_batch_items", "Items per /v1/evaluate/batch request",
                        buckets=(1, 10, 100, 1000, 10_000))
SHED = Counter("gradsheet_overload_rejections_total", "Requests answered 503 because a worker was full")
PENDING = Gauge("gradsheet_pending_requests", "Compute requests being handled, all workers",
                multiprocess_mode="livesum")
READY = Gauge("gradsheet_workers_ready", "Workers whose kernels are warm", multiprocess_mode="livesum")


class TimedRequest(Request):
    """Flask's request, stamped with the time the app received it (when Flask made it,
    before the URL is matched): a before_request hook stamping `g` cost every small
    request two more trips through Flask's context proxies."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received = time.perf_counter()


def install(app: Flask) -> None:
    """Count and time every request; `app.request_class` must be TimedRequest."""
    # Labelled children by (endpoint, method, status): `labels()` validates and locks
    # on every call, which costs as much as the rest of the bookkeeping.
    children: dict = {}

    @app.after_request
    def _count(response: Response):
        # one trip through the proxy, not three (_get_current_object: Flask's documented
        # way to the proxied object, "Notes On Proxies")
        req = request._get_current_object()
        rule = req.url_rule
        key = (rule.rule if rule is not None else "unmatched", req.method,
               response.status_code)
        pair = children.get(key)
        if pair is None:
            pair = children[key] = (REQUESTS.labels(key[0], key[1], str(key[2])),
                                    LATENCY.labels(key[0]))
        pair[0].inc()
        pair[1].observe(time.perf_counter() - req.received)
        return response


def exposition() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

"""Admission by work: a request's cost, estimated from the request before anything is
allocated, is held against the limits in Settings; work past a limit is refused with a
problem naming it, and big admitted work runs in one lane per worker.

The arithmetic of each cost lives with what it measures (`engine.conv.geometry.conv_cost`,
`worksheets.exports.problems_typeset`, a graph's node count); this module only compares
counts with limits. The defaults (service.config) keep an admitted request near 2 s of
compute and 256 MB on the machine bench/bench_admission.py measured.

Big work (a share of some limit above `big_work_share`) runs in a lane of one per
worker, so a worker never runs two big jobs at once; small work never waits for the
lane. A big job that cannot get the lane within `big_lane_wait_ms` is answered 503
with Retry-After rather than queued behind the one running. It runs on one core, so the
small requests beside it keep the other.
"""

from __future__ import annotations

import threading
from typing import Callable, NamedTuple, TypeVar

from flask import Flask, current_app

from engine.bulk import one_core
from service import metrics
from service.problems import InvalidContent, Overloaded, TooMuchWork

# A padding wider than this many input or filter widths only adds outputs that read
# nothing but zeros; a worksheet never needs it and a client can make it costly.
MAX_PADDING_RATIO = 4


class Need(NamedTuple):
    """One measure of a request's cost: `count` against the setting `limit`; `what`
    says in words what is counted and `path` where in the body it comes from. (A
    NamedTuple: made at a quarter of a frozen dataclass's cost, three per small request.)"""
    limit: str
    count: int
    what: str
    path: str = "body"


def admit(*needs: Need) -> float:
    """Refuse the request (TooMuchWork) when a need passes its limit; else the largest
    share of a limit it uses, which decides whether it is big work."""
    settings = current_app.extensions["gradsheet"].settings
    share = 0.0
    for need in needs:
        maximum = getattr(settings, need.limit)
        if need.count > maximum:
            message = (f"{need.what} would be {need.count:,}; the limit is {maximum:,} "
                       f"({need.limit})")
            raise TooMuchWork(f"{need.path}: {message}", errors={need.path: [message]},
                              limit=need.limit, maximum=maximum, requested=need.count)
        share = max(share, need.count / maximum if maximum else 1.0)
    return share


def check_conv_geometry(width: int, span: int, padding: int, stride: int) -> None:
    """Strides and paddings bounded relative to the input: a stride past the padded
    width or a padding of many widths changes nothing a client can want."""
    padded = width + 2 * padding
    if stride > padded:
        message = f"must be at most the padded width {padded}, not {stride}"
        raise InvalidContent(f"stride: {message}", errors={"stride": [message]})
    most = MAX_PADDING_RATIO * max(width, span)
    if padding > most:
        message = (f"must be at most {most} ({MAX_PADDING_RATIO} x the larger of the input "
                   f"width {width} and the filter's span {span}), not {padding}")
        raise InvalidContent(f"padding: {message}", errors={"padding": [message]})


T = TypeVar("T")


class Lane:
    """The one lane big work runs in, per worker: one big job at a time, on one core.

    The job runs in the request's own thread at its own priority. A thread of its own at
    a lower priority was tried: the small requests' p99 got worse (1.60 x their p99
    without big work, against 1.31), because the big job's Python parts hold the GIL the
    small requests beside it need, and a low-priority holder waits longer for a core to
    let it go. Work that runs in processes of its own (downloads, embedded jobs) shares
    no GIL, and is run at a lower priority (big_work_niceness)."""

    def __init__(self, big_share: float, wait_ms: int, retry_after: int):
        self.big_share = big_share
        self.wait = wait_ms / 1000
        self.retry_after = retry_after
        self._slot = threading.Semaphore(1)

    def call(self, share: float, work: Callable[..., T], *args, **kwargs) -> T:
        if share <= self.big_share:
            return work(*args, **kwargs)
        if not self._slot.acquire(timeout=self.wait):
            metrics.SHED.inc()
            raise Overloaded(f"this worker is running another large request; retry in "
                             f"{self.retry_after} s or send a smaller one",
                             headers={"Retry-After": str(self.retry_after)})
        try:
            # big work keeps to one core: on a small machine its split kernel calls would
            # otherwise take every core from the small requests served beside it
            with one_core():
                return work(*args, **kwargs)
        finally:
            self._slot.release()


def install(app: Flask, settings) -> None:
    app.extensions["gradsheet.lane"] = Lane(settings.big_work_share, settings.big_lane_wait_ms,
                                            settings.retry_after_seconds)


def in_lane(share: float, work: Callable[..., T], *args, **kwargs) -> T:
    """work(*args, **kwargs), for a request using this share of the limits: at once in
    this thread when small, in the big lane when big."""
    return current_app.extensions["gradsheet.lane"].call(share, work, *args, **kwargs)


def admit_problem_set(students, per_sheet: int, formats: list[str]) -> float:
    """A problem set's problems (students x problems per sheet) against the limit of
    making it and of each download format asked for: typesetting a PDF problem costs
    about 170 times as much as generating it."""
    count = (students if type(students) is int else len(students)) * per_sheet
    what = f"students x problems ({count // max(per_sheet, 1)} x {per_sheet})"
    # the downloads' limits first: each is tighter than making the set
    needs = [Need(f"max_export_problems_{fmt}", count, f"{what} as {fmt}", "students")
             for fmt in formats if fmt != "json"]
    return admit(*needs, Need("max_set_problems", count, what, "students"))


def admit_templates(templates: list, variants: int) -> float:
    """Templates sent with a request: each is stress-tested with `variants` variants,
    as much work as that many problems of a set."""
    count = len(templates) * variants
    return admit(Need("max_set_problems", count, f"template stress-test variants "
                                                 f"({len(templates)} x {variants})", "templates"))

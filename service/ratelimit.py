"""Rate limits on /v1/grade, so that grading is not an oracle: a problem graded without
its answers shown would otherwise give away its key, one guess per request (an output
size in five).

Two limits (settings `grade_limit_per_address` and `grade_limit_per_problem`, in
flask-limiter's notation) count the gradings of non-practice tokens: per client address,
and per problem, that is per (variant, place on the sheet, type), however many tokens
name it. Practice tokens show the expected answers by design, so they are not counted;
the worker's load shedding still bounds them. Counts live in `ratelimit_storage_uri`:
memory:// is per worker, redis:// is shared by every worker and replica.
"""

from __future__ import annotations

import functools
import math
import time

import limits
from flask import Flask, g, request
from flask_limiter import Limiter, RateLimitExceeded

from service.fields import settings
from service.problems import TooManyRequests
from service.runtime import runtime
from worksheets import TokenError

LIMIT_SETTINGS = ("grade_limit_per_address", "grade_limit_per_problem")


def client_address() -> str:
    """The client's address: the peer, or with `forwarded_hops` proxies in front, the
    entry of X-Forwarded-For the nearest trusted proxy added."""
    hops = settings().forwarded_hops
    if hops:
        forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")]
        if len(forwarded) >= hops and forwarded[-hops]:
            return forwarded[-hops]
    return request.remote_addr or "unknown"


# The moving window counts the last minute (or hour) exactly, so no burst fits at the
# border of two fixed windows. If Redis goes away, each worker counts in memory.
limiter = Limiter(key_func=client_address, strategy="moving-window",
                  in_memory_fallback_enabled=True, key_prefix="gradsheet")


@limiter.request_filter
def _not_grading() -> bool:
    # Only /v1/grade is limited: every other request skips flask-limiter's lookups early.
    return request.endpoint != "problemsets.grade"


def check_limits(values) -> None:
    """ValueError naming the setting whose limit flask-limiter cannot read."""
    for name in LIMIT_SETTINGS:
        text = getattr(values, name)
        try:
            limits.parse_many(text)
        except ValueError:
            raise ValueError(f"GRADSHEET_{name.upper()}: {text!r} is not a rate limit such "
                             f"as '10 per minute' or '10/minute;60/hour'") from None


def install(app: Flask, values) -> None:
    check_limits(values)
    app.config["RATELIMIT_STORAGE_URI"] = values.ratelimit_storage_uri
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, _too_many)


def _ticket():
    return g.get("gradsheet_grade_ticket")


def _practice() -> bool:
    ticket = _ticket()
    return ticket is not None and ticket.reveal


def _unlimited_problem() -> bool:
    # A token that does not read is refused by grading; the address limit still counts it.
    ticket = _ticket()
    return ticket is None or ticket.reveal


def _problem_key() -> str:
    t = _ticket()
    return f"problem:{t.variant}/{t.index}/{t.type_id}"


def limit_grading(view):
    """`view(req)` of /v1/grade under the two limits, read from the request's token."""
    limited = limiter.limit(
        lambda: settings().grade_limit_per_address, key_func=client_address,
        exempt_when=_practice,
        error_message=lambda: ("too many gradings from this address: the limit is "
                               f"{settings().grade_limit_per_address}"))(
        limiter.limit(
            lambda: settings().grade_limit_per_problem, key_func=_problem_key,
            exempt_when=_unlimited_problem,
            error_message=lambda: ("too many gradings of this problem: the limit is "
                                   f"{settings().grade_limit_per_problem}"))(view))

    @functools.wraps(view)
    def wrapper(req):
        try:
            g.gradsheet_grade_ticket = runtime().generator.signer.read(req["token"])
        except TokenError:
            g.gradsheet_grade_ticket = None
        return limited(req)
    return wrapper


def _too_many(exc: RateLimitExceeded):
    current = limiter.current_limit
    wait = max(1, math.ceil(current.window.reset_time - time.time())) if current else 1
    return TooManyRequests(f"{exc.description}; retry after {wait} s",
                           headers={"Retry-After": str(wait)}).response()

"""/v1/grade under the grading limits (service/grading_limits.py), read from the
request's token; a grading over a limit is 429 problem+json with Retry-After."""

from __future__ import annotations

import functools

from flask import Flask, current_app, request

from service.fields import settings
from service.grading_limits import GradingLimits
from service.problems import TooManyRequests
from service.runtime import runtime
from worksheets import TokenError

_EXTENSION = "gradsheet.api_grading_limits"


def client_address() -> str:
    """The client's address: the peer, or with `forwarded_hops` proxies in front, the
    entry of X-Forwarded-For the nearest trusted proxy added."""
    hops = settings().forwarded_hops
    if hops:
        forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")]
        if len(forwarded) >= hops and forwarded[-hops]:
            return forwarded[-hops]
    return request.remote_addr or "unknown"


def install(app: Flask, values) -> None:
    app.extensions[_EXTENSION] = GradingLimits(values, "gradsheet")


def limit_grading(view):
    """`view(req)` of /v1/grade, counted against the grading limits first."""

    @functools.wraps(view)
    def wrapper(req):
        try:
            ticket = runtime().generator.signer.read(req["token"])
        except TokenError:
            ticket = None  # grading refuses it; its address is still counted
        refusal = current_app.extensions[_EXTENSION].refusal(client_address(), ticket)
        if refusal is not None:
            whose = "from this address" if refusal.what == "address" else "of this problem"
            raise TooManyRequests(f"too many gradings {whose}: the limit is {refusal.limit}; "
                                  f"retry after {refusal.retry_after} s",
                                  headers={"Retry-After": str(refusal.retry_after)})
        return view(req)
    return wrapper

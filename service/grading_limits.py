"""The grading limits, so that grading is not an answer oracle: a problem graded without
its answers shown would otherwise give away its key, one guess per request (an output
size in five). /v1/grade (service/ratelimit.py) and the practice pages' Check button
(service/pages/practice.py) each keep one GradingLimits, counted under their own keys.

Two limits (settings `grade_limit_per_address` and `grade_limit_per_problem`, in the
`limits` library's notation: "10 per minute", "10/minute;60/hour") count the gradings of
non-practice tokens: per client address, and per problem, that is per (variant, place on
the sheet, type), however many tokens name it. Practice tokens show the expected answers
by design, so they are not counted; the worker's load shedding still bounds them. A token
that does not read counts against its address only (grading refuses it anyway).

Counts live in `ratelimit_storage_uri`: memory:// is per worker, redis:// is shared by
every worker and replica. The moving window counts the last minute (or hour) exactly, so
no burst fits at the border of two fixed windows. If Redis goes away, each worker counts
in memory rather than not at all.

Only the request that grades pays for the limits: an extension that hooked every request
(flask-limiter's before- and after-request checks) was the largest cost a small
/v1/evaluate paid that bare Flask does not.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import limits
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger("gradsheet.service")

SETTINGS = ("grade_limit_per_address", "grade_limit_per_problem")


def check_limits(values) -> None:
    """ValueError naming the setting whose limit `limits` cannot read."""
    for name in SETTINGS:
        text = getattr(values, name)
        try:
            limits.parse_many(text)
        except ValueError:
            raise ValueError(f"GRADSHEET_{name.upper()}: {text!r} is not a rate limit such "
                             f"as '10 per minute' or '10/minute;60/hour'") from None


@dataclass(frozen=True)
class Refusal:
    """A grading over a limit: whose count (`what`: "address" or "problem"), the limit as
    the setting words it, and the whole seconds until the window lets one more in."""

    what: str
    limit: str
    retry_after: int


class GradingLimits:
    def __init__(self, settings, prefix: str):
        check_limits(settings)
        self.prefix = prefix
        self._limits = {"address": (limits.parse_many(settings.grade_limit_per_address),
                                    settings.grade_limit_per_address),
                        "problem": (limits.parse_many(settings.grade_limit_per_problem),
                                    settings.grade_limit_per_problem)}
        self._limiter = MovingWindowRateLimiter(storage_from_string(settings.ratelimit_storage_uri))
        self._fallback = MovingWindowRateLimiter(MemoryStorage())

    def refusal(self, address: str, ticket) -> Refusal | None:
        """None when one more grading of `ticket`'s problem (None: a token that does not
        read) from `address` is allowed, and counted; else the first limit it is over."""
        if ticket is not None and ticket.reveal:
            return None
        keys = {"address": address}
        if ticket is not None:
            keys["problem"] = f"{ticket.variant}/{ticket.index}/{ticket.type_id}"
        for what, key in keys.items():
            items, text = self._limits[what]
            for item in items:
                if not self._hit(item, self.prefix, what, key):
                    return Refusal(what, text, self._wait(item, self.prefix, what, key))
        return None

    def _hit(self, item, *keys) -> bool:
        try:
            return self._limiter.hit(item, *keys)
        except Exception as exc:  # redis down: count in this worker rather than not at all
            log.warning("grading limits: %s; counting in memory", exc)
            return self._fallback.hit(item, *keys)

    def _wait(self, item, *keys) -> int:
        try:
            reset = self._limiter.get_window_stats(item, *keys).reset_time
        except Exception:  # redis down: the count is the fallback's
            reset = self._fallback.get_window_stats(item, *keys).reset_time
        return max(1, math.ceil(reset - time.time()))

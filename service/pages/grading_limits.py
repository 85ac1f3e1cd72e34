"""The grading limits of /v1/grade, kept for grading through the pages too: a sheet
made for marks (its tokens do not show the answers) must not become an answer oracle
one form post at a time. Practice tokens show the answers by design and are not counted.

The same settings (`grade_limit_per_address`, `grade_limit_per_problem`) and storage
(`ratelimit_storage_uri`) as the API's limits, counted under their own keys: flask-limiter
keeps its counts per route.
"""

from __future__ import annotations

import logging

import limits
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger("gradsheet.service")


class PageGradingLimits:
    def __init__(self, settings):
        self.per_address = limits.parse_many(settings.grade_limit_per_address)
        self.per_problem = limits.parse_many(settings.grade_limit_per_problem)
        self._text = (settings.grade_limit_per_address, settings.grade_limit_per_problem)
        self._limiter = MovingWindowRateLimiter(storage_from_string(
            settings.ratelimit_storage_uri))
        self._fallback = MovingWindowRateLimiter(MemoryStorage())

    def refusal(self, address: str, ticket) -> str | None:
        """None when one more grading of `ticket`'s problem from `address` is allowed
        (and counted); else why not, in words."""
        if ticket.reveal:
            return None
        problem = f"{ticket.variant}/{ticket.index}/{ticket.type_id}"
        checks = [(item, ("gradsheet-pages", "address", address), self._text[0], "this address")
                  for item in self.per_address]
        checks += [(item, ("gradsheet-pages", "problem", problem), self._text[1], "this problem")
                   for item in self.per_problem]
        for item, keys, text, what in checks:
            if not self._hit(item, *keys):
                return f"too many checks of {what}: the limit is {text}; try again later"
        return None

    def _hit(self, item, *keys) -> bool:
        try:
            return self._limiter.hit(item, *keys)
        except Exception as exc:  # redis down: count in this worker rather than not at all
            log.warning("page grading limits: %s; counting in memory", exc)
            return self._fallback.hit(item, *keys)

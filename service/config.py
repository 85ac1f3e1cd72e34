"""The service's settings: limits and serving knobs, with defaults, env overrides and
per-app overrides passed to `create_app(config)`.

Every setting is a Flask config key prefixed ``GRADSHEET_``; the same name in the
environment overrides the default, and `create_app(config={...})` overrides both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

MIB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    # Limits a client can hit; each one answers with a problem naming the limit.
    max_body_bytes: int = 16 * MIB
    max_nodes: int = 10_000
    max_expr_chars: int = 100_000
    max_depth: int = 200
    max_batch_items: int = 10_000
    max_array_elements: int = 1_000_000
    max_conv_elements: int = 10_000_000
    # /v1/conv1d/geometry lists every window: its padded width is bounded too.
    max_geometry_width: int = 100_000
    # Load shedding: compute requests one worker holds, running or queued for a
    # thread, before it answers 503.
    max_pending: int = 64
    retry_after_seconds: int = 1
    # Warm-up of the Numba kernels: "sync" (in create_app), "background" (a thread;
    # /readyz says 503 until it is done) or "off".
    warmup: str = "background"
    # Bearer tokens, comma-separated, that open the endpoints revealing answers or
    # identifying students (service/auth.py); none: those answer 403.
    instructor_tokens: str = ""
    # /v1/grade on a non-practice token (service/ratelimit.py), in flask-limiter's
    # notation ("10 per minute;60 per hour"), per client address and per problem,
    # counted in memory:// (each worker) or redis://host:port/db (every replica).
    grade_limit_per_address: str = "120 per minute"
    grade_limit_per_problem: str = "10 per minute;60 per hour"
    ratelimit_storage_uri: str = "memory://"
    # Proxies in front that append to X-Forwarded-For (nginx in docker-compose: 1): the
    # client address is that many entries from its end; 0 trusts no header.
    forwarded_hops: int = 0

    @classmethod
    def from_mapping(cls, overrides: dict | None = None, environ=os.environ) -> "Settings":
        """Defaults, then GRADSHEET_* environment variables, then `overrides`
        (keys with or without the GRADSHEET_ prefix, any case)."""
        values: dict = {}
        for f in fields(cls):
            key = f"GRADSHEET_{f.name.upper()}"
            if key in environ:
                values[f.name] = _coerce(f.name, environ[key], f.default)
        for key, value in (overrides or {}).items():
            name = key.lower().removeprefix("gradsheet_")
            if name in cls.__dataclass_fields__:
                values[name] = _coerce(name, value, cls.__dataclass_fields__[name].default)
        return cls(**values)


def _coerce(name: str, value, default):
    if isinstance(default, bool):
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(f"GRADSHEET_{name.upper()}: expected a boolean, not {value!r}")
            return lowered in ("1", "true", "yes", "on")
        return bool(value)
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    if name == "warmup" and str(value) not in ("sync", "background", "off"):
        raise ValueError(f"GRADSHEET_WARMUP: expected sync, background or off, not {value!r}")
    return str(value)

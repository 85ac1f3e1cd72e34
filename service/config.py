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
    # Admission by work (service/admission.py), checked before anything is allocated.
    # Defaults keep one request near 2 s of compute and 256 MB; bench/bench_admission.py
    # measured the rates behind them (README, "Limits").
    max_conv_multiply_adds: int = 4_000_000_000
    max_conv_working_elements: int = 16_000_000
    max_node_lanes: int = 40_000_000
    max_response_numbers: int = 4_000_000
    max_node_inputs: int = 10_000
    max_set_problems: int = 2_000
    max_export_problems_markdown: int = 250
    max_export_problems_html: int = 80
    max_export_problems_pdf: int = 12
    max_export_problems_moodle: int = 250
    max_export_problems_qti: int = 2_000
    graph_cache_bytes: int = 64 * MIB
    # Work above this share of a limit is big: one big request at a time per worker, and
    # one that cannot start within big_lane_wait_ms answers 503.
    big_work_share: float = 0.05
    big_lane_wait_ms: int = 250
    # Load shedding: compute requests one worker holds, running or queued for a
    # thread, before it answers 503.
    max_pending: int = 64
    retry_after_seconds: int = 1
    # Warm-up of the Numba kernels: "sync" (in create_app), "background" (a thread;
    # /readyz says 503 until it is done) or "off".
    warmup: str = "background"

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

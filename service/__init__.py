"""gradsheet over HTTP: a Flask app over the engine.

    from service import create_app
    app = create_app({"max_nodes": 500})

Routes read like: validate the envelope (marshmallow), call the engine (which
validates graphs in one pass), shape the response. All errors are problem+json.
"""

from __future__ import annotations

from flask import Flask

from service.config import Settings


def create_app(config: dict | None = None) -> Flask:
    """The Flask app; `config` overrides Settings fields (see service.config) and may
    hold plain Flask keys too (TESTING, ...)."""
    from engine import Limits
    from service import (admission, auth, conv, evaluate, health, metrics, pages, problems,
                         problemsets, ratelimit)
    from service.graph_cache import GraphCache
    from service.openapi import ProblemApi
    from service.orjson_provider import OrjsonProvider
    from service.runtime import Runtime
    from service.warmup import warm_up

    class GradsheetFlask(Flask):
        json_provider_class = OrjsonProvider
        request_class = metrics.TimedRequest
        _sync: dict = {}

        def ensure_sync(self, func):
            # Flask asks inspect whether each hook and view is a coroutine function on
            # every request (six times a request here); the answer never changes
            # (bounded: a function made per request, by after_this_request, is not kept)
            sync = self._sync.get(func)
            if sync is None:
                sync = super().ensure_sync(func)
                if len(self._sync) < 1024:
                    self._sync[func] = sync
            return sync

    app = GradsheetFlask("gradsheet")
    settings = Settings.from_mapping(config)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        API_TITLE="gradsheet",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
    )
    for key, value in (config or {}).items():
        if key.isupper() and not key.startswith("GRADSHEET_"):
            app.config[key] = value
    engine_limits = Limits(
        max_expr_chars=settings.max_expr_chars, max_depth=settings.max_depth,
        max_nodes=settings.max_nodes, max_batch=settings.max_array_elements)
    rt = Runtime(settings=settings, engine_limits=engine_limits,
                 graphs=GraphCache(engine_limits, max_bytes=settings.graph_cache_bytes))
    app.extensions["gradsheet"] = rt
    admission.install(app, settings)

    api = ProblemApi(app)
    api.DEFAULT_ERROR_RESPONSE_NAME = None
    auth.install(app, api, settings.instructor_tokens)
    ratelimit.install(app, settings)
    from service.jobs import views as jobs
    for blp in (evaluate.blp, conv.blp, problemsets.blp, jobs.blp, health.blp):
        api.register_blueprint(blp)
    problems.register(app)
    pages.install(app, settings)
    metrics.install(app)
    rt.readiness.start(settings.warmup, lambda: warm_up(progress=rt.readiness.loaded))
    return app

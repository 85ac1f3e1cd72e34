"""Every error the service answers, as RFC 9457 problem details, handled in one place.

Each problem type is a small class with the same interface: `slug`, `title`,
`status`, an instance's `detail`, `errors` (field path -> messages) and extension
members, `to_dict()` for a batch item's error and `response()` for a whole reply.
`register(app)` routes every exception a request can raise (ours, Werkzeug's, and
unexpected ones) to a problem+json response, so no client ever sees an HTML page.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from flask import Blueprint, Flask
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from engine.errors import GraphError, NonFiniteError
from service.orjson_provider import json_response

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("gradsheet.service")


class Problem(Exception):
    slug: ClassVar[str]
    title: ClassVar[str]
    status: ClassVar[int]
    description: ClassVar[str]

    def __init__(self, detail: str, *, errors: dict[str, list[str]] | None = None,
                 headers: dict[str, str] | None = None, **extensions):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}
        self.headers = headers or {}
        self.extensions = extensions

    @classmethod
    def type_uri(cls) -> str:
        return f"/problems/{cls.slug}"

    def to_dict(self) -> dict:
        body = {"type": self.type_uri(), "title": self.title, "status": self.status,
                "detail": self.detail, "errors": self.errors}
        body.update(self.extensions)
        return body

    def response(self):
        return json_response(self.to_dict(), self.status, content_type=PROBLEM_JSON,
                             headers=self.headers)


class MalformedJSON(Problem):
    slug, title, status = "malformed-json", "Malformed JSON", 400
    description = "The body is not valid JSON (NaN and Infinity are not JSON)."


class NotFound(Problem):
    slug, title, status = "not-found", "Not found", 404
    description = "No such endpoint; GET /openapi.json lists them."


class MethodNotAllowed(Problem):
    slug, title, status = "method-not-allowed", "Method not allowed", 405
    description = "The endpoint exists but not for this HTTP method."


class Unauthorized(Problem):
    slug, title, status = "unauthorized", "Instructor token required", 401
    description = ("The endpoint reveals answers or identifies students: send an instructor "
                   "token (one of GRADSHEET_INSTRUCTOR_TOKENS) as Authorization: Bearer <token>.")


class Forbidden(Problem):
    slug, title, status = "instructor-access-off", "Instructor access is off", 403
    description = ("The endpoint reveals answers or identifies students, and the server has "
                   "no instructor token: set GRADSHEET_INSTRUCTOR_TOKENS to one or more "
                   "comma-separated tokens and send one as Authorization: Bearer <token>.")


class BodyTooLarge(Problem):
    slug, title, status = "body-too-large", "Body too large", 413
    description = "The request body is larger than the configured limit."


class UnsupportedMediaType(Problem):
    slug, title, status = "unsupported-media-type", "Unsupported media type", 415
    description = "Send the body as JSON with Content-Type: application/json."


class InvalidContent(Problem):
    slug, title, status = "invalid-content", "Invalid content", 422
    description = ("The JSON is well formed but a field is missing, of the wrong type, "
                   "out of range, or the graph or its inputs are wrong; `errors` maps "
                   "each field path to its messages.")


class TooManyRequests(Problem):
    slug, title, status = "too-many-requests", "Too many requests", 429
    description = ("Grading a problem without its answers is rate limited per client and per "
                   "problem, so it cannot be used to search for the answers; retry after the "
                   "number of seconds in Retry-After.")


class NonFiniteResult(Problem):
    slug, title, status = "non-finite-result", "Non-finite result", 422
    description = ("A node's value or gradient came out NaN or infinite, which JSON "
                   "cannot carry; `node`, `kind` and `index` say where.")


class TooMuchWork(Problem):
    slug, title, status = "too-much-work", "Too much work", 422
    description = ("The request is well formed but asks for more work or memory than one "
                   "request may use; `limit` names the setting, `maximum` its value and "
                   "`requested` what the request needs.")


class OutOfMemory(Problem):
    slug, title, status = "out-of-memory", "Out of memory", 503
    description = ("The worker could not allocate memory for the request; retry after the "
                   "number of seconds in Retry-After, or send a smaller request.")


class Overloaded(Problem):
    slug, title, status = "overloaded", "Overloaded", 503
    description = "The worker is full; retry after the number of seconds in Retry-After."


class NotReady(Problem):
    slug, title, status = "not-ready", "Not ready", 503
    description = "The kernels are still compiling or warming up, or the worker is overloaded."


class InternalError(Problem):
    slug, title, status = "internal-error", "Internal error", 500
    description = "A bug in gradsheet, not in the request; it has been logged."


class OtherHTTPError(Problem):
    """A rare Werkzeug error keeps its status and takes "about:blank" as its type, as
    RFC 9457 section 4.2.1 says for problems with no more meaning than the status."""
    slug, title, status = "about:blank", "HTTP error", 400
    description = "An HTTP-level error with no more meaning than its status code."

    def __init__(self, exc: HTTPException):
        super().__init__(exc.description or exc.name)
        self.status, self.title = exc.code or 400, exc.name

    def type_uri(self) -> str:
        return "about:blank"


PROBLEMS: tuple[type[Problem], ...] = (
    MalformedJSON, Unauthorized, Forbidden, NotFound, MethodNotAllowed, BodyTooLarge,
    UnsupportedMediaType, InvalidContent, TooManyRequests, NonFiniteResult, TooMuchWork,
    Overloaded, OutOfMemory, NotReady,
    InternalError)


# --- building problems from what the layers below raise ------------------------------

def join_path(prefix: str, path: str | None) -> str:
    """`graph` + `nodes[3]` -> `graph.nodes[3]`; `items[2]` + `[0]` -> `items[2][0]`."""
    if not path:
        return prefix or "body"
    if not prefix or path.startswith("["):
        return f"{prefix}{path}"
    return f"{prefix}.{path}"


def from_graph_error(exc: GraphError, prefix: str = "", **extensions) -> Problem:
    """A GraphError as a 422 whose field path is relative to the request body.

    `prefix` is where the object the engine checked sits: the graph spec for
    Graph.from_spec (``graph``, ``items[4].graph``), the request for evaluate
    (``""``, ``items[4]``), whose errors name ``inputs.x`` or ``wrt[0]``. A
    NonFiniteError from evaluate locates a node, which lives in the graph spec.
    """
    exc_path = exc.path
    if isinstance(exc, NonFiniteError) and exc.kind in ("value", "gradient"):
        prefix = join_path(prefix, "graph") if prefix else "graph"
        if exc_path is None and exc.line is not None:
            exc_path = "expr"  # a node of an expression graph is located by line/column
    path = join_path(prefix, exc_path)
    message = exc.message
    if exc.line is not None:
        message = f"{message} (line {exc.line}, column {exc.column})"
        extensions["location"] = {"path": path, "line": exc.line, "column": exc.column}
    if isinstance(exc, NonFiniteError):
        extensions.update(node=exc.node, kind=exc.kind, index=exc.index)
        return NonFiniteResult(f"{path}: {message}", errors={path: [message]}, **extensions)
    return InvalidContent(f"{path}: {message}", errors={path: [message]}, **extensions)


def flatten_messages(messages, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested error dict as {field path: [messages]}."""
    flat: dict[str, list[str]] = {}

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "_schema":
                    walk(value, path)
                elif isinstance(key, int):
                    walk(value, f"{path}[{key}]")
                elif not path or str(key).startswith("["):
                    walk(value, f"{path}{key}")
                else:
                    walk(value, f"{path}.{key}")
        elif isinstance(node, (list, tuple)) and node and not all(isinstance(m, str) for m in node):
            for item in node:
                walk(item, path)
        else:
            msgs = [node] if isinstance(node, str) else list(node)
            flat.setdefault(path or "body", []).extend(msgs)

    walk(messages, prefix)
    return flat


def from_validation_error(exc: ValidationError, prefix: str = "", **extensions) -> Problem:
    errors = flatten_messages(exc.messages, prefix)
    if len(errors) == 1:
        (path, msgs), = errors.items()
        detail = f"{path}: {msgs[0]}"
    else:
        detail = f"{len(errors)} fields are invalid: {', '.join(errors)}"
    return InvalidContent(detail, errors=errors, **extensions)


# --- the handlers --------------------------------------------------------------------

def _from_http_exception(exc: HTTPException) -> Problem:
    from flask import current_app
    code = exc.code or 500
    if code == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        return BodyTooLarge(f"the body is larger than the limit of {limit} bytes",
                            limit=limit)
    if code == 404:
        return NotFound("no such endpoint; GET /openapi.json lists them")
    if code == 405:
        allowed = sorted(getattr(exc, "valid_methods", None) or [])
        return MethodNotAllowed("this endpoint accepts " + ", ".join(allowed),
                                headers={"Allow": ", ".join(allowed)})
    if code == 415:
        return UnsupportedMediaType("send the body as JSON with Content-Type: application/json")
    if code == 400:
        return MalformedJSON(exc.description or "the request could not be read")
    if code >= 500:
        return InternalError("the server failed to handle the request")
    return OtherHTTPError(exc)


def register(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(exc: Problem):
        return exc.response()

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return _from_http_exception(exc).response()

    @app.errorhandler(MemoryError)
    def _out_of_memory(exc: MemoryError):
        # Admission should refuse such work before it starts; an allocation that fails
        # anyway (a shared machine, a limit set too high) is the server's state, not a bug.
        from flask import current_app
        log.warning("allocation failed: %s", exc)
        retry = str(current_app.extensions["gradsheet"].settings.retry_after_seconds)
        return OutOfMemory("the worker could not allocate memory for this request",
                           headers={"Retry-After": retry}).response()

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return InternalError("the server failed to handle the request").response()

    app.register_blueprint(_problem_docs)


_problem_docs = Blueprint("problems", __name__)


@_problem_docs.get("/problems/<slug>")
def describe_problem(slug: str):
    for cls in PROBLEMS:
        if cls.slug == slug:
            return json_response({"type": cls.type_uri(), "title": cls.title,
                                  "status": cls.status, "description": cls.description})
    raise NotFound(f"no problem type {slug!r}")

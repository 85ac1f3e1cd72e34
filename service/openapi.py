"""The OpenAPI 3 document: flask-smorest's Api with problem+json as every error's
documented body, and the schema of a problem."""

from __future__ import annotations

import contextlib
import functools
import gc
import http

from flask import request
from flask_smorest import Api, Blueprint
from marshmallow import Schema, ValidationError, fields

from service.body import read_json_object
from service.problems import PROBLEM_JSON, from_validation_error


class ProblemSchema(Schema):
    """RFC 9457 problem details, as every error of this API is answered."""

    type = fields.String(required=True, metadata={
        "description": "URI reference of the problem type; GET it for a description"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True, metadata={"description": "what is wrong, in words"})
    errors = fields.Dict(
        keys=fields.String(), values=fields.List(fields.String()), required=True,
        metadata={"description": "field path (graph.nodes[3].inputs[1], graph.expr, "
                                 "items[2].inputs.x[4]) -> messages"})
    location = fields.Dict(metadata={"description": "path, line and column of an "
                                                    "expression error (1-based)"})
    node = fields.String(metadata={"description": "non-finite results: the node"})
    kind = fields.String(metadata={"description": "non-finite results: value or gradient"})
    index = fields.Integer(allow_none=True, metadata={
        "description": "non-finite results: index in the batched inputs, or null"})
    position = fields.List(fields.Integer(), metadata={
        "description": "non-finite conv results: the element's index in the tensor"})
    item = fields.Integer(metadata={"description": "batch: the item's index"})
    limit = fields.Raw(metadata={
        "oneOf": [{"type": "integer"}, {"type": "string"}],
        "description": "body too large: the limit in bytes; too much work: the setting's name"})
    maximum = fields.Float(metadata={"description": "too much work: the setting's value"})
    requested = fields.Float(metadata={"description": "too much work: what the request needs"})


class ProblemApi(Api):
    """flask-smorest's Api with every error documented as problem+json.

    Its named status responses (BAD_REQUEST, ...) take their body from ERROR_SCHEMA
    and their media type from DEFAULT_RESPONSE_CONTENT_TYPE; no success response is
    documented through that default, since every view documents its own (see
    ApiBlueprint.endpoint). flask-smorest's JSON error handler is installed too, and
    service.problems.register, called after it, takes over every error."""

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_RESPONSE_CONTENT_TYPE = PROBLEM_JSON


class ApiBlueprint(Blueprint):
    """flask-smorest's Blueprint, with views documented from their schemas through
    Blueprint.doc but not parsed by Blueprint.arguments or dumped by
    Blueprint.response: those add a wrapper per documented response and parse through
    webargs, and together they cost more per request than the engine does."""

    def endpoint(self, rule: str, *, method: str = "POST", body: type[Schema] | None = None,
                 response: type[Schema] | None = None, content_type: str = "application/json",
                 problems: tuple[int, ...] = (), loader=None, downloads: tuple[str, ...] = (),
                 pause_gc: bool = False):
        """Route the view; with `body`, call it with the request's envelope as loaded by
        `loader` (default: an instance of `body`), a dict. `problems` lists the
        statuses, besides those of reading a body, that the view can answer;
        `downloads` the media types of files it can answer 200 with instead.
        `pause_gc`: the request makes hundreds of thousands of acyclic objects (a
        batch's body and answer), so the cyclic collector is paused while it is read
        and answered, as engine.evaluate_many pauses it for its call: each crossing of
        the collector's thresholds would walk them all again."""
        if body is not None:
            loader = loader or body()
            problems = (400, 413, 415, 422, *problems)
        ok = {"description": "OK",
              "content": {content_type: {"schema": response or {"type": "string"}}}
              | {media: {"schema": {"type": "string", "format": "binary"}} for media in downloads}}
        responses = {"200": ok} | {str(s): http.HTTPStatus(s).name for s in sorted(set(problems))}
        doc: dict = {"responses": responses}
        if body is not None:
            doc["requestBody"] = {"required": True,
                                  "content": {"application/json": {"schema": body}}}

        def decorate(view):
            if body is None:
                wrapper = view
            elif pause_gc:
                @functools.wraps(view)
                def wrapper():
                    with gc_paused():
                        return view(load_body(loader))
            else:
                @functools.wraps(view)
                def wrapper():
                    return view(load_body(loader))
            # apispec turns the schema classes in `doc` into component references;
            # Blueprint.doc merges into what the view already documents (its security).
            documented = self.doc(**doc)(wrapper)
            self.route(rule, methods=[method])(documented)
            return documented
        return decorate


@contextlib.contextmanager
def gc_paused():
    """The cyclic garbage collector off for the block, unless it was off already (then
    whoever turned it off turns it on); reference counting frees as usual."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def load_body(schema: Schema) -> dict:
    try:
        # the request itself, not its proxy: the body is read in several attribute reads
        return schema.load(read_json_object(request._get_current_object()))
    except ValidationError as exc:
        raise from_validation_error(exc) from None

"""Reading a request's JSON body: content type, size, syntax, then the envelope schema.

flask-smorest's `@blp.arguments` drives this parser, so each view's schema is both
its OpenAPI request body and its validation. Syntax errors become 400, envelope
errors 422 with flattened field paths; graph specs are left to the engine.
"""

from __future__ import annotations

import orjson
from flask import Request
from webargs.flaskparser import FlaskParser

from service.problems import (InvalidContent, MalformedJSON, UnsupportedMediaType,
                              from_validation_error)


def read_json_object(req: Request) -> dict:
    if not req.is_json:
        got = req.mimetype or "no content type"
        raise UnsupportedMediaType(
            f"send the body as JSON with Content-Type: application/json, not {got}")
    data = req.get_data(cache=True)  # Werkzeug raises 413 past MAX_CONTENT_LENGTH
    if not data.strip():
        raise MalformedJSON("the body is empty; send a JSON object")
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise MalformedJSON(f"the body is not valid JSON: {exc}") from None
    if type(body) is not dict:
        kind = {list: "an array", str: "a string"}.get(type(body), "a bare value")
        raise InvalidContent(f"body: must be a JSON object, not {kind}",
                             errors={"body": [f"must be a JSON object, not {kind}"]})
    return body


class JSONBodyParser(FlaskParser):
    def _raw_load_json(self, req: Request):
        return read_json_object(req)

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        messages = error.messages
        if isinstance(messages, dict) and set(messages) == {"json"}:
            messages = messages["json"]
        error.messages = messages
        raise from_validation_error(error)

"""Reading a request's JSON body: content type, size and syntax, before the envelope
schema sees it. Syntax errors are 400, a wrong content type 415, a body past the
limit 413 (Werkzeug raises it while reading); graph specs are left to the engine.
"""

from __future__ import annotations

import orjson
from flask import Request

from service.problems import InvalidContent, MalformedJSON, UnsupportedMediaType


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

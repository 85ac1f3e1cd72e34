"""Reading a request's JSON body: content type, size and syntax, before the envelope
schema sees it. Syntax errors are 400, a wrong content type 415, a body past the
limit 413; graph specs are left to the engine.

A body with a Content-Length past the limit is refused by Werkzeug before it is read.
A chunked body has no length: Werkzeug's `request.stream` stops at
`max_content_length` and raises 413 only on a read past it, so `get_data()` would
return the first 16 MiB as if they were the whole body. The body is therefore read
from the stream in blocks and counted, and one byte past the limit is a 413.
"""

from __future__ import annotations

import orjson
from flask import Request

from service.problems import BodyTooLarge, InvalidContent, MalformedJSON, UnsupportedMediaType


def read_json_object(req: Request) -> dict:
    if not req.is_json:
        got = req.mimetype or "no content type"
        raise UnsupportedMediaType(
            f"send the body as JSON with Content-Type: application/json, not {got}")
    data = read_body(req)
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


BLOCK = 1 << 16


def read_body(req: Request) -> bytes:
    """The whole body, counted as it streams; BodyTooLarge past max_content_length."""
    if req.content_length is not None:
        # Werkzeug refused it already if its length is past the limit, and its stream
        # ends at that length: read to the end, with no count of our own
        return req.stream.read()
    limit = req.max_content_length
    blocks, size = [], 0
    while block := req.stream.read(BLOCK):  # a read past Werkzeug's limit raises 413
        size += len(block)
        if limit is not None and size > limit:
            raise BodyTooLarge(f"the body is larger than the limit of {limit} bytes",
                               limit=limit)
        blocks.append(block)
    return b"".join(blocks)

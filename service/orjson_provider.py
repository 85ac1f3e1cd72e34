"""orjson as Flask's JSON provider, and the one function that turns a result into a
response body.

orjson refuses NaN and Infinity when parsing (the standard library accepts them),
serialises NumPy arrays without a Python loop, and is several times faster than the
standard library on the large batch responses.

A body holding more NumPy numbers than PIECE_NUMBERS is written in pieces as the server
sends it: orjson holds the GIL for the whole of a call, and one call over a maximal
evaluation's 4 million numbers took 0.38 s in which no other request on the worker ran
a line of Python. In pieces of 16,384 numbers (about 3 ms each) the other threads get
the GIL between pieces.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import orjson
from flask import Response
from flask.json.provider import JSONProvider

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class OrjsonProvider(JSONProvider):
    def dumps(self, obj, **kwargs) -> str:
        return orjson.dumps(obj, option=_OPTIONS).decode()

    def loads(self, s, **kwargs):
        return orjson.loads(s)

    def response(self, *args, **kwargs) -> Response:
        """`jsonify`'s arguments as its documentation reads them: one positional
        argument as is, several as a list, keyword arguments as an object."""
        if args and kwargs:
            raise TypeError("jsonify() takes either arguments or keyword arguments, not both")
        obj = args[0] if len(args) == 1 else list(args) if args else kwargs or None
        return Response(orjson.dumps(obj, option=_OPTIONS), mimetype="application/json")


PIECE_NUMBERS = 16_384
WRITE_BYTES = 1 << 16


def json_response(obj, status: int = 200, *, content_type: str = "application/json",
                  headers: dict | None = None, arrays: bool = True) -> Response:
    """`obj` (dicts, lists, numbers, strings, NumPy arrays) as a JSON response; in
    pieces (see the module docstring) when its arrays hold more than PIECE_NUMBERS.
    `arrays=False` says that `obj` holds no NumPy arrays, so none are looked for."""
    if arrays and _numbers(obj) > PIECE_NUMBERS:
        body = _writes(json_pieces(obj))
    else:
        body = _dumps(obj)
    return Response(body, status=status, content_type=content_type, headers=headers)


def _dumps(obj) -> bytes:
    """orjson.dumps(obj, option=_OPTIONS), the same bytes: OPT_NON_STR_KEYS costs a
    third of the time of a batch's answer, whose keys are all strings, so it is asked
    for only when a dict has other keys."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)
    except orjson.JSONEncodeError:
        return orjson.dumps(obj, option=_OPTIONS)


def json_pieces(obj) -> Iterator[bytes | memoryview]:
    """The JSON text of `obj`, exactly as orjson.dumps writes it, in pieces: objects
    with string keys are walked, 1-D arrays cut into slices of PIECE_NUMBERS, and
    anything else is one orjson call."""
    if type(obj) is dict and all(type(k) is str for k in obj):
        yield b"{"
        for i, (key, value) in enumerate(obj.items()):
            yield (b"," if i else b"") + orjson.dumps(key) + b":"
            yield from json_pieces(value)
        yield b"}"
    elif isinstance(obj, np.ndarray) and obj.ndim == 1 and obj.size > PIECE_NUMBERS:
        yield b"["
        for lo in range(0, obj.size, PIECE_NUMBERS):
            if lo:
                yield b","
            yield memoryview(orjson.dumps(obj[lo:lo + PIECE_NUMBERS], option=_OPTIONS))[1:-1]
        yield b"]"
    else:
        yield orjson.dumps(obj, option=_OPTIONS)


def _writes(pieces: Iterator[bytes | memoryview]) -> Iterator[bytes]:
    """The pieces joined into writes of about WRITE_BYTES (one socket write each)."""
    buffer, size = [], 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= WRITE_BYTES:
            yield b"".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield b"".join(buffer)


def _numbers(obj, depth: int = 3) -> int:
    """How many NumPy numbers `obj` holds in arrays up to `depth` dicts down."""
    if isinstance(obj, np.ndarray):
        return obj.size
    if depth and type(obj) is dict:
        return sum(_numbers(v, depth - 1) for v in obj.values())
    return 0

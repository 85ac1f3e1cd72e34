"""The app's JSON provider (service.orjson_provider): `jsonify` reads its arguments as
Flask documents them, serialises NumPy arrays, and parsing refuses NaN."""

from __future__ import annotations

import json

import numpy as np
import orjson
import pytest
from flask import jsonify

from service import create_app
from service.orjson_provider import PIECE_NUMBERS, WRITE_BYTES, json_response


@pytest.fixture(scope="module")
def app():
    return create_app({"warmup": "off"})


@pytest.mark.parametrize(("args", "kwargs", "expected"), [
    (({"x": [1, 2]},), {}, {"x": [1, 2]}),         # one argument, as it is
    ((1, "a", None), {}, [1, "a", None]),          # several, as a list
    ((), {"x": 1.5, "y": "b"}, {"x": 1.5, "y": "b"}),  # keywords, as an object
    ((), {}, None),                                 # nothing, as null
    (([],), {}, []),                                # one empty list stays a list
])
def test_jsonify_reads_its_arguments_as_flask_documents(app, args, kwargs, expected):
    with app.app_context():
        response = jsonify(*args, **kwargs)
    assert response.mimetype == "application/json"
    assert json.loads(response.get_data()) == expected


def test_jsonify_refuses_arguments_and_keywords_together(app):
    with app.app_context(), pytest.raises(TypeError, match="not both"):
        jsonify(1, x=2)


def test_jsonify_serialises_numpy_arrays_and_non_string_keys(app):
    with app.app_context():
        response = jsonify({"v": np.array([[0.5, -1.0], [2.0, 3.25]]), 3: np.arange(3)})
    assert json.loads(response.get_data()) == {"v": [[0.5, -1.0], [2.0, 3.25]], "3": [0, 1, 2]}


def test_the_provider_parses_json_but_refuses_nan(app):
    assert app.json.loads('{"x": [1, 2.5]}') == {"x": [1, 2.5]}
    assert json.loads(app.json.dumps({"x": np.float64(0.25)})) == {"x": 0.25}
    with pytest.raises(ValueError):
        app.json.loads('{"x": NaN}')


@pytest.mark.parametrize("n", [0, 1, PIECE_NUMBERS - 1, PIECE_NUMBERS, PIECE_NUMBERS + 1,
                               3 * PIECE_NUMBERS + 5])
def test_a_large_body_is_written_in_pieces_that_read_as_the_whole(app, n):
    rng = np.random.default_rng(n)
    values = rng.normal(size=n) * 10.0 ** rng.integers(-300, 300, size=n)
    values[::7] = np.nan  # written as null, in pieces as in one call
    body = {"value": values, "gradients": {"x": values[::-1].copy(), "y": 2.5},
            "names": ["x", "y"], "nested": [{"a": np.arange(3.0)}], "n": n}
    response = json_response(body)
    pieces = list(response.response)
    # past PIECE_NUMBERS numbers in all, several writes of WRITE_BYTES or more (the
    # last one less); up to it one
    streamed = 2 * n + 3 > PIECE_NUMBERS
    assert (len(pieces) > 1) == streamed
    assert all(type(p) is bytes and len(p) >= WRITE_BYTES for p in pieces[:-1])
    text = b"".join(pieces)
    got = json.loads(text)  # the standard library as the reader
    want = [None if v != v else float(v) for v in values]
    assert got["value"] == want and got["gradients"]["x"] == want[::-1]
    assert got["gradients"]["y"] == 2.5 and got["names"] == ["x", "y"]
    assert got["nested"] == [{"a": [0.0, 1.0, 2.0]}] and got["n"] == n


@pytest.mark.parametrize("obj", [
    {"results": [{"values": {"x": 1.5, "f": -0.0}, "nodes": [{"inputs": ["x", 2.0]}]}]},
    {"errors": {0: ["must be a number"], "x": ["no"]}, "counts": {3: 1.0}},  # not only strings
    {"a": np.arange(3.0), "b": {1: np.array([0.5])}},
])
def test_json_response_writes_what_orjson_writes_with_every_option(app, obj):
    with app.app_context():
        body = json_response(obj).get_data()
    assert body == orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)

"""Fast marshmallow fields for the request envelope: strict numbers and input arrays.

Strict means JSON numbers only: the string "1" is not 1, and true is not a number
(Python's bool is an int, so it is refused by type, not by value). An input array of
a million numbers is checked with one pass of `type` over it at C speed; the slow
search for the first bad element runs only when that check fails.
"""

from __future__ import annotations

import math

import numpy as np
from flask import current_app
from marshmallow import ValidationError, fields
from marshmallow.utils import missing as missing_

_NUMBER_TYPES = frozenset((int, float))


def describe(value) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"the string {value!r}" if len(value) <= 20 else "a string"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return repr(value)


def strict_number(value) -> float:
    if type(value) not in _NUMBER_TYPES:
        raise ValidationError(f"must be a number, not {describe(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ValidationError("must be a finite number")
    return value


def number_array(values: list, limit: int) -> np.ndarray:
    """A JSON list of numbers as a float64 array of shape (n,), 1 <= n <= limit;
    errors are keyed by element index."""
    if not values:
        raise ValidationError("must hold at least one number")
    if len(values) > limit:
        raise ValidationError(f"holds {len(values)} numbers; the limit is {limit}")
    if not set(map(type, values)) <= _NUMBER_TYPES:
        for i, v in enumerate(values):
            if type(v) not in _NUMBER_TYPES:
                raise ValidationError({i: [f"must be a number, not {describe(v)}"]})
    return np.array(values, dtype=np.float64)


def settings():
    return current_app.extensions["gradsheet"].settings


class StrictNumber(fields.Field):
    """A JSON number (int or float, never a bool or a string), loaded as a float."""

    def _deserialize(self, value, attr, data, **kwargs):
        return strict_number(value)

    def _serialize(self, value, attr, obj, **kwargs):
        return value


# The largest whole number every JSON reader holds exactly (a float64's 53 bits).
MAX_SAFE_INTEGER = 2 ** 53


class StrictInteger(fields.Field):
    """A JSON whole number up to 2**53 in size, never a bool, a string or 2.5; 3.0 is
    taken as 3."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is float and value.is_integer():
            value = int(value)
        if type(value) is not int:
            raise ValidationError(f"must be a whole number, not {describe(value)}")
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValidationError(f"must be at most {MAX_SAFE_INTEGER} in size")
        return value

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class NumberOrArray(fields.Field):
    """A number, or a list of numbers (a batch), loaded as a float or a float64 array."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is list:
            return number_array(value, settings().max_array_elements)
        return strict_number(value)

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class Inputs(fields.Field):
    """{name: number | [numbers]}: a graph's inputs, values loaded as floats or arrays."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not dict:
            raise ValidationError(f"must be an object mapping input names to numbers, "
                                  f"not {describe(value)}")
        limit = settings().max_array_elements
        loaded, errors = {}, {}
        for name, v in value.items():
            try:
                if type(v) is list:
                    loaded[name] = number_array(v, limit)
                else:
                    loaded[name] = strict_number(v)
            except ValidationError as exc:
                errors[name] = exc.messages
        if errors:
            raise ValidationError(errors)
        return loaded

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class JSONObject(fields.Field):
    """Any JSON object, passed on as it is: the engine validates graph specs in one
    fast pass that knows the precise path of every fault."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not dict:
            raise ValidationError(f"must be an object, not {describe(value)}")
        return value

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class NestedList(fields.Field):
    """A list of numbers nested up to `max_rank` deep: a conv tensor in the caller's
    rank convention. Loaded as a float64 array; errors name the element's index path."""

    def __init__(self, *, max_rank: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.max_rank = max_rank

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not list:
            raise ValidationError(f"must be a list of numbers, not {describe(value)}")
        return nested_number_array(value, settings().max_conv_elements, self.max_rank)

    def _serialize(self, value, attr, obj, **kwargs):
        return value


def nested_number_array(value: list, limit: int, max_rank: int) -> np.ndarray:
    """A rectangular nested list of numbers as a float64 array of rank 1..max_rank."""
    shape = []
    probe = value
    while type(probe) is list:
        if not probe:
            raise ValidationError("must not hold empty lists")
        if len(shape) == max_rank:
            raise ValidationError(f"is nested more than {max_rank} lists deep")
        shape.append(len(probe))
        probe = probe[0]
    size = math.prod(shape)
    if size > limit:
        raise ValidationError(f"holds {size} numbers; the limit is {limit}")
    flat: list = []
    _collect(value, shape, 0, "", flat)
    if not set(map(type, flat)) <= _NUMBER_TYPES:
        for i, v in enumerate(flat):
            if type(v) not in _NUMBER_TYPES:
                raise ValidationError({_index_path(i, shape): [f"must be a number, not {describe(v)}"]})
    return np.array(flat, dtype=np.float64).reshape(shape)


def _collect(node: list, shape: list, depth: int, path: str, out: list) -> None:
    if len(node) != shape[depth]:
        # depth > 0 here: the outermost list defines shape[0].
        raise ValidationError({path: [f"ragged: holds {len(node)} elements where the "
                                      f"first list at this depth holds {shape[depth]}"]})
    if depth == len(shape) - 1:
        for i, v in enumerate(node):
            if type(v) is list:
                raise ValidationError({f"{path}[{i}]": ["nested deeper than the first element"]})
        out.extend(node)
        return
    for i, child in enumerate(node):
        if type(child) is not list:
            raise ValidationError({f"{path}[{i}]": [f"must be a list like the first, not {describe(child)}"]})
        _collect(child, shape, depth + 1, f"{path}[{i}]", out)


def _index_path(flat_index: int, shape: list) -> str:
    parts = []
    for dim in reversed(shape):
        flat_index, r = divmod(flat_index, dim)
        parts.append(r)
    return "".join(f"[{i}]" for i in reversed(parts))


class FlatLoader:
    """Loads a flat schema's data by calling its fields directly.

    Same fields, same messages and the same unknown-field policy (raise) as
    `schema.load`, without the per-call machinery that makes Schema.load cost ~30 us:
    a batch loads up to 10,000 envelopes per request. Schema-level checks are plain
    functions `check(data) -> None` raising ValidationError.
    """

    def __init__(self, schema, *checks):
        self.fields = [(name, f, f.required, f.load_default) for name, f in schema.fields.items()]
        self.known = frozenset(schema.fields)
        self.checks = checks

    def load(self, data) -> dict:
        if type(data) is not dict:
            raise ValidationError(f"must be an object, not {describe(data)}")
        errors: dict = {}
        if not data.keys() <= self.known:
            for key in data.keys() - self.known:
                errors[key] = ["Unknown field."]
        loaded = {}
        for name, field, required, default in self.fields:
            if name in data:
                try:
                    loaded[name] = field.deserialize(data[name], name, data)
                except ValidationError as exc:
                    errors[name] = exc.messages
            elif required:
                errors[name] = [field.error_messages["required"]]
            elif default is not missing_:
                loaded[name] = default() if callable(default) else default
        if errors:
            raise ValidationError(errors)
        for check in self.checks:
            check(loaded)
        return loaded

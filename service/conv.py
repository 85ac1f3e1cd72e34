"""POST /v1/conv1d and POST /v1/conv1d/geometry: validate, call engine.conv and
engine.conv.geometry, shape the response."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields

from engine.conv import conv1d, conv1d_backward
from engine.conv.geometry import conv_cost, conv_geometry, resolve_geometry
from engine.errors import ArgumentError, GraphError, NonFiniteError
from service import admission
from service.fields import MAX_SAFE_INTEGER, NestedList, StrictInteger, describe
from service.openapi import ApiBlueprint
from service.orjson_provider import json_response
from service.problems import InvalidContent, NonFiniteResult, Problem, from_graph_error
from service.runtime import runtime

blp = ApiBlueprint("conv", __name__, description="1-D convolution and its geometry, "
                "with PyTorch's conv1d conventions (cross-correlation)")

TENSOR = {"type": "array", "items": {"oneOf": [{"type": "number"}, {"type": "array"}]},
          "description": "nested lists of numbers"}
NUMBER_OR_TENSOR = {"oneOf": [{"type": "number"}, TENSOR]}


class Padding(fields.Field):
    """A whole number >= 0, "same" or "valid"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value in ("same", "valid") and type(value) is str:
            return value
        if type(value) is int or (type(value) is float and value.is_integer()):
            if value < 0:
                raise ValidationError(f"must be 0 or more, not {value}")
            if value > MAX_SAFE_INTEGER:
                raise ValidationError(f"must be at most {MAX_SAFE_INTEGER}")
            return int(value)
        raise ValidationError(f'must be a whole number >= 0, "same" or "valid", '
                              f"not {describe(value)}")

    def _serialize(self, value, attr, obj, **kwargs):
        return value


PADDING_DOC = {"oneOf": [{"type": "integer", "minimum": 0},
                         {"type": "string", "enum": ["same", "valid"]}]}


def _size(minimum: int, description: str, **kwargs):
    return StrictInteger(metadata={"type": "integer", "minimum": minimum,
                                   "description": description}, **kwargs)


class Conv1dRequestSchema(Schema):
    input = NestedList(required=True, metadata={
        **TENSOR, "description": "x: [W], [C_in, W] or [N, C_in, W]"})
    weight = NestedList(required=True, metadata={
        **TENSOR, "description": "w: [F] (with x [W] or [C_in=1, W]) or [C_out, C_in, F]"})
    bias = fields.Raw(metadata={**NUMBER_OR_TENSOR,
                                "description": "[C_out], or one number for a 1-D filter"})
    stride = _size(1, "S", load_default=1)
    padding = Padding(load_default=0, metadata={**PADDING_DOC, "description": "P on each side"})
    dilation = _size(1, "D", load_default=1)
    grad_output = NestedList(metadata={
        **TENSOR, "description": "dL/dy, shaped like the output; asks for the gradients"})


class Conv1dResponseSchema(Schema):
    output = fields.Raw(required=True, metadata={**TENSOR, "description": "y, x's rank"})
    output_size = fields.Integer(required=True, metadata={"description": "W_out"})
    grad_input = fields.Raw(metadata={**TENSOR, "description": "dL/dx, shaped like input"})
    grad_weight = fields.Raw(metadata={**TENSOR, "description": "dL/dw, shaped like weight"})
    grad_bias = fields.Raw(metadata={**NUMBER_OR_TENSOR, "description": "dL/db"})


class GeometryRequestSchema(Schema):
    width = _size(1, "W, input units", required=True)
    filter_size = _size(1, "F", required=True)
    padding = Padding(required=True, metadata={**PADDING_DOC, "description": "P on each side"})
    stride = _size(1, "S", required=True)
    dilation = _size(1, "D", load_default=1)


class GeometryResponseSchema(Schema):
    output_size = fields.Integer(required=True)
    exact = fields.Boolean(required=True, metadata={
        "description": "whether the filter's last position ends exactly on the padded input"})
    padding = fields.Integer(required=True, metadata={"description": "P, resolved for 'same'"})
    padded_width = fields.Integer(required=True)
    windows = fields.List(fields.List(fields.Integer()), required=True, metadata={
        "description": "[first, last] input index covered at each output position"})
    centers = fields.List(fields.Integer(), required=True)
    formula = fields.String(required=True)
    width = fields.Integer()
    filter_size = fields.Integer()
    stride = fields.Integer()
    dilation = fields.Integer()
    effective_filter_size = fields.Integer()
    unvisited = fields.List(fields.Integer())


@blp.endpoint("/v1/conv1d/geometry", body=GeometryRequestSchema,
              response=GeometryResponseSchema)
def geometry(req):
    """Where a filter sits: output size, padding, windows and centres.

    PyTorch's formula: floor((W + 2P - D(F - 1) - 1)/S) + 1.
    """
    try:
        _, _, padding, _, _, _ = resolve_geometry(req["width"], req["filter_size"],
                                                  req["padding"], req["stride"], req["dilation"])
        limit = runtime().settings.max_geometry_width
        padded = req["width"] + 2 * padding
        if padded > limit:
            raise InvalidContent(
                f"width: padded to {padded} units; the limit is {limit}",
                errors={"width": [f"width + 2*padding = {padded}; the limit is {limit}"]})
        g = conv_geometry(req["width"], req["filter_size"], req["padding"], req["stride"],
                          req["dilation"])
    except GraphError as exc:
        raise problem_from_conv_error(exc) from None
    return json_response(g.to_dict())


@blp.endpoint("/v1/conv1d", body=Conv1dRequestSchema, response=Conv1dResponseSchema,
              problems=(503,))
def convolve(req):
    """conv1d forward, and with grad_output its gradients (PyTorch's conventions)."""
    try:
        share = _admit(req)
        with runtime().admission:
            return admission.in_lane(share, _convolve, req)
    except GraphError as exc:  # engine.conv refuses results that overflow float64 too
        raise problem_from_conv_error(exc) from None


def _convolve(req):
    """The response to a conv1d request (serializing a big one is part of its work)."""
    x, w = req["input"], req["weight"]
    y = conv1d(x, w, bias=req.get("bias"), stride=req["stride"], padding=req["padding"],
               dilation=req["dilation"])
    body = {"output": y, "output_size": y.shape[-1]}
    if "grad_output" in req:
        gx, gw, gb = conv1d_backward(x, w, req["grad_output"], stride=req["stride"],
                                     padding=req["padding"], dilation=req["dilation"])
        body.update(grad_input=gx, grad_weight=gw, grad_bias=gb)
    return json_response(body)


def _admit(req) -> float:
    """Refuse, before any allocation, a convolution whose work or arrays pass the limits
    (a one-element input with a long filter and a wide padding can ask for 10^12
    multiply-adds; a short input with many output channels an output far larger than
    anything the client sent). Returns the share of the limits it uses."""
    x, w = req["input"], req["weight"]
    if x.ndim not in (1, 2, 3) or w.ndim not in (1, 3):
        return 0.0  # engine.conv names the rank error before it allocates anything
    n, c_in, width = (1,) * (3 - x.ndim) + x.shape
    c_out, filter_size = (w.shape[0] if w.ndim == 3 else 1), w.shape[-1]
    gradients = "grad_output" in req
    cost = conv_cost(n, c_in, width, c_out, filter_size, req["padding"], req["stride"],
                     req["dilation"], gradients=gradients, width_name="x", filter_name="w")
    padding = (cost.padded_width - width) // 2
    admission.check_conv_geometry(width, req["dilation"] * (filter_size - 1) + 1, padding,
                                  req["stride"])
    returned = cost.output_elements + (x.size + w.size + c_out if gradients else 0)
    return admission.admit(
        admission.Need("max_conv_multiply_adds", cost.multiply_adds, "multiply-adds", "weight"),
        admission.Need("max_conv_working_elements", cost.working_elements,
                       "numbers held while it runs", "input"),
        admission.Need("max_conv_elements", cost.output_elements,
                       f"output numbers ({n}*{c_out}*{cost.output_size})", "output"),
        admission.Need("max_response_numbers", returned, "numbers in the response", "output"))


# engine.conv and engine.conv.geometry name their arguments x and w; the API says input
# and weight, so the argument is renamed (the message keeps the engine's words).
_FIELD_NAMES = {"x": "input", "w": "weight"}


def problem_from_conv_error(exc: GraphError) -> Problem:
    """An engine.conv error as a 422 whose field path is the request's: `input[0][3]`
    for an element of x, `grad_weight` for a gradient that overflowed."""
    if isinstance(exc, NonFiniteError):
        return NonFiniteResult(exc.message, errors={exc.node: [exc.message]}, node=exc.node,
                               kind=exc.kind, index=exc.index, position=list(exc.position))
    if isinstance(exc, ArgumentError):
        name = _FIELD_NAMES.get(exc.argument, exc.argument)
        path = name + exc.path.removeprefix(exc.argument)  # the element's [i][j], if any
        return InvalidContent(f"{path}: {exc.message}", errors={path: [exc.message]})
    return from_graph_error(exc)


"""The OpenAPI 3 document: flask-smorest's Api with problem+json as every error's
documented body, and the schema of a problem."""

from __future__ import annotations

import http

from flask_smorest import Api, Blueprint
from flask_smorest.utils import prepare_response
from marshmallow import Schema, fields

from service.body import JSONBodyParser
from service.problems import PROBLEM_JSON


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
    item = fields.Integer(metadata={"description": "batch: the item's index"})
    limit = fields.Integer(metadata={"description": "body too large: the limit in bytes"})


class ProblemApi(Api):
    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Problem details (RFC 9457)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    def _register_error_handlers(self):
        # service.problems.register handles every error as problem+json.
        pass


def problem_responses(blp, *statuses: int):
    """Document the problem+json answers a view can give besides flask-smorest's 422."""
    def decorate(view):
        for status in statuses:
            view = blp.alt_response(status, response=http.HTTPStatus(status).name)(view)
        return view
    return decorate


class ApiBlueprint(Blueprint):
    """flask-smorest's Blueprint reading bodies with orjson and answering problems."""

    ARGUMENTS_PARSER = JSONBodyParser()

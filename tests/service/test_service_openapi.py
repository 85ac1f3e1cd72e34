"""schemathesis against GET /openapi.json: generated requests, valid and invalid, never
get a server error, and every answer matches its documented status, content type
(problem+json for errors) and schema."""

from __future__ import annotations

import tempfile

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)

from service import create_app

TOKEN = "openapi-test-instructor"
service_app = create_app({"warmup": "off", "max_batch_items": 50,
                          "max_array_elements": 1000, "max_conv_elements": 10_000,
                          "instructor_tokens": TOKEN,
                          # submitted jobs go to a queue no worker reads, outside the tree
                          "jobs_dir": tempfile.mkdtemp(prefix="gradsheet-openapi-jobs-")})
schema = schemathesis.openapi.from_wsgi("/openapi.json", service_app)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@schema.parametrize()
@settings(max_examples=60, deadline=None,
          suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_documented_operation_conforms_and_never_fails_on_the_server(case):
    # as an instructor, so the answer keys, exports and trace are walked too
    response = case.call_and_validate(checks=CHECKS, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code < 500


def test_the_document_covers_the_endpoints_schemathesis_walks():
    operations = {(op.ok().path, op.ok().method.upper()) for op in schema.get_all_operations()}
    assert {("/v1/evaluate", "POST"), ("/v1/evaluate/batch", "POST"), ("/v1/conv1d", "POST"),
            ("/v1/conv1d/geometry", "POST"), ("/healthz", "GET"), ("/readyz", "GET"),
            ("/metrics", "GET")} <= operations

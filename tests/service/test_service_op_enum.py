"""The API documents the op table: every `op` in /openapi.json is an enum of its names."""

import engine
from service import create_app


def _op_enums(doc):
    """Every enum given for a property named "op", anywhere in the document."""
    if isinstance(doc, dict):
        op = doc.get("properties", {}).get("op") if isinstance(doc.get("properties"), dict) else None
        found = [op["enum"]] if isinstance(op, dict) and "enum" in op else []
        return found + [e for v in doc.values() for e in _op_enums(v)]
    if isinstance(doc, list):
        return [e for v in doc for e in _op_enums(v)]
    return []


def test_the_openapi_op_enums_are_the_op_tables_names():
    doc = create_app({"warmup": "off"}).test_client().get("/openapi.json").get_json()
    enums = _op_enums(doc)
    assert len(enums) >= 2  # the graph a request sends and the nodes a response returns
    for enum in enums:
        assert enum == [op.name for op in engine.OPS]

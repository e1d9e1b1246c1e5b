from __future__ import annotations

import pytest

from oh_mcp.schema import compact_schema


def test_titles_go_but_a_property_named_title_stays() -> None:
    schema = {
        "title": "Args",
        "type": "object",
        "properties": {"title": {"title": "Title", "type": "string"}, "n": {"title": "N", "type": "integer"}},
    }
    assert compact_schema(schema) == {
        "type": "object",
        "properties": {"title": {"type": "string"}, "n": {"type": "integer"}},
    }


def test_optional_fields_fold_to_their_type_and_lose_string_limits() -> None:
    node = {"anyOf": [{"type": "string", "maxLength": 5}, {"type": "null"}], "default": None, "description": "a\n   b"}
    assert compact_schema(node) == {"type": "string", "description": "a b"}
    assert compact_schema(node, output=True) == {"type": "string", "maxLength": 5}


def test_numeric_bounds_stay() -> None:
    node = {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
    assert compact_schema(node) == node


def test_unions_of_objects_are_left_alone() -> None:
    node = {"anyOf": [{"$ref": "#/$defs/X"}, {"type": "null"}]}
    assert compact_schema(node, output=True) == node


def test_output_definitions_are_written_in_place_wherever_they_are_used() -> None:
    item = {"title": "Item", "type": "object", "properties": {"id": {"type": "string"}}}
    schema = {
        "$defs": {"Item": item},
        "type": "object",
        "properties": {"a": {"type": "array", "items": {"$ref": "#/$defs/Item"}}, "b": {"$ref": "#/$defs/Item"}},
    }
    inlined = {"type": "object", "properties": {"id": {"type": "string"}}}
    assert compact_schema(schema, output=True) == {
        "type": "object",
        "properties": {"a": {"type": "array", "items": inlined}, "b": inlined},
    }
    assert "$defs" in compact_schema(schema), "input schemas keep their definitions"


def test_a_recursive_output_definition_is_refused() -> None:
    node = {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}
    schema = {"$defs": {"Node": node}, "type": "object", "properties": {"n": {"$ref": "#/$defs/Node"}}}
    with pytest.raises(ValueError, match="recursive"):
        compact_schema(schema, output=True)

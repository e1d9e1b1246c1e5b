from __future__ import annotations

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

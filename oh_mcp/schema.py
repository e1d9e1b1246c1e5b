"""Trim the JSON schemas pydantic generates, since every byte of tools/list is paid in context tokens.

Drops the auto-generated `title`s. Arguments that default to null become plain optional X
(omitting them means null); output schemas keep `anyOf [X, null]`, the one spelling of
nullability that every client dialect reads (the Inspector's --strict lint flags type lists).
"""

from __future__ import annotations

from typing import Any

_NESTED_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_NESTED_ONE = ("items", "additionalProperties", "not")
_NESTED_MAPS = ("properties", "$defs", "patternProperties")


def compact_schema(node: Any, *, keep_null: bool) -> Any:
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in _NESTED_MAPS and isinstance(value, dict):
            out[key] = {name: compact_schema(sub, keep_null=keep_null) for name, sub in value.items()}
        elif key in _NESTED_LISTS and isinstance(value, list):
            out[key] = [compact_schema(sub, keep_null=keep_null) for sub in value]
        elif key in _NESTED_ONE:
            out[key] = compact_schema(value, keep_null=keep_null)
        elif key == "description" and isinstance(value, str):
            out[key] = " ".join(value.split())
        else:
            out[key] = value
    return _fold_nullable(out, keep_null)


def _fold_nullable(node: dict[str, Any], keep_null: bool) -> dict[str, Any]:
    options = node.get("anyOf")
    if keep_null or not isinstance(options, list) or len(options) != 2 or {"type": "null"} not in options:
        return node
    other = next(o for o in options if o != {"type": "null"})
    if not isinstance(other, dict) or not isinstance(other.get("type"), str):
        return node
    folded = {k: v for k, v in node.items() if k != "anyOf"}
    folded.update(other)
    if folded.get("default", 0) is None:
        del folded["default"]
    return folded

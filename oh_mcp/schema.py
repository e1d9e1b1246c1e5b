"""Trim the JSON schemas pydantic generates, since every byte of tools/list is paid in context tokens.

Drops the auto-generated `title`s and string limits (see _STRING_LIMITS), and folds
`anyOf [X, null]` into plain optional X on both sides: an argument left out means null, and
results never carry a null (they are dumped without them), so an absent field is the null.
That also avoids type lists, which the Inspector's --strict lint flags as unportable. Output
schemas also lose descriptions and defaults: a client validates results by type, and the model
reads what a result means from the tool's description and the result's own next_step text.
Their `required` lists go too (~1,200 characters): a result is still checked field by field, and
oh-mcp builds every result from a model that has those fields. Their `$defs` are written in place:
a client that checks results with jsonschema resolves every `$ref` again for each list item (a
quarter of the check), and the schemas come out shorter.
"""

from __future__ import annotations

from typing import Any

# String length and pattern limits are enforced when a call arrives, with a clear error; sent to
# every client they cost ~1,500 characters of tools/list for little use. Numeric bounds stay.
_STRING_LIMITS = ("pattern", "maxLength", "minLength")
_NESTED_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_NESTED_ONE = ("items", "additionalProperties", "not")
_NESTED_MAPS = ("properties", "$defs", "patternProperties")


def compact_schema(node: Any, *, output: bool = False) -> Any:
    compacted = _compact(node, output=output)
    if output and isinstance(compacted, dict) and isinstance(compacted.get("$defs"), dict):
        return _in_place(compacted, compacted["$defs"], ())
    return compacted


def _in_place(node: Any, defs: dict[str, Any], within: tuple[str, ...]) -> Any:
    """`node` with each local `$ref` replaced by its definition; a recursive one is refused at start-up."""
    if isinstance(node, list):
        return [_in_place(item, defs, within) for item in node]
    if not isinstance(node, dict):
        return node
    name = str(node.get("$ref", "")).removeprefix("#/$defs/")
    if len(node) == 1 and name in defs:
        if name in within:
            raise ValueError(f"output schema definition {name} is recursive; it cannot be written in place")
        return _in_place(defs[name], defs, (*within, name))
    return {key: _in_place(value, defs, within) for key, value in node.items() if key != "$defs"}


def _compact(node: Any, *, output: bool = False) -> Any:
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if output and key in ("description", "default", "required"):
            continue
        if key in _STRING_LIMITS and not output:
            continue
        if key in _NESTED_MAPS and isinstance(value, dict):
            out[key] = {name: _compact(sub, output=output) for name, sub in value.items()}
        elif key in _NESTED_LISTS and isinstance(value, list):
            out[key] = [_compact(sub, output=output) for sub in value]
        elif key in _NESTED_ONE:
            out[key] = _compact(value, output=output)
        elif key == "description" and isinstance(value, str):
            out[key] = " ".join(value.split())
        else:
            out[key] = value
    return _fold_nullable(out)


def _fold_nullable(node: dict[str, Any]) -> dict[str, Any]:
    options = node.get("anyOf")
    if not isinstance(options, list) or len(options) != 2 or {"type": "null"} not in options:
        return node
    other = next(o for o in options if o != {"type": "null"})
    if not isinstance(other, dict) or not isinstance(other.get("type"), str):
        return node
    folded = {k: v for k, v in node.items() if k != "anyOf"}
    folded.update(other)
    if folded.get("default", 0) is None:
        del folded["default"]
    return folded

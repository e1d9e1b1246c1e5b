"""Bad arguments are refused in the model's words: one short sentence per problem, such as
"limit must be between 1 and 100 (got 100000)", instead of pydantic's dump with its internal
model name and documentation URL.

The SDK validates arguments inside `Tool.run` and turns the ValidationError into text itself (and
logs the fields). A middleware looks at every failed call: when the same arguments model refuses
the arguments, it answers in words instead. A call that succeeded is never validated twice. Being
server middleware, it covers every transport.
"""

from __future__ import annotations

import json
import math
from typing import Any

from mcp.server import MCPServer
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from .params import GIT_REF_PATTERN, HEX_ID_PATTERN, SANDBOX_ID_PATTERN

_PATTERNS = {
    HEX_ID_PATTERN: "must be 32 hexadecimal digits, dashes allowed",
    SANDBOX_ID_PATTERN: "must be letters, digits, '.', '_' or '-', starting with a letter or digit",
    GIT_REF_PATTERN: "must be a commit or branch name, without spaces and not starting with '-'",
}
_TYPES = {
    "int": "must be a whole number",
    "float": "must be a number",
    "finite_number": "must be a finite number",
    "string": "must be a string",
    "bool": "must be true or false",
    "list": "must be a list",
}
_BOUNDS = {
    "greater_than_equal": "at least",
    "greater_than": "greater than",
    "less_than_equal": "at most",
    "less_than": "less than",
}
_SHOWN = 40


class ArgumentErrors:
    """Middleware: a tools/call whose arguments do not validate gets a tool error in words."""

    def __init__(self, server: MCPServer[Any]) -> None:
        self._server = server
        self._schemas: dict[str, dict[str, Any]] = {}

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)
        # The SDK validates before the tool runs, and says why in pydantic's words: only a call that
        # failed can have been refused, so only then are the arguments checked again, for the words.
        if ctx.method != "tools/call" or not _failed(result):
            return result
        params = ctx.params
        if not isinstance(params, dict) or not isinstance(params.get("name"), str):
            return result
        name = params["name"]
        refused = _refusal_of(self._server, name, params.get("arguments") or {})
        if refused is None:
            return result  # the arguments were fine: the tool itself failed, and said why
        return self._refusal(name, *refused)

    def _refusal(self, name: str, model: type[BaseModel], exc: ValidationError) -> CallToolResult:
        schema = self._schemas.get(name)
        if schema is None:
            # Full schema: the advertised one leaves out string limits (schema.py), the words need them.
            schema = self._schemas[name] = model.model_json_schema()
        text = f"Error executing tool {name}: {describe(exc, schema)}"
        return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def _failed(result: HandlerResult) -> bool:
    if isinstance(result, CallToolResult):
        return result.is_error
    return isinstance(result, dict) and result.get("isError") is True


def accepts(server: MCPServer[Any], name: str, arguments: Any) -> bool:
    """Whether `name` would take these arguments: for code that acts on a call before the tool runs
    (a task made, an answer relayed), so that a refused call changes nothing."""
    known = server._tool_manager.get_tool(name) is not None  # pyright: ignore[reportPrivateUsage]
    return known and isinstance(arguments, dict) and _refusal_of(server, name, arguments) is None


def _refusal_of(server: MCPServer[Any], name: str, arguments: Any) -> tuple[type[BaseModel], ValidationError] | None:
    """The tool's arguments model and its refusal of these arguments; None when it takes them (or there
    is no such tool to ask)."""
    # The tool manager is the only way to the SDK's own arguments model for a tool.
    tool = server._tool_manager.get_tool(name)  # pyright: ignore[reportPrivateUsage]
    if tool is None or not isinstance(arguments, dict):
        return None
    try:
        tool.fn_metadata.validate_arguments(arguments)
    except ValidationError as exc:
        return tool.fn_metadata.arg_model, exc
    return None


def describe(exc: ValidationError, schema: dict[str, Any]) -> str:
    """One sentence per problem, in the order pydantic found them."""
    return " ".join(sentence(error, _field_schema(schema, error["loc"])) + "." for error in exc.errors())


def sentence(error: ErrorDetails, field: dict[str, Any]) -> str:
    name = _name(error["loc"])
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    got = f" (got {_shown(value)})"
    if kind == "missing":
        return f"{name} is required"
    if kind in _BOUNDS:
        return f"{name} must be {_range(field, kind, ctx)}{got}"
    if kind in ("string_too_short", "string_too_long"):
        return f"{name} {_length(field, kind, len(str(value)))}"
    if kind in ("too_short", "too_long"):
        return f"{name} must have {_items(field)} (got {ctx.get('actual_length', '?')})"
    if kind == "string_pattern_mismatch":
        return f"{name} {_PATTERNS.get(str(ctx.get('pattern')), 'has an unexpected form')}{got}"
    if kind == "literal_error":
        expected = str(ctx.get("expected")).replace("'", '"')  # quoted like the rejected value
        return f"{name} must be one of {expected}{got}"
    if kind == "value_error":
        reason = str(ctx.get("error", error["msg"]))
        return f"{name} {reason}{got}" if reason.startswith("must") else f"{name}: {reason}{got}"
    phrase = _TYPES.get(kind.removesuffix("_type").removesuffix("_parsing").removesuffix("_from_float"))
    if phrase:
        return f"{name} {phrase}{got}"
    return f"{name}: {error['msg'][:1].lower()}{error['msg'][1:]}{got}"


def _name(loc: tuple[int | str, ...]) -> str:
    """`image_urls[2]` for a list item, `a.b` for a nested field."""
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "arguments"


def _field_schema(schema: dict[str, Any], loc: tuple[int | str, ...]) -> dict[str, Any]:
    """The JSON schema of the value at `loc`, through optional (anyOf null) and list items."""
    node: Any = schema
    for part in loc:
        node = _non_null(node)
        node = node.get("items", {}) if isinstance(part, int) else node.get("properties", {}).get(part, {})
    return _non_null(node)


def _non_null(node: Any) -> dict[str, Any]:
    if not isinstance(node, dict):
        return {}
    for option in node.get("anyOf", []):
        if isinstance(option, dict) and option.get("type") != "null":
            return option
    return node


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _range(field: dict[str, Any], kind: str, ctx: dict[str, Any]) -> str:
    low, high = field.get("minimum"), field.get("maximum")
    if low is not None and high is not None:
        return f"between {_number(low)} and {_number(high)}"
    bound = next((v for v in ctx.values()), "?")
    return f"{_BOUNDS[kind]} {_number(bound)}"


def _length(field: dict[str, Any], kind: str, got: int) -> str:
    low, high = field.get("minLength"), field.get("maxLength")
    if kind == "string_too_short" and low == 1:
        return "must not be empty"
    if low is not None and low > 1 and high is not None:
        return f"must be {low} to {high} characters long (got {got})"
    if kind == "string_too_short":
        return f"must be at least {low} characters long (got {got})"
    return f"must be at most {high} characters long (got {got})"


def _items(field: dict[str, Any]) -> str:
    low, high = field.get("minItems"), field.get("maxItems")
    if low is not None and high is not None:
        return f"{low} to {high} items"
    return f"at least {low} items" if high is None else f"at most {high} items"


def _shown(value: Any) -> str:
    """The rejected value as JSON would spell it, cut short: it is the caller's own data."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"

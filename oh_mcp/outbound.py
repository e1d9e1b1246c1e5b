"""What leaves the server is scrubbed: the content of every tool result and resource read passes
one redaction after the tools have shaped it, so a secret in a field no tool thought of (a title, a
start error's detail) never reaches the client. Only content is touched (text, structured content,
resource text): protocol fields (`type`, `uri`, `mimeType`, ids, cursors, `_meta`) go out as they
are, so a masked value can never make a result unreadable to a strict client. Tools still redact
long texts before windowing them, where a key could otherwise be split across two windows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from pydantic import BaseModel

from .openhands.redaction import mask_shapes, redact, secrets_in_scope

# A content block's fields that hold words for the model; the rest are protocol.
_BLOCK_TEXT = ("text", "title", "description")


class ScrubOutbound:
    """Middleware: masks the secrets in scope (the process's and the caller's own) and credential
    shapes in the content of tool results and resource reads."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)
        scrub = _SCRUBBERS.get(ctx.method)
        if scrub is None or not isinstance(result, BaseModel | dict):
            return result
        # The same dump the SDK's runner makes of a model, so the wire sees nothing else change.
        if isinstance(result, BaseModel):
            result = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        return scrub(result, secrets_in_scope())


def scrub_tool_result(result: dict[str, Any], secrets: tuple[str, ...]) -> dict[str, Any]:
    """A tools/call result with its content blocks' text and its structured content scrubbed."""
    content = result.get("content")
    blocks: list[Any] = content if isinstance(content, list) else []
    # One search over every string the result holds: the structured content and its text twin carry
    # the same values, and almost no result holds anything to mask.
    found: list[str] = []
    for block in blocks:
        if isinstance(block, dict):
            _collect([block.get(f) for f in _BLOCK_TEXT], found)
            if isinstance(block.get("resource"), dict):
                _collect(block["resource"].get("text"), found)
    _collect(result.get("structuredContent"), found)
    if _clean("\0".join(found), secrets):
        return result
    out = dict(result)
    if blocks:
        out["content"] = [_scrub_block(block, secrets) for block in blocks]
    if "structuredContent" in result:
        out["structuredContent"] = scrub_tree(result["structuredContent"], secrets)
    return out


def scrub_resource_read(result: dict[str, Any], secrets: tuple[str, ...]) -> dict[str, Any]:
    """A resources/read result with each content's text scrubbed (never its uri or mimeType)."""
    contents = result.get("contents")
    if not isinstance(contents, list):
        return result
    return {**result, "contents": [_scrub_fields(item, ("text",), secrets) for item in contents]}


def _scrub_block(block: Any, secrets: tuple[str, ...]) -> Any:
    if not isinstance(block, dict):
        return block
    block = _scrub_fields(block, _BLOCK_TEXT, secrets)
    if isinstance(block.get("resource"), dict):  # an embedded resource: its text is content
        block = {**block, "resource": _scrub_fields(block["resource"], ("text",), secrets)}
    return block


def _scrub_fields(item: Any, fields: tuple[str, ...], secrets: tuple[str, ...]) -> Any:
    if not isinstance(item, dict) or not any(isinstance(item.get(f), str) for f in fields):
        return item
    return {key: scrub_tree(value, secrets) if key in fields else value for key, value in item.items()}


_SCRUBBERS: dict[str, Callable[[dict[str, Any], tuple[str, ...]], dict[str, Any]]] = {
    "tools/call": scrub_tool_result,
    "resources/read": scrub_resource_read,
}


def scrub_tree(value: Any, secrets: tuple[str, ...]) -> Any:
    """`value` with every string value redacted (keys are left alone). Almost every result holds no
    secret, and a hosted server knows thousands of keys: so all strings are searched at once, and
    only the keys found (if any) are then looked for string by string."""
    found: list[str] = []
    _collect(value, found)
    joined = "\0".join(found)
    if _clean(joined, secrets):
        return value
    return _scrub(value, tuple(secret for secret in secrets if secret and secret in joined))


def _clean(joined: str, secrets: tuple[str, ...]) -> bool:
    """Nothing to mask in these strings: a shape inside one string would also show in the joined text."""
    return not any(secret and secret in joined for secret in secrets) and mask_shapes(joined) == joined


def _collect(value: Any, into: list[str]) -> None:
    """Every string in `value`, depth first, without a generator frame per level (a call's hot path)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            into.append(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {key: _scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, secrets) for item in value]
    return value

"""What leaves the server is scrubbed: every tool result and resource read passes one redaction
after the tools have shaped it, so a secret in a field no tool thought of (a title, a start
error's detail) never reaches the client. Tools still redact long texts before windowing them,
where a key could otherwise be split across two windows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from pydantic import BaseModel

from .openhands.redaction import known, mask_shapes, redact

SCRUBBED_METHODS = frozenset({"tools/call", "resources/read"})


class ScrubOutbound:
    """Middleware: masks known secrets and credential shapes in every string of a result."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)
        if ctx.method not in SCRUBBED_METHODS or not isinstance(result, BaseModel | dict):
            return result
        # The same dump the SDK's runner makes of a model, so the wire sees nothing else change.
        if isinstance(result, BaseModel):
            result = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        scrubbed: dict[str, Any] = scrub_tree(result, known.values())
        return scrubbed


def scrub_tree(value: Any, secrets: tuple[str, ...]) -> Any:
    """`value` with every string redacted. Almost every result holds no secret, and a hosted server
    knows up to a thousand keys: so all strings are searched at once, and only the keys found (if
    any) are then looked for string by string."""
    joined = "\0".join(_strings(value))
    present = tuple(secret for secret in secrets if secret and secret in joined)
    if not present and mask_shapes(joined) == joined:
        return value  # a shape inside one string would also show in the joined text: nothing to mask
    return _scrub(value, present)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {key: _scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, secrets) for item in value]
    return value

"""The one way tests call a tool that must succeed: assert no error, return the structured result."""

from __future__ import annotations

from typing import Any

from mcp import Client


async def ok(client: Client, tool: str, args: dict[str, Any], **kw: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args, **kw)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    content: dict[str, Any] = result.structured_content
    return content

"""The one way tests call a tool that must succeed: assert no error, return the structured result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
from mcp import Client


async def ok(client: Client, tool: str, args: dict[str, Any], **kw: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args, **kw)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    content: dict[str, Any] = result.structured_content
    return content


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until `check()` holds, polling every 10 ms: for effects that land on their own time
    (a fake's timed transition, a background hold), instead of sleeping a fixed guess."""
    with anyio.fail_after(timeout):
        while True:
            if check():
                return
            await anyio.sleep(0.01)

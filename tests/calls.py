"""The ways tests call a tool: one that must succeed (its structured result) or fail (its error text)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
from mcp import Client

from oh_mcp.tools import TOOLSETS

# How many tools a server with every tool enabled lists (counted, so adding a tool changes no test).
ALL_TOOLS = sum(len(toolset.tools) for toolset in TOOLSETS)


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


async def error_text(client: Client, tool: str, args: dict[str, Any]) -> str:
    """Call a tool that must fail; returns its error text, which never carries a traceback."""
    result = await client.call_tool(tool, args)
    assert result.is_error, result.structured_content
    text = result.content[0].text  # type: ignore[union-attr]
    assert "Traceback" not in text
    return text

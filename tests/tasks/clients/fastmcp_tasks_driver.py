"""Drives oh-mcp with fastmcp-tasks 4.1.4 (a FastMCP Client with the 2026-07-28 tasks extension), as an
application would, and prints one JSON line per finding for tests/tasks/test_clients.py. Usage:
    python fastmcp_tasks_driver.py <stdio|http> <scenario> [url]
Scenarios: complete, approve, cancel (as in ext_tasks.mjs)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from fastmcp import Client
from fastmcp.client.transports import StdioTransport, StreamableHttpTransport
from fastmcp_tasks import call_tool_task


def say(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


async def main(carrier: str, scenario: str, url: str | None) -> None:
    asked: list[str] = []

    async def on_elicit(message: str, response_type: Any, params: Any, context: Any) -> dict[str, str]:
        asked.append(message)
        return {"decision": "accept", "reason": ""}

    transport = (
        StdioTransport(command=sys.executable, args=["-m", "oh_mcp"], env=dict(os.environ))
        if carrier == "stdio"
        else StreamableHttpTransport(str(url))
    )
    messages = {"complete": "hello from fastmcp", "approve": "RUN: touch approved-by-fastmcp", "cancel": "a long job"}
    args: dict[str, Any] = {"message": messages[scenario]} | ({"confirm": "always"} if scenario == "approve" else {})
    async with Client(transport, elicitation_handler=on_elicit) as client:
        task = await call_tool_task(client, "start_conversation", args)
        say({"step": "created", "taskId": task.task_id})
        if scenario == "cancel":
            for _ in range(100):
                status = await task.status()
                if (status.status_message or "").startswith("running"):
                    break
                await asyncio.sleep(0.1)
            await task.cancel()
            say({"step": "cancelled", "status": (await task.status()).status})
            refused = None
            try:
                await task.cancel()
            except Exception as exc:  # the refusal is what this step is about
                refused = {"code": getattr(getattr(exc, "error", None), "code", None), "message": str(exc)}
            say({"step": "second cancel", "refused": refused})
            return
        result = await task.result()
        say({"step": "outcome", "structured": result.structured_content, "asked": asked})
        plain = await client.call_tool("start_conversation", {"message": "transparent"})
        say({"step": "transparent", "structured": plain.structured_content})


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
    except Exception as exc:
        say({"step": "error", "message": repr(exc)})
        sys.exit(1)

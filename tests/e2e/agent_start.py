"""Time to agent running, as a person waits for it: from the start_conversation call until the start
is READY, and until the agent's first event. Shared by the e2e warm test and the bench."""

from __future__ import annotations

import time
from typing import Any

import anyio
from mcp import Client

from oh_mcp.openhands import OpenHandsClient

EVENT_POLL = 0.05
START_TIMEOUT = 120


async def call_ok(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args, read_timeout_seconds=START_TIMEOUT + 30)
    if result.is_error or result.structured_content is None:
        raise AssertionError(f"{tool} failed: {result.content}")
    content: dict[str, Any] = result.structured_content
    return content


async def spare_ready(client: Client, timeout: float = START_TIMEOUT) -> str:
    """The id of a RUNNING warm spare, once list_sandboxes shows one."""
    with anyio.fail_after(timeout):
        while True:
            listed = await call_ok(client, "list_sandboxes", {"limit": 100})
            status = {s["id"]: s["status"] for s in listed["items"]}
            running: list[str] = [sid for sid in listed.get("warm") or [] if status.get(sid) == "RUNNING"]
            if running:
                return running[0]
            await anyio.sleep(0.5)


async def timed_start(client: Client, oh: OpenHandsClient, message: str) -> dict[str, Any]:
    """One delegation, timed: seconds to READY and to the agent's first event, and whether it was warm."""
    began = time.perf_counter()
    started = await call_ok(client, "start_conversation", {"message": message, "timeout_seconds": START_TIMEOUT})
    ready = time.perf_counter() - began
    if started["status"] != "READY":
        raise AssertionError(f"the start did not reach READY: {started}")
    conversation = await oh.get_conversation(started["conversation_id"])
    with anyio.fail_after(START_TIMEOUT):
        while True:  # polled: OpenHands pushes events only over a websocket, which this client has not
            if any(e.source == "agent" for e in await oh.agent_events(conversation, limit=20)):
                break
            await anyio.sleep(EVENT_POLL)
    first_event = time.perf_counter() - began
    return {
        "ready_s": round(ready, 2),
        "first_event_s": round(first_event, 2),
        "warm": started["next_step"].startswith("Started in a warm sandbox"),
        "conversation_id": started["conversation_id"],
        "sandbox_id": started["sandbox_id"],
    }

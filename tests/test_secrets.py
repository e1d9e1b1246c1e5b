"""Secrets never leave: a full journey over HTTP with DEBUG logs, a server key, a forwarded user
key and an agent that prints its environment; nothing oh-mcp emits holds any of the keys."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from mcp import Client

from tests.fake.state import FakeOpenHands
from tests.test_http import connect, hosted

pytestmark = pytest.mark.anyio

SERVER_KEY = "server-key-5d1e0c3b9a77"
USER_KEY = "user-key-a3f9e2b7c4d1"
ENDPOINT_TOKEN = "endpoint-token-9c8b7a6f5e4d"


async def everything(client: Client, fake: FakeOpenHands) -> list[str]:
    """Run a whole journey and return every text the client received."""
    seen: list[str] = []

    async def tool(name: str, args: dict[str, Any]) -> dict[str, Any]:
        result = await client.call_tool(name, args)
        seen.extend(getattr(c, "text", "") for c in result.content)
        seen.append(json.dumps(result.structured_content))
        return result.structured_content or {}

    started = await tool("start_conversation", {"message": "print env please"})
    conv, sandbox = started["conversation_id"], started["sandbox_id"]
    await tool("wait_for_agent", {"conversation_id": conv, "timeout_seconds": 10})
    await tool("get_conversation", {"conversation_id": conv})
    await tool("get_conversation_events", {"conversation_id": conv, "limit": 100})
    await tool("list_sandboxes", {})
    await tool("get_sandbox", {"sandbox_id": sandbox})
    await tool("pause_sandbox", {"sandbox_id": sandbox})
    await tool("send_message", {"conversation_id": conv, "message": "print env again"})
    await tool("wait_for_agent", {"conversation_id": conv, "timeout_seconds": 10})
    await tool("get_conversation", {"conversation_id": "0" * 32})
    await tool("send_message", {"conversation_id": "0" * 32, "message": "x"})
    for uri in ["openhands://sandboxes", f"openhands://sandboxes/{sandbox}", "openhands://conversations"]:
        seen += [getattr(c, "text", "") for c in (await client.read_resource(uri)).contents]
    for uri in [f"openhands://conversations/{conv}", f"openhands://conversations/{conv}/events"]:
        seen += [getattr(c, "text", "") for c in (await client.read_resource(uri)).contents]
    seen.append(json.dumps([t.model_dump(mode="json") for t in (await client.list_tools()).tools]))
    return seen


async def test_no_key_appears_in_anything_oh_mcp_emits(fake: FakeOpenHands) -> None:
    fake.user_keys = {SERVER_KEY, USER_KEY}
    args = ["--transport", "streamable-http", "--log-level", "DEBUG", "--forward-user-key"]
    with hosted(fake, *args, OPENHANDS_API_KEY=SERVER_KEY, OH_MCP_AUTH_TOKEN=ENDPOINT_TOKEN) as server:
        headers = {"Authorization": f"Bearer {ENDPOINT_TOKEN}", "X-OpenHands-API-Key": USER_KEY}
        async with connect(server.base + "/mcp", headers, mode="legacy") as client:
            seen = await everything(client, fake)
        async with connect(server.base + "/mcp", {"Authorization": f"Bearer {ENDPOINT_TOKEN}"}) as client:
            seen += await everything(client, fake)
        async with httpx.AsyncClient() as http:
            seen.append((await http.get(server.base + "/health")).text)
        logs = server.stderr()
    session_keys = [s.key for s in fake.sandboxes.values()]
    assert session_keys, "the journey should have made sandboxes"
    events_text = json.dumps([e for c in fake.conversations.values() for e in c.events])
    assert any(k in events_text for k in session_keys), "the agent really printed a sandbox key upstream"
    assert "DEBUG" in logs and len(logs) > 10_000, "DEBUG logs should be substantial"
    emitted = "\n".join(seen) + logs
    for secret in [SERVER_KEY, USER_KEY, ENDPOINT_TOKEN, *session_keys]:
        assert secret not in emitted, f"a secret leaked: {secret[:8]}…"
    assert "SESSION_API_KEY=***" in emitted, "the printed key must show as redacted"
    used = {key for _path, _query, key in fake.keys_seen}
    assert used == {SERVER_KEY, USER_KEY}

"""oh-mcp as Claude Desktop runs it: a subprocess speaking MCP over stdio, with logs on stderr only."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.calls import ok
from tests.fake.state import FakeOpenHands
from tests.stdio_raw import INITIALIZE, exchange

pytestmark = pytest.mark.anyio


def server_env(fake: FakeOpenHands, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OH_MCP_", "OPENHANDS_"))}
    return base | {"OPENHANDS_URL": fake.base_url, "OH_MCP_POLL_INTERVAL": "0.05"} | extra


async def test_a_whole_journey_over_stdio(fake: FakeOpenHands) -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "oh_mcp"], env=server_env(fake))
    with anyio.fail_after(60):
        async with Client(params) as client:
            started = await ok(client, "start_conversation", {"message": "say token-7781"})
            assert started["status"] == "READY"
            conv_id = started["conversation_id"]

            answer = await ok(client, "wait_for_agent", {"conversation_id": conv_id, "timeout_seconds": 20})
            assert answer["settled"] and "token-7781" in answer["final_response"]

            sent = await ok(client, "send_message", {"conversation_id": conv_id, "message": "again token-9"})
            assert sent["delivered"] and not sent["resumed_sandbox"]
            answer = await ok(client, "wait_for_agent", {"conversation_id": conv_id, "timeout_seconds": 20})
            assert "token-9" in answer["final_response"]

            paused = await ok(client, "pause_sandbox", {"sandbox_id": started["sandbox_id"]})
            assert paused["status"] == "PAUSED"
            resumed = await ok(client, "send_message", {"conversation_id": conv_id, "message": "after pause"})
            assert resumed["resumed_sandbox"] is True

            events = await ok(client, "get_conversation_events", {"conversation_id": conv_id, "limit": 50})
            assert any("after pause" in e["text"] for e in events["events"])
            resource = await client.read_resource(f"openhands://conversations/{conv_id}")
            assert json.loads(resource.contents[0].text)["id"] == conv_id  # type: ignore[union-attr]
    assert [d["text"] for d in fake.deliveries] == ["say token-7781", "again token-9", "after pause"]


def test_stdout_carries_only_protocol_and_logs_go_to_stderr(fake: FakeOpenHands) -> None:
    calls: list[dict[str, Any]] = [
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {
                "name": "get_conversation",
                "arguments": {"conversation_id": "0123456789abcdef0123456789abcdef"},
            },
        },
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "list_sandboxes", "arguments": {}}},
    ]
    command = [sys.executable, "-m", "oh_mcp", "--log-level", "DEBUG"]
    with tempfile.TemporaryFile("w+") as err:
        answers = exchange(command, [*INITIALIZE, *calls], server_env(fake, OPENHANDS_API_KEY="sk-stdio-secret-1"), err)
        err.seek(0)
        stderr = err.read()
    assert answers[3]["result"]["isError"] is True
    assert "not found" in answers[3]["result"]["content"][0]["text"]
    assert answers[4]["result"].get("isError") is not True
    assert "sk-stdio-secret-1" not in stderr
    assert "sk-stdio-secret-1" not in json.dumps(answers)
    assert " DEBUG " in stderr or " INFO " in stderr, "logs should reach stderr with their level"


def test_the_server_exits_when_stdin_closes_even_while_holding_a_title(fake: FakeOpenHands) -> None:
    # A rename is held for 30 s in the background (oh_mcp.openhands.titles); closing stdin must
    # still end the process at once: exchange() waits at most 20 s for the exit.
    start = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "start_conversation", "arguments": {"message": "hi", "title": "Kept"}},
    }
    answers = exchange([sys.executable, "-m", "oh_mcp"], [*INITIALIZE, start], server_env(fake))
    assert answers[2]["result"]["structuredContent"]["status"] == "READY"
    patches = [p for m, p, _ in fake.requests if m == "PATCH" and p.startswith("/api/v1/app-conversations/")]
    assert len(patches) == 1

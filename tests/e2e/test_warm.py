"""Warm sandboxes against the real OpenHands 1.11.0 (process sandboxes): with one warm spare,
start_conversation takes it, reaches READY and the agent answers; nothing is left behind."""

from __future__ import annotations

import tempfile
import uuid

import anyio
import pytest
from mcp import Client

from oh_mcp.openhands import OpenHandsClient

from .agent_start import call_ok, spare_ready, timed_start
from .harness import AppServer, oh_mcp_params
from .install import say

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]  # the timeout (thread method) comes from conftest.py

TEST_TIMEOUT = 300


def live_sandboxes(app_server: AppServer) -> set[str]:
    items = app_server.get("/api/v1/sandboxes/search", params={"limit": 100}).json()["items"]
    return {s["id"] for s in items if s["status"] not in ("MISSING", "ERROR")}


async def test_a_warm_spare_starts_the_agent_and_nothing_is_left_behind(app_server: AppServer) -> None:
    before = live_sandboxes(app_server)
    token = "tok-" + uuid.uuid4().hex[:10]
    with tempfile.TemporaryDirectory() as folder, anyio.fail_after(TEST_TIMEOUT):
        params = oh_mcp_params(app_server)
        params.env = (params.env or {}) | {"OH_MCP_WARM_SANDBOXES": "1", "OH_MCP_WARM_DIR": folder}
        async with Client(params) as client, OpenHandsClient(app_server.url) as oh:
            spare = await spare_ready(client)
            assert spare not in before, "a sandbox oh-mcp did not start was called a spare"
            timing = await timed_start(client, oh, f"Please echo {token}")
            say(f"warm start: READY in {timing['ready_s']} s, first agent event in {timing['first_event_s']} s")
            assert timing["warm"] and timing["sandbox_id"] == spare, timing
            answer = await call_ok(
                client, "wait_for_agent", {"conversation_id": timing["conversation_id"], "timeout_seconds": 60}
            )
            assert token in (answer["final_response"] or ""), answer
            replacement = await spare_ready(client)  # replaced in the background
            assert replacement not in (spare, *before)
            await call_ok(client, "delete_conversation", {"conversation_id": timing["conversation_id"]})
            if spare in live_sandboxes(app_server):
                await call_ok(client, "delete_sandbox", {"sandbox_id": spare})
        # The session ended: oh-mcp deleted its spare on the way out.
    assert live_sandboxes(app_server) <= before, live_sandboxes(app_server) - before

"""Sandbox and spec tools through the in-memory MCP client against the fake OpenHands."""

from __future__ import annotations

import pytest
from mcp import Client

from tests.calls import error_text
from tests.calls import ok as call
from tests.fake.state import FakeOpenHands

pytestmark = pytest.mark.anyio


async def test_list_and_get_sandboxes_show_url_names_but_no_urls_or_keys(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    sandbox = fake.add_sandbox(status="RUNNING")
    fake.add_sandbox(status="PAUSED")
    listed = await call(mcp_client, "list_sandboxes", {"limit": 1})
    assert len(listed["items"]) == 1 and listed["next_page_id"]
    got = await mcp_client.call_tool("get_sandbox", {"sandbox_id": sandbox["id"]})
    data = got.structured_content
    assert data is not None and data["status"] == "RUNNING" and "AGENT_SERVER" in data["urls"]
    key = fake.sandbox_key(sandbox["id"])
    assert key and key not in str(got.content)
    assert "http://" not in str(got.content)


async def test_start_sandbox_waits_for_running_with_progress(fake: FakeOpenHands, mcp_client: Client) -> None:
    fake.start_sandbox_seconds = 0.2
    messages: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message)

    result = await mcp_client.call_tool("start_sandbox", {}, progress_callback=on_progress)
    data = result.structured_content
    assert data is not None and data["status"] == "RUNNING" and data["ready"] is True
    assert any(m and "RUNNING" in m for m in messages)


async def test_start_sandbox_with_an_unknown_spec_is_clear(fake: FakeOpenHands, mcp_client: Client) -> None:
    # Like 1.11.0, the fake answers an unknown spec with 500 "Agent Server Failed to start properly".
    text = await error_text(mcp_client, "start_sandbox", {"sandbox_spec_id": "nope"})
    assert "OpenHands failed on the new sandbox (HTTP 500)" in text
    assert "OpenHands said: Agent Server Failed to start properly." in text
    assert fake.sandboxes == {}, "nothing was started"
    posts = [q for m, p, q in fake.requests if m == "POST" and p == "/api/v1/sandboxes"]
    assert posts == ["sandbox_spec_id=nope"], "a failed write is not retried"


async def test_pause_then_resume_a_sandbox(fake: FakeOpenHands, mcp_client: Client) -> None:
    sandbox = fake.add_sandbox(status="RUNNING")
    paused = await call(mcp_client, "pause_sandbox", {"sandbox_id": sandbox["id"]})
    assert paused["status"] == "PAUSED" and "resume_sandbox" in paused["next_step"]
    resumed = await call(mcp_client, "resume_sandbox", {"sandbox_id": sandbox["id"]})
    assert resumed["status"] == "RUNNING" and resumed["ready"] is True


async def test_a_resume_that_outlives_its_wait_returns_the_current_state(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    sandbox = fake.add_sandbox(status="PAUSED")
    fake.sandbox_stuck_starting(sandbox["id"])
    data = await call(mcp_client, "resume_sandbox", {"sandbox_id": sandbox["id"], "timeout_seconds": 0.3})
    assert data["status"] == "STARTING" and data["ready"] is False
    assert "get_sandbox" in data["next_step"]


async def test_delete_sandbox_sends_the_id_in_the_query_too(fake: FakeOpenHands, mcp_client: Client) -> None:
    sandbox = fake.add_sandbox(status="RUNNING")
    data = await call(mcp_client, "delete_sandbox", {"sandbox_id": sandbox["id"]})
    assert data == {"deleted": True, "id": sandbox["id"]}
    text = await error_text(mcp_client, "get_sandbox", {"sandbox_id": sandbox["id"]})
    assert f"Sandbox {sandbox['id']} not found" in text


@pytest.mark.parametrize("tool", ["get_sandbox", "pause_sandbox", "resume_sandbox", "delete_sandbox"])
async def test_an_unknown_sandbox_is_a_tool_error_in_words(mcp_client: Client, tool: str) -> None:
    text = await error_text(mcp_client, tool, {"sandbox_id": "doesNotExist123"})
    assert "Sandbox doesNotExist123 not found" in text


@pytest.mark.parametrize("bad", ["../../etc", "a/b", "x?y=1", "x#y", "%2f", "a\nb"])
async def test_sandbox_ids_that_could_escape_the_url_never_reach_openhands(
    fake: FakeOpenHands, mcp_client: Client, bad: str
) -> None:
    before = len(fake.requests)
    await error_text(mcp_client, "pause_sandbox", {"sandbox_id": bad})
    assert len(fake.requests) == before


async def test_list_sandbox_specs(mcp_client: Client) -> None:
    data = await call(mcp_client, "list_sandbox_specs", {})
    assert data["items"][0]["id"].startswith("ghcr.io/openhands/agent-server")
    assert data["items"][0]["command"]

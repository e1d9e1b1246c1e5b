"""A task outlives the process that made it: read through two stateless HTTP workers, after a
restart, and over stdio from a second process; and only with a key that may read it."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from tests.fake.state import FakeOpenHands
from tests.tasks.raw import Http, Raw, RawError, Stdio
from tests.test_http import env_for, hosted

pytestmark = pytest.mark.anyio


async def test_two_stateless_workers_and_a_restart_answer_a_task_the_same(fake: FakeOpenHands) -> None:
    fake.agent_run_seconds = 2.0
    args = ("--transport", "streamable-http", "--stateless", "--workers", "2")
    with hosted(fake, *args) as server:
        raw = Raw(Http(server.base + "/mcp"))
        created = await raw.tool("start_conversation", {"message": "durable over http"})
        task_id = created["taskId"]
        # Without keep-alive each read may land on either worker; both know nothing but the id.
        seen = [await raw.get(task_id) for _ in range(6)]
        assert all(s["taskId"] == task_id and s["status"] == "working" for s in seen)
    with hosted(fake, *args) as restarted:
        done = await Raw(Http(restarted.base + "/mcp")).until(task_id, "completed")
    assert done["result"]["structuredContent"]["final_response"] == "Echo: durable over http"


async def test_a_caller_whose_key_may_not_read_a_task_is_told_it_does_not_exist(fake: FakeOpenHands) -> None:
    fake.user_keys = {"user-key-alice"}
    with hosted(fake, "--transport", "streamable-http", "--stateless") as server:
        alice = Raw(Http(server.base + "/mcp", {"X-OpenHands-API-Key": "user-key-alice"}))
        task_id = (await alice.tool("start_conversation", {"message": "mine"}))["taskId"]
        assert (await alice.until(task_id, "completed"))["status"] == "completed"
        mallory = Raw(Http(server.base + "/mcp", {"X-OpenHands-API-Key": "user-key-mallory"}))
        for method in ("tasks/get", "tasks/cancel"):
            with pytest.raises(RawError) as caught:
                await mallory.call(method, {"taskId": task_id})
            assert caught.value.error["code"] == -32602 and "Task not found" in caught.value.error["message"]
        logs = server.stderr()
    assert "user-key-alice" not in logs


def stdio_server(fake: FakeOpenHands) -> subprocess.Popen[str]:
    env: dict[str, Any] = env_for(fake)
    return subprocess.Popen(
        [sys.executable, "-m", "oh_mcp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )


async def test_over_stdio_a_task_made_by_one_process_is_finished_by_the_next(fake: FakeOpenHands) -> None:
    fake.agent_run_seconds = 1.0
    with stdio_server(fake) as first:
        task_id = (await Raw(Stdio(first)).tool("start_conversation", {"message": "over stdio"}))["taskId"]
        first.kill()
    with stdio_server(fake) as second:
        raw = Raw(Stdio(second))
        done = await raw.until(task_id, "completed")
        plain = await raw.tool("list_conversations", {}, tasks=False)
        second.kill()
    assert done["result"]["structuredContent"]["final_response"] == "Echo: over stdio"
    assert plain["structuredContent"]["items"]


async def test_a_batched_read_is_never_shared_with_another_callers_key(fake: FakeOpenHands) -> None:
    # At the default one-second read interval, a read made for alice is still fresh when mallory asks:
    # it must not answer him.
    fake.user_keys = {"user-key-alice"}
    fake.agent_run_seconds = 60
    with hosted(fake, "--transport", "streamable-http", "--stateless", OH_MCP_POLL_INTERVAL="1") as server:
        alice = Raw(Http(server.base + "/mcp", {"X-OpenHands-API-Key": "user-key-alice"}))
        mallory = Raw(Http(server.base + "/mcp", {"X-OpenHands-API-Key": "user-key-mallory"}))
        started = await alice.tool("start_conversation", {"message": "mine"}, tasks=False)
        waited = await alice.tool(
            "wait_for_agent", {"conversation_id": started["structuredContent"]["conversation_id"]}
        )
        task_id = waited["taskId"]
        for _ in range(3):
            assert (await alice.get(task_id))["status"] == "working"
            with pytest.raises(RawError) as caught:
                await mallory.get(task_id)
            assert caught.value.error["code"] == -32602 and "Task not found" in caught.value.error["message"]

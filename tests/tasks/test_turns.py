"""A task is one turn of its conversation: the work its message began. Later messages are other
tasks' turns, so a finished task stays finished with its own answer, and a cancel touches only its
own turn. Both forms, on the fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from oh_mcp import Settings, build_server
from tests.fake.state import FakeOpenHands
from tests.tasks.raw import Raw, RawError, in_memory, in_memory_legacy

pytestmark = pytest.mark.anyio

CAPABILITIES = {"tasks": {"requests": {"tools": {"call": {}}}}, "elicitation": {"form": {}}}


@pytest.fixture
async def raw(settings: Settings, client_factory: Any) -> AsyncIterator[Raw]:
    async with in_memory(build_server(settings, client_factory=client_factory)) as client:
        yield client


def answer_of(task: dict[str, Any]) -> str:
    return str(task["result"]["structuredContent"]["final_response"])


async def refused(raw: Raw, task_id: str) -> dict[str, Any]:
    with pytest.raises(RawError) as caught:
        await raw.call("tasks/cancel", {"taskId": task_id})
    return caught.value.error


async def test_a_finished_task_keeps_its_own_answer_through_a_later_turn_and_its_cancel(
    raw: Raw, fake: FakeOpenHands
) -> None:
    first = await raw.tool("start_conversation", {"message": "first"})
    done = await raw.until(first["taskId"], "completed")
    assert answer_of(done) == "Echo: first"
    assert done["result"]["resultType"] == "complete"  # a whole 2026-07-28 CallToolResult
    conv_id = done["result"]["structuredContent"]["conversation_id"]
    fake.agent_run_seconds = 30
    second = await raw.tool("send_message", {"conversation_id": conv_id, "message": "second"})
    await raw.until(second["taskId"], "working", saying="running")
    during = await raw.get(first["taskId"])
    assert during["status"] == "completed" and answer_of(during) == "Echo: first"
    error = await refused(raw, first["taskId"])
    assert error["code"] == -32602 and "already completed" in error["message"]
    assert fake.conversations[conv_id].execution_status == "running", "the newer turn runs on"
    interrupts = [r for r in fake.requests if r[1].endswith("/interrupt")]
    assert interrupts == [], "nothing was sent for the finished task"
    await raw.call("tasks/cancel", {"taskId": second["taskId"]})
    await raw.until(second["taskId"], "cancelled")
    after = await raw.get(first["taskId"])
    assert after["status"] == "completed" and answer_of(after) == "Echo: first"
    assert (await refused(raw, second["taskId"]))["code"] == -32602


async def test_a_cancelled_task_stays_cancelled_after_a_later_turn_completes(raw: Raw, fake: FakeOpenHands) -> None:
    fake.agent_run_seconds = 30
    first = await raw.tool("start_conversation", {"message": "long"})
    await raw.until(first["taskId"], "working", saying="running")
    await raw.call("tasks/cancel", {"taskId": first["taskId"]})
    await raw.until(first["taskId"], "cancelled")
    [conversation] = fake.conversations.values()
    fake.agent_run_seconds = 0.05
    second = await raw.tool("send_message", {"conversation_id": conversation.id, "message": "go on"})
    assert answer_of(await raw.until(second["taskId"], "completed")) == "Echo: go on"
    assert (await raw.get(first["taskId"]))["status"] == "cancelled"


async def test_a_message_sent_while_the_agent_runs_ends_the_earlier_task_and_its_cancel_leaves_the_run(
    raw: Raw, fake: FakeOpenHands
) -> None:
    fake.agent_run_seconds = 30
    first = await raw.tool("start_conversation", {"message": "long"})
    await raw.until(first["taskId"], "working", saying="running")
    [conversation] = fake.conversations.values()
    second = await raw.tool("send_message", {"conversation_id": conversation.id, "message": "also this"})
    overtaken = await raw.until(first["taskId"], "completed")
    assert "newer message" in overtaken["statusMessage"]
    assert overtaken["result"]["structuredContent"].get("final_response") is None
    assert (await refused(raw, first["taskId"]))["code"] == -32602
    assert conversation.execution_status == "running"
    assert (await raw.get(second["taskId"]))["status"] == "working"


async def test_a_wait_task_follows_the_turn_it_was_made_in(raw: Raw, fake: FakeOpenHands) -> None:
    plain = await raw.tool("start_conversation", {"message": "hi"}, tasks=False)
    conv_id = plain["structuredContent"]["conversation_id"]
    waited = await raw.tool("wait_for_agent", {"conversation_id": conv_id})
    assert answer_of(await raw.until(waited["taskId"], "completed")) == "Echo: hi"
    fake.agent_run_seconds = 30
    await raw.tool("send_message", {"conversation_id": conv_id, "message": "more"}, tasks=False)
    assert answer_of(await raw.get(waited["taskId"])) == "Echo: hi"


async def test_a_task_read_by_a_fresh_server_keeps_its_own_turn(
    settings: Settings, client_factory: Any, fake: FakeOpenHands
) -> None:
    # Nothing is kept between processes: the id alone binds the task to its turn.
    async with in_memory(build_server(settings, client_factory=client_factory)) as one:
        first = await one.tool("start_conversation", {"message": "first"})
        conv_id = (await one.until(first["taskId"], "completed"))["result"]["structuredContent"]["conversation_id"]
        second = await one.tool("send_message", {"conversation_id": conv_id, "message": "second"})
        await one.until(second["taskId"], "completed")
    async with in_memory(build_server(settings, client_factory=client_factory)) as other:
        assert answer_of(await other.get(first["taskId"])) == "Echo: first"
        assert answer_of(await other.get(second["taskId"])) == "Echo: second"


async def test_a_follow_up_task_waits_for_its_own_answer_while_the_agent_is_slow_to_pick_it_up(
    raw: Raw, fake: FakeOpenHands
) -> None:
    first = await raw.until((await raw.tool("start_conversation", {"message": "first"}))["taskId"], "completed")
    conv_id = first["result"]["structuredContent"]["conversation_id"]
    fake.pickup_seconds = 1.0  # the agent reads finished, its previous run's answer newest, for a second
    sent = await raw.tool("send_message", {"conversation_id": conv_id, "message": "second"})
    assert (await raw.get(sent["taskId"]))["status"] == "working"
    assert answer_of(await raw.until(sent["taskId"], "completed")) == "Echo: second"


async def test_in_the_handshake_form_a_finished_task_keeps_its_turn_and_its_cancel_is_refused(
    settings: Settings, client_factory: Any, fake: FakeOpenHands
) -> None:
    server = build_server(settings, client_factory=client_factory)
    async with in_memory_legacy(server, CAPABILITIES) as (raw, _, _carrier):
        call = {"name": "start_conversation", "arguments": {"message": "first"}, "task": {}}
        first = (await raw.call("tools/call", call))["task"]["taskId"]
        with anyio.fail_after(10):
            result = await raw.call("tasks/result", {"taskId": first})
        assert result["structuredContent"]["final_response"] == "Echo: first" and "resultType" not in result
        conv_id = result["structuredContent"]["conversation_id"]
        fake.agent_run_seconds = 30
        call = {"name": "send_message", "arguments": {"conversation_id": conv_id, "message": "second"}, "task": {}}
        second = (await raw.call("tools/call", call))["task"]["taskId"]
        await raw.until(second, "working", saying="running")
        assert (await raw.call("tasks/get", {"taskId": first}))["status"] == "completed"
        with anyio.fail_after(10):
            again = await raw.call("tasks/result", {"taskId": first})
        assert again["structuredContent"]["final_response"] == "Echo: first"
        with pytest.raises(RawError) as caught:
            await raw.call("tasks/cancel", {"taskId": first})
        assert caught.value.error["code"] == -32602
        assert fake.conversations[conv_id].execution_status == "running"
        assert (await raw.call("tasks/cancel", {"taskId": second}))["status"] == "cancelled"
        await raw.until(second, "cancelled")
        assert (await raw.call("tasks/get", {"taskId": first}))["status"] == "completed"

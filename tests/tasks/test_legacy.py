"""The 2025-11-25 form of tasks, for a client that did the initialize handshake and declared task
support: capability, taskSupport on the task tools, CreateTaskResult, tasks/get (and no tasks/list),
tasks/result (asking approval by elicitation related to the task) and tasks/cancel."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from oh_mcp import Settings, build_server
from tests.fake.state import FakeOpenHands
from tests.tasks.raw import RawError, in_memory_legacy

pytestmark = pytest.mark.anyio

CAPABILITIES = {"tasks": {"requests": {"tools": {"call": {}}}}, "elicitation": {"form": {}}}


async def test_the_handshake_form_advertises_tasks_and_marks_the_task_tools(
    settings: Settings, client_factory: Any
) -> None:
    async with in_memory_legacy(build_server(settings, client_factory=client_factory), CAPABILITIES) as (raw, init, _):
        assert init["capabilities"]["tasks"]["requests"] == {"tools": {"call": {}}}
        tools = {t["name"]: t for t in (await raw.call("tools/list", {}))["tools"]}
    marked = {name for name, t in tools.items() if t.get("execution", {}).get("taskSupport") == "optional"}
    assert marked == {"start_conversation", "send_message", "wait_for_agent"}


async def test_a_task_augmented_call_is_followed_to_its_result_with_approval_asked_on_the_way(
    settings: Settings, client_factory: Any, fake: FakeOpenHands
) -> None:
    asked: list[dict[str, Any]] = []

    def on_request(method: str, params: dict[str, Any]) -> dict[str, Any]:
        asked.append({"method": method, **params})
        return {"action": "accept", "content": {"decision": "accept", "reason": ""}}

    server = build_server(settings, client_factory=client_factory)
    async with in_memory_legacy(server, CAPABILITIES, on_request) as (raw, _, carrier):
        call = {"name": "start_conversation", "arguments": {"message": "RUN: touch x", "confirm": "always"}}
        created = await raw.call("tools/call", {**call, "task": {"ttl": 60000}})
        task = created["task"]
        assert task["status"] == "working" and task["pollInterval"] == 1000
        got = await raw.call("tasks/get", {"taskId": task["taskId"]})
        assert got["taskId"] == task["taskId"] and got["status"] in ("working", "input_required")
        with anyio.fail_after(10):
            result = await raw.call("tasks/result", {"taskId": task["taskId"]})
    assert result["structuredContent"]["final_response"] == "Echo: RUN: touch x"
    assert result["_meta"]["io.modelcontextprotocol/related-task"]["taskId"] == task["taskId"]
    [ask] = asked
    assert ask["method"] == "elicitation/create" and "touch x" in ask["message"]
    assert ask["_meta"]["io.modelcontextprotocol/related-task"]["taskId"] == task["taskId"]
    statuses = [n["params"]["status"] for n in carrier.notifications if n["method"] == "notifications/tasks/status"]
    assert "input_required" in statuses and statuses[-1] == "completed"


async def test_tasks_list_is_not_offered_and_cancel_stops_a_running_task(
    settings: Settings, client_factory: Any, fake: FakeOpenHands
) -> None:
    # tasks/list could only tell the truth (the caller's tasks under their own ids, finished ones too)
    # from a table, and tasks here keep none: so it is neither advertised nor answered.
    fake.agent_run_seconds = 60
    server = build_server(settings, client_factory=client_factory)
    async with in_memory_legacy(server, CAPABILITIES) as (raw, init, _carrier):
        assert "list" not in init["capabilities"]["tasks"]
        call = {"name": "start_conversation", "arguments": {"message": "long"}, "task": {}}
        task_id = (await raw.call("tools/call", call))["task"]["taskId"]
        await raw.until(task_id, "working", saying="running")
        with pytest.raises(RawError) as caught:
            await raw.call("tasks/list", {})
        assert caught.value.error["code"] == -32601
        cancelled = await raw.call("tasks/cancel", {"taskId": task_id})
        assert cancelled["status"] == "cancelled"
        await raw.until(task_id, "cancelled")
    [conversation] = fake.conversations.values()
    assert conversation.execution_status == "paused"


async def test_a_finished_task_cannot_be_cancelled_in_the_handshake_form(
    settings: Settings, client_factory: Any
) -> None:
    async with in_memory_legacy(build_server(settings, client_factory=client_factory), CAPABILITIES) as (raw, _, _c):
        call = {"name": "start_conversation", "arguments": {"message": "quick"}, "task": {}}
        task_id = (await raw.call("tools/call", call))["task"]["taskId"]
        with anyio.fail_after(10):
            await raw.call("tasks/result", {"taskId": task_id})
        with pytest.raises(RawError) as caught:
            await raw.call("tasks/cancel", {"taskId": task_id})
    assert caught.value.error["code"] == -32602


async def test_arguments_the_tool_refuses_make_no_task(settings: Settings, client_factory: Any) -> None:
    async with in_memory_legacy(build_server(settings, client_factory=client_factory), CAPABILITIES) as (raw, _, _):
        started = await raw.call("tools/call", {"name": "start_conversation", "arguments": {"message": "hi"}})
        bad = {"conversation_id": started["structuredContent"]["conversation_id"], "timeout_seconds": -1}
        refused = await raw.call("tools/call", {"name": "wait_for_agent", "arguments": bad, "task": {"ttl": 60000}})
    assert "task" not in refused and refused["isError"]
    assert refused["content"][0]["text"].startswith("Error executing tool wait_for_agent: timeout_seconds must be")


async def test_a_client_that_only_polls_is_asked_once_on_its_session_and_the_answer_runs_the_action(
    settings: Settings, client_factory: Any, fake: FakeOpenHands
) -> None:
    # ext-tasks 0.2.2 polls tasks/get to the end and never calls tasks/result while a task waits.
    asked: list[dict[str, Any]] = []

    def on_request(method: str, params: dict[str, Any]) -> dict[str, Any]:
        asked.append({"method": method, **params})
        return {"action": "accept", "content": {"decision": "accept", "reason": ""}}

    server = build_server(settings, client_factory=client_factory)
    async with in_memory_legacy(server, CAPABILITIES, on_request) as (raw, _, _carrier):
        call = {"name": "start_conversation", "arguments": {"message": "RUN: touch polled", "confirm": "always"}}
        task_id = (await raw.call("tools/call", {**call, "task": {}}))["task"]["taskId"]
        await raw.until(task_id, "completed")
    [ask] = asked
    assert ask["method"] == "elicitation/create" and ask["message"].startswith("run: touch polled")
    assert ask["_meta"]["io.modelcontextprotocol/related-task"]["taskId"] == task_id
    [conversation] = fake.conversations.values()
    assert "ObservationEvent" in [e["kind"] for e in conversation.events], "the accepted action ran"


async def test_a_client_that_polls_and_waits_on_tasks_result_is_asked_once(
    settings: Settings, client_factory: Any, fake: FakeOpenHands
) -> None:
    asked: list[str] = []

    def on_request(method: str, params: dict[str, Any]) -> dict[str, Any]:
        asked.append(params["message"])
        return {"action": "accept", "content": {"decision": "accept", "reason": ""}}

    server = build_server(settings, client_factory=client_factory)
    async with in_memory_legacy(server, CAPABILITIES, on_request) as (raw, _, _carrier):
        call = {"name": "start_conversation", "arguments": {"message": "RUN: touch both", "confirm": "always"}}
        task_id = (await raw.call("tools/call", {**call, "task": {}}))["task"]["taskId"]
        await raw.until(task_id, "input_required")
        with anyio.fail_after(10):
            result = await raw.call("tasks/result", {"taskId": task_id})
    assert result["structuredContent"]["final_response"] == "Echo: RUN: touch both"
    assert len(asked) == 1, asked

"""Steering a running agent against the real OpenHands 1.11.0: interrupt a long step, approve or reject a
scripted command under confirm="always", and ask a side question that leaves the history as it was."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from mcp import Client

from oh_mcp.openhands import AppConversation, OpenHandsClient

from .harness import AppServer, Journey, oh_mcp_params

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

TEST_TIMEOUT = 300


@asynccontextmanager
async def journey(app_server: AppServer) -> AsyncIterator[Journey]:
    with anyio.fail_after(TEST_TIMEOUT):
        async with Client(oh_mcp_params(app_server)) as client:
            yield Journey(client)


async def started(j: Journey, message: str, **args: object) -> str:
    result = await j.ok("start_conversation", {"message": message, "timeout_seconds": 120, **args})
    assert result["status"] == "READY", result
    return str(result["conversation_id"])


async def status_of(j: Journey, conv_id: str) -> str | None:
    return (await j.ok("get_conversation", {"conversation_id": conv_id})).get("execution_status")


async def workspace_has(app_server: AppServer, conv_id: str, name: str) -> bool:
    """Looks in the sandbox's workspace through the agent server's command route (not through the agent)."""
    async with OpenHandsClient(app_server.url) as oh:
        conversation: AppConversation = await oh.get_conversation(conv_id)
        done = await oh.execute_command(conversation, f"test -e {name} && echo present || echo absent")
    return "present" in (done.stdout or "")


async def test_an_interrupt_stops_a_long_step_and_a_message_lets_the_agent_finish(app_server: AppServer) -> None:
    async with journey(app_server) as j:
        conv_id = await started(j, "SLOW: 30\nSAY: never said")
        try:
            assert await status_of(j, conv_id) == "running"
            began = time.monotonic()
            stopped = await j.ok("interrupt_agent", {"conversation_id": conv_id})
            assert stopped["interrupted"] is True, stopped
            while await status_of(j, conv_id) != "paused":
                assert time.monotonic() - began < 5, "the agent was not paused within 5 s"
                await anyio.sleep(0.2)
            j.step(f"paused {time.monotonic() - began:.1f} s after the interrupt")
            again = await j.ok("interrupt_agent", {"conversation_id": conv_id})
            assert again["interrupted"] is False, again

            token = "go-on-" + uuid.uuid4().hex[:8]
            await j.ok("send_message", {"conversation_id": conv_id, "message": f"SAY: {token}"})
            await j.answer(conv_id, token, after="the interrupt and a follow-up")
        finally:
            await j.call("delete_conversation", {"conversation_id": conv_id})


async def test_confirm_always_holds_the_first_action_until_it_is_answered(app_server: AppServer) -> None:
    marker = "marker-" + uuid.uuid4().hex[:8]
    async with journey(app_server) as j:
        conv_id = await started(j, f"RUN: touch {marker}", confirm="always")
        try:
            waiting = await j.ok("wait_for_agent", {"conversation_id": conv_id, "timeout_seconds": 60})
            assert waiting["execution_status"] == "waiting_for_confirmation", waiting
            [pending] = waiting["pending_actions"]
            assert pending["does"] == f"run: touch {marker}" and pending["risk"], pending
            assert not await workspace_has(app_server, conv_id, marker)

            rejected = await j.ok(
                "respond_to_action",
                {"conversation_id": conv_id, "action_ids": [pending["id"]], "accept": False, "reason": "not now"},
            )
            assert rejected["accepted"] is False and "send_message" in rejected["next_step"], rejected
            idle = await j.ok("wait_for_agent", {"conversation_id": conv_id, "timeout_seconds": 30})
            assert idle["execution_status"] == "idle" and "pending_actions" not in idle, idle
            assert not await workspace_has(app_server, conv_id, marker), "a rejected command ran"

            await j.ok("send_message", {"conversation_id": conv_id, "message": f"RUN: touch {marker}"})
            waiting = await j.ok("wait_for_agent", {"conversation_id": conv_id, "timeout_seconds": 60})
            [pending] = waiting["pending_actions"]
            stale = await j.call(
                "respond_to_action", {"conversation_id": conv_id, "action_ids": ["not-the-id"], "accept": True}
            )
            assert stale.is_error and pending["id"] in str(stale.content), stale
            await j.ok("respond_to_action", {"conversation_id": conv_id, "action_ids": [pending["id"]], "accept": True})
            done = await j.ok("wait_for_agent", {"conversation_id": conv_id, "timeout_seconds": 60})
            assert done["execution_status"] == "finished", done
            assert await workspace_has(app_server, conv_id, marker), "an accepted command did not run"
        finally:
            await j.call("delete_conversation", {"conversation_id": conv_id})


async def test_ask_agent_answers_and_leaves_the_history_as_it_was(app_server: AppServer) -> None:
    async with journey(app_server) as j:
        conv_id = await started(j, "SAY: all done")
        try:
            await j.answer(conv_id, "all done", after="start_conversation")
            before = await history(app_server, conv_id)
            reply = await j.ok("ask_agent", {"conversation_id": conv_id, "question": "How far are you?"})
            assert reply.get("answer"), reply
            assert await history(app_server, conv_id) == before
        finally:
            await j.call("delete_conversation", {"conversation_id": conv_id})


async def history(app_server: AppServer, conv_id: str) -> list[str]:
    """The conversation's messages, actions and observations, by id (ask_agent may add a stats update)."""
    async with OpenHandsClient(app_server.url) as oh:
        events = await oh.agent_events(await oh.get_conversation(conv_id), limit=100)
    return [e.id for e in events if e.kind != "ConversationStateUpdateEvent"]

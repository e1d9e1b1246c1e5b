"""Steering tools (interrupt, approvals, side questions, several waits) against the fake's agent server."""

from __future__ import annotations

import time

import anyio
import pytest
from mcp import Client

from oh_mcp import Settings, build_server
from oh_mcp.tools import steering
from tests.calls import error_text
from tests.calls import ok as call
from tests.fake.state import FakeOpenHands

pytestmark = pytest.mark.anyio


async def start_waiting(fake: FakeOpenHands, client: Client, message: str = "RUN: touch marker") -> str:
    started = await call(client, "start_conversation", {"message": message, "confirm": "always"})
    assert started["status"] == "READY", started
    return str(started["conversation_id"])


async def test_confirm_always_holds_the_very_first_action(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv_id = await start_waiting(fake, mcp_client)
    assert "initial_message" not in fake.started_requests[-1], "the message must wait for the policy"
    paths = [path for _, path, _ in fake.requests]
    policy = next(i for i, p in enumerate(paths) if p.endswith("/confirmation_policy"))
    sent = next(i for i, p in enumerate(paths) if p.endswith("/send-message"))
    assert policy < sent
    state = await call(mcp_client, "wait_for_agent", {"conversation_id": conv_id, "timeout_seconds": 5})
    assert state["execution_status"] == "waiting_for_confirmation" and state["settled"] is True
    [pending] = state["pending_actions"]
    assert pending["does"] == "run: touch marker" and pending["risk"] == "LOW" and pending["tool"] == "terminal"
    assert "respond_to_action" in state["next_step"] and "final_response" not in state
    kinds = [e["kind"] for e in fake.events_of(conv_id)]
    assert "ObservationEvent" not in kinds, "nothing may run before the answer"


async def test_a_rejection_keeps_the_action_from_running_and_says_how_to_go_on(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    conv_id = await start_waiting(fake, mcp_client)
    await call(mcp_client, "wait_for_agent", {"conversation_id": conv_id})
    pending = (await call(mcp_client, "get_conversation", {"conversation_id": conv_id}))["pending_actions"]
    args = {"conversation_id": conv_id, "action_ids": [pending[0]["id"]], "accept": False, "reason": "too risky"}
    answered = await call(mcp_client, "respond_to_action", args)
    assert answered["accepted"] is False and "send_message" in answered["next_step"]
    events = fake.events_of(conv_id)
    assert [e["rejection_reason"] for e in events if e["kind"] == "UserRejectObservation"] == ["too risky"]
    assert "ObservationEvent" not in [e["kind"] for e in events]
    state = await call(mcp_client, "wait_for_agent", {"conversation_id": conv_id, "timeout_seconds": 5})
    assert state["execution_status"] == "idle" and "pending_actions" not in state


async def test_an_accepted_action_runs_and_the_agent_finishes(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv_id = await start_waiting(fake, mcp_client)
    pending = (await call(mcp_client, "wait_for_agent", {"conversation_id": conv_id}))["pending_actions"]
    args = {"conversation_id": conv_id, "action_ids": [pending[0]["id"]], "accept": True}
    assert (await call(mcp_client, "respond_to_action", args))["accepted"] is True
    done = await call(mcp_client, "wait_for_agent", {"conversation_id": conv_id, "timeout_seconds": 5})
    assert done["execution_status"] == "finished" and done["final_response"] == "Echo: RUN: touch marker"
    assert [
        e["observation"]["content"][0]["text"] for e in fake.events_of(conv_id) if e["kind"] == "ObservationEvent"
    ] == ["ran touch marker"]


async def test_a_pending_action_replaced_meanwhile_is_not_answered(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv_id = await start_waiting(fake, mcp_client)
    old = (await call(mcp_client, "wait_for_agent", {"conversation_id": conv_id}))["pending_actions"][0]["id"]
    new = fake.replace_waiting_action(conv_id, "rm -rf /tmp/build")
    text = await error_text(
        mcp_client, "respond_to_action", {"conversation_id": conv_id, "action_ids": [old], "accept": True}
    )
    assert "Nothing was answered" in text and new in text and "run: rm -rf /tmp/build (risk HIGH)" in text
    rec = fake.conversation(conv_id)
    assert rec is not None and [a["id"] for a in rec.waiting] == [new]
    assert not [p for _, p, _ in fake.requests if p.endswith("/respond_to_confirmation")]


async def test_answering_when_nothing_waits_is_refused(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation()
    text = await error_text(
        mcp_client, "respond_to_action", {"conversation_id": conv["id"], "action_ids": ["x"], "accept": True}
    )
    assert "no action" in text and "wait_for_agent" in text


async def test_confirm_risky_asks_only_for_high_risk_actions(fake: FakeOpenHands, mcp_client: Client) -> None:
    safe = await call(mcp_client, "start_conversation", {"message": "RUN: ls", "confirm": "risky"})
    risky = await call(mcp_client, "start_conversation", {"message": "RISK: HIGH\nRUN: rm -rf x", "confirm": "risky"})
    ids = [safe["conversation_id"], risky["conversation_id"]]
    state = await call(mcp_client, "wait_for_agent", {"conversation_id": ids[0], "other_ids": ids[1:], "until": "all"})
    assert state["execution_status"] == "finished"
    [other] = state["others"]
    assert other["execution_status"] == "waiting_for_confirmation" and other["pending_actions"][0]["risk"] == "HIGH"


async def test_confirm_is_refused_when_approvals_are_off(fake: FakeOpenHands, settings: Settings) -> None:
    async with Client(build_server(settings.model_copy(update={"approvals": "off"}))) as client:
        text = await error_text(client, "start_conversation", {"message": "hi", "confirm": "always"})
    assert "OH_MCP_APPROVALS=off" in text and not fake.started_requests


async def test_an_interrupt_stops_a_long_step_and_a_message_lets_it_go_on(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    conv = fake.add_conversation()
    fake.agent_run_seconds = 60
    await call(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "a long task"})
    stopped = await call(mcp_client, "interrupt_agent", {"conversation_id": conv["id"]})
    assert stopped == {
        "conversation_id": conv["id"],
        "interrupted": True,
        "execution_status": "paused",
        "next_step": "The agent is paused: send_message with new instructions lets it go on.",
    }
    assert "InterruptEvent" in [e["kind"] for e in fake.events_of(conv["id"])]
    fake.agent_run_seconds = 0.05
    await call(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "go on"})
    done = await call(mcp_client, "wait_for_agent", {"conversation_id": conv["id"], "timeout_seconds": 5})
    assert done["final_response"] == "Echo: go on"


async def test_interrupting_an_agent_that_is_not_running_says_so(fake: FakeOpenHands, mcp_client: Client) -> None:
    idle = fake.add_conversation()
    paused = fake.add_conversation(sandbox_status="PAUSED")
    result = await call(mcp_client, "interrupt_agent", {"conversation_id": idle["id"]})
    assert result["interrupted"] is False and "agent idle" in result["next_step"]
    result = await call(mcp_client, "interrupt_agent", {"conversation_id": paused["id"]})
    assert result["interrupted"] is False and "sandbox PAUSED" in result["next_step"]
    assert fake.sandbox_status(paused["sandbox_id"]) == "PAUSED", "never resumed just to interrupt"
    assert not [p for _, p, _ in fake.requests if p.endswith(("/interrupt", "/resume"))]


async def test_ask_agent_answers_without_changing_the_history(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation()
    before = list(fake.events_of(conv["id"]))
    reply = await call(mcp_client, "ask_agent", {"conversation_id": conv["id"], "question": "How far are you?"})
    assert "How far are you?" in reply["answer"] and fake.questions == ["How far are you?"]
    assert fake.events_of(conv["id"]) == before


async def test_ask_agent_bounds_its_wait_on_a_busy_agent(
    fake: FakeOpenHands, mcp_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(steering, "ASK_WAIT", 0.3)
    conv = fake.add_conversation()
    fake.agent_run_seconds = 60
    await call(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "long"})
    with anyio.fail_after(5):
        reply = await call(mcp_client, "ask_agent", {"conversation_id": conv["id"], "question": "status?"})
    assert "answer" not in reply and "after its current step" in reply["next_step"]


async def test_wait_for_agent_follows_several_and_returns_when_any_stops(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    slow, quick = fake.add_conversation(), fake.add_conversation()
    fake.agent_run_seconds = 60
    await call(mcp_client, "send_message", {"conversation_id": slow["id"], "message": "slow"})
    fake.agent_run_seconds = 0.05
    await call(mcp_client, "send_message", {"conversation_id": quick["id"], "message": "quick"})
    requests = len(fake.requests)
    args = {"conversation_id": slow["id"], "other_ids": [quick["id"]], "timeout_seconds": 5}
    with anyio.fail_after(5):
        state = await call(mcp_client, "wait_for_agent", args)
    assert state["settled"] is False and state["execution_status"] == "running"
    assert state["others"] == [
        {"conversation_id": quick["id"], "execution_status": "finished", "sandbox_status": "RUNNING", "settled": True}
    ]
    assert "Another followed agent stopped" in state["next_step"]
    batch = [q for _, p, q in fake.requests[requests:] if p == "/api/v1/app-conversations"]
    assert batch and all(slow["id"] in q and quick["id"] in q for q in batch), "one batch read serves both"


async def test_wait_for_agent_reports_what_the_agent_is_doing(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation()
    # Running until the wait has reported it so, then done: timed runs raced a loaded machine, where
    # the first poll came after the run's end and the wait never saw it running.
    fake.agent_run_seconds = 60
    await call(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "work"})
    messages: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")
        rec = fake.conversation(conv["id"])
        if rec is not None and rec.running_until is not None:
            rec.running_until = time.monotonic()

    await call(mcp_client, "wait_for_agent", {"conversation_id": conv["id"]}, progress_callback=on_progress)
    assert messages and all(len(m) < 200 for m in messages)
    assert messages[0].startswith("running: thinking · step 0"), messages
    assert messages[-1].startswith("finished: Finish: Echo: work · step 2 · $0.01"), messages


async def test_read_only_hides_interrupt_and_respond_but_keeps_ask_and_pending(settings: Settings) -> None:
    async with Client(build_server(settings.model_copy(update={"read_only": True}))) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        refused = await client.call_tool("interrupt_agent", {"conversation_id": "0" * 32})
    assert {"ask_agent", "wait_for_agent", "get_conversation"} <= names
    assert not {"interrupt_agent", "respond_to_action"} & names
    assert refused.is_error and "read-only" in refused.content[0].text  # type: ignore[union-attr]


async def test_respond_to_action_asks_hosts_to_confirm_each_call(mcp_client: Client) -> None:
    tools = {t.name: t for t in (await mcp_client.list_tools()).tools}
    assert tools["respond_to_action"].meta == {"anthropic/requiresUserInteraction": True}


async def test_a_refused_session_key_is_worded_as_the_sandbox_key(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation()
    fake.inject("POST", r"/ask_agent$", 401, {"detail": "Unauthorized"})
    text = await error_text(mcp_client, "ask_agent", {"conversation_id": conv["id"], "question": "hi"})
    assert "refused the session key of conversation" in text and "OPENHANDS_API_KEY" not in text
    assert fake.sandbox_key(conv["sandbox_id"]) not in text


async def test_a_paused_conversation_cannot_be_asked_and_says_how_to_resume(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    conv = fake.add_conversation(sandbox_status="PAUSED")
    text = await error_text(mcp_client, "ask_agent", {"conversation_id": conv["id"], "question": "hi"})
    assert "PAUSED" in text and "resume_sandbox" in text


async def test_an_archived_conversation_says_so_rather_than_resume(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation(sandbox_status="MISSING")
    text = await error_text(mcp_client, "ask_agent", {"conversation_id": conv["id"], "question": "hi"})
    assert "archived" in text and "start_conversation" in text and "resume_sandbox" not in text


async def test_an_agent_server_that_drops_the_connection_is_named(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation()
    fake.inject("GET", r"/agent/.*/events/search$", 200, mode="reset", times=5)
    fake.conversation(conv["id"]).execution_status = "waiting_for_confirmation"  # type: ignore[union-attr]
    text = await error_text(mcp_client, "get_conversation", {"conversation_id": conv["id"]})
    assert "agent server" in text and "not answering" in text and "OPENHANDS_URL" not in text


@pytest.mark.parametrize(("status", "version"), [(404, "1.58.2"), (400, "1.34.0")])
async def test_an_agent_server_that_no_longer_holds_the_run_reads_as_nothing_running(
    fake: FakeOpenHands, mcp_client: Client, status: int, version: str
) -> None:
    """Agent server 1.58.2 answers an interrupt of a conversation it does not hold with 404, 1.34.0 with 400."""
    conv = fake.add_conversation()
    fake.agent_run_seconds = 60
    await call(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "a long task"})
    fake.inject("POST", r"/interrupt$", status, {"detail": "Conversation not found"})
    result = await call(mcp_client, "interrupt_agent", {"conversation_id": conv["id"]})
    assert result["interrupted"] is False, version
    assert result["next_step"] == "Nothing was running: the agent had just stopped on its own."

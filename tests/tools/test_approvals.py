"""Approvals through the host: wait_for_agent asks the person (elicitation) where the client can, and
falls back to respond_to_action where it cannot or is not allowed to."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult

from oh_mcp import Settings, build_server
from tests.calls import ok as call
from tests.fake.state import FakeOpenHands

pytestmark = pytest.mark.anyio

Reply = Callable[[str], ElicitResult]


@asynccontextmanager
async def asking_client(
    settings: Settings, client_factory: Any, reply: Reply, asked: list[str]
) -> AsyncIterator[Client]:
    async def on_elicit(context: Any, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return reply(params.message)

    server = build_server(settings, client_factory=client_factory)
    async with Client(server, mode="legacy", elicitation_callback=on_elicit, raise_exceptions=True) as client:
        yield client


async def waiting_conversation(client: Client) -> str:
    started = await call(client, "start_conversation", {"message": "RUN: touch marker", "confirm": "always"})
    return str(started["conversation_id"])


async def test_an_accepted_approval_runs_the_action_and_the_wait_goes_on(
    fake: FakeOpenHands, settings: Settings, client_factory: Any
) -> None:
    asked: list[str] = []
    accept = ElicitResult(action="accept", content={"decision": "accept", "reason": ""})
    async with asking_client(settings, client_factory, lambda _: accept, asked) as client:
        conv_id = await waiting_conversation(client)
        state = await call(client, "wait_for_agent", {"conversation_id": conv_id, "timeout_seconds": 5})
    assert len(asked) == 1 and "run: touch marker (risk LOW)" in asked[0]
    assert state["execution_status"] == "finished" and state["final_response"] == "Echo: RUN: touch marker"
    assert state["next_step"].startswith("The person accepted")
    assert "ObservationEvent" in [e["kind"] for e in fake.events_of(conv_id)]


async def test_a_rejection_with_a_reason_reaches_the_agent(
    fake: FakeOpenHands, settings: Settings, client_factory: Any
) -> None:
    reject = ElicitResult(action="accept", content={"decision": "reject", "reason": "not on main"})
    async with asking_client(settings, client_factory, lambda _: reject, []) as client:
        conv_id = await waiting_conversation(client)
        state = await call(client, "wait_for_agent", {"conversation_id": conv_id, "timeout_seconds": 5})
    assert state["execution_status"] == "idle" and "send_message" in state["next_step"]
    reasons = [e["rejection_reason"] for e in fake.events_of(conv_id) if e["kind"] == "UserRejectObservation"]
    assert reasons == ["not on main"]


async def test_declining_the_question_rejects_the_action(
    fake: FakeOpenHands, settings: Settings, client_factory: Any
) -> None:
    async with asking_client(settings, client_factory, lambda _: ElicitResult(action="decline"), []) as client:
        conv_id = await waiting_conversation(client)
        state = await call(client, "wait_for_agent", {"conversation_id": conv_id, "timeout_seconds": 5})
    assert state["execution_status"] == "idle"
    assert "ObservationEvent" not in [e["kind"] for e in fake.events_of(conv_id)]


async def test_a_cancelled_question_leaves_the_action_pending_for_the_tool(
    fake: FakeOpenHands, settings: Settings, client_factory: Any
) -> None:
    async with asking_client(settings, client_factory, lambda _: ElicitResult(action="cancel"), []) as client:
        conv_id = await waiting_conversation(client)
        state = await call(client, "wait_for_agent", {"conversation_id": conv_id, "timeout_seconds": 5})
    assert state["execution_status"] == "waiting_for_confirmation" and state["pending_actions"]
    assert "respond_to_action" in state["next_step"]
    assert not [p for _, p, _ in fake.requests if p.endswith("/respond_to_confirmation")]


async def test_a_client_without_elicitation_gets_the_tool_path(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv_id = await waiting_conversation(mcp_client)
    state = await call(mcp_client, "wait_for_agent", {"conversation_id": conv_id, "timeout_seconds": 5})
    assert state["pending_actions"] and "respond_to_action" in state["next_step"]


@pytest.mark.parametrize("change", [{"approvals": "model"}, {"read_only": True}])
async def test_no_question_is_asked_when_approvals_go_through_the_model_or_nothing_may_change(
    fake: FakeOpenHands, settings: Settings, client_factory: Any, change: dict[str, Any]
) -> None:
    asked: list[str] = []
    reply = ElicitResult(action="accept", content={"decision": "accept"})
    conv = fake.add_conversation()
    fake.conversation(conv["id"]).policy = "AlwaysConfirm"  # type: ignore[union-attr]
    fake.deliver(fake.conversation(conv["id"]), "RUN: ls", run=True)  # type: ignore[arg-type]
    async with asking_client(settings.model_copy(update=change), client_factory, lambda _: reply, asked) as client:
        state = await call(client, "wait_for_agent", {"conversation_id": conv["id"], "timeout_seconds": 5})
    assert not asked and state["pending_actions"]

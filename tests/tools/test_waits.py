"""wait_for_agent keeps to its timeout (asking the person included), reports every answer it relayed,
and says at once what to do when nothing will happen by itself."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult

from oh_mcp import Settings, build_server
from oh_mcp.tools import waiting
from tests.calls import error_text
from tests.calls import ok as call
from tests.fake.state import FakeOpenHands

pytestmark = pytest.mark.anyio

ACCEPT = ElicitResult(action="accept", content={"decision": "accept", "reason": ""})
Reply = Callable[[str], Awaitable[ElicitResult]]


async def asked_wait(
    settings: Settings, client_factory: Any, reply: Reply, args: dict[str, Any]
) -> tuple[dict[str, Any], list[str], float]:
    """wait_for_agent from a client that answers questions with `reply`: its result, the questions, its seconds."""
    asked: list[str] = []

    async def on_elicit(context: Any, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return await reply(params.message)

    server = build_server(settings, client_factory=client_factory)
    async with Client(server, mode="legacy", elicitation_callback=on_elicit, raise_exceptions=True) as client:
        began = time.monotonic()
        state = await call(client, "wait_for_agent", args)
        return state, asked, time.monotonic() - began


def asking_agent(fake: FakeOpenHands, message: str) -> str:
    conv = fake.add_conversation()
    rec = fake.conversations[conv["id"]]
    rec.policy = "AlwaysConfirm"
    fake.deliver(rec, message, run=True)
    return str(conv["id"])


def after(seconds: float, result: ElicitResult = ACCEPT) -> Reply:
    async def reply(message: str) -> ElicitResult:
        await anyio.sleep(seconds)
        return result

    return reply


async def test_an_agent_that_asks_again_after_each_answer_keeps_the_wait_to_its_timeout(
    fake: FakeOpenHands, settings: Settings, client_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(waiting, "MIN_ASK_SECONDS", 0.5)
    conv_id = asking_agent(fake, "\n".join(f"RUN: step {n}" for n in range(8)))
    args = {"conversation_id": conv_id, "timeout_seconds": 1.5}
    state, asked, seconds = await asked_wait(settings, client_factory, after(0.3), args)
    assert seconds < 1.5 + 0.5, f"a 1.5 s wait took {seconds:.1f} s"
    assert asked and state["next_step"].count("The person accepted") == len(asked), state["next_step"]
    assert state["pending_actions"] and "wait_for_agent again" in state["next_step"]
    assert "respond_to_action" not in state["next_step"]


async def test_with_less_than_the_asking_floor_left_the_person_is_not_asked_for_a_moment(
    fake: FakeOpenHands, settings: Settings, client_factory: Any
) -> None:
    conv_id = asking_agent(fake, "RUN: rm -rf build")
    args = {"conversation_id": conv_id, "timeout_seconds": 1}
    state, asked, seconds = await asked_wait(settings, client_factory, after(0), args)
    assert asked == [] and seconds < 2
    assert "at least 30 s left" in state["next_step"] and "timeout_seconds of 30 or more" in state["next_step"]


async def test_the_person_has_until_the_wait_ends_to_answer(
    fake: FakeOpenHands, settings: Settings, client_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(waiting, "MIN_ASK_SECONDS", 0.5)
    conv_id = asking_agent(fake, "RUN: touch marker")
    args = {"conversation_id": conv_id, "timeout_seconds": 4}
    state, asked, _ = await asked_wait(settings, client_factory, after(1.5), args)
    assert len(asked) == 1 and state["next_step"].startswith("The person accepted"), state


async def test_an_action_replaced_while_the_person_is_asked_is_asked_about_again(
    fake: FakeOpenHands, settings: Settings, client_factory: Any
) -> None:
    conv_id = asking_agent(fake, "RUN: touch marker")
    replaced: list[str] = []

    async def reply(message: str) -> ElicitResult:
        if not replaced:
            with fake.lock:
                replaced.append(fake.replace_waiting_action(conv_id, "rm -rf /tmp/build"))
        return ACCEPT

    args = {"conversation_id": conv_id, "timeout_seconds": 40}
    state, asked, _ = await asked_wait(settings, client_factory, reply, args)
    assert len(asked) == 2 and "run: rm -rf /tmp/build" in asked[1] and "rm -rf" not in asked[0]
    assert state["execution_status"] == "finished", state
    assert waiting.REPLACED in state["next_step"] and f"The person accepted {replaced[0]}" in state["next_step"]
    assert "respond_to_action" not in state["next_step"]


async def test_an_action_replaced_too_late_to_ask_again_is_reported_not_offered_to_the_model(
    fake: FakeOpenHands, settings: Settings, client_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(waiting, "MIN_ASK_SECONDS", 1.0)
    conv_id = asking_agent(fake, "RUN: touch marker")
    replaced: list[str] = []

    async def reply(message: str) -> ElicitResult:
        await anyio.sleep(0.8)
        with fake.lock:
            replaced.append(fake.replace_waiting_action(conv_id, "rm -rf /tmp/build"))
        return ACCEPT

    args = {"conversation_id": conv_id, "timeout_seconds": 1.5}
    state, asked, _ = await asked_wait(settings, client_factory, reply, args)
    assert len(asked) == 1 and [a["id"] for a in state["pending_actions"]] == replaced
    assert state["next_step"].startswith(waiting.REPLACED) and "wait_for_agent again" in state["next_step"]
    assert "respond_to_action" not in state["next_step"] and "accepted" not in state["next_step"]
    assert not [p for _, p, _ in fake.requests if p.endswith("/respond_to_confirmation")]


async def test_a_paused_sandbox_ends_the_wait_at_once_and_says_how_to_resume(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    conv = fake.add_conversation(sandbox_status="PAUSED")
    with anyio.fail_after(2):
        state = await call(mcp_client, "wait_for_agent", {"conversation_id": conv["id"], "timeout_seconds": 10})
    assert state["settled"] is False and state["sandbox_status"] == "PAUSED"
    assert "PAUSED" in state["next_step"] and "resume_sandbox" in state["next_step"]
    assert "still running" not in state["next_step"]


async def test_a_sandbox_still_starting_is_waited_for_not_counted_as_settled(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    fake.start_sandbox_seconds, fake.agent_run_seconds = 0.5, 0.2
    conv = fake.add_conversation(sandbox_status="STARTING")
    fake.deliver(fake.conversations[conv["id"]], "work", run=True)
    state = await call(mcp_client, "wait_for_agent", {"conversation_id": conv["id"], "timeout_seconds": 10})
    assert state["settled"] is True and state["execution_status"] == "finished", state
    assert state["final_response"] == "Echo: work"


@pytest.mark.parametrize("progress", [False, True])
async def test_a_slow_agent_server_does_not_stretch_the_wait(
    fake: FakeOpenHands, mcp_client: Client, progress: bool
) -> None:
    conv = fake.add_conversation()
    fake.agent_run_seconds = 60
    fake.deliver(fake.conversations[conv["id"]], "a long task", run=True)
    fake.inject("GET", r"^/agent/.*/events/(search|count)$", None, delay=1.5, times=100)
    messages: list[str] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    kw = {"progress_callback": on_progress} if progress else {}
    began = time.monotonic()
    state = await call(mcp_client, "wait_for_agent", {"conversation_id": conv["id"], "timeout_seconds": 2}, **kw)
    assert time.monotonic() - began < 2 + 0.5 and state["settled"] is False
    agent_reads = [p for _, p, _ in fake.requests if p.startswith("/agent/") and "/events/" in p]
    assert bool(messages) == progress and bool(agent_reads) == progress


async def test_answering_one_of_two_pending_actions_answers_neither(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv_id = asking_agent(fake, "RUN: touch marker")
    first = (await call(mcp_client, "wait_for_agent", {"conversation_id": conv_id}))["pending_actions"][0]["id"]
    second = fake.add_waiting_action(conv_id, "rm -rf /tmp/build")
    pending = (await call(mcp_client, "get_conversation", {"conversation_id": conv_id}))["pending_actions"]
    assert [a["id"] for a in pending] == [first, second]
    text = await error_text(
        mcp_client, "respond_to_action", {"conversation_id": conv_id, "action_ids": [first], "accept": True}
    )
    assert "Nothing was answered" in text and second in text
    assert not [p for _, p, _ in fake.requests if p.endswith("/respond_to_confirmation")]
    both = {"conversation_id": conv_id, "action_ids": [second, first], "accept": False, "reason": "no"}
    assert (await call(mcp_client, "respond_to_action", both))["action_ids"] == sorted([first, second])
    rejected = [e["action_id"] for e in fake.events_of(conv_id) if e["kind"] == "UserRejectObservation"]
    assert rejected == [first, second]


# ---- a guarded start never loses its message unseen -----------------------------------------------------


async def ready(client: Client, task_id: str) -> dict[str, Any]:
    with anyio.fail_after(10):
        while True:
            task = await call(client, "get_start_task", {"task_id": task_id})
            if task["status"] == "READY":
                return task
            await anyio.sleep(0.05)


async def test_a_guarded_start_that_outlives_its_wait_says_its_message_was_not_sent(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    fake.start_task_step_seconds = 0.3
    args = {"message": "RUN: rm -rf build", "confirm": "always", "timeout_seconds": 0.2}
    started = await call(mcp_client, "start_conversation", args)
    assert started["status"] != "READY" and "it was not sent, and nothing sends it later" in started["next_step"]
    task = await ready(mcp_client, started["task_id"])
    await anyio.sleep(0.3)  # time in which a background follow-up would have sent it
    assert fake.deliveries == [], "the message went out without its approval policy being checked"
    step = task["next_step"]
    assert "not sent and no approval policy was set" in step and f"sandbox_id={task['sandbox_id']}" in step
    assert f"delete_conversation {task['conversation_id']}" in step and "agent is working" not in step


async def test_a_guarded_start_whose_message_failed_says_so_and_get_start_task_too(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    fake.inject("POST", r"/send-message$", 500, times=5)
    text = await error_text(mcp_client, "start_conversation", {"message": "RUN: ls", "confirm": "always"})
    assert "asks before acting, but the task message was not sent" in text and "send_message" in text
    [task_id] = fake.tasks
    task = await ready(mcp_client, task_id)
    assert "Its approval policy is set, so send the task with send_message" in task["next_step"]
    assert task["conversation_id"] in task["next_step"]
    fake.clear_injections()
    await call(mcp_client, "send_message", {"conversation_id": task["conversation_id"], "message": "RUN: ls"})
    sent = await call(mcp_client, "get_start_task", {"task_id": task_id})
    assert sent["next_step"].startswith("The agent is working")


async def test_a_guarded_start_within_its_wait_is_working(fake: FakeOpenHands, mcp_client: Client) -> None:
    started = await call(mcp_client, "start_conversation", {"message": "RUN: ls", "confirm": "always"})
    task = await call(mcp_client, "get_start_task", {"task_id": started["task_id"]})
    assert started["next_step"].startswith("The agent is working") and task["next_step"] == started["next_step"]


async def test_a_question_nobody_answers_ends_with_the_wait(
    fake: FakeOpenHands, settings: Settings, client_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(waiting, "MIN_ASK_SECONDS", 0.5)
    conv_id = asking_agent(fake, "RUN: touch marker")
    args = {"conversation_id": conv_id, "timeout_seconds": 1.5}
    state, asked, seconds = await asked_wait(settings, client_factory, after(30), args)
    assert len(asked) == 1 and seconds < 1.5 + 0.8, f"a 1.5 s wait took {seconds:.1f} s"
    assert state["pending_actions"], state


async def test_the_settle_after_an_answer_ends_with_the_wait(
    fake: FakeOpenHands, settings: Settings, client_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The agent server takes the answer (2xx) and goes on waiting, as 1.11.0 once did: the settle loop
    # that waits for it to move on must stop at the wait's deadline, not after its own 5 s.
    monkeypatch.setattr(waiting, "MIN_ASK_SECONDS", 0.5)
    conv_id = asking_agent(fake, "RUN: touch marker")
    fake.inject("POST", r"/respond_to_confirmation$", 200, {"success": True}, times=10)
    args = {"conversation_id": conv_id, "timeout_seconds": 1.5}
    state, asked, seconds = await asked_wait(settings, client_factory, after(0), args)
    assert len(asked) == 1 and seconds < 1.5 + 0.8, f"a 1.5 s wait took {seconds:.1f} s"
    assert "The person accepted" in state["next_step"], state


async def test_reading_a_settled_agents_late_stored_answer_ends_with_the_wait(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    # The agent server is out of reach, so the answer is read from the app server's copy, which lags:
    # the wait for it keeps to the call's timeout, not its own 10 s patience.
    fake.agent_server_reachable = False
    fake.event_lag_seconds = 30
    conv = fake.add_conversation()
    fake.deliver(fake.conversations[conv["id"]], "hello", run=True)
    await anyio.sleep(0.2)  # the agent finishes (its events reach the app server only in 30 s)
    began = time.monotonic()
    state = await call(mcp_client, "wait_for_agent", {"conversation_id": conv["id"], "timeout_seconds": 1})
    seconds = time.monotonic() - began
    assert state["execution_status"] == "finished" and seconds < 1 + 0.8, f"a 1 s wait took {seconds:.1f} s"

"""wait_for_agent: follow one conversation, or several at once, until their agents stop running;
list what waits for approval and, where the host can ask the person, ask them.

A wait keeps to its timeout: past the deadline it makes at most the reads that tell the state it
returns. Asking the person fits inside it: a wait asks only while MIN_ASK_SECONDS of it are left."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

import anyio
from pydantic import Field

from ..next_steps import for_model
from ..openhands import (
    AppConversation,
    AuthFailed,
    ConnectionFailed,
    ExecutionStatus,
    OpenHandsClient,
    OpenHandsError,
    PendingAction,
    SandboxStatus,
    Unavailable,
    WaitTimedOut,
)
from ..openhands.waits import HALTED, reached
from ..records import AgentState, run_state
from ..shaping import final_text, redact, window
from .approvals import MIN_ASK_SECONDS, REJECTED_STEP, PendingChanged, answer_pending, ask_person, can_ask
from .conversations import conversations
from .params import DEFAULT_WAIT, ConversationId, WaitSeconds
from .progress import Progress, activity, progress_wanted
from .toolset import Ctx, runtime

logger = logging.getLogger(__name__)

Pending = dict[str, list[PendingAction]]
EVENT_LAG_PATIENCE = 10.0  # the app server's event webhook lags a few seconds behind the agent
ANSWER_SETTLE_SECONDS = 5.0
OtherIds = Annotated[list[ConversationId] | None, Field(max_length=9, description="More to follow at once.")]
Until = Annotated[Literal["any", "all"], Field(description="With other_ids: return when any or all stop.")]
REPLACED = "The agent replaced the action the person was being asked about, so nothing was answered."


@conversations.tool(title="Wait for agent", read_only=True, destructive=False, idempotent=True, wait="timeout_seconds")
async def wait_for_agent(
    ctx: Ctx,
    conversation_id: ConversationId,
    timeout_seconds: WaitSeconds = DEFAULT_WAIT,
    response_offset: Annotated[int, Field(ge=0, description="next_response_offset, to read on.")] = 0,
    other_ids: OtherIds = None,
    until: Until = "any",
) -> AgentState:
    """Wait until the agent stops running or the timeout passes; returns its status, final response and
    pending_actions. If settled is false, call it again."""
    rt = runtime(ctx)
    ids = list(dict.fromkeys([conversation_id, *(other_ids or [])]))
    deadline = anyio.current_time() + timeout_seconds
    progress = Progress(ctx, timeout_seconds) if progress_wanted(ctx) else None
    notes: list[str] = []  # every answer relayed, and why the person was not asked (again)
    asking, too_late = can_ask(ctx), False
    while True:
        found, done = await _follow(rt.client, ids, until, deadline, progress)
        pending = {c.id: await _pending(rt.client, c) for c in found}
        if not asking or not any(pending.values()):
            break
        left = deadline - anyio.current_time()
        if left < MIN_ASK_SECONDS:
            notes.append(_too_late(left))
            too_late = True
            break
        note = await _approve(ctx, found, pending, deadline)
        if note is None:
            break
        notes.append(note)
    return await _state(ctx, found, done, pending, response_offset, notes, deadline, too_late)


def _too_late(left: float) -> str:
    return (
        f"An action waits for approval, but only {max(left, 0):.0f} s of this wait were left: the person is "
        f"asked only with at least {MIN_ASK_SECONDS:g} s left, and has until the wait ends to answer. Call "
        f"wait_for_agent again with timeout_seconds of {MIN_ASK_SECONDS:g} or more so they are asked."
    )


async def _follow(
    client: OpenHandsClient,
    ids: list[str],
    until: Literal["any", "all"],
    deadline: float,
    progress: Progress | None,
) -> tuple[list[AppConversation], bool]:
    """One poll loop for every followed conversation until the deadline; returns them and whether
    `until` was met. Past the deadline (or when no read finished before it) one read more, no more."""

    async def report(found: list[AppConversation]) -> None:
        if progress is not None:
            # The line's agent-server reads stay within the wait: cut off, it is only the status.
            line = f"{found[0].execution_status or found[0].sandbox_status}"
            with anyio.move_on_after(deadline - anyio.current_time()):
                line = await _doing(client, found)
            await progress.report(line)

    remaining = deadline - anyio.current_time()
    if remaining > 0:
        try:
            return await client.wait_for_agents(ids, until=until, timeout=remaining, on_poll=report), True
        except WaitTimedOut as exc:
            if isinstance(exc.last, list):
                return exc.last, False
    found = await client.read_agents(ids)
    return found, reached(found, until)


async def _doing(client: OpenHandsClient, found: list[AppConversation]) -> str:
    running = [c for c in found if c.execution_status == ExecutionStatus.RUNNING]
    line = await activity(client, running[0] if running else found[0])
    return (
        line
        if len(found) == 1
        else f"{len(running)}/{len(found)} running; {running[0].id[:8] if running else ''} {line}"
    )


async def _approve(ctx: Ctx, found: list[AppConversation], pending: Pending, deadline: float) -> str | None:
    """Ask the person about the first conversation with pending actions, until the deadline, and relay
    the answer; returns what was done, or None when there was no answer (or it could not be relayed)."""
    conversation = next(c for c in found if pending.get(c.id))
    actions = pending[conversation.id]
    answer = await ask_person(ctx, conversation, actions, deadline - anyio.current_time())
    if answer is None:
        return None
    client = runtime(ctx).client
    try:
        await answer_pending(client, conversation, [a.id for a in actions], answer)
    except PendingChanged:
        return REPLACED  # the new action is asked about while the wait has time, else reported as waiting
    except OpenHandsError as exc:
        return f"The person's answer could not be relayed: {for_model(exc)}"
    await _left_waiting(client, conversation.id, deadline)
    verb = "accepted" if answer.accept else "rejected"
    note = f"The person {verb} {', '.join(a.id for a in actions)} of conversation {conversation.id}."
    return note if answer.accept else f"{note} {REJECTED_STEP}"


async def _left_waiting(client: OpenHandsClient, conv_id: str, deadline: float) -> None:
    """Until the answered agent no longer shows as waiting (briefly, and within the wait), so the same
    actions are not asked about again: an accepted action stays unmatched in the events while it runs."""
    with anyio.move_on_after(min(ANSWER_SETTLE_SECONDS, deadline - anyio.current_time())):
        for _ in range(1000):
            if (await client.get_conversation(conv_id)).execution_status != ExecutionStatus.WAITING_FOR_CONFIRMATION:
                return
            await anyio.sleep(client.poll_interval)


async def _state(
    ctx: Ctx,
    found: list[AppConversation],
    settled: bool,
    pending: Pending,
    offset: int,
    notes: list[str],
    deadline: float,
    too_late: bool = False,
) -> AgentState:
    rt = runtime(ctx)
    conversation, others = found[0], found[1:]
    mine = run_state(conversation, pending.get(conversation.id))
    response = (
        await _final_response(rt.client, conversation, deadline) if mine.settled and not mine.pending_actions else None
    )
    chunk, next_offset = (
        window(redact(response, rt.client.secrets_for(conversation)), offset, rt.settings.output_budget)
        if response
        else (None, None)
    )
    # A wait that could not ask in time has said what to do; the model is not invited to approve instead.
    step = "" if too_late else _step(conversation, mine.settled, next_offset, pending, settled)
    return AgentState(
        **mine.model_dump(),
        final_response=chunk,
        next_response_offset=next_offset,
        next_step=" ".join(part for part in [*notes, step] if part),
        others=[run_state(c, pending.get(c.id)) for c in others] or None,
    )


def _step(conversation: AppConversation, settled: bool, next_offset: int | None, pending: Pending, done: bool) -> str:
    if any(pending.values()):
        how = "respond_to_action with their ids (accept, or reject with a reason)"
        return f"An agent waits for approval of pending_actions: call {how}."
    if conversation.sandbox_status in HALTED:
        return _halted(conversation)
    if not settled:
        if done:
            return (
                "Another followed agent stopped (see others); this one still runs: call wait_for_agent again "
                "without the stopped ones."
            )
        return "The agent is still running: call wait_for_agent again, or get_conversation_events to watch it."
    if next_offset is not None:
        return f"The response is longer: call wait_for_agent with response_offset={next_offset} to read on."
    return "Reply with send_message, or read the steps with get_conversation_events."


def _halted(conversation: AppConversation) -> str:
    """Nothing happens in a sandbox that is not running until someone acts: say what to do, not to wait."""
    status = conversation.sandbox_status
    if status == SandboxStatus.PAUSED:
        return (
            f"The sandbox {conversation.sandbox_id} is PAUSED, so the agent is not running and will not go on by "
            "itself: send_message resumes it with new instructions, or resume_sandbox it and call wait_for_agent."
        )
    if status == SandboxStatus.MISSING:
        return "The conversation is archived (its sandbox is gone): start_conversation for new work."
    return (
        f"The sandbox {conversation.sandbox_id} is in ERROR, so the agent cannot run: delete_sandbox it and "
        "start_conversation again."
    )


async def _final_response(client: OpenHandsClient, conversation: AppConversation, deadline: float) -> str | None:
    """Ask the agent server; when the sandbox is not running, or its agent server is out of reach or
    refuses its key, fall back to the stored events: the app server holds the answer too."""
    if conversation.conversation_url:
        try:
            answer = await client.get_final_response(conversation)
        except (Unavailable, ConnectionFailed, AuthFailed) as exc:
            logger.warning("final response of %s read from stored events: %s", conversation.id, exc.message)
            answer = None
        if answer:
            return answer
    # The app server stores events by webhook, in batches: a finished agent's answer may land a moment
    # after its status, so wait for it (within the call's wait) rather than report no answer.
    finished = conversation.execution_status == ExecutionStatus.FINISHED
    deadline = min(deadline, anyio.current_time() + EVENT_LAG_PATIENCE)
    while (text := await _stored_final(client, conversation.id)) is None and finished:
        if anyio.current_time() + client.poll_interval >= deadline:
            break
        await anyio.sleep(client.poll_interval)
    return text


async def _stored_final(client: OpenHandsClient, conv_id: str) -> str | None:
    page = await client.search_events(conv_id, limit=50, newest_first=True)
    return next((text for event in page.items if (text := final_text(event))), None)


async def _pending(client: OpenHandsClient, conversation: AppConversation) -> list[PendingAction]:
    """What waits for approval; nothing is listed (and the wait goes on) when the agent server, the
    only place that knows, is out of reach or refuses its key."""
    try:
        return await client.pending_actions(conversation)
    except (ConnectionFailed, AuthFailed) as exc:
        logger.warning("pending actions of %s not read: %s", conversation.id, exc.message)
        return []

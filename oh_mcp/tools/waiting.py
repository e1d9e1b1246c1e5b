"""wait_for_agent: follow one conversation, or several at once, until their agents stop running;
list what waits for approval and, where the host can ask the person, ask them."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

import anyio
from pydantic import Field

from ..openhands import (
    AppConversation,
    AuthFailed,
    ConnectionFailed,
    ExecutionStatus,
    OpenHandsClient,
    PendingAction,
    Unavailable,
    WaitTimedOut,
)
from ..records import AgentState, run_state
from ..shaping import final_text, redact, window
from .approvals import REJECTED_STEP, answer_pending, ask_person, can_ask
from .conversations import conversations
from .params import DEFAULT_WAIT, ConversationId, WaitSeconds
from .progress import Progress, activity
from .toolset import Ctx, runtime

logger = logging.getLogger(__name__)

Pending = dict[str, list[PendingAction]]
EVENT_LAG_PATIENCE = 10.0  # the app server's event webhook lags a few seconds behind the agent
MIN_READ_SECONDS = 2.0
ANSWER_SETTLE_SECONDS = 5.0
OtherIds = Annotated[list[ConversationId] | None, Field(max_length=9, description="More to follow at once.")]
Until = Annotated[Literal["any", "all"], Field(description="With other_ids: return when any or all stop.")]


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
    progress = Progress(ctx, timeout_seconds)
    answered: list[str] = []
    while True:
        found, settled = await _follow(rt.client, ids, until, deadline, progress)
        pending = {c.id: await _pending(rt.client, c) for c in found}
        note = await _approve(ctx, found, pending, deadline) if can_ask(ctx) else None
        if note is None:
            break
        answered.append(note)
    return await _state(ctx, found, settled, pending, response_offset, answered, deadline)


async def _follow(
    client: OpenHandsClient, ids: list[str], until: Literal["any", "all"], deadline: float, progress: Progress
) -> tuple[list[AppConversation], bool]:
    """One poll loop for every followed conversation; returns them and whether `until` was met."""

    async def report(found: list[AppConversation]) -> None:
        await progress.report(await _doing(client, found))

    try:
        # At least one read, even when asking the person used up the wait.
        remaining = max(deadline - anyio.current_time(), MIN_READ_SECONDS)
        return await client.wait_for_agents(ids, until=until, timeout=remaining, on_poll=report), True
    except WaitTimedOut as exc:
        if not isinstance(exc.last, list):
            raise
        return exc.last, False


async def _doing(client: OpenHandsClient, found: list[AppConversation]) -> str:
    running = [c for c in found if c.execution_status == ExecutionStatus.RUNNING]
    line = await activity(client, running[0] if running else found[0])
    return (
        line
        if len(found) == 1
        else f"{len(running)}/{len(found)} running; {running[0].id[:8] if running else ''} {line}"
    )


async def _approve(ctx: Ctx, found: list[AppConversation], pending: Pending, deadline: float) -> str | None:
    """Ask the person about the first conversation with pending actions and relay the answer; returns
    what was done, or None when there was nothing to ask or no answer."""
    waiting = [c for c in found if pending.get(c.id)]
    if not waiting:
        return None
    conversation = waiting[0]
    actions = pending[conversation.id]
    answer = await ask_person(ctx, conversation, actions, deadline - anyio.current_time())
    if answer is None:
        return None
    client = runtime(ctx).client
    await answer_pending(client, conversation, [a.id for a in actions], answer)
    await _left_waiting(client, conversation.id)
    verb = "accepted" if answer.accept else "rejected"
    note = f"The person {verb} {', '.join(a.id for a in actions)} of conversation {conversation.id}."
    return note if answer.accept else f"{note} {REJECTED_STEP}"


async def _left_waiting(client: OpenHandsClient, conv_id: str) -> None:
    """Until the answered agent no longer shows as waiting (briefly), so the same actions are not asked
    about again: an accepted action stays unmatched in the events while it runs."""
    with anyio.move_on_after(ANSWER_SETTLE_SECONDS):
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
    answered: list[str],
    deadline: float,
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
    return AgentState(
        **mine.model_dump(),
        final_response=chunk,
        next_response_offset=next_offset,
        next_step=" ".join([*answered, _step(conversation, mine.settled, next_offset, pending, settled)]),
        others=[run_state(c, pending.get(c.id)) for c in others] or None,
    )


def _step(conversation: AppConversation, settled: bool, next_offset: int | None, pending: Pending, done: bool) -> str:
    if any(pending.values()):
        how = "respond_to_action with their ids (accept, or reject with a reason)"
        return f"An agent waits for approval of pending_actions: call {how}."
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

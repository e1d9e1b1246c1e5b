"""A task's OpenHands side: read what a task id names (through the per-worker batcher), and act on
it: answer the actions that were shown, or cancel. Every read and write uses the caller's client, so
the caller's key decides what may be seen."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import anyio
from mcp import MCPError
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types.jsonrpc import INVALID_PARAMS

from ..openhands import (
    AppConversation,
    AuthFailed,
    ConnectionFailed,
    Event,
    ExecutionStatus,
    NotFound,
    OpenHandsClient,
    OpenHandsError,
    PendingAction,
    SandboxStatus,
    StartTask,
)
from ..tools.approvals import Answer, answer_pending
from ..tools.progress import activity
from .batch import Batcher
from .mapping import (
    CANCEL_REASON,
    FIRST_TURN,
    POLL_INTERVAL_MS,
    RECENT_EVENTS,
    TaskRef,
    Turn,
    Verdict,
    approval_key,
    conversation_verdict,
    start_verdict,
    turn_id,
    turn_in,
)

logger = logging.getLogger(__name__)

ACTIVITY_SECONDS = 3.0  # a progress line costs two agent-server reads; hosts poll every second
SETTLE_SECONDS = 5.0
# A cancel of a starting task waits this long in its call for the agent to run (a start takes 15-30 s).
CANCEL_START_SECONDS = 45.0


_SETTLED = (ExecutionStatus.IDLE, ExecutionStatus.FINISHED)


class TaskGone(Exception):
    """The task id names nothing this caller's key can read."""


@dataclass(frozen=True)
class Seen:
    verdict: Verdict
    pending: list[PendingAction]


def now_ms() -> int:
    return int(time.time() * 1000)


class Follower:
    """Reads tasks for one worker: batched conversation and start-task reads, cached progress lines."""

    def __init__(self, interval: float = POLL_INTERVAL_MS / 1000) -> None:
        self.conversations: Batcher[AppConversation] = Batcher(interval)
        self.starts: Batcher[StartTask] = Batcher(interval)
        self._activity: dict[tuple[str, str], tuple[float, str]] = {}
        # Turns a newer message followed can change no more: their verdicts are kept (per caller key),
        # so a finished task costs no reads. Only a saving: any worker reads the same from the events.
        self._closed: dict[tuple[str, str], Verdict] = {}
        # A turn read serves every poll of it within one interval, as the batched conversation reads do.
        self._turns: dict[tuple[str, str, str | None, bool], tuple[float, Turn]] = {}

    async def conversation(self, client: OpenHandsClient, conv_id: str) -> AppConversation:
        found = await self.conversations.get(client.key_fingerprint(), conv_id, client.get_conversations)
        if found is None:
            raise TaskGone(conv_id)
        return found

    async def start(self, client: OpenHandsClient, task_id: str) -> StartTask:
        found = await self.starts.get(client.key_fingerprint(), task_id, client.get_start_tasks)
        if found is None:
            raise TaskGone(task_id)
        return found

    def forget(self, client: OpenHandsClient, conv_id: str) -> None:
        """After a write (an answer, a cancel): the next read of this conversation is a fresh one."""
        self.conversations.forget(client.key_fingerprint(), conv_id)
        key = client.key_fingerprint()
        for stale in [k for k in self._turns if k[0] == key and k[1] == conv_id]:
            del self._turns[stale]

    async def resolve(self, client: OpenHandsClient, ref: TaskRef) -> tuple[Verdict | None, AppConversation | None]:
        """The start's verdict while it is not READY, else the conversation."""
        if ref.kind != "s":
            return None, await self.conversation(client, ref.target)
        task = await self.start(client, ref.target)
        early = start_verdict(task)
        if early is not None:
            return early, None
        assert task.app_conversation_id is not None
        return None, await self.conversation(client, task.app_conversation_id)

    async def see(self, client: OpenHandsClient, ref: TaskRef) -> Seen:
        closed = self._closed.get((client.key_fingerprint(), ref.task_id))
        if closed is not None:
            return Seen(closed, [])
        try:
            early, conversation = await self.resolve(client, ref)
        except NotFound:
            raise TaskGone(ref.target) from None
        if early is not None:
            return Seen(early, [])
        assert conversation is not None
        turn = await self._turn(client, conversation, ref)
        pending = [] if turn.closed else await _pending(client, conversation)
        verdict = conversation_verdict(ref, conversation, pending, now_ms(), turn)
        if verdict.closed:
            if len(self._closed) > 4096:
                self._closed.clear()
            self._closed[(client.key_fingerprint(), ref.task_id)] = verdict
        elif verdict.status == "working" and conversation.execution_status == ExecutionStatus.RUNNING:
            verdict = Verdict("working", await self._doing(client, conversation), conversation)
        return Seen(verdict, pending)

    async def _turn(self, client: OpenHandsClient, conversation: AppConversation, ref: TaskRef) -> Turn:
        # Keyed by whether the agent had settled: a settled agent's turn is read with its events.
        settled = conversation.execution_status in _SETTLED
        key = (client.key_fingerprint(), conversation.id, ref.turn, settled)
        cached = self._turns.get(key)
        if cached is not None and anyio.current_time() - cached[0] < self.conversations.interval:
            return cached[1]
        turn = await read_turn(client, conversation, ref)
        # A settled agent's newest turn is never kept: its end (or its pickup) must be seen at once.
        if turn.closed or not settled:
            if len(self._turns) > 4096:
                self._turns.clear()
            self._turns[key] = (anyio.current_time(), turn)
        return turn

    async def _doing(self, client: OpenHandsClient, conversation: AppConversation) -> str:
        key = (client.key_fingerprint(), conversation.id)
        cached = self._activity.get(key)
        if cached is not None and anyio.current_time() - cached[0] < ACTIVITY_SECONDS:
            return cached[1]
        line = await activity(client, conversation)
        self._activity[key] = (anyio.current_time(), line)
        if len(self._activity) > 4096:
            self._activity.clear()
        return line


async def read_turn(client: OpenHandsClient, conversation: AppConversation, ref: TaskRef) -> Turn:
    """The task's turn: its message, whether a newer one followed, and the events between, from the
    agent server; from the app server's stored copy when the agent server cannot be read (a paused
    sandbox), so a turn that ended stays ended."""
    if conversation.sandbox_status != SandboxStatus.RUNNING:
        return await _stored_turn(client, conversation, ref)
    try:
        mine, after = await _turn_messages(client, conversation, ref.turn)
        if mine is None:
            return Turn(begun=False)
        # The newest turn of a running, waiting, paused or failed agent is told by its status alone.
        if after is None and conversation.execution_status not in _SETTLED:
            return Turn(True)
        before = after.timestamp if after is not None else None
        events = await client.agent_events(conversation, limit=RECENT_EVENTS, since=mine.timestamp, before=before)
    except OpenHandsError as exc:
        logger.warning("turn of %s not read: %s", conversation.id, exc.message)
        return Turn(begun=True)  # unknown: the conversation's status speaks alone, as it did before turns
    return Turn(True, after is not None, events)


async def _turn_messages(
    client: OpenHandsClient, conversation: AppConversation, turn: str | None
) -> tuple[Event | None, Event | None]:
    """The message that began the turn and the one after it (None for none)."""
    if turn == FIRST_TURN:
        users = await client.user_messages(conversation, limit=2, newest_first=False)
        return (users[0] if users else None), (users[1] if len(users) > 1 else None)
    for limit in (10, 100):  # a turn is nearly always among the newest few messages
        users = await client.user_messages(conversation, limit=limit)
        at = next((i for i, e in enumerate(users) if turn is None or turn_id(e.id) == turn), None)
        if at is not None:
            return users[at], (users[at - 1] if at else None)
        if len(users) < limit:
            break
    return None, None


async def _stored_turn(client: OpenHandsClient, conversation: AppConversation, ref: TaskRef) -> Turn:
    try:
        page = await client.search_events(conversation.id, limit=100, newest_first=True)
    except OpenHandsError as exc:
        logger.warning("stored events of %s not read: %s", conversation.id, exc.message)
        return Turn(begun=True)
    return turn_in(page.items, ref.turn)


async def newest_turn(client: OpenHandsClient, conversation: AppConversation) -> str:
    """The turn a wait follows: the newest message's (the first, when there is none yet)."""
    users = await client.user_messages(conversation, limit=1)
    return (turn_id(users[0].id) if users else None) or FIRST_TURN


async def message_turn(client: OpenHandsClient, conversation: AppConversation, text: str) -> str | None:
    """The turn a message just sent began: the newest user message with its text. None when it is not
    there yet: then the task follows the newest turn (with the pickup grace), never the previous one."""
    users = await client.user_messages(conversation, limit=5)
    found = next((e for e in users if text.strip() and text.strip() in _said(e)), None)
    return turn_id(found.id) if found is not None else None


def _said(event: Event) -> str:
    message = event.field("llm_message")
    content = message.get("content") if isinstance(message, dict) else None
    parts = content if isinstance(content, list) else []
    return " ".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))


async def _pending(client: OpenHandsClient, conversation: AppConversation) -> list[PendingAction]:
    try:
        return await client.pending_actions(conversation)
    except (ConnectionFailed, AuthFailed) as exc:
        logger.warning("pending actions of %s not read: %s", conversation.id, exc.message)
        return []


async def answer(client: OpenHandsClient, conversation: AppConversation, key: str, accept: bool, reason: str) -> bool:
    """Answer the pending actions if they are still the ones shown under `key`; False (nothing
    answered) when they changed, so the next status read asks about the new ones."""
    conversation = await client.get_conversation(conversation.id)  # a write acts on a fresh read
    for attempt in range(2):
        pending = await client.pending_actions(conversation)
        if not pending or approval_key(pending) != key:
            return attempt > 0  # after an answer: the agent moved on to new actions
        try:
            await answer_pending(client, conversation, [a.id for a in pending], Answer(accept, reason))
        except ToolError:  # they changed between the two reads
            return attempt > 0
        conversation = await settle(client, conversation.id)
        if conversation.execution_status != ExecutionStatus.WAITING_FOR_CONFIRMATION:
            return True
        # Still waiting on the same actions: in a full e2e stage 1.11.0's agent server once took an
        # answer (2xx) and went on waiting, with no observation. Answering the very same actions
        # again cannot answer anything the person did not see.
        logger.info("conversation %s still waits after the answer: answering the same actions again", conversation.id)
    return True


async def settle(client: OpenHandsClient, conv_id: str) -> AppConversation:
    """Briefly, until the answered agent no longer shows as waiting: an accepted action stays unmatched
    in the events while it runs, and must not be asked about again. Returns the last read."""
    current = await client.get_conversation(conv_id)
    with anyio.move_on_after(SETTLE_SECONDS):
        while current.execution_status == ExecutionStatus.WAITING_FOR_CONFIRMATION:
            await anyio.sleep(client.poll_interval)
            current = await client.get_conversation(conv_id)
    return current


async def cancel(client: OpenHandsClient, conversation: AppConversation) -> None:
    """Stop the agent: interrupt a running one (it pauses), reject what a waiting one asks to run."""
    status = conversation.execution_status
    if status == ExecutionStatus.WAITING_FOR_CONFIRMATION:
        pending = await client.pending_actions(conversation)
        if pending:
            await client.respond_to_confirmation(conversation, accept=False, reason=CANCEL_REASON)
            return
    if status in (ExecutionStatus.RUNNING, ExecutionStatus.WAITING_FOR_CONFIRMATION):
        await client.interrupt(conversation)  # False: it stopped on its own meanwhile, which is as good


async def cancel_when_started(client: OpenHandsClient, start_id: str) -> bool:
    """A cancel that came while the conversation was still starting: stop the agent once it runs,
    within this call (a job left for later would die with the process or a stateless worker, and
    the person would believe the agent stopped). False when it did not run in time."""
    try:
        with anyio.move_on_after(CANCEL_START_SECONDS):
            task = await client.wait_for_start_task(start_id, timeout=CANCEL_START_SECONDS)
            assert task.app_conversation_id is not None
            while True:
                conversation = await client.get_conversation(task.app_conversation_id)
                if conversation.execution_status in (ExecutionStatus.RUNNING, ExecutionStatus.WAITING_FOR_CONFIRMATION):
                    await cancel(client, conversation)
                    return True
                await anyio.sleep(client.poll_interval)
    except OpenHandsError as exc:
        logger.info("start task %s: the cancel was not carried out: %s", start_id, exc.message)
    return False


def still_starting(task_id: str) -> MCPError:
    return MCPError(
        code=INVALID_PARAMS,
        message=f"Task {task_id} is still starting and its agent did not run within {CANCEL_START_SECONDS:g} s, so "
        "nothing was cancelled: cancel it again in a moment.",
    )

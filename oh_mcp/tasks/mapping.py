"""OpenHands state as an MCP task: the task id, and what a task's status is for what OpenHands
reports. Pure functions of what was read, so every path is testable without a server.

A task id holds all a later `tasks/get` needs, so no process keeps a task table: any worker, after
any restart, answers the same. It names what to read (a start task, then the conversation it made),
what made the task (a start, a message or a wait), when, and its turn: the person's message that
began the work it follows. A conversation goes on after a task: later messages begin later turns,
which are other tasks' work. So a task's status and answer are its own turn's, read from the events
between its message and the next, and a finished turn stays finished. Reading goes through the
caller's own OpenHands key, so an id is worth nothing to someone whose key may not see that
conversation.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ..openhands import (
    AppConversation,
    Event,
    ExecutionStatus,
    PendingAction,
    SandboxStatus,
    StartTask,
    StartTaskStatus,
    start_failure,
)
from ..shaping import final_text

TaskStatus = Literal["working", "input_required", "completed", "failed", "cancelled"]
# s: start_conversation (read the start task, then its conversation); m: send_message; w: wait_for_agent.
Kind = Literal["s", "m", "w"]

TTL_MS = 24 * 3600 * 1000  # OpenHands keeps the state; a day bounds how long a host keeps polling
POLL_INTERVAL_MS = 1000  # with reads at most one interval old, a settled agent is heard within ~2 s
# After a message, an agent may read idle for a moment before its run starts.
PICKUP_GRACE_MS = 3000
CANCEL_REASON = "The user cancelled the task."
APPROVAL_PREFIX = "approve-"

# Ids made before turns were part of them (no fifth part) still read: they follow the newest turn.
_ID = re.compile(r"^oht-([smw])-([0-9a-f]{32})-([0-9a-f]{1,12})(?:-(0|[0-9a-f]{32}))?$")
FIRST_TURN = "0"  # the conversation's first message (a start's), before its id can be known
RECENT_EVENTS = 25
_TURN_ENDS = ("UserRejectObservation", "AgentErrorEvent", "ConversationErrorEvent")
_STOPS = ("InterruptEvent", "PauseEvent")
_FINAL_EXECUTION = {ExecutionStatus.FINISHED, ExecutionStatus.IDLE}
_FAILED_EXECUTION = {ExecutionStatus.ERROR, ExecutionStatus.STUCK}


@dataclass(frozen=True)
class TaskRef:
    kind: Kind
    target: str  # the start task's id (kind s) or the conversation's, 32 hex digits
    created_ms: int
    turn: str | None = FIRST_TURN  # the id (32 hex) of the message that began its turn; None: the newest

    @property
    def task_id(self) -> str:
        tail = "" if self.turn is None else f"-{self.turn}"
        return f"oht-{self.kind}-{self.target}-{self.created_ms:x}{tail}"


def parse_task_id(task_id: str) -> TaskRef | None:
    found = _ID.fullmatch(task_id)
    if found is None:
        return None
    kind, target, created, turn = found.groups()
    assert kind in ("s", "m", "w")
    return TaskRef(kind, target, int(created, 16), turn)  # type: ignore[arg-type]


def turn_id(event_id: str) -> str | None:
    """An event id as a task id carries it (32 hex digits); None for an id that is no UUID."""
    try:
        return uuid.UUID(event_id).hex
    except ValueError:
        return None


@dataclass(frozen=True)
class Turn:
    """What was read of a task's turn: whether its message is there yet, whether a newer message
    followed it (then nothing more can happen in it), and its events, newest first (at most
    RECENT_EVENTS)."""

    begun: bool
    closed: bool = False
    events: Sequence[Event] = ()


@dataclass(frozen=True)
class Verdict:
    status: TaskStatus
    message: str
    conversation: AppConversation | None = None
    answer: str | None = None  # the turn's own final answer, for a completed task
    closed: bool = False  # a newer turn followed: nothing in this task can change any more

    @property
    def terminal(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")


def start_verdict(task: StartTask) -> Verdict | None:
    """What a start task says on its own; None once READY (then its conversation speaks)."""
    if task.status == StartTaskStatus.ERROR:
        return Verdict("failed", f"{start_failure(task.detail)} Fix the cause and start again.")
    if task.status != StartTaskStatus.READY or task.app_conversation_id is None:
        return Verdict("working", f"starting: {task.status}")
    return None


def conversation_verdict(
    ref: TaskRef,
    c: AppConversation,
    pending: Sequence[PendingAction],
    now_ms: int,
    turn: Turn | None = None,
) -> Verdict:
    """The task's status from its turn: a closed turn's from its events alone, whatever the
    conversation does now; the newest turn's from the conversation, and, for an idle agent, from its
    events (they tell a cancel, our rejection, and a message not yet picked up from a finished run)."""
    turn = turn if turn is not None else Turn(begun=True)
    if turn.closed:
        return closed_verdict(c, turn.events)
    if c.sandbox_status == SandboxStatus.STARTING:
        return Verdict("working", "sandbox starting", c)
    ended = ended_verdict(c, turn.events, closed=False) if c.sandbox_status != SandboxStatus.RUNNING else None
    if ended is not None:  # it ended before the sandbox stopped
        return ended
    if c.sandbox_status == SandboxStatus.PAUSED:
        return Verdict(
            "failed",
            f"The sandbox of conversation {c.id} was paused, so its agent stopped. send_message (which resumes it) "
            "lets it go on.",
            c,
        )
    if c.sandbox_status != SandboxStatus.RUNNING:
        return Verdict(
            "failed",
            f"The sandbox of conversation {c.id} is {c.sandbox_status}: the agent cannot go on. Start a new "
            "conversation for the rest of the work.",
            c,
        )
    status = c.execution_status
    if status == ExecutionStatus.WAITING_FOR_CONFIRMATION:
        if pending:
            return Verdict("input_required", "waiting for your approval", c)
        return Verdict("working", "waiting for confirmation", c)
    if status == ExecutionStatus.PAUSED:
        return Verdict(
            "cancelled",
            f"The agent of conversation {c.id} was interrupted and is paused; send_message with new instructions "
            "lets it go on.",
            c,
        )
    if status in _FAILED_EXECUTION:
        return Verdict(
            "failed",
            f"The agent of conversation {c.id} stopped in status {status}. Read what went wrong with "
            "get_conversation_events, then send_message to tell it how to go on.",
            c,
        )
    if status in _FINAL_EXECUTION:
        return _settled(ref, c, now_ms, turn)
    return Verdict("working", str(status or "running"), c)


def closed_verdict(c: AppConversation, events: Sequence[Event]) -> Verdict:
    """A turn a newer message followed: how it ended, from its own events (newest first)."""
    ended = ended_verdict(c, events, closed=True)
    if ended is not None:
        return ended
    return Verdict(
        "completed",
        "a newer message reached the agent before it answered this one; it answers both in one run",
        c,
        closed=True,
    )


def ended_verdict(c: AppConversation, events: Sequence[Event], *, closed: bool) -> Verdict | None:
    """How a turn ended, from its events (newest first); None when they show no end."""
    for event in events:
        text = final_text(event)
        if text is not None:
            return Verdict("completed", "the agent answered", c, text, closed=closed)
        if event.kind in _STOPS or (
            event.kind == "UserRejectObservation" and event.field("rejection_reason") == CANCEL_REASON
        ):
            return Verdict("cancelled", f"The task was cancelled (conversation {c.id}).", c, closed=closed)
        if event.kind in _TURN_ENDS:
            return Verdict("completed", "the agent stopped without an answer", c, closed=closed)
    return None


def turn_in(events: Sequence[Event], turn: str | None) -> Turn:
    """A task's turn found in a newest-first run of a conversation's events (the stored copy, read
    when the agent server is out of reach)."""
    users = [i for i, e in enumerate(events) if e.kind == "MessageEvent" and e.source == "user"]
    if turn == FIRST_TURN:
        mine = users[-1] if users else None
    elif turn is None:
        mine = users[0] if users else None
    else:
        mine = next((i for i in users if turn_id(events[i].id) == turn), None)
    if mine is None:
        return Turn(begun=False)
    newer = [i for i in users if i < mine]
    after = newer[-1] if newer else None
    return Turn(True, after is not None, events[(after + 1 if after is not None else 0) : mine + 1])


def _settled(ref: TaskRef, c: AppConversation, now_ms: int, turn: Turn) -> Verdict:
    recent = turn.events
    if c.execution_status == ExecutionStatus.IDLE and cancelled_by_us(recent):
        return Verdict("cancelled", f"The task was cancelled; the agent of conversation {c.id} is idle.", c)
    # A start or a message is done when the agent has ended the turn that message began; until then a
    # settled status is the previous run's (or the guarded start's, before its message is sent).
    if ref.kind != "w" and not (turn.begun and turn_ended(recent)):
        if ref.kind == "s" or now_ms - ref.created_ms < PICKUP_GRACE_MS:
            return Verdict("working", "the agent is picking up the message", c)
    answer = next((text for event in recent if (text := final_text(event)) is not None), None)
    return Verdict("completed", f"the agent is {c.execution_status}", c, answer)


def turn_ended(recent: Sequence[Event]) -> bool:
    """Whether, newest first, the agent answered (or was stopped) after the newest user message."""
    for event in recent:
        if final_text(event) or event.kind in _TURN_ENDS:
            return True
        if event.kind == "MessageEvent" and event.source == "user":
            return False
    return len(recent) >= RECENT_EVENTS  # a long run pushed the message out of the window


def cancelled_by_us(recent: Sequence[Event]) -> bool:
    """Whether the newest answer to an action is the rejection tasks/cancel gives."""
    for event in recent:
        if event.kind == "UserRejectObservation":
            return bool(event.field("rejection_reason") == CANCEL_REASON)
        if event.kind in ("ObservationEvent", "AgentErrorEvent", "MessageEvent"):
            return False
    return False


def approval_key(pending: Sequence[PendingAction]) -> str:
    """The input request's key names the exact actions shown, so an answer applies to those alone."""
    digest = hashlib.sha256("\n".join(sorted(a.id for a in pending)).encode()).hexdigest()[:24]
    return APPROVAL_PREFIX + digest

"""OpenHands state as an MCP task: the task id, and what a task's status is for what OpenHands
reports. Pure functions of what was read, so every path is testable without a server.

A task id holds all a later `tasks/get` needs, so no process keeps a task table: any worker, after
any restart, answers the same. It names what to read (a start task, then the conversation it made),
what made the task (a start, a message or a wait) and when; reading it goes through the caller's own
OpenHands key, so an id is worth nothing to someone whose key may not see that conversation.
"""

from __future__ import annotations

import hashlib
import re
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

_ID = re.compile(r"^oht-([smw])-([0-9a-f]{32})-([0-9a-f]{1,12})$")
RECENT_EVENTS = 25
_TURN_ENDS = ("UserRejectObservation", "AgentErrorEvent", "ConversationErrorEvent")
_FINAL_EXECUTION = {ExecutionStatus.FINISHED, ExecutionStatus.IDLE}
_FAILED_EXECUTION = {ExecutionStatus.ERROR, ExecutionStatus.STUCK}


@dataclass(frozen=True)
class TaskRef:
    kind: Kind
    target: str  # the start task's id (kind s) or the conversation's, 32 hex digits
    created_ms: int

    @property
    def task_id(self) -> str:
        return f"oht-{self.kind}-{self.target}-{self.created_ms:x}"


def parse_task_id(task_id: str) -> TaskRef | None:
    found = _ID.match(task_id)
    if found is None:
        return None
    kind, target, created = found.groups()
    assert kind in ("s", "m", "w")
    return TaskRef(kind, target, int(created, 16))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Verdict:
    status: TaskStatus
    message: str
    conversation: AppConversation | None = None

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
    recent: Sequence[Event] | None = None,
) -> Verdict:
    """The task's status from its conversation. `recent` (newest first) is read only for an idle
    agent: it tells a cancel (our rejection) and a message not yet sent from a finished run."""
    if c.sandbox_status == SandboxStatus.STARTING:
        return Verdict("working", "sandbox starting", c)
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
        return _settled(ref, c, now_ms, recent or ())
    return Verdict("working", str(status or "running"), c)


def _settled(ref: TaskRef, c: AppConversation, now_ms: int, recent: Sequence[Event]) -> Verdict:
    if c.execution_status == ExecutionStatus.IDLE and cancelled_by_us(recent):
        return Verdict("cancelled", f"The task was cancelled; the agent of conversation {c.id} is idle.", c)
    # A start or a message is done when the agent has ended the turn that message began; until then a
    # settled status is the previous run's (or the guarded start's, before its message is sent).
    if ref.kind != "w" and not turn_ended(recent):
        if ref.kind == "s" or now_ms - ref.created_ms < PICKUP_GRACE_MS:
            return Verdict("working", "the agent is picking up the message", c)
    return Verdict("completed", f"the agent is {c.execution_status}", c)


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

"""Approving an agent's pending actions: the check that what is answered is what was named (the
agent server's route answers every pending action and takes no ids), and asking the person through
the host (elicitation) where the client can."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import anyio
from mcp import MCPError
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types.version import HANDSHAKE_PROTOCOL_VERSIONS
from pydantic import BaseModel, Field

from ..openhands import AppConversation, OpenHandsClient, PendingAction
from ..records import pending_record
from .toolset import Ctx, runtime

REJECTED_STEP = (
    "The agent was told the reason and is idle until it is next run: send_message with new instructions lets it go on."
)
ACCEPTED_STEP = "The agent runs the action now: call wait_for_agent for what it does next."
# The person may need a while to read: a wait asks only while this much of it is left, and the person
# then has the rest of the wait (never more, so the wait keeps to its timeout).
MIN_ASK_SECONDS = 30.0
# Characters of one action the question shows: whole, save for a runaway one (and then the cut is said).
ASK_TEXT_LIMIT = 50_000


class Decision(BaseModel):
    """The form the person fills in: a reject needs an accept answer too, so it can carry the reason."""

    decision: Literal["accept", "reject"] = Field(description="accept runs the action; reject stops it.")
    reason: str = Field(default="", max_length=2000, description="Why (the agent is told on a reject).")


class PendingChanged(ToolError):
    """The pending actions are not the ones named: nothing was answered."""

    def __init__(self, message: str, pending: list[PendingAction]) -> None:
        super().__init__(message)
        self.pending = pending


@dataclass(frozen=True)
class Answer:
    accept: bool
    reason: str


def listing(pending: list[PendingAction], conversation: AppConversation) -> str:
    records = [pending_record(a, conversation.secret_values) for a in pending]
    return "; ".join(f"{r.id}: {r.does} (risk {r.risk or 'UNKNOWN'})" for r in records) or "none"


def question(conversation: AppConversation, pending: list[PendingAction]) -> str:
    """What the person is asked: each action whole, its lines kept, with its tool, risk and id."""
    who = conversation.title or conversation.id
    blocks = []
    for n, action in enumerate(pending, 1):
        r = pending_record(action, conversation.secret_values, ASK_TEXT_LIMIT)
        blocks.append(
            f"Action {n} of {len(pending)} · tool {r.tool or 'unknown'} · risk {r.risk or 'UNKNOWN'}"
            f" · id {r.id}\n{r.does}"
        )
    actions = "\n\n".join(blocks)
    return (
        f"The OpenHands agent of '{who}' asks to:\n\n{actions}\n\nAccept, or reject with a reason the agent will read?"
    )


async def answer_pending(
    client: OpenHandsClient, conversation: AppConversation, action_ids: list[str], answer: Answer
) -> None:
    """Answer the pending actions if they are exactly `action_ids`; otherwise answer nothing and say
    what is pending now. (Something may still change between this check and the answer: the route
    offers no way to close that gap.)"""
    pending = await client.pending_actions(conversation)
    if not pending:
        status = conversation.execution_status
        now = f"agent {status}" if status else f"sandbox {conversation.sandbox_status}"
        raise ToolError(
            f"Nothing was answered: no action of conversation {conversation.id} waits for confirmation now "
            f"({now}). Call wait_for_agent to see what it does."
        )
    if sorted(a.id for a in pending) != sorted(set(action_ids)):
        raise PendingChanged(
            "Nothing was answered: the pending actions are not the ones named. Pending now: "
            f"{listing(pending, conversation)}. Call respond_to_action again with those ids if they should be "
            "answered the same way.",
            pending,
        )
    reason = answer.reason or ("Accepted." if answer.accept else "The user rejected the action.")
    await client.respond_to_confirmation(conversation, accept=answer.accept, reason=reason)


def can_ask(ctx: Ctx) -> bool:
    """Whether this call may ask the person: approvals by elicitation are on, the server may change
    things, and the client declared elicitation on a session that can send it requests."""
    settings = runtime(ctx).settings
    if settings.approvals != "elicit" or settings.read_only:
        return False
    capabilities = ctx.client_capabilities
    return (
        capabilities is not None
        and capabilities.elicitation is not None
        and ctx.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS
    )


async def ask_person(
    ctx: Ctx, conversation: AppConversation, pending: list[PendingAction], seconds: float
) -> Answer | None:
    """Ask whether to run the pending actions, waiting `seconds` for the answer (the caller keeps it
    within its own wait); None when the person cancels or does not answer in time."""
    message = question(conversation, pending)
    try:
        with anyio.move_on_after(seconds):
            result = await ctx.elicit(message, Decision)
            if result.action == "accept":
                return Answer(result.data.decision == "accept", result.data.reason.strip())
            if result.action == "decline":
                return Answer(False, "The user declined the action.")
    except MCPError:  # the client could not ask after all (no back channel, refused request)
        return None
    return None

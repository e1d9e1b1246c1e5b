"""Steering a running agent: interrupt it, answer its pending actions, ask it a side question.

These talk to the conversation's agent server. None of them resumes a paused sandbox: a paused
agent is not running, so there is nothing to stop, approve or ask.
"""

from __future__ import annotations

from typing import Annotated

import anyio
from pydantic import Field

from ..openhands import ExecutionStatus, SandboxStatus
from ..records import ActionsAnswered, AgentReply, Interrupted
from ..shaping import redact
from .approvals import ACCEPTED_STEP, REJECTED_STEP, Answer, answer_pending
from .conversations import conversations
from .params import ConversationId
from .toolset import Ctx, runtime

# Claude Code asks the user before each call of a tool carrying this; other hosts ignore it.
ASK_USER = {"anthropic/requiresUserInteraction": True}
# Seconds: an idle agent answers in well under one, a busy one only after its step; this stays inside
# the call's own time limit and the common 60 s client timeout.
ASK_WAIT = 30.0


@conversations.tool(title="Interrupt agent", read_only=False, destructive=False, idempotent=True)
async def interrupt_agent(ctx: Ctx, conversation_id: ConversationId) -> Interrupted:
    """Stop a running agent now, cancelling its model call; it pauses until send_message gives new
    instructions."""
    client = runtime(ctx).client
    conversation = await client.get_conversation(conversation_id)
    status = conversation.execution_status
    if conversation.sandbox_status != SandboxStatus.RUNNING or status != ExecutionStatus.RUNNING:
        why = f"sandbox {conversation.sandbox_status}" if status is None else f"agent {status}"
        return Interrupted(
            conversation_id=conversation.id,
            interrupted=False,
            execution_status=None if status is None else str(status),
            next_step=f"Nothing was running ({why}), so nothing was stopped.",
        )
    if not await client.interrupt(conversation):  # it stopped on its own between the read and the interrupt
        return Interrupted(
            conversation_id=conversation.id,
            interrupted=False,
            next_step="Nothing was running: the agent had just stopped on its own.",
        )
    after = await client.get_conversation(conversation.id)
    return Interrupted(
        conversation_id=conversation.id,
        interrupted=True,
        execution_status=None if after.execution_status is None else str(after.execution_status),
        next_step="The agent is paused: send_message with new instructions lets it go on.",
    )


@conversations.tool(title="Respond to action", read_only=False, destructive=False, idempotent=False, meta=ASK_USER)
async def respond_to_action(
    ctx: Ctx,
    conversation_id: ConversationId,
    action_ids: Annotated[list[Annotated[str, Field(max_length=100)]], Field(min_length=1, max_length=20)],
    accept: bool,
    reason: Annotated[str, Field(max_length=2000, description="Told to the agent on a reject.")] = "",
) -> ActionsAnswered:
    """Accept or reject the agent's pending_actions by id; if they changed meanwhile, nothing is
    answered."""
    client = runtime(ctx).client
    conversation = await client.get_conversation(conversation_id)
    await answer_pending(client, conversation, action_ids, Answer(accept, reason.strip()))
    return ActionsAnswered(
        conversation_id=conversation.id,
        accepted=accept,
        action_ids=sorted(set(action_ids)),
        next_step=ACCEPTED_STEP if accept else REJECTED_STEP,
    )


@conversations.tool(title="Ask agent", read_only=True, destructive=False, idempotent=False)
async def ask_agent(
    ctx: Ctx, conversation_id: ConversationId, question: Annotated[str, Field(min_length=1, max_length=5000)]
) -> AgentReply:
    """Ask the agent a side question without interrupting it or changing its history; a busy agent
    answers after its current step."""
    client = runtime(ctx).client
    conversation = await client.get_conversation(conversation_id)
    answer: str | None = None
    with anyio.move_on_after(ASK_WAIT):
        answer = await client.ask_agent(conversation, question)
    if answer is None:
        step = (
            f"No answer within {ASK_WAIT:g} s: the agent answers after its current step. Ask again "
            "later, or call wait_for_agent."
        )
        return AgentReply(conversation_id=conversation.id, next_step=step)
    return AgentReply(
        conversation_id=conversation.id,
        answer=redact(answer, client.secrets_for(conversation)),
        next_step="Its history is unchanged; send_message gives it new instructions.",
    )

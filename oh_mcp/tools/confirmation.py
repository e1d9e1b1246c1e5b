"""Starting a conversation whose agent asks before it acts, with no moment in which it could act unasked.

OpenHands 1.11.0's start request has no confirmation field, and its agent server runs the initial
message even with run=false, so a policy set once READY races the first action. What holds: start
without a message (the agent stays idle), set the policy on the agent server, then send the message.
"""

from __future__ import annotations

import anyio
from mcp.server.mcpserver.exceptions import ToolError

from ..next_steps import for_model
from ..openhands import (
    AppConversation,
    ConfirmPolicy,
    Event,
    OpenHandsClient,
    OpenHandsError,
    ServerError,
    StartRequest,
    StartTask,
    StartTaskStatus,
    WaitTimedOut,
)
from ..openhands.waits import OnChange

RESEND_AFTER_SECONDS = 1.0
NOT_SENT_LATER = (
    " Approvals were asked for, so the task message is sent only once READY and the approval policy is set, "
    "by this call alone: it was not sent, and nothing sends it later. get_start_task says how once READY."
)


async def start_guarded(
    client: OpenHandsClient,
    request: StartRequest,
    policy: ConfirmPolicy,
    *,
    wait: float | None,
    on_change: OnChange[StartTask] | None,
) -> StartTask:
    """Start idle, and once READY set the policy, then send the message, all within this call: work
    left for later would die with the process (or a stateless worker) and fail unseen. A start that
    outlives `wait` (None: do not wait) raises WaitTimedOut with nothing sent; get_start_task then
    finds that out from OpenHands itself (see `unsent_step`)."""
    message = request.initial_text or ""
    task = await client.start_conversation(request.model_copy(update={"initial_text": None}))
    if wait is None:
        raise WaitTimedOut("Not waited for.", last=task)
    task = await client.wait_for_start_task(task.id, timeout=wait, on_change=on_change)
    await arm_and_send(client, task, policy, message)
    return task


async def arm_and_send(client: OpenHandsClient, task: StartTask, policy: ConfirmPolicy, message: str) -> None:
    if task.app_conversation_id is None:  # an ERROR task: nothing to send to
        return
    conversation = await client.get_conversation(task.app_conversation_id)
    await client.set_confirmation_policy(conversation, policy)  # its failure: the caller says start again
    try:
        await send_task_message(client, conversation, message)
    except OpenHandsError as exc:
        raise ToolError(
            f"Conversation {conversation.id} started and asks before acting, but the task message was not sent: "
            f"{for_model(exc)} Send it with send_message to that conversation_id."
        ) from None


async def send_task_message(client: OpenHandsClient, conversation: AppConversation, message: str) -> None:
    """Send the task message. Right after READY, 1.11.0's agent server sometimes answers the first
    message with a 500 (seen in the e2e stage); a write is never simply retried, since it may have
    landed, but when the agent's own events show no user message a second send cannot double it."""
    try:
        await client.send_message(conversation.id, message)
    except ServerError:
        await anyio.sleep(RESEND_AFTER_SECONDS)
        if any(e.kind == "MessageEvent" and e.source == "user" for e in await _events(client, conversation)):
            return
        await client.send_message(conversation.id, message)


async def unsent_step(client: OpenHandsClient, task: StartTask) -> str | None:
    """For a READY start made without a message (a guarded one): None once a user message reached the
    agent, else what to do. Read from OpenHands' events, not this process's memory, which a restart or
    another stateless worker does not share."""
    if task.status != StartTaskStatus.READY or task.app_conversation_id is None or not task.started_without_message:
        return None
    conversation = await client.get_conversation(task.app_conversation_id)
    events = await _events(client, conversation)
    if any(e.kind == "MessageEvent" and e.source == "user" for e in events):
        return None
    if any(_arms(e) for e in events):
        return (
            f"READY, but the task message was not sent. Its approval policy is set, so send the task with "
            f"send_message to conversation {conversation.id}: the agent will ask before it acts."
        )
    return (
        "READY, but the task message was not sent and no approval policy was set. Call start_conversation "
        f"again with confirm and sandbox_id={conversation.sandbox_id} (that sandbox is running now, so it "
        f"starts fast), then delete_conversation {conversation.id}."
    )


async def _events(client: OpenHandsClient, conversation: AppConversation) -> list[Event]:
    # The agent server has every event at once; the app server's copy lags and holds them after a stop.
    if conversation.conversation_url:
        return await client.agent_events(conversation)
    return (await client.search_events(conversation.id, limit=100, newest_first=True)).items


def _arms(event: Event) -> bool:
    """A confirmation policy set on the agent server (each state change is an event) that asks."""
    value = event.field("value")
    kind = value.get("kind") if isinstance(value, dict) else value
    return (
        event.kind == "ConversationStateUpdateEvent"
        and event.field("key") == "confirmation_policy"
        and (kind != "NeverConfirm")
    )

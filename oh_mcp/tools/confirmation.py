"""Starting a conversation whose agent asks before it acts, with no moment in which it could act unasked.

OpenHands 1.11.0's start request has no confirmation field, and its agent server runs the initial
message even with run=false, so a policy set once READY races the first action. What holds: start
without a message (the agent stays idle), set the policy on the agent server, then send the message.
"""

from __future__ import annotations

import logging

from ..openhands import ConfirmPolicy, OpenHandsClient, OpenHandsError, StartRequest, StartTask, WaitTimedOut
from ..openhands.titles import Spawn
from ..openhands.waits import OnChange

logger = logging.getLogger(__name__)

LATE_START_SECONDS = 600.0  # how long a start that outlived the tool's wait is followed in the background


async def start_guarded(
    client: OpenHandsClient,
    request: StartRequest,
    policy: ConfirmPolicy,
    *,
    wait: float | None,
    on_change: OnChange[StartTask] | None,
    spawn: Spawn,
) -> StartTask:
    """Start idle, and once READY set the policy, then send the message. When the start outlives `wait`
    (None: do not wait), that finishes in the background; WaitTimedOut still tells the caller."""
    message = request.initial_text or ""
    task = await client.start_conversation(request.model_copy(update={"initial_text": None}))
    try:
        if wait is None:
            raise WaitTimedOut("Not waited for.", last=task)
        task = await client.wait_for_start_task(task.id, timeout=wait, on_change=on_change)
    except WaitTimedOut:
        spawn(_finish_later, client, task.id, policy, message)
        raise
    await arm_and_send(client, task, policy, message)
    return task


async def arm_and_send(client: OpenHandsClient, task: StartTask, policy: ConfirmPolicy, message: str) -> None:
    if task.app_conversation_id is None:  # an ERROR task: nothing to send to
        return
    conversation = await client.get_conversation(task.app_conversation_id)
    await client.set_confirmation_policy(conversation, policy)
    await client.send_message(conversation.id, message)


async def _finish_later(client: OpenHandsClient, task_id: str, policy: ConfirmPolicy, message: str) -> None:
    try:
        task = await client.wait_for_start_task(task_id, timeout=LATE_START_SECONDS)
        await arm_and_send(client, task, policy, message)
    except OpenHandsError as exc:
        logger.warning("start task %s: the task message was not sent: %s", task_id, exc.message)

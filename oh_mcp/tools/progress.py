"""Progress notifications for waits: elapsed seconds against the wait's budget, and a line that
says what the agent is doing now."""

from __future__ import annotations

from typing import Any

import anyio

from ..openhands import AppConversation, OpenHandsClient, OpenHandsError
from ..shaping import activity_line, redact
from .toolset import Ctx

# The newest events hold the last action; a finished run ends with several state updates after it.
ACTIVITY_EVENTS = 25


class Progress:
    """Reports `(elapsed, total, message)`; a no-op for clients that asked for no progress."""

    def __init__(self, ctx: Ctx, total: float) -> None:
        self._ctx = ctx
        self._total = total
        self._start = anyio.current_time()

    async def report(self, message: str) -> None:
        elapsed = round(anyio.current_time() - self._start, 1)
        # Notifications bypass the result scrubbing (outbound.py), so they are redacted here.
        await self._ctx.report_progress(elapsed, self._total, redact(message, ()))


def progress_wanted(ctx: Ctx) -> bool:
    """Whether the client asked for progress: without that its notifications go nowhere, so nothing
    should be read from OpenHands to write them. Over the wire the request's _meta says so; the
    in-process dispatcher (tests, embedding) holds a callback instead, which the SDK does not expose."""
    try:
        request = ctx.request_context
    except ValueError:  # outside a request
        return False
    meta = (request.params or {}).get("_meta")
    if isinstance(meta, dict) and meta.get("progressToken") is not None:
        return True
    outbound: Any = getattr(request.session, "_request_outbound", None)
    while hasattr(outbound, "_inner"):  # the modern protocol's wrapper around the dispatcher's context
        outbound = outbound._inner
    for name in ("_progress_token", "progress_token", "_on_progress"):
        if hasattr(outbound, name):
            return getattr(outbound, name) is not None
    return True  # unknown: read, since the reads keep within the wait anyway


async def activity(client: OpenHandsClient, conversation: AppConversation) -> str:
    """The agent's last action, step count and cost; only its status when its agent server cannot
    tell (a sandbox that is not running, or one too busy to answer a heartbeat's read)."""
    status = None if conversation.execution_status is None else str(conversation.execution_status)
    cost = conversation.metrics.accumulated_cost if conversation.metrics else None
    if conversation.conversation_url is None:
        return activity_line(f"sandbox {conversation.sandbox_status}", [], None, cost)
    try:
        events = await client.agent_events(conversation, limit=ACTIVITY_EVENTS)
        steps = await client.count_actions(conversation)
    except OpenHandsError:
        return activity_line(status, [], None, cost)
    return activity_line(status, events, steps, cost)

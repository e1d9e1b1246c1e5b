"""Bringing a conversation's sandbox to RUNNING before a call that needs it, with progress."""

from __future__ import annotations

from mcp.server.mcpserver.exceptions import ToolError

from ..openhands import AppConversation, Archived, OpenHandsClient, SandboxStatus, Unavailable, WaitTimedOut
from .params import DEFAULT_WAIT
from .progress import Progress
from .toolset import Ctx, runtime


async def make_running(
    ctx: Ctx, client: OpenHandsClient, conversation: AppConversation, *, auto_resume: bool, timeout: float, undone: str
) -> bool:
    """Bring the conversation's sandbox to RUNNING; True when it had to be resumed. `undone` says what
    did not happen when it cannot be, e.g. "the message was not sent"."""
    sid, status = conversation.sandbox_id, conversation.sandbox_status
    if status == SandboxStatus.MISSING:
        raise Archived(f"Conversation {conversation.id} is archived: its sandbox {sid} no longer exists.")
    if status == SandboxStatus.ERROR:
        raise Unavailable(f"The sandbox {sid} of conversation {conversation.id} is in ERROR.")
    if status == SandboxStatus.PAUSED and not auto_resume:
        raise ToolError(
            f"Sandbox {sid} of conversation {conversation.id} is PAUSED, so {undone}. "
            "Call resume_sandbox first, or call again with auto_resume=true."
        )
    progress = Progress(ctx, timeout)
    if status != SandboxStatus.STARTING:
        await progress.report(f"resuming sandbox {sid}")
        await client.resume_sandbox(sid)
    try:
        await client.wait_for_sandbox(sid, timeout=timeout, on_change=lambda s: progress.report(f"sandbox {s.status}"))
    except WaitTimedOut:
        raise ToolError(
            f"Sandbox {sid} did not reach RUNNING within {timeout:g} s, so {undone}. "
            "Check it with get_sandbox, then call again."
        ) from None
    return status != SandboxStatus.STARTING


async def running_conversation(ctx: Ctx, conversation_id: str, auto_resume: bool, undone: str) -> AppConversation:
    """The conversation, its sandbox RUNNING (resumed only when asked, and never on a read-only server)."""
    rt = runtime(ctx)
    conversation = await rt.client.get_conversation(conversation_id)
    if conversation.sandbox_status == SandboxStatus.RUNNING:
        return conversation
    if auto_resume and rt.settings.read_only:
        raise ToolError("This server is read-only, so it does not resume sandboxes: auto_resume is refused.")
    await make_running(ctx, rt.client, conversation, auto_resume=auto_resume, timeout=DEFAULT_WAIT, undone=undone)
    return await rt.client.get_conversation(conversation.id)

"""The person's local checkout as tools name it: where local paths may lead, and sending one to a new
conversation (start_conversation's local_path). Bringing the work home is review.py's apply_changes."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from pydantic import Field

from ..local.git import GitError
from ..local.roots import LocalPathRefused, configured_roots, narrow, resolve_in_roots, roots_from_uris, work_tree
from ..local.sandbox import unpack
from ..local.snapshot import Snapshot, take
from ..next_steps import for_model
from ..openhands import (
    ConfirmPolicy,
    OpenHandsClient,
    OpenHandsError,
    StartRequest,
    StartTask,
    StartTaskStatus,
    WaitTimedOut,
    titles,
)
from ..records import StartResult
from .confirmation import send_task_message
from .progress import Progress
from .toolset import Ctx, runtime

LocalPath = Annotated[str, Field(min_length=1, max_length=4096, description="The local git checkout.")]


# ---- where local paths may lead --------------------------------------------------------------


async def allowed_roots(ctx: Ctx) -> list[Path]:
    """The client's roots (stdio; within OH_MCP_LOCAL_ROOTS when both are set), else OH_MCP_LOCAL_ROOTS,
    else the folder oh-mcp started in."""
    settings = runtime(ctx).settings
    if settings.read_only:
        raise ToolError("This server is read-only: it neither sends nor changes local checkouts.")
    if not settings.local_enabled:
        raise ToolError(
            "Local paths are off on this server: over HTTP they would name the server's machine, not yours. "
            "Its operator can enable them by setting OH_MCP_LOCAL_ROOTS. Use repository= for a hosted repository."
        )
    configured = configured_roots(settings.local_roots)
    if settings.transport == "stdio":
        declared = await _client_roots(ctx)
        if declared and not settings.local_roots:
            return declared
        if declared:
            common = narrow(declared, configured)
            if not common:
                raise ToolError(
                    "The client's roots and OH_MCP_LOCAL_ROOTS have no folder in common, so no local path may be "
                    "used here. Nothing was sent or changed."
                )
            return common
    return configured


async def _client_roots(ctx: Ctx) -> list[Path]:
    capabilities = ctx.client_capabilities
    if capabilities is None or capabilities.roots is None:
        return []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # roots are deprecated from 2026-07-28; clients still send them
            listed = await ctx.session.list_roots()
    except MCPError:
        return []
    return roots_from_uris([str(root.uri) for root in listed.roots])


async def local_checkout(ctx: Ctx, local_path: str) -> Path:
    """The top of the git work tree named by `local_path`, checked against the allowed roots."""
    try:
        return await work_tree(resolve_in_roots(local_path, await allowed_roots(ctx)), await allowed_roots(ctx))
    except LocalPathRefused as exc:
        raise ToolError(f"{exc} Nothing was sent or changed.") from None


# ---- start_conversation(local_path=…) ---------------------------------------------------------


async def start_local(
    ctx: Ctx,
    request: StartRequest,
    local_path: str,
    *,
    confirm: ConfirmPolicy,
    title: str | None,
    wait: float | None,
    progress: Progress,
) -> StartResult:
    """Check and pack the checkout (nothing leaves before every limit passed), start the conversation
    idle, unpack the work in its workspace, then send the task (after the approval policy, if any)."""
    rt = runtime(ctx)
    if request.selected_repository:
        raise ToolError("Give either local_path (your checkout) or repository (a hosted one), not both.")
    if confirm != "never" and rt.settings.approvals == "off":
        raise ToolError("Approvals are off on this server (OH_MCP_APPROVALS=off), so confirm must be never.")
    top = await local_checkout(ctx, local_path)
    try:
        snap = await take(top, rt.settings.local_max_bytes)
    except LocalPathRefused as exc:
        raise ToolError(str(exc)) from None
    except GitError as exc:
        raise ToolError(f"git could not read {top}: {exc} Nothing was sent.") from None
    await progress.report(snap.summary())
    message = request.initial_text or ""
    task = await rt.client.start_conversation(request.model_copy(update={"initial_text": None}))

    async def report(t: StartTask) -> None:
        await progress.report(f"starting: {t.status}")

    try:
        if wait is None:
            raise WaitTimedOut("Not waited for.", last=task)
        task = await rt.client.wait_for_start_task(task.id, timeout=wait, on_change=report)
    except WaitTimedOut:
        # The snapshot lives in this call alone: work left for later would die with the process (or a
        # stateless worker) and fail unseen, so nothing is sent later (as for a guarded start).
        return _result(
            task,
            snap,
            None,
            "Still starting, so neither your checkout nor the task message was sent, and nothing sends them later. "
            "Once get_start_task says READY, delete that conversation, then start again with local_path and a "
            "longer wait.",
        )
    if task.status != StartTaskStatus.READY or task.app_conversation_id is None:
        return _result(task, snap, None, "The start failed; read detail, fix the cause and start again.")
    try:
        repository = await _deliver(rt.client, task, snap, message, confirm)
    except OpenHandsError as exc:
        raise ToolError(
            f"Conversation {task.app_conversation_id} started, but the local repository could not be sent, so the "
            f"task was not given to the agent: {for_model(exc)} Delete it with delete_conversation and start again."
        ) from None
    if title:
        await titles.rename(rt.client, task.app_conversation_id, title, spawn=rt.spawn)
    step = (
        f"The agent works in {repository}. Call wait_for_agent; then get_changes to review, and apply_changes "
        "to bring its work into your checkout."
    )
    return _result(task, snap, repository, step)


async def _deliver(
    client: OpenHandsClient, task: StartTask, snap: Snapshot, message: str, confirm: ConfirmPolicy
) -> str:
    assert task.app_conversation_id is not None
    conversation = await client.get_conversation(task.app_conversation_id)
    unpacked = await unpack(client, conversation, snap)
    if confirm != "never":
        await client.set_confirmation_policy(conversation, confirm)
    text = f"{message}\n\n(The repository to work in is {unpacked.path}.)"
    await send_task_message(client, conversation, text)
    return unpacked.path


def _result(task: StartTask, snap: Snapshot, repository: str | None, step: str) -> StartResult:
    where = f" into {repository}" if repository else ""
    return StartResult.of(task, step, local=f"{snap.summary()}{where}")

"""The person's local checkout: send it to a new conversation (start_conversation's local_path), and
bring the agent's work home (get_changes(format="patch"), apply_changes, the patch resource)."""

from __future__ import annotations

import base64
import re
import warnings
from pathlib import Path
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel, Field

from ..local.apply import ApplyRefused, apply_patch
from ..local.git import GitError
from ..local.roots import LocalPathRefused, configured_roots, resolve_in_roots, roots_from_uris, work_tree
from ..local.sandbox import Patch, agent_patch, unpack
from ..local.snapshot import Snapshot, take
from ..next_steps import for_model
from ..openhands import (
    ConfirmPolicy,
    InvalidRequest,
    NotFound,
    OpenHandsClient,
    OpenHandsError,
    StartRequest,
    StartTask,
    StartTaskStatus,
    WaitTimedOut,
    titles,
)
from ..records import Changes, StartResult
from ..runtime import Runtime
from ..shaping import encode_cursor, redact, window
from .confirmation import send_task_message
from .params import ConversationId
from .progress import Progress
from .review import _running, review
from .toolset import Ctx, runtime

LocalPath = Annotated[str, Field(min_length=1, max_length=4096, description="The local git checkout.")]


# ---- where local paths may lead --------------------------------------------------------------


async def allowed_roots(ctx: Ctx) -> list[Path]:
    """The client's roots (stdio), else OH_MCP_LOCAL_ROOTS, else the folder oh-mcp started in."""
    settings = runtime(ctx).settings
    if settings.read_only:
        raise ToolError("This server is read-only: it neither sends nor changes local checkouts.")
    if not settings.local_enabled:
        raise ToolError(
            "Local paths are off on this server: over HTTP they would name the server's machine, not yours. "
            "Its operator can enable them by setting OH_MCP_LOCAL_ROOTS. Use repository= for a hosted repository."
        )
    if settings.transport == "stdio":
        declared = await _client_roots(ctx)
        if declared:
            return declared
    return configured_roots(settings.local_roots)


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


# ---- get_changes(format="patch") and the patch resource ---------------------------------------


def patch_window(patch: Patch, secrets: tuple[str, ...], offset: int, budget: int) -> tuple[str, bool, int | None]:
    """A window of the patch as text (secrets masked), or of its base64 when it is not UTF-8:
    (the window, whether it is base64, where the next window starts)."""
    try:
        text, encoded = redact(patch.data.decode("utf-8"), secrets), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(patch.data).decode(), True
    chunk, more = window(text, offset, budget)
    return chunk, encoded, more


async def patch_changes(
    ctx: Ctx, conversation_id: str, repository_path: str | None, offset: int, auto_resume: bool
) -> Changes:
    rt = runtime(ctx)
    conversation = await _running(ctx, conversation_id, auto_resume, "its changes cannot be read")
    patch = await agent_patch(rt.client, conversation, repository_path)
    chunk, encoded, more = patch_window(patch, rt.client.secrets_for(conversation), offset, rt.settings.output_budget)
    files = re.findall(r"^diff --git a/.* b/(.*)$", patch.data.decode("utf-8", "replace"), flags=re.M)
    summary = (
        f"{len(files)} files changed in {patch.repository} ({', '.join(files[:20])}): a patch of {len(patch.data):,} "
        f"bytes against {patch.compared_with} (commit {patch.base})"
    )
    if more is not None:
        summary += f"; cut at character {more}: call again with page_id to read on"
    return Changes(
        conversation_id=conversation.id,
        summary=summary,
        repositories=[],
        patch=None if encoded else chunk,
        patch_base64=chunk if encoded else None,
        next_page_id=encode_cursor(None, more) if more is not None else None,
    )


# ---- apply_changes ----------------------------------------------------------------------------


class AppliedChanges(BaseModel):
    local_path: str
    files: list[str] = Field(description="Each changed file with what happened to it.")
    merged: list[str] = Field(default_factory=list, description="Merged three-way with your edits.")
    undo: str = Field(description="The command that takes the changes out again.")


@review.tool(
    title="Apply changes",
    read_only=False,
    destructive=True,
    idempotent=False,
    open_world=True,
    meta={"anthropic/requiresUserInteraction": True},
)
async def apply_changes(ctx: Ctx, conversation_id: ConversationId, local_path: LocalPath) -> AppliedChanges:
    """Apply the agent's changes to a local checkout as uncommitted edits, all or nothing, never over a local
    edit it cannot merge. Returns the files and an undo command."""
    rt = runtime(ctx)
    top = await local_checkout(ctx, local_path)
    conversation = await _running(ctx, conversation_id, True, "its changes cannot be read")
    patch = await agent_patch(rt.client, conversation)
    try:
        applied = await apply_patch(top, patch.data, conversation.id)
    except ApplyRefused as exc:
        raise ToolError(str(exc)) from None
    except GitError as exc:
        raise ToolError(f"git could not apply the patch to {top}: {exc} Nothing was written.") from None
    return AppliedChanges(
        local_path=str(top),
        files=[f"{path} ({what})" for path, what in applied.files],
        merged=applied.merged,
        undo=applied.undo,
    )


def register_patch_resource(server: MCPServer[Any], rt: Runtime) -> None:
    @server.resource(
        "openhands://conversations/{conversation_id}/patch", mime_type="text/x-patch", title="Patch of the changes"
    )
    async def conversation_patch(conversation_id: str) -> str | bytes:
        """The agent's changes as one git patch, as get_changes(format="patch") gives it, whole."""
        uri = f"openhands://conversations/{conversation_id}/patch"
        try:
            conversation = await rt.client.get_conversation(conversation_id)
            patch = await agent_patch(rt.client, conversation)
        except (NotFound, InvalidRequest) as exc:
            raise ResourceNotFoundError(f"{uri}: {exc.message}") from None
        except OpenHandsError as exc:
            raise ResourceError(f"{uri}: {for_model(exc)}") from None
        try:
            return redact(patch.data.decode("utf-8"), rt.client.secrets_for(conversation))
        except UnicodeDecodeError:
            return patch.data

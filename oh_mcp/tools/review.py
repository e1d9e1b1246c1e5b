"""Review tools: what the agent changed (files, diffs, one patch with its digest), the workspace's files, and
bringing the reviewed patch home (apply_changes)."""

from __future__ import annotations

import base64
import posixpath
from typing import Annotated, Literal
from urllib.parse import quote

import anyio
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ResourceLink
from pydantic import BaseModel, Field

from ..local.apply import ApplyRefused, Caps, apply_patch
from ..local.git import GitError
from ..openhands import AppConversation, SandboxStatus
from ..records import Changes, FileText
from ..review.changes import Review, build_page, list_changes, read_text
from ..review.patch import Patch, PatchFile, UnreadablePatch, agent_patch, read_patch, shown_path
from ..shaping import decode_cursor, encode_cursor, redact, window
from .local import LocalPath, local_checkout
from .params import ConversationId, GitRef, PageId
from .running import running_conversation
from .toolset import Ctx, Toolset, as_result, runtime

review = Toolset(
    "review",
    "Review what an agent did: changed files, diffs and workspace files.",
    instructions="After wait_for_agent, get_changes shows the agent's changes; read_file reads any workspace file.",
)

AutoResume = Annotated[bool, Field(description="Resume a paused sandbox.")]
WorkspacePath = Annotated[
    str, Field(min_length=1, max_length=4096, description="Absolute, or from the workspace root.")
]


@review.tool(title="Get changes", read_only=True, destructive=False, idempotent=True)
async def get_changes(
    ctx: Ctx,
    conversation_id: ConversationId,
    path: Annotated[str | None, Field(max_length=4096, description="One changed file, shown in full.")] = None,
    repository_path: Annotated[str | None, Field(max_length=4096, description="Only this repository.")] = None,
    ref: GitRef | None = None,
    diff: bool = True,
    page_id: PageId = None,
    auto_resume: AutoResume = False,
    format: Annotated[Literal["files", "patch"], Field(description="patch: one git patch.")] = "files",
) -> Annotated[CallToolResult, Changes]:
    """The files the agent changed in the workspace's git repositories: status, lines added and removed,
    unified diff (none for lockfiles, generated, binary or huge files)."""
    rt = runtime(ctx)
    try:
        _, start = decode_cursor(page_id)
    except ValueError as exc:
        raise ToolError(str(exc)) from None
    if format == "patch":
        return as_result(await patch_changes(ctx, conversation_id, repository_path, start, auto_resume))
    conversation = await running_conversation(ctx, conversation_id, auto_resume, "its changes cannot be read")
    workspace, found = await list_changes(rt.client, conversation, repository_path=repository_path, ref=ref)
    review = Review(rt.settings.output_budget, rt.client.secrets_for(conversation), diff, path)
    page = await build_page(rt.client, conversation, workspace, found, review, start)
    result = as_result(page)
    result.content += [
        _link(conversation.id, posixpath.relpath(posixpath.join(repo.path, f.path), workspace.root), f.status)
        for repo in page.repositories
        for f in repo.files
        if f.status != "deleted"
    ]
    return result


def _link(conversation_id: str, path: str, status: str) -> ResourceLink:
    # Percent-encoded: a "#" or "?" in a name would end the path, a "%" start an escape; reading decodes.
    uri = f"openhands://conversations/{conversation_id}/files/{quote(path, safe='/')}"
    return ResourceLink(type="resource_link", name=path, uri=uri, description=f"{status} by the agent")


@review.tool(title="Read file", read_only=True, destructive=False, idempotent=True)
async def read_file(
    ctx: Ctx,
    conversation_id: ConversationId,
    path: WorkspacePath,
    offset: Annotated[int, Field(ge=0, description="next_offset, to read on.")] = 0,
    auto_resume: AutoResume = False,
) -> FileText:
    """Read a text file of the sandbox's workspace, windowed; pass next_offset as offset to read on."""
    rt = runtime(ctx)
    conversation = await running_conversation(ctx, conversation_id, auto_resume, "the file cannot be read")
    secrets = rt.client.secrets_for(conversation)
    return await read_text(
        rt.client, conversation, path, offset=offset, budget=rt.settings.output_budget, secrets=secrets
    )


# ---- the whole work as one patch, and bringing it home ----------------------------------------


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
    conversation = await running_conversation(ctx, conversation_id, auto_resume, "its changes cannot be read")
    patch, files = await _read_patch(ctx, conversation, repository_path)
    chunk, encoded, more = patch_window(patch, rt.client.secrets_for(conversation), offset, rt.settings.output_budget)
    listed = ", ".join(f.describe() for f in files[:LISTED_FILES])
    if len(files) > LISTED_FILES:
        listed += f", and {len(files) - LISTED_FILES} more"
    summary = (
        f"{len(files)} files changed in {patch.repository}: {listed}. A patch of {len(patch.data):,} bytes against "
        f"{patch.compared_with} (commit {patch.base}); apply_changes takes it with this patch_digest"
    )
    if more is not None:
        summary += f"; cut at character {more}: call again with page_id to read on"
    return Changes(
        conversation_id=conversation.id,
        summary=summary,
        repositories=[],
        patch=None if encoded else chunk,
        patch_base64=chunk if encoded else None,
        patch_digest=patch.digest,
        next_page_id=encode_cursor(None, more) if more is not None else None,
    )


LISTED_FILES = 30


async def _read_patch(
    ctx: Ctx, conversation: AppConversation, repository_path: str | None = None
) -> tuple[Patch, list[PatchFile]]:
    settings = runtime(ctx).settings
    patch = await agent_patch(runtime(ctx).client, conversation, repository_path, limit=settings.patch_max_bytes)
    try:
        return patch, await read_patch(patch.data)
    except UnreadablePatch as exc:
        raise ToolError(f"The agent's patch cannot be read safely: {exc}. Nothing was applied.") from None


class AppliedChanges(BaseModel):
    local_path: str
    files: list[str] = Field(description="Each changed file with what happened to it.")
    merged: list[str] = Field(default_factory=list, description="Merged three-way with your edits.")
    undo: str = Field(description="The command that takes the changes out again.")


Digest = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="patch_digest from get_changes(format='patch').")]


@review.tool(
    title="Apply changes",
    read_only=False,
    destructive=True,
    idempotent=False,
    open_world=True,
    meta={"anthropic/requiresUserInteraction": True},
)
async def apply_changes(
    ctx: Ctx, conversation_id: ConversationId, local_path: LocalPath, patch_digest: Digest
) -> AppliedChanges:
    """Apply the patch you reviewed with get_changes(format="patch") to a local checkout as uncommitted edits,
    all or nothing, never over a local edit it cannot merge. Returns the files and an undo command."""
    rt = runtime(ctx)
    top = await local_checkout(ctx, local_path)
    conversation = await rt.client.get_conversation(conversation_id)
    if conversation.sandbox_status != SandboxStatus.RUNNING:
        raise ToolError(
            f"The sandbox of conversation {conversation.id} is {conversation.sandbox_status}: apply_changes never "
            "resumes it. Call resume_sandbox, review with get_changes(format='patch'), then apply."
        )
    settings = rt.settings
    caps = Caps(files=settings.apply_max_files, bytes=settings.apply_max_bytes)
    try:
        with anyio.fail_after(settings.apply_timeout):
            patch, files = await _read_patch(ctx, conversation)
            if patch.digest != patch_digest:
                raise ToolError(
                    "The sandbox's patch is not the one reviewed (its digest differs): the agent's work changed, or "
                    "another conversation's was reviewed. Nothing was written. Review it again with "
                    "get_changes(format='patch') and pass the patch_digest it gives."
                )
            reviewed = {f.path for f in files} | {f.source for f in files if f.source}
            applied = await apply_patch(top, patch.data, patch.base, reviewed, conversation.id, caps)
    except TimeoutError:
        raise ToolError(
            f"Reading, checking and applying the patch took over {settings.apply_timeout:g} s "
            "(OH_MCP_APPLY_TIMEOUT); nothing was written."
        ) from None
    except ApplyRefused as exc:
        raise ToolError(str(exc)) from None
    except GitError as exc:
        raise ToolError(f"git could not apply the patch to {top}: {exc} Nothing was written.") from None
    by_path = {f.path: f for f in files}
    renamed_away = {f.source for f in files if f.status == "renamed"}
    shown = [by_path[p].describe() for p in applied.written if p in by_path]
    shown += [f"{shown_path(p)} (renamed)" for p in applied.written if p not in by_path and p in renamed_away]
    if applied.attributes:
        shown.append(".gitattributes changed: applied as plain text, no filter ran")
    return AppliedChanges(local_path=str(top), files=shown, merged=applied.merged, undo=applied.undo)

"""Review tools: what the agent changed (files, diffs) and the workspace's files."""

from __future__ import annotations

import posixpath
from typing import Annotated, Literal
from urllib.parse import quote

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ResourceLink
from pydantic import Field

from ..changes import Review, build_page, list_changes, read_text
from ..openhands import AppConversation, SandboxStatus
from ..records import Changes, FileText
from ..shaping import decode_cursor
from .params import DEFAULT_WAIT, ConversationId, GitRef, PageId
from .running import make_running
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


async def _running(ctx: Ctx, conversation_id: str, auto_resume: bool, undone: str) -> AppConversation:
    """The conversation, its sandbox RUNNING (resumed only when asked, and never on a read-only server)."""
    rt = runtime(ctx)
    conversation = await rt.client.get_conversation(conversation_id)
    if conversation.sandbox_status == SandboxStatus.RUNNING:
        return conversation
    if auto_resume and rt.settings.read_only:
        raise ToolError("This server is read-only, so it does not resume sandboxes: auto_resume is refused.")
    await make_running(ctx, rt.client, conversation, auto_resume=auto_resume, timeout=DEFAULT_WAIT, undone=undone)
    return await rt.client.get_conversation(conversation.id)


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
        from .local import patch_changes  # local.py builds on this module

        return as_result(await patch_changes(ctx, conversation_id, repository_path, start, auto_resume))
    conversation = await _running(ctx, conversation_id, auto_resume, "its changes cannot be read")
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
    conversation = await _running(ctx, conversation_id, auto_resume, "the file cannot be read")
    secrets = rt.client.secrets_for(conversation)
    return await read_text(
        rt.client, conversation, path, offset=offset, budget=rt.settings.output_budget, secrets=secrets
    )

"""Sandbox tools: the machines that run agents. List, start, pause, resume and delete them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ..openhands import OpenHandsClient, Sandbox, SandboxStatus, WaitTimedOut
from ..records import Deleted, SandboxList, SandboxState, SandboxSummary, sandbox_summary
from .params import DEFAULT_WAIT, Limit, PageId, SandboxId, WaitSeconds
from .progress import Progress
from .toolset import Ctx, Toolset, runtime

sandboxes = Toolset(
    "sandboxes",
    "Manage the sandboxes that run OpenHands agents.",
    instructions=(
        "A paused sandbox keeps its files but cannot run its agent: resume_sandbox brings it back "
        "(send_message does that by itself). Pause idle sandboxes to free resources."
    ),
)


@sandboxes.tool(title="List sandboxes", read_only=True, destructive=False, idempotent=True)
async def list_sandboxes(ctx: Ctx, limit: Limit = 20, page_id: PageId = None) -> SandboxList:
    """List sandboxes with status and spec; pass next_page_id as page_id for more."""
    rt = runtime(ctx)
    page = await rt.client.search_sandboxes(limit=limit, page_id=page_id)
    spares = set(rt.warm.spare_ids(rt.client)) if rt.warm.serves(rt.client) else set()
    return SandboxList(
        items=[sandbox_summary(s) for s in page.items],
        next_page_id=page.next_page_id,
        warm=[s.id for s in page.items if s.id in spares] or None,
    )


@sandboxes.tool(title="Get sandbox", read_only=True, destructive=False, idempotent=True)
async def get_sandbox(ctx: Ctx, sandbox_id: SandboxId) -> SandboxSummary:
    """Get a sandbox's status, spec, creation time and exposed URL names."""
    return sandbox_summary(await runtime(ctx).client.get_sandbox(sandbox_id))


@sandboxes.tool(title="Start sandbox", read_only=False, destructive=False, idempotent=False, wait="timeout_seconds")
async def start_sandbox(
    ctx: Ctx,
    sandbox_spec_id: Annotated[
        str | None,
        Field(max_length=300, description="From list_sandbox_specs; default if omitted."),
    ] = None,
    wait: bool = True,
    timeout_seconds: WaitSeconds = DEFAULT_WAIT,
) -> SandboxState:
    """Start a sandbox from a spec, waiting until RUNNING. Pass its id to start_conversation as sandbox_id."""
    client = runtime(ctx).client
    sandbox = await client.create_sandbox(sandbox_spec_id)
    return await _settle(ctx, client, sandbox.id, wait, timeout_seconds)


@sandboxes.tool(title="Pause sandbox", read_only=False, destructive=False, idempotent=True)
async def pause_sandbox(ctx: Ctx, sandbox_id: SandboxId) -> SandboxState:
    """Pause a sandbox to free resources; files are kept. resume_sandbox brings it back."""
    client = runtime(ctx).client
    await client.pause_sandbox(sandbox_id)
    sandbox = await client.get_sandbox(sandbox_id)
    return SandboxState(
        sandbox_id=sandbox.id,
        status=str(sandbox.status),
        ready=False,
        next_step="Paused. Call resume_sandbox, or send_message with auto_resume, to use it again.",
    )


@sandboxes.tool(title="Resume sandbox", read_only=False, destructive=False, idempotent=True, wait="timeout_seconds")
async def resume_sandbox(
    ctx: Ctx,
    sandbox_id: SandboxId,
    wait: bool = True,
    timeout_seconds: WaitSeconds = DEFAULT_WAIT,
) -> SandboxState:
    """Resume a paused sandbox, waiting until RUNNING."""
    client = runtime(ctx).client
    await client.resume_sandbox(sandbox_id)
    return await _settle(ctx, client, sandbox_id, wait, timeout_seconds)


async def _settle(ctx: Ctx, client: OpenHandsClient, sandbox_id: str, wait: bool, timeout: float) -> SandboxState:
    if not wait:
        sandbox = await client.get_sandbox(sandbox_id)
    else:
        progress = Progress(ctx, timeout)
        try:
            sandbox = await client.wait_for_sandbox(
                sandbox_id, timeout=timeout, on_change=lambda s: progress.report(f"sandbox {s.status}")
            )
        except WaitTimedOut as exc:
            if not isinstance(exc.last, Sandbox):
                raise
            sandbox = exc.last
    ready = sandbox.status == SandboxStatus.RUNNING
    step = "Ready." if ready else f"Not running yet: call get_sandbox {sandbox.id} again in a few seconds."
    return SandboxState(sandbox_id=sandbox.id, status=str(sandbox.status), ready=ready, next_step=step)


@sandboxes.tool(title="Delete sandbox", read_only=False, destructive=True, idempotent=True)
async def delete_sandbox(ctx: Ctx, sandbox_id: SandboxId) -> Deleted:
    """Delete a sandbox and its files for good; its conversations become archived."""
    await runtime(ctx).client.delete_sandbox(sandbox_id)
    return Deleted(deleted=True, id=sandbox_id)

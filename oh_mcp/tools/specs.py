"""Sandbox spec tools: the templates sandboxes start from."""

from __future__ import annotations

from ..records import SpecList, spec_summary
from .params import Limit, PageId
from .toolset import Ctx, Toolset, runtime

specs = Toolset(
    "specs",
    "Read the sandbox specs (templates) sandboxes start from.",
    instructions="list_sandbox_specs shows which sandbox_spec_id start_sandbox accepts.",
)


@specs.tool(title="List sandbox specs", read_only=True, destructive=False, idempotent=True)
async def list_sandbox_specs(ctx: Ctx, limit: Limit = 20, page_id: PageId = None) -> SpecList:
    """List the sandbox specs (templates) for start_sandbox."""
    page = await runtime(ctx).client.search_sandbox_specs(limit=limit, page_id=page_id)
    return SpecList(items=[spec_summary(s) for s in page.items], next_page_id=page.next_page_id)

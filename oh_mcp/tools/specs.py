"""Sandbox spec tools: the templates sandboxes start from."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ..openhands import SandboxSpec
from .params import Limit, PageId
from .toolset import Ctx, Toolset, runtime

specs = Toolset(
    "specs",
    "Read the sandbox specs (templates) sandboxes start from.",
    instructions="list_sandbox_specs shows which sandbox_spec_id start_sandbox accepts.",
)


class SpecSummary(BaseModel):
    id: str = Field(description="Spec id (an image name); pass it to start_sandbox as sandbox_spec_id.")
    command: str | None = None
    working_dir: str | None = None
    env_names: list[str] = Field(default=[], description="Names of the environment variables it sets.")


class SpecList(BaseModel):
    items: list[SpecSummary]
    next_page_id: str | None = Field(default=None, description="Pass as page_id for the next page; absent at the end.")


def spec_summary(s: SandboxSpec) -> SpecSummary:
    return SpecSummary(
        id=s.id,
        command=" ".join(s.command) if s.command else None,
        working_dir=s.working_dir,
        env_names=sorted(s.initial_env),
    )


@specs.tool(title="List sandbox specs", read_only=True, destructive=False, idempotent=True)
async def list_sandbox_specs(ctx: Ctx, limit: Limit = 20, page_id: PageId = None) -> SpecList:
    """List the sandbox specs (templates) for start_sandbox."""
    page = await runtime(ctx).client.search_sandbox_specs(limit=limit, page_id=page_id)
    return SpecList(items=[spec_summary(s) for s in page.items], next_page_id=page.next_page_id)

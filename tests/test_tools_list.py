"""tools/list is the public interface and what every session pays for in context: each tool is
kept as a snapshot (UPDATE_SNAPSHOTS=1 rewrites them, so a change shows up in review), and the
whole list has a size budget."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from oh_mcp import Settings, build_server
from oh_mcp.docs import MODEL_VISIBLE_BUDGET, TOOLS_LIST_BUDGET

pytestmark = pytest.mark.anyio

SNAPSHOTS = Path(__file__).parent / "snapshots" / "tools"


async def listed() -> list[dict[str, Any]]:
    async with Client(build_server(Settings())) as client:
        tools = (await client.list_tools()).tools
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


def size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


async def test_every_tool_matches_its_snapshot() -> None:
    tools = await listed()
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        for old in SNAPSHOTS.glob("*.json"):
            old.unlink()
        for tool in tools:
            (SNAPSHOTS / f"{tool['name']}.json").write_text(json.dumps(tool, indent=2, ensure_ascii=False) + "\n")
    snapshots = {p.stem: json.loads(p.read_text()) for p in SNAPSHOTS.glob("*.json")}
    assert sorted(snapshots) == sorted(t["name"] for t in tools), "tools added or gone: UPDATE_SNAPSHOTS=1 pytest"
    for tool in tools:
        assert tool == snapshots[tool["name"]], f"{tool['name']} changed; review, then UPDATE_SNAPSHOTS=1 pytest"


async def test_the_list_stays_within_its_budget() -> None:
    tools = await listed()
    visible = [{k: t[k] for k in ("name", "description", "inputSchema")} for t in tools]
    assert size(tools) <= TOOLS_LIST_BUDGET, size(tools)
    assert size(visible) <= MODEL_VISIBLE_BUDGET, size(visible)

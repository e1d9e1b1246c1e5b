"""Toolsets, added and excluded tools, and read-only: what is listed and what is refused by name."""

from __future__ import annotations

import pytest
from mcp import Client

from oh_mcp import Settings, build_server
from oh_mcp.config import ConfigError
from tests.calls import ALL_TOOLS
from tests.fake.state import FakeOpenHands

pytestmark = pytest.mark.anyio

WRITE_TOOLS = {
    "apply_changes",
    "start_conversation",
    "send_message",
    "update_conversation",
    "delete_conversation",
    "interrupt_agent",
    "respond_to_action",
    "start_sandbox",
    "pause_sandbox",
    "resume_sandbox",
    "delete_sandbox",
}


async def names(settings: Settings) -> set[str]:
    async with Client(build_server(settings)) as client:
        return {t.name for t in (await client.list_tools()).tools}


async def test_every_tool_has_a_title_and_all_four_annotations(mcp_client: Client) -> None:
    tools = (await mcp_client.list_tools()).tools
    assert len(tools) == ALL_TOOLS
    for tool in tools:
        a = tool.annotations
        assert tool.title and a is not None, tool.name
        assert None not in (a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint), tool.name
        assert a.read_only_hint == (tool.name not in WRITE_TOOLS), tool.name
        assert tool.output_schema is not None, tool.name
        assert 40 < len(tool.description or "") < 400, tool.name


async def test_read_only_hides_every_write_tool(settings: Settings) -> None:
    listed = await names(settings.model_copy(update={"read_only": True}))
    assert listed.isdisjoint(WRITE_TOOLS)
    assert {"list_conversations", "wait_for_agent", "list_sandbox_specs"} <= listed


async def test_read_only_refuses_a_write_tool_called_by_name(fake: FakeOpenHands, settings: Settings) -> None:
    conv = fake.add_conversation(title="t")
    async with Client(build_server(settings.model_copy(update={"read_only": True}))) as client:
        result = await client.call_tool("send_message", {"conversation_id": conv["id"], "message": "x"})
        assert result.is_error
        assert "read-only" in result.content[0].text  # type: ignore[union-attr]
        result = await client.call_tool("delete_sandbox", {"sandbox_id": conv["sandbox_id"]})
        assert result.is_error
    assert fake.deliveries == []
    assert not any(method in ("POST", "DELETE") for method, *_ in fake.requests)


async def test_toolsets_tools_and_exclusions_combine(settings: Settings) -> None:
    only_specs = await names(settings.model_copy(update={"toolsets": ("specs",)}))
    assert only_specs == {"list_sandbox_specs"}
    plus_one = await names(settings.model_copy(update={"toolsets": ("specs",), "tools": ("get_sandbox",)}))
    assert plus_one == {"list_sandbox_specs", "get_sandbox"}
    excluded = await names(
        settings.model_copy(update={"tools": ("get_sandbox",), "exclude_tools": ("get_sandbox", "delete_conversation")})
    )
    assert "get_sandbox" not in excluded and "delete_conversation" not in excluded and "send_message" in excluded


async def test_read_only_wins_over_an_added_write_tool(settings: Settings) -> None:
    listed = await names(settings.model_copy(update={"read_only": True, "tools": ("send_message",)}))
    assert "send_message" not in listed


async def test_an_excluded_tool_called_by_name_says_why(settings: Settings) -> None:
    async with Client(build_server(settings.model_copy(update={"exclude_tools": ("list_sandboxes",)}))) as client:
        result = await client.call_tool("list_sandboxes", {})
    assert result.is_error and "excluded" in result.content[0].text  # type: ignore[union-attr]


def test_unknown_tool_names_stop_start_up_with_the_valid_names() -> None:
    with pytest.raises(ConfigError) as info:
        build_server(Settings(tools=("list_everything",)))
    assert "unknown tool 'list_everything'" in str(info.value) and "list_conversations" in str(info.value)


async def test_instructions_follow_the_enabled_toolsets(settings: Settings) -> None:
    server = build_server(settings.model_copy(update={"toolsets": ("specs",)}))
    async with Client(server) as client:
        instructions = client.server_instructions if hasattr(client, "server_instructions") else None
    text = instructions or server._lowlevel_server.instructions or ""  # pyright: ignore[reportPrivateUsage]
    assert "specs:" in text and "conversations:" not in text


async def test_tools_list_stays_within_its_size_budget(mcp_client: Client) -> None:
    tools = (await mcp_client.list_tools()).tools
    size = sum(len(t.model_dump_json(by_alias=True, exclude_none=True)) for t in tools)
    # issue 7 aims for 12,000; this guards against regressions while that work is open.
    assert size < 25_000, size

"""The panel as MCP sees it: the extension advertised, one tool bound, the page served with this
server's tool names, and results unchanged for clients that never asked for apps."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from oh_mcp import Settings, build_server
from oh_mcp.panel import PANEL_URI
from tests.fake.state import FakeOpenHands

pytestmark = pytest.mark.anyio

APPS = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})


async def panel_page(settings: Settings) -> str:
    async with Client(build_server(settings), extensions=[APPS]) as client:
        read = await client.read_resource(PANEL_URI)
    content = read.contents[0]
    assert content.mime_type == APP_MIME_TYPE
    text = getattr(content, "text", None)
    assert isinstance(text, str)
    return text


def tools_in(page: str) -> list[str]:
    found = re.search(r'<script type="application/json" id="oh-mcp-tools">(.*?)</script>', page)
    assert found is not None
    names: list[str] = json.loads(found.group(1))
    return names


async def test_the_server_advertises_the_apps_extension_and_binds_only_get_conversation() -> None:
    async with Client(build_server(Settings()), extensions=[APPS]) as client:
        extensions = client.server_capabilities.extensions if client.server_capabilities else None
        tools = (await client.list_tools()).tools
    assert extensions is not None and EXTENSION_ID in extensions
    bound = {t.name: t.meta["ui"] for t in tools if t.meta and "ui" in t.meta}
    assert bound == {"get_conversation": {"resourceUri": PANEL_URI}}
    # Another extension's _meta on the same or another tool is kept as it was.
    metas = {t.name: t.meta for t in tools}
    assert metas["get_conversation"] == {"ui": {"resourceUri": PANEL_URI}}
    assert metas["respond_to_action"] == {"anthropic/requiresUserInteraction": True}


async def test_the_page_lists_every_tool_of_the_build_even_those_read_only_mode_hides() -> None:
    names = tools_in(await panel_page(Settings(read_only=True)))
    assert {"get_conversation", "get_conversation_events", "send_message"} <= set(names)


async def test_the_page_is_self_contained_behind_a_policy_that_allows_no_network() -> None:
    page = await panel_page(Settings(api_key="sk-never-in-the-panel"))
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert policy is not None
    directives = dict(d.strip().split(" ", 1) for d in policy.group(1).split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"].startswith("'sha256-") and " " not in directives["script-src"]
    assert "connect-src" not in directives  # falls back to default-src 'none'
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page)
    assert "sk-never-in-the-panel" not in page


async def test_a_client_without_the_extension_gets_the_same_result_as_before(fake: FakeOpenHands) -> None:
    made = fake.add_conversation(title="Add a README", repository="acme/app")
    settings = Settings(openhands_url=fake.base_url)

    async def call(extensions: list[Any]) -> Any:
        async with Client(build_server(settings), extensions=extensions) as client:
            result = await client.call_tool("get_conversation", {"conversation_id": made["id"]})
        return result.model_dump(mode="json", by_alias=True, exclude={"meta"})

    plain, with_apps = await call([]), await call([APPS])
    assert plain == with_apps
    assert plain["structuredContent"]["title"] == "Add a README"

"""A real browser for the panel: Debian's Chromium driven by Playwright, a test host page that
embeds the panel as MCP Apps hosts do, and the host's MCP side bound to a real oh-mcp.

The host does what Claude, VS Code and Cursor do with a bound tool: it reads the tool's
`_meta.ui.resourceUri` from tools/list, reads that resource, calls the tool, and hands the panel
the call's input and result; every call the panel makes is forwarded to oh-mcp over MCP.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp.types import TextResourceContents
from playwright.async_api import Browser, FrameLocator, Page, async_playwright

from oh_mcp import Settings, build_server

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps reaching for Google's hosts, which a
# closed network refuses; the panel must need no network anyway.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@functools.cache
def host_script() -> str:
    """The test host's script, bundled from tests/panel/host/host.ts with the repository's esbuild."""
    esbuild = ROOT / "node_modules" / ".bin" / "esbuild"
    assert esbuild.exists(), "the Node build tools are missing: scripts/setup --dev"
    out = Path(tempfile.mkdtemp(prefix="oh-mcp-host-")) / "host.js"
    subprocess.run(
        [str(esbuild), "tests/panel/host/host.ts", "--bundle", "--log-level=warning", f"--outfile={out}"],
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    return out.read_text()


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    assert shutil.which(CHROMIUM), "Chromium is missing: scripts/setup --dev installs it"
    # Playwright gives each launch a fresh, empty profile directory of its own.
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


class PanelHost:
    """One host page with one panel in it, talking to one oh-mcp."""

    def __init__(self, page: Page, client: Client) -> None:
        self.page = page
        self.client = client
        self.network: list[str] = []  # every request the page made beyond the host page itself
        page.on("request", lambda request: self.network.append(request.url))

    @property
    def panel(self) -> FrameLocator:
        return self.page.frame_locator("#panel")

    async def forward(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await self.client.call_tool(name, arguments)
        return result.model_dump(mode="json", by_alias=True, exclude_none=True)

    async def open(self, conversation_id: str, theme: str | None = "light", html: str | None = None) -> None:
        """Do what a host does when the model calls the bound tool (theme None: the host names none;
        html replaces the page the server serves)."""
        tools = (await self.client.list_tools()).tools
        bound = next(t for t in tools if t.meta and "ui" in t.meta)
        read = await self.client.read_resource(bound.meta["ui"]["resourceUri"])  # type: ignore[index]
        page = read.contents[0]
        assert isinstance(page, TextResourceContents) and page.mime_type == APP_MIME_TYPE
        arguments = {"conversation_id": conversation_id}
        result = await self.forward(bound.name, arguments)
        await self.page.evaluate(
            "([html, input, result, theme]) => ohHost.mount(html, input, result, theme)",
            [html or page.text, arguments, result, theme],
        )

    async def calls(self) -> list[str]:
        names: list[str] = await self.page.evaluate("() => ohHost.calls")
        return names


@asynccontextmanager
async def panel_host(browser: Browser, settings: Settings, client_factory: Any = None) -> AsyncIterator[PanelHost]:
    server = build_server(settings, client_factory=client_factory)
    apps = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})
    async with Client(server, extensions=[apps]) as client:
        page = await browser.new_page(viewport={"width": 800, "height": 940})
        host = PanelHost(page, client)
        await page.expose_function("ohCallTool", host.forward)
        await page.set_content(f"<!doctype html><body style='margin:0'><script>{host_script()}</script></body>")
        try:
            yield host
        finally:
            await page.close()

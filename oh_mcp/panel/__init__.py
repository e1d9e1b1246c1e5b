"""The conversation panel: an MCP App (`io.modelcontextprotocol/ui`) that hosts render for
get_conversation. The HTML is built from panel/src by `npm run build:panel` and ships in the wheel;
running oh-mcp needs no Node.

The page is served with the names of the tools this server has, so the panel shows only the parts
it can back with a real tool (a diff needs get_changes, Approve needs respond_to_action). A tool
that exists but is hidden by the settings (read-only, excluded) keeps its button: the call is
refused with the server's reason, which the panel shows.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from importlib.resources import files
from typing import Any

from mcp.server.apps import Apps

PANEL_URI = "ui://oh-mcp/conversation-panel.html"
BOUND_TOOL = "get_conversation"
_TOOLS_SLOT = '<script type="application/json" id="oh-mcp-tools">[]</script>'


@functools.cache
def _built_page() -> str:
    # ~350 KB, read once per process however many servers it builds (tests build hundreds).
    return files("oh_mcp.panel").joinpath("panel.html").read_text(encoding="utf-8")


def panel_html(tool_names: Iterable[str]) -> str:
    """The built page with this server's tool names written in."""
    html = _built_page()
    if _TOOLS_SLOT not in html:  # pragma: no cover - the build test guards the template
        raise RuntimeError("panel.html has no tools slot; rebuild it with `npm run build:panel`")
    # "</" would end the script element early; tool names never hold it, but the page must not break.
    names = json.dumps(sorted(tool_names)).replace("</", "<\\/")
    return html.replace(_TOOLS_SLOT, _TOOLS_SLOT.replace("[]", names))


def panel_extension(tool_names: Iterable[str]) -> Apps:
    """The MCP Apps extension: advertises `io.modelcontextprotocol/ui` and serves the panel."""
    apps = Apps()
    # No csp domains: the host's default policy then allows no network at all, which is all the
    # panel needs (it talks only to the host).
    apps.add_html_resource(
        PANEL_URI,
        panel_html(tool_names),
        name="conversation-panel",
        title="OpenHands conversation panel",
        description="A live view of one conversation: status, steps, changed files, approvals.",
        prefers_border=True,
    )
    return apps


def tool_meta(tool_name: str, meta: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """A tool's `_meta`, plus the entry that binds the panel when it is the panel's tool."""
    if tool_name != BOUND_TOOL:
        return meta
    return {**(meta or {}), "ui": {"resourceUri": PANEL_URI}}

"""One version everywhere a person installs oh-mcp from: the Python package, the MCP Registry entry,
the MCP Bundle, the Claude Code plugin (and the uvx pin it runs) and its marketplace entry."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import oh_mcp

ROOT = Path(__file__).resolve().parents[1]


def read(path: str) -> dict[str, Any]:
    return dict(json.loads((ROOT / path).read_text()))


def test_every_manifest_carries_the_projects_version() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    server, plugin = read("server.json"), read("plugin/.claude-plugin/plugin.json")
    (entry,) = read(".claude-plugin/marketplace.json")["plugins"]
    found = {
        "oh_mcp.__version__": oh_mcp.__version__,
        "server.json": server["version"],
        "server.json packages[0]": server["packages"][0]["version"],
        "bundle/manifest.json": read("bundle/manifest.json")["version"],
        "plugin.json": plugin["version"],
        "plugin.json uvx pin": plugin["mcpServers"]["openhands"]["args"][-1].removeprefix("oh-mcp@"),
        "marketplace.json": entry["version"],
    }
    assert found == dict.fromkeys(found, version)

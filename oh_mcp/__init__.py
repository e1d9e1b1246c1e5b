"""oh-mcp: an MCP server that lets AI assistants drive OpenHands through its V1 REST API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .config import Settings
    from .openhands import OpenHandsClient
    from .server import build_server

__all__ = ["OpenHandsClient", "Settings", "__version__", "build_server"]

# Imported on first use, so `oh-mcp --help` and a configuration error load neither the MCP SDK
# nor httpx2.
_LAZY = {"Settings": ".config", "OpenHandsClient": ".openhands", "build_server": ".server"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(_LAZY[name], __name__), name)

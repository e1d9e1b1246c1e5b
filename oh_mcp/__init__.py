"""oh-mcp: an MCP server that lets AI assistants drive OpenHands through its V1 REST API."""

__version__ = "0.1.0"

from .config import Settings
from .openhands import OpenHandsClient
from .server import build_server

__all__ = ["OpenHandsClient", "Settings", "__version__", "build_server"]

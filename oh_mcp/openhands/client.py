"""An async client for the OpenHands V1 app server (`/api/v1`) and the agent servers it starts.

One `httpx2.AsyncClient` with keep-alive serves every call. The client knows nothing of MCP:
it returns models from `models.py` and raises errors from `errors.py`. Its parts live apart:
`transport.py` (HTTP, auth, retries), `app_server.py` and `agent_server.py` (the routes of each
server) and `waits.py` (polling until a state is reached).
"""

from __future__ import annotations

from .agent_server import ACTION_EVENT_CLASS, AgentServerRoutes
from .transport import SANDBOX_START_TIMEOUT, USER_AGENT, KeyProvider
from .waits import OnChange, Waits, settled

__all__ = [
    "ACTION_EVENT_CLASS",
    "SANDBOX_START_TIMEOUT",
    "USER_AGENT",
    "KeyProvider",
    "OnChange",
    "OpenHandsClient",
    "settled",
]


class OpenHandsClient(Waits, AgentServerRoutes):
    """Typed calls to one OpenHands server and its agent servers. Use as an async context manager."""

"""What every tool, resource and prompt shares at run time: the settings and one OpenHands client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio.abc import TaskGroup

from .config import Settings
from .openhands import OpenHandsClient
from .warm import WarmPool


class Runtime:
    """Owns the one OpenHands client of a process.

    The SDK enters the lifespan once per process for stdio and Streamable HTTP, but once per
    connection for SSE and the in-memory client; counting users lets every connection share
    one connection pool, and lets static resources and completions (which get no Context)
    reach the client too.
    """

    def __init__(self, settings: Settings, client_factory: Callable[[Settings], OpenHandsClient] | None = None) -> None:
        self.settings = settings
        self._factory = client_factory or client_for
        self._client: OpenHandsClient | None = None
        self._users = 0
        self._groups: list[TaskGroup] = []
        self.warm = WarmPool.from_settings(settings)

    @property
    def client(self) -> OpenHandsClient:
        if self._client is None:
            raise RuntimeError("the OpenHands client is used outside the server's lifespan")
        return self._client

    @asynccontextmanager
    async def lifespan(self, _server: Any) -> AsyncIterator[Runtime]:
        first = self._users == 0
        if first:
            self._client = self._factory(self.settings)
        self._users += 1
        try:
            async with anyio.create_task_group() as group:
                self._groups.append(group)
                if first:  # one keeper of warm sandboxes per process, with the server's own key
                    group.start_soon(self.warm.maintain, self.client)
                try:
                    yield self
                finally:
                    self._groups.remove(group)
                    group.cancel_scope.cancel()
        finally:
            self._users -= 1
            if self._users == 0 and self._client is not None:
                client, self._client = self._client, None
                with anyio.CancelScope(shield=True):
                    await self._leave(client)
                    await client.aclose()

    async def _leave(self, client: OpenHandsClient) -> None:
        # A stdio session is one person's: its spares go with it unless kept. Over HTTP they stay for
        # the next worker, which adopts them (and pauses them when idle).
        stdio = self.settings.transport == "stdio"
        await self.warm.leave(client, delete=stdio and not self.settings.warm_keep)

    def spawn(self, fn: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
        """Run follow-up work after a tool has answered; it ends with the serving lifespan at the latest.
        It starts in the caller's context, so a per-user upstream key still applies to it."""
        if self._groups:
            self._groups[-1].start_soon(fn, *args)


def client_for(s: Settings, **overrides: Any) -> OpenHandsClient:
    """The one place a client is made from settings; `overrides` are OpenHandsClient keywords
    (a per-request key provider for hosting, event hooks and retries for tests)."""
    options: dict[str, Any] = {"api_key": s.api_key, "timeout": s.timeout, "poll_interval": s.poll_interval}
    options["agent_server_url"] = s.agent_server_url
    return OpenHandsClient(s.openhands_url, **(options | overrides))

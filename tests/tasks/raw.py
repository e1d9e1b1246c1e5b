"""A raw 2026-07-28 client, as Claude Code speaks it: every request carries its protocol version and
client capabilities in `_meta`, and declares the tasks extension where it wants tasks. One class over
three carriers: in memory (fast), stdio (a real process) and Streamable HTTP."""

from __future__ import annotations

import itertools
import json
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import anyio
import httpx
from mcp.client._memory import InMemoryTransport
from mcp.server.mcpserver import MCPServer
from mcp.shared.message import SessionMessage
from mcp.types.jsonrpc import JSONRPCNotification, JSONRPCRequest, JSONRPCResponse

VERSION = "2026-07-28"
TASKS = "io.modelcontextprotocol/tasks"


def meta(*, tasks: bool = True, elicitation: bool = False) -> dict[str, Any]:
    capabilities: dict[str, Any] = {}
    if tasks:
        capabilities["extensions"] = {TASKS: {}}
    if elicitation:
        capabilities["elicitation"] = {"form": {}}
    return {
        "io.modelcontextprotocol/protocolVersion": VERSION,
        "io.modelcontextprotocol/clientCapabilities": capabilities,
        "io.modelcontextprotocol/clientInfo": {"name": "raw-2026", "version": "0"},
    }


class Carrier(Protocol):
    async def send(self, message: dict[str, Any]) -> dict[str, Any]: ...


class Raw:
    """JSON-RPC over a carrier; `call` returns the result or raises RawError."""

    def __init__(self, carrier: Carrier, *, legacy: bool = False) -> None:
        self._carrier = carrier
        self._ids = itertools.count(1)
        self.legacy = legacy  # after an initialize handshake: no per-request envelope

    async def request(self, method: str, params: dict[str, Any], **meta_args: Any) -> dict[str, Any]:
        envelope = {} if self.legacy else {"_meta": meta(**meta_args)}
        message = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": {**params, **envelope}}
        return await self._carrier.send(message)

    async def call(self, method: str, params: dict[str, Any], **meta_args: Any) -> dict[str, Any]:
        answer = await self.request(method, params, **meta_args)
        if "error" in answer:
            raise RawError(answer["error"])
        return dict(answer["result"])

    async def tool(self, name: str, arguments: dict[str, Any], **meta_args: Any) -> dict[str, Any]:
        return await self.call("tools/call", {"name": name, "arguments": arguments}, **meta_args)

    async def get(self, task_id: str) -> dict[str, Any]:
        return await self.call("tasks/get", {"taskId": task_id})

    async def until(
        self, task_id: str, *statuses: str, seconds: float = 10, saying: str | None = None
    ) -> dict[str, Any]:
        """Poll tasks/get (fast, unlike a host) until the task reaches one of `statuses` (and its status
        message starts with `saying`)."""
        with anyio.fail_after(seconds):
            while True:
                got = await self.get(task_id)
                if got["status"] in statuses and (saying is None or got["statusMessage"].startswith(saying)):
                    return got
                await anyio.sleep(0.05)


class RawError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.error = error


OnRequest = Any  # (method, params) -> result, for requests the server sends (elicitation)


class _Memory:
    def __init__(self, read: Any, write: Any, on_request: OnRequest = None) -> None:
        self._read, self._write, self._lock = read, write, anyio.Lock()
        self.on_request = on_request
        self.notifications: list[dict[str, Any]] = []

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        note = {"jsonrpc": "2.0", "method": method, **({"params": params} if params else {})}
        await self._write.send(SessionMessage(JSONRPCNotification.model_validate(note)))

    async def send(self, message: dict[str, Any]) -> dict[str, Any]:
        async with self._lock:
            await self._write.send(SessionMessage(JSONRPCRequest.model_validate(message)))
            while True:
                got = await self._read.receive()
                if isinstance(got, Exception):
                    raise got
                dumped = got.message.model_dump(by_alias=True, mode="json", exclude_none=True)
                if dumped.get("id") == message["id"] and "method" not in dumped:
                    return dict(dumped)
                if "method" in dumped and "id" in dumped:  # the server asks something
                    result = self.on_request(dumped["method"], dumped.get("params"))
                    reply = {"jsonrpc": "2.0", "id": dumped["id"], "result": result}
                    await self._write.send(SessionMessage(JSONRPCResponse.model_validate(reply)))
                elif "method" in dumped:
                    self.notifications.append(dumped)


@asynccontextmanager
async def in_memory(server: MCPServer[Any]) -> AsyncIterator[Raw]:
    async with InMemoryTransport(server, raise_exceptions=True) as (read, write):
        yield Raw(_Memory(read, write))


@asynccontextmanager
async def in_memory_legacy(
    server: MCPServer[Any], capabilities: dict[str, Any], on_request: OnRequest = None
) -> AsyncIterator[tuple[Raw, dict[str, Any], _Memory]]:
    """A 2025-11-25 session: the initialize handshake, then requests without an envelope; yields the
    client, the initialize result and the carrier (for the notifications it saw)."""
    async with InMemoryTransport(server, raise_exceptions=True) as (read, write):
        carrier = _Memory(read, write, on_request)
        raw = Raw(carrier, legacy=True)
        info = {"name": "raw-2025", "version": "0"}
        init = {"protocolVersion": "2025-11-25", "capabilities": capabilities, "clientInfo": info}
        initialized = await raw.call("initialize", init)
        await carrier.notify("notifications/initialized")
        yield raw, initialized, carrier


class Http:
    """Streamable HTTP as Claude Code posts it: Mcp-Method, MCP-Protocol-Version and Mcp-Name headers."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url, self.headers = url, headers or {}

    async def send(self, message: dict[str, Any]) -> dict[str, Any]:
        params = message["params"]
        name = params.get("taskId") or params.get("name")
        headers = {
            "content-type": "application/json",
            "accept": "application/json, text/event-stream",
            "mcp-method": message["method"],
            "mcp-protocol-version": VERSION,
            **({"mcp-name": name} if name else {}),
            **self.headers,
        }
        async with httpx.AsyncClient(timeout=60) as http:
            response = await http.post(self.url, json=message, headers=headers)
        text = response.text
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            datas = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
            found = [json.loads(d) for d in datas if d]
            return next(m for m in found if m.get("id") == message["id"])
        return dict(response.json())


class Stdio:
    """Lines over a server process's stdin and stdout."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self._proc = proc

    async def send(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(message) + "\n")
        self._proc.stdin.flush()
        while True:
            line = await anyio.to_thread.run_sync(self._proc.stdout.readline)
            assert line, "the server closed stdout"
            got = json.loads(line)
            if got.get("id") == message["id"]:
                return dict(got)

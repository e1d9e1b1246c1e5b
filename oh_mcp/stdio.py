"""Serve over stdio, answering lines that are not JSON-RPC instead of dropping them.

The SDK's stdio transport hands unreadable lines to the server as exceptions, which the server
only logs, so a client that sent one waits forever. JSON-RPC asks for an error with a null id:
-32700 when the line is not JSON, -32600 when it is JSON but not a valid message.
"""

from __future__ import annotations

from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp.types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError
from pydantic import ValidationError

Item = SessionMessage | Exception


def error_for(exc: Exception) -> JSONRPCError:
    bad_json = isinstance(exc, ValidationError) and any(e["type"] == "json_invalid" for e in exc.errors())
    if bad_json or isinstance(exc, ValueError) and not isinstance(exc, ValidationError):
        return JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=PARSE_ERROR, message="Parse error"))
    return JSONRPCError(
        jsonrpc="2.0", id=None, error=ErrorData(code=INVALID_REQUEST, message="Invalid Request: not a JSON-RPC message")
    )


async def run_stdio(server: MCPServer[Any]) -> None:
    lowlevel = server._lowlevel_server  # pyright: ignore[reportPrivateUsage]  # no public way to pass streams
    async with stdio_server() as (read_stream, write_stream):
        good_send, good_receive = anyio.create_memory_object_stream[Item](64)

        async def pump() -> None:
            async with good_send:
                async for item in read_stream:
                    if isinstance(item, Exception):
                        await write_stream.send(SessionMessage(error_for(item)))
                    else:
                        await good_send.send(item)

        async with anyio.create_task_group() as tg:
            tg.start_soon(pump)
            await lowlevel.run(good_receive, write_stream, lowlevel.create_initialization_options())
            tg.cancel_scope.cancel()

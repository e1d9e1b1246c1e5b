"""What the MCP SDK itself costs: a bare MCPServer, stateless with JSON answers like oh-mcp's hosted
mode, on the same uvicorn stack, whose one tool makes the same upstream call as list_conversations
and returns the upstream text as it came. No middleware, no models, no shaping, no redaction.

    python bench/sdk_floor.py UPSTREAM_URL PORT
"""

from __future__ import annotations

import sys

import httpx2
import uvicorn
from mcp.server import MCPServer
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response


def server(upstream: str) -> MCPServer:
    client = httpx2.AsyncClient(base_url=upstream)
    bare = MCPServer("sdk-floor")

    @bare.tool()
    async def list_conversations(limit: int = 20) -> str:
        return (await client.get("/api/v1/app-conversations/search", params={"limit": limit})).text

    @bare.tool()
    async def list_sandbox_specs() -> str:
        return (await client.get("/api/v1/sandbox-specs/search", params={"limit": 20})).text

    @bare.custom_route("/alive", methods=["GET"])
    async def alive(_: Request) -> Response:
        return PlainTextResponse("ok")

    return bare


if __name__ == "__main__":
    upstream, port = sys.argv[1], int(sys.argv[2])
    app = server(upstream).streamable_http_app(stateless_http=True, json_response=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", loop="uvloop", http="httptools")

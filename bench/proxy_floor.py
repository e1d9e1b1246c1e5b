"""The physical floor for an HTTP server in front of OpenHands: a do-nothing proxy on the same stack
as oh-mcp (uvicorn with uvloop and httptools, Starlette, one pooled httpx client). Every POST to
/mcp makes the same upstream call as list_conversations and returns the upstream bytes unchanged.

    python bench/proxy_floor.py UPSTREAM_URL PORT
"""

from __future__ import annotations

import sys

import httpx2
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def app(upstream: str) -> Starlette:
    client = httpx2.AsyncClient(base_url=upstream)

    async def forward(request: Request) -> Response:
        await request.body()
        answer = await client.get("/api/v1/app-conversations/search", params={"limit": 20})
        return Response(answer.content, media_type="application/json")

    return Starlette(routes=[Route("/mcp", forward, methods=["GET", "POST"])])


if __name__ == "__main__":
    upstream, port = sys.argv[1], int(sys.argv[2])
    uvicorn.run(app(upstream), host="127.0.0.1", port=port, log_level="warning", loop="uvloop", http="httptools")

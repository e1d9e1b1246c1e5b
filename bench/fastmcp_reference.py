"""The server a user might generate instead of oh-mcp: FastMCP.from_openapi over OpenHands' own
OpenAPI document, limited to the operations oh-mcp's tools wrap. Runs in its own venv (see
scripts/bench), so this file imports nothing from oh_mcp.

    python fastmcp_reference.py SPEC BASE_URL list          # prints the tools/list JSON
    python fastmcp_reference.py SPEC BASE_URL serve PORT    # Streamable HTTP on 127.0.0.1:PORT/mcp
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import httpx2
from fastmcp import Client, FastMCP

# The OpenAPI operations behind oh-mcp's 16 tools (wait_for_agent polls the batch GET).
OPERATIONS = {
    ("/api/v1/app-conversations/search", "get"),
    ("/api/v1/app-conversations", "get"),
    ("/api/v1/app-conversations", "post"),
    ("/api/v1/app-conversations/start-tasks", "get"),
    ("/api/v1/app-conversations/{conversation_id}", "patch"),
    ("/api/v1/app-conversations/{conversation_id}", "delete"),
    ("/api/v1/app-conversations/{conversation_id}/send-message", "post"),
    ("/api/v1/conversation/{conversation_id}/events/search", "get"),
    ("/api/v1/sandboxes/search", "get"),
    ("/api/v1/sandboxes", "get"),
    ("/api/v1/sandboxes", "post"),
    ("/api/v1/sandboxes/{sandbox_id}/pause", "post"),
    ("/api/v1/sandboxes/{sandbox_id}/resume", "post"),
    ("/api/v1/sandboxes/{id}", "delete"),
    ("/api/v1/sandbox-specs/search", "get"),
}


def build(spec_path: str, base_url: str) -> FastMCP:
    spec: dict[str, Any] = json.loads(open(spec_path).read())
    paths: dict[str, Any] = {}
    for path, operations in spec["paths"].items():
        kept = {m: op for m, op in operations.items() if (path, m) in OPERATIONS}
        if kept:
            paths[path] = kept
    spec["paths"] = paths
    return FastMCP.from_openapi(
        spec, client=httpx2.AsyncClient(base_url=base_url, timeout=30), name="openhands-openapi"
    )


async def tools_list(server: FastMCP) -> list[dict[str, Any]]:
    async with Client(server) as client:
        tools = await client.list_tools()
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


def main() -> None:
    spec_path, base_url, mode = sys.argv[1:4]
    server = build(spec_path, base_url)
    if mode == "list":
        print(json.dumps(asyncio.run(tools_list(server)), separators=(",", ":")))
    else:
        server.run(transport="http", host="127.0.0.1", port=int(sys.argv[4]), path="/mcp", show_banner=False)


if __name__ == "__main__":
    main()

"""Command line: `oh-mcp` serves (stdio by default); `oh-mcp tools` lists the enabled tools.

Parses, builds Settings, calls build_server; no logic of its own. Logs go to stderr only,
because in stdio mode stdout is the protocol.
"""

from __future__ import annotations

import argparse
import logging
import sys

from . import __version__
from .config import ConfigError, Settings, option_parser


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="oh-mcp",
        description="MCP server for OpenHands: delegate coding tasks, follow them, talk to agents, manage sandboxes.",
        epilog="Every flag has an environment variable twin (shown in brackets); flags win.",
    )
    p.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "tools", "doctor"],
        help="serve (default); tools: list the enabled tools; doctor: check the setup",
    )
    p.add_argument("--json", action="store_true", help="doctor: print the report as JSON")
    p.add_argument("--version", action="version", version=f"oh-mcp {__version__}")
    option_parser(p)
    return p


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    ns = parser().parse_args(args)
    try:
        settings = Settings.load(args)
        from .server import build_server  # imported late so --help stays fast

        server = build_server(settings)
    except ConfigError as exc:
        print(f"oh-mcp: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if ns.command == "tools":
        _print_tools(settings)
        return
    if ns.command == "doctor":
        from .doctor import run

        raise SystemExit(run(settings, ns.json))
    # force: MCPServer configured the root logger at construction, with a bare format.
    logging.basicConfig(
        stream=sys.stderr,
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    if settings.transport == "stdio":
        import anyio

        from .stdio import run_stdio

        anyio.run(run_stdio, server)
        return
    from .http import serve

    try:
        serve(settings)
    except ConfigError as exc:
        print(f"oh-mcp: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def tools_list_size(settings: Settings) -> int:
    """Characters of the tools/list result a client receives, as measured through the SDK."""
    import anyio
    from mcp import Client

    from .server import build_server

    async def measure() -> int:
        async with Client(build_server(settings)) as client:
            tools = (await client.list_tools()).tools
        return sum(len(t.model_dump_json(by_alias=True, exclude_none=True)) for t in tools)

    return anyio.run(measure)


def _print_tools(settings: Settings) -> None:
    from .selection import select
    from .tools import TOOLSETS

    selection = select(TOOLSETS, settings)
    for spec in selection.enabled:
        print(f"{spec.name:<26} {spec.summary}")
    for name, why in selection.hidden.items():
        print(f"{name:<26} (disabled: {why})")
    print(f"\ntools/list size: {tools_list_size(settings):,} characters for {len(selection.enabled)} tools")

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
    p.add_argument("command", nargs="?", default="serve", choices=["serve", "tools"], help="serve (default) or tools")
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
    # force: MCPServer configured the root logger at construction, with a bare format.
    logging.basicConfig(
        stream=sys.stderr,
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    if settings.transport == "stdio":
        server.run("stdio")
        return
    from .http import serve

    try:
        serve(settings)
    except ConfigError as exc:
        print(f"oh-mcp: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _print_tools(settings: Settings) -> None:
    from .selection import select
    from .tools import TOOLSETS

    selection = select(TOOLSETS, settings)
    for spec in selection.enabled:
        print(f"{spec.name:<26} {spec.summary}")
    for name, why in selection.hidden.items():
        print(f"{name:<26} (disabled: {why})")

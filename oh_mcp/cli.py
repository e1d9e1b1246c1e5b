"""Command line: `oh-mcp` serves (stdio by default); `oh-mcp tools` lists the enabled tools;
`oh-mcp doctor` checks the setup.

Parses argv once, then hands each command only what it needs: the MCP SDK is imported, and the
server built, only by the commands that serve or measure it, so `--help` and a configuration
error answer at once. Logs go to stderr only, because in stdio mode stdout is the protocol.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

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
        choices=sorted(COMMANDS),
        help="serve (default); tools: list the enabled tools; doctor: check the setup",
    )
    p.add_argument("--json", action="store_true", help="doctor: print the report as JSON")
    p.add_argument("--version", action="version", version=f"oh-mcp {__version__}")
    option_parser(p)
    return p


def main(argv: list[str] | None = None) -> None:
    ns = parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = Settings.from_flags(vars(ns))
        COMMANDS[ns.command](settings, ns)
    except ConfigError as exc:
        print(f"oh-mcp: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def serve(settings: Settings, _ns: argparse.Namespace) -> None:
    from .selection import select
    from .tools import TOOLSETS

    select(TOOLSETS, settings)  # an unknown tool or toolset stops here, before any set-up
    # Configured before any server is built: the SDK's own set-up then finds a handler and keeps it.
    logging.basicConfig(stream=sys.stderr, level=settings.log_level, format=LOG_FORMAT, force=True)
    if settings.transport != "stdio":
        from .http import serve as serve_http

        serve_http(settings)
        return
    import anyio

    from .heap import settle
    from .server import build_server
    from .stdio import run_stdio

    server = build_server(settings)
    settle()
    anyio.run(run_stdio, server)


def tools(settings: Settings, _ns: argparse.Namespace) -> None:
    from .docs import tools_list_size
    from .selection import select
    from .tools import TOOLSETS

    selection = select(TOOLSETS, settings)
    for spec in selection.enabled:
        print(f"{spec.name:<26} {spec.summary}")
    for name, why in selection.hidden.items():
        print(f"{name:<26} (disabled: {why})")
    print(f"\ntools/list size: {tools_list_size(settings):,} characters for {len(selection.enabled)} tools")


def doctor(settings: Settings, ns: argparse.Namespace) -> None:
    from .doctor import run

    raise SystemExit(run(settings, ns.json))


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], None]] = {"serve": serve, "tools": tools, "doctor": doctor}

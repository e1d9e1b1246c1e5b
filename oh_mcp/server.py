"""The one wiring point: build_server(settings) -> MCPServer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mcp.server import MCPServer
from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.context import ServerMiddleware
from mcp.server.mcpserver.tools import Tool

from . import __version__
from .config import Settings
from .openhands import OpenHandsClient
from .openhands.redaction import install_log_redaction
from .outbound import ScrubOutbound
from .panel import panel_extension, tool_meta
from .prompts import register_prompts
from .resources import register_patch_resource, register_resources
from .runtime import Runtime
from .schema import compact_schema
from .selection import HiddenToolGuard, Selection, select
from .tasks import TasksExtension
from .tools import TOOLSETS
from .tools.arguments import ArgumentErrors
from .tools.toolset import ToolSpec

INTRO = (
    "oh-mcp drives OpenHands, which runs autonomous coding agents in sandboxes. Delegate a task with "
    "start_conversation, follow it with wait_for_agent, talk to the agent with send_message. "
    "Waits (timeout_seconds, 45 by default) should stay under the client's timeout, often 60 s; when one "
    "says the work is still going, call it again. Where the work is: local_path for the repository the person "
    "has open on this machine (their uncommitted edits included), repository for a hosted owner/repo; after a "
    "local_path start, get_changes shows the agent's work and apply_changes brings it into their checkout."
)


def instructions_for(selection: Selection) -> str:
    parts = [INTRO]
    enabled = set(selection.toolsets)
    parts += [f"{ts.name}: {ts.instructions}" for ts in TOOLSETS if ts.name in enabled]
    return "\n".join(parts)


# Tools as the SDK builds them from their functions, schemas compacted: the same for every server, and
# building them (pydantic models and schemas for ~20 tools) was ~0.1 s of every build_server. A Tool is
# read, never changed, once built, so servers in one process can share it.
# Keyed by the spec object itself (specs are made once, at import; a spec holds a dict, so no hash).
_BUILT: dict[int, tuple[ToolSpec, Tool]] = {}


def _add_tool(server: MCPServer[Runtime], spec: ToolSpec) -> None:
    built = _BUILT.get(id(spec))
    if built is None or built[0] is not spec:
        built = _BUILT[id(spec)] = (spec, _build_tool(spec))
    tool = built[1]
    # MCPServer takes tools only as functions to build; the built one goes into its manager directly.
    server._tool_manager._tools[tool.name] = tool  # pyright: ignore[reportPrivateUsage]


def _build_tool(spec: ToolSpec) -> Tool:
    tool = Tool.from_function(
        spec.fn,
        name=spec.name,
        title=spec.title,
        description=spec.description,
        annotations=spec.annotations,
        meta=tool_meta(spec.name, spec.meta),
    )
    # MCPServer has no public hook for the advertised schemas; arguments are still validated by
    # the pydantic model, so only what clients read changes.
    _replace(tool.parameters, compact_schema(tool.parameters))
    if tool.fn_metadata.output_schema is not None:
        _replace(tool.fn_metadata.output_schema, compact_schema(tool.fn_metadata.output_schema, output=True))
    return tool


def _replace(target: dict[str, Any], new: dict[str, Any]) -> None:
    target.clear()
    target.update(new)


def build_server(
    settings: Settings,
    *,
    client_factory: Callable[[Settings], OpenHandsClient] | None = None,
    token_verifier: TokenVerifier | None = None,
    auth: AuthSettings | None = None,
    middleware: Sequence[ServerMiddleware[Any]] = (),
    runtime: Runtime | None = None,
) -> MCPServer[Runtime]:
    """Build the server for these settings. Raises ConfigError for an unknown tool or toolset.

    The keyword arguments are for hosting (http.py) and tests: bearer auth for the HTTP
    transports, extra middleware, a client factory to point the client elsewhere, and a runtime
    to share with routes outside MCP (/health).
    """
    selection = select(TOOLSETS, settings)
    rt = runtime or Runtime(settings, client_factory)
    tasks = TasksExtension({spec.name for spec in selection.enabled}, settings.poll_interval)
    server: MCPServer[Runtime] = MCPServer(
        "oh-mcp",
        title="OpenHands",
        version=__version__,
        instructions=instructions_for(selection),
        website_url="https://github.com/oh-mcp/oh-mcp",
        lifespan=rt.lifespan,
        log_level=settings.log_level,
        middleware=[HiddenToolGuard(selection.hidden), *middleware],
        token_verifier=token_verifier,
        auth=auth,
        # Every tool the build has, hidden ones too: the panel offers a button for each, and a hidden
        # tool's refusal then tells the person why.
        extensions=[panel_extension(spec.name for ts in TOOLSETS for spec in ts.tools), tasks],
    )
    tasks.bind(server)
    for spec in selection.enabled:
        _add_tool(server, spec)
    # Outermost first: the scrub sees every answer, a refusal of bad arguments included.
    server.middleware.extend([ScrubOutbound(), ArgumentErrors(server)])
    install_log_redaction()
    register_resources(server, rt)
    register_patch_resource(server, rt)
    register_prompts(server)
    return server

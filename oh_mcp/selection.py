"""Decides once which tools exist (toolsets, added tools, exclusions, read-only), and refuses the
others by name at call time, since a client may call a tool it was never shown."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.types import CallToolResult, TextContent

from .config import ConfigError, Settings
from .tools import Toolset, ToolSpec


@dataclass(frozen=True)
class Selection:
    enabled: tuple[ToolSpec, ...]
    hidden: dict[str, str]  # tool name -> why it is not available

    @property
    def toolsets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(spec.toolset for spec in self.enabled))


def select(toolsets: Sequence[Toolset], settings: Settings) -> Selection:
    """Apply the settings to the registry. Raises ConfigError naming the valid choices."""
    by_name = {spec.name: spec for ts in toolsets for spec in ts.tools}
    set_names = [ts.name for ts in toolsets]
    _check(settings.toolsets, [*set_names, "all"], "toolset", settings.source_of("toolsets"))
    _check(settings.tools, list(by_name), "tool", settings.source_of("tools"))
    _check(settings.exclude_tools, list(by_name), "tool", settings.source_of("exclude_tools"))
    wanted_sets = set(set_names) if "all" in settings.toolsets else set(settings.toolsets)
    enabled: list[ToolSpec] = []
    hidden: dict[str, str] = {}
    for name, spec in by_name.items():
        if name in settings.exclude_tools:
            hidden[name] = "excluded by OH_MCP_EXCLUDE_TOOLS / --exclude-tools"
        elif settings.read_only and not spec.read_only:
            hidden[name] = "this server is read-only (OH_MCP_READ_ONLY / --read-only) and the tool changes state"
        elif spec.toolset not in wanted_sets and name not in settings.tools:
            hidden[name] = f"its toolset '{spec.toolset}' is not enabled (OH_MCP_TOOLSETS / --toolsets)"
        else:
            enabled.append(spec)
    return Selection(tuple(enabled), hidden)


def _check(given: Sequence[str], valid: list[str], what: str, env: str) -> None:
    unknown = [name for name in given if name not in valid]
    if unknown:
        raise ConfigError(f"unknown {what} {', '.join(map(repr, unknown))} in {env}; valid: {', '.join(valid)}")


class HiddenToolGuard:
    """Middleware: a call to a hidden tool gets a tool error that says why, not 'unknown tool'."""

    def __init__(self, hidden: dict[str, str]) -> None:
        self._hidden = hidden

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "tools/call" and ctx.params is not None:
            name = ctx.params.get("name")
            if isinstance(name, str) and name in self._hidden:
                text = f"The tool {name} is disabled on this server: {self._hidden[name]}."
                return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
        return await call_next(ctx)

"""The one MCP extension that serves tasks in both forms: it binds the `tasks/*` methods, each to
the form of the request's protocol version (2026-07-28: wire.py; 2025-11-25: legacy.py), intercepts
the 2026 form's task-creating `tools/call`, and adds the 2025 form's middleware."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension, MethodBinding, RequestHandler
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolRequestParams

from ..runtime import Runtime
from .core import ERAS, LEGACY, MODERN, TaskCore, TaskParams
from .legacy import LegacyTasks
from .mapping import POLL_INTERVAL_MS
from .wire import TASKS_EXTENSION, ModernTasks, UpdateParams


class TasksExtension(Extension):
    """Serves tasks for the tools in `tools` (those of TASK_TOOLS the server has enabled)."""

    identifier = TASKS_EXTENSION

    def __init__(self, tools: Collection[str], read_interval: float = POLL_INTERVAL_MS / 1000) -> None:
        self.core = TaskCore(tools, read_interval)
        self.modern = ModernTasks(self.core)
        self.legacy = LegacyTasks(self.core)

    @property
    def tools_with_tasks(self) -> frozenset[str]:
        return self.core.tools_with_tasks

    def bind(self, server: MCPServer[Runtime]) -> None:
        """The server whose tools a task runs (set once it is built); adds the 2025-11-25 form's
        middleware, which must see tools/call before the SDK shapes its result."""
        self.core.server = server
        if self.core.tools_with_tasks:
            server.middleware.append(self.legacy)

    def methods(self) -> Sequence[MethodBinding]:
        if not self.core.tools_with_tasks:
            return ()
        return (
            MethodBinding("tasks/get", TaskParams, _by_era(self.modern.get, self.legacy.get), ERAS),
            MethodBinding("tasks/update", UpdateParams, self.modern.update, MODERN),
            MethodBinding("tasks/cancel", TaskParams, _by_era(self.modern.cancel, self.legacy.cancel), ERAS),
            MethodBinding("tasks/result", TaskParams, self.legacy.result, LEGACY),
        )

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        return await self.modern.intercept_tool_call(params, ctx, call_next)


def _by_era(modern: RequestHandler, legacy: RequestHandler) -> RequestHandler:
    async def handle(ctx: ServerRequestContext[Any, Any], params: Any) -> HandlerResult:
        return await (modern if ctx.protocol_version in MODERN else legacy)(ctx, params)

    return handle

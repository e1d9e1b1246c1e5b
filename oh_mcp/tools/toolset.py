"""Toolsets as data: each tool is recorded once with its title and annotations.

The wrapper made here is the one place where client errors become `ToolError`s (worded by
`next_steps`), where a call's time limit is set, and where an unexpected bug is logged with its
traceback but reported without internals.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel

from ..next_steps import for_model
from ..openhands import OpenHandsError
from ..runtime import Runtime

logger = logging.getLogger("oh_mcp.tools")

P = ParamSpec("P")
M = TypeVar("M", bound=BaseModel)

Ctx = Context[Runtime, Any]


def runtime(ctx: Ctx) -> Runtime:
    return ctx.request_context.lifespan_context


def as_result(model: BaseModel) -> CallToolResult:
    """Structured content plus a compact text twin, both without nulls (an absent field is null)."""
    text = model.model_dump_json(exclude_none=True)
    structured = model.model_dump(mode="json", exclude_none=True)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    fn: Callable[..., Awaitable[CallToolResult]]
    toolset: str
    read_only: bool
    annotations: ToolAnnotations
    meta: dict[str, Any] | None = None

    @property
    def description(self) -> str:
        return " ".join((self.fn.__doc__ or "").split())

    @property
    def summary(self) -> str:
        """The first sentence of the description, for tables and `oh-mcp tools`."""
        return self.description.split(". ")[0].rstrip(".") + "."


@dataclass
class Toolset:
    name: str
    description: str
    instructions: str
    tools: list[ToolSpec] = field(default_factory=list)

    def tool(
        self,
        *,
        title: str,
        read_only: bool,
        destructive: bool,
        idempotent: bool,
        open_world: bool = True,
        wait: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Callable[[Callable[P, Awaitable[M]]], Callable[P, Awaitable[M]]]:
        """Record a tool with every annotation stated explicitly. `wait` names the argument that
        holds the call's own wait in seconds, which its time limit then allows for; `meta` goes to
        the tool's `_meta` in tools/list."""

        def decorator(fn: Callable[P, Awaitable[M]]) -> Callable[P, Awaitable[M]]:
            params = inspect.signature(fn).parameters
            if "ctx" not in params or (wait is not None and wait not in params):
                raise TypeError(f"tool {fn.__name__} needs a ctx argument and its wait argument {wait!r}")
            # The title travels once, on the tool itself, not again inside the annotations.
            annotations = ToolAnnotations(
                read_only_hint=read_only,
                destructive_hint=destructive,
                idempotent_hint=idempotent,
                open_world_hint=open_world,
            )
            served = _served(fn, wait, params[wait].default if wait else None)
            self.tools.append(ToolSpec(fn.__name__, title, served, self.name, read_only, annotations, meta))
            return fn

        return decorator


def _served(
    fn: Callable[P, Awaitable[M]], wait: str | None, default_wait: Any
) -> Callable[P, Awaitable[CallToolResult]]:
    """The tool as the server calls it: bounded in time, its errors worded for the model, its
    record rendered compactly."""

    # functools.wraps keeps __wrapped__, which the SDK follows to build the input and output schemas.
    @functools.wraps(fn)
    async def serve(*args: P.args, **kwargs: P.kwargs) -> CallToolResult:
        # The whole call's time limit: its own wait plus room for the requests around it.
        own_wait = kwargs.get(wait, default_wait) if wait else 0.0
        assert isinstance(own_wait, int | float), "the wait argument is a number of seconds"
        ctx = kwargs["ctx"]
        assert isinstance(ctx, Context), "registration checked that every tool takes ctx"
        budget = float(own_wait) + runtime(ctx).settings.call_budget
        try:
            with anyio.fail_after(budget):
                result = await fn(*args, **kwargs)
            # A tool that adds content beside its record (resource links) renders the record itself.
            return result if isinstance(result, CallToolResult) else as_result(result)
        except ToolError:
            raise
        except TimeoutError:
            raise ToolError(
                f"{fn.__name__} did not finish within {budget:g} s because OpenHands answered too slowly. "
                "If it was meant to change something, the change may or may not have happened: check the "
                "current state before calling it again."
            ) from None
        except OpenHandsError as exc:
            raise ToolError(for_model(exc)) from None
        except Exception:
            logger.exception("tool %s failed unexpectedly", fn.__name__)
            raise ToolError(
                f"{fn.__name__} failed because of an internal error in oh-mcp; "
                "the details are in the server log. Try again, or use another tool to check the state."
            ) from None

    return serve

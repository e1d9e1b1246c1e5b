"""Toolsets as data: each tool is recorded once with its title and annotations.

The wrapper made here is the one place where client errors become `ToolError`s, and where an
unexpected bug is logged with its traceback but reported without internals.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel

from ..openhands import OpenHandsError
from ..runtime import Runtime

logger = logging.getLogger("oh_mcp.tools")

P = ParamSpec("P")
R = TypeVar("R")

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
    fn: Callable[..., Awaitable[Any]]
    toolset: str
    read_only: bool
    annotations: ToolAnnotations

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
        self, *, title: str, read_only: bool, destructive: bool, idempotent: bool, open_world: bool = True
    ) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
        """Record a tool with every annotation stated explicitly."""

        def decorator(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
            # The title travels once, on the tool itself, not again inside the annotations.
            annotations = ToolAnnotations(
                read_only_hint=read_only,
                destructive_hint=destructive,
                idempotent_hint=idempotent,
                open_world_hint=open_world,
            )
            wrapped = _translate_errors(fn)
            self.tools.append(ToolSpec(fn.__name__, title, wrapped, self.name, read_only, annotations))
            return wrapped

        return decorator


def _budget(kwargs: dict[str, Any]) -> float:
    """The whole call's time limit: its own wait plus room for the requests around it."""
    ctx = kwargs.get("ctx")
    wait = kwargs.get("timeout_seconds")
    extra = float(wait) if isinstance(wait, int | float) else 0.0
    if isinstance(ctx, Context):
        return extra + runtime(ctx).settings.call_budget
    return extra + 95.0


def _translate_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    # functools.wraps keeps __wrapped__, which the SDK follows to build the input schema.
    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        budget = _budget(kwargs)
        try:
            with anyio.fail_after(budget):
                result = await fn(*args, **kwargs)
        except ToolError:
            raise
        except TimeoutError:
            raise ToolError(
                f"{fn.__name__} did not finish within {budget:g} s because OpenHands answered too slowly. "
                "If it was meant to change something, the change may or may not have happened: check the "
                "current state before calling it again."
            ) from None
        except OpenHandsError as exc:
            raise ToolError(exc.for_model()) from None
        except Exception:
            logger.exception("tool %s failed unexpectedly", fn.__name__)
            raise ToolError(
                f"{fn.__name__} failed because of an internal error in oh-mcp; "
                "the details are in the server log. Try again, or use another tool to check the state."
            ) from None
        # The schema comes from fn's annotation; the wire gets the compact rendering.
        return as_result(result) if isinstance(result, BaseModel) else result  # type: ignore[return-value]

    return wrapper

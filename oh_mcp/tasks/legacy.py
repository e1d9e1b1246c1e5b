"""The 2025-11-25 form of tasks, for clients that came through the `initialize` handshake and
declared task support (VS Code): the `tasks.requests.tools.call` capability, `execution.taskSupport`
on the task tools, a `tools/call` with `task` answered by `CreateTaskResult`, and `tasks/get`,
`tasks/result` (blocks; approvals on the way are asked by elicitation related to the task),
`tasks/list` and `tasks/cancel`, with `notifications/tasks/status` on the request's stream.

It reads and acts through the same mapping and follower as the 2026-07-28 extension (wire.py).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import anyio
from mcp import MCPError
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.message import ServerMessageMetadata
from mcp.types import ElicitRequest, ElicitRequestFormParams, ElicitResult, TaskStatusNotification
from mcp.types.jsonrpc import INVALID_PARAMS

from ..openhands import AuthFailed, ExecutionStatus, NotFound, OpenHandsError
from . import wire
from .follow import TaskGone, answer, cancel, cancel_when_started, now_ms, still_starting
from .mapping import POLL_INTERVAL_MS, TTL_MS, TaskRef, Verdict

if TYPE_CHECKING:
    from .wire import ListParams, TaskParams, TasksExtension

logger = logging.getLogger(__name__)

VERSION = "2025-11-25"
RELATED_TASK = "io.modelcontextprotocol/related-task"
RESULT_WAIT_SECONDS = 3600.0
CAPABILITY: dict[str, Any] = {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}


class LegacyTasks:
    """Middleware for the handshake form's capability, tool listing and task-augmented calls, plus its
    tasks/* handlers (bound by the extension)."""

    def __init__(self, extension: TasksExtension) -> None:
        self.ext = extension

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "initialize":
            result = await call_next(ctx)
            if isinstance(result, dict) and result.get("protocolVersion") == VERSION:
                result = {**result, "capabilities": {**result.get("capabilities", {}), "tasks": CAPABILITY}}
            return result
        if ctx.protocol_version != VERSION:
            return await call_next(ctx)
        if ctx.method == "tools/list":
            listed: HandlerResult = _with_execution(await call_next(ctx), self.ext.tools_with_tasks)
            return listed
        params = dict(ctx.params or {})
        if (
            ctx.method == "tools/call"
            and params.get("task") is not None
            and params.get("name") in self.ext.tools_with_tasks
        ):
            created: HandlerResult = await self._create(ctx, call_next, params)
            return created
        return await call_next(ctx)

    async def _create(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext, params: dict[str, Any]) -> Any:
        name, args = params["name"], dict(params.get("arguments") or {})
        if name == "wait_for_agent":
            if args.get("other_ids") or not self.ext.accepts(name, args):
                return await call_next(ctx)
            try:
                conversation = await wire.runtime_of(ctx).client.get_conversation(str(args.get("conversation_id", "")))
            except (OpenHandsError, ValueError):
                return await call_next(ctx)
            made: tuple[TaskRef, str | None] | None = (TaskRef("w", conversation.id, now_ms()), conversation.id)
        else:
            if name == "send_message" and args.get("run") is False:
                return await call_next(ctx)
            held = name == "start_conversation" and wire.holds_its_message(args)
            if name == "start_conversation" and not held:
                ctx = replace(ctx, params={**params, "arguments": {**args, "wait": False}})
            result = await call_next(ctx)
            structured = result.get("structuredContent") if isinstance(result, dict) else None
            if not isinstance(result, dict) or result.get("isError") or not isinstance(structured, dict):
                return result
            if held and structured.get("status") != "READY":
                return result  # it says that nothing was sent, and how to go on
            made = wire.task_for("s" if name == "start_conversation" else "m", structured)
            if made is None:
                return result
        assert made is not None
        ref, _ = made
        return {"task": task_fields(ref, Verdict("working", "starting" if ref.kind == "s" else "the agent is working"))}

    # ---- tasks/* -----------------------------------------------------------------------------

    async def get(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> dict[str, Any]:
        ref = wire.ref_of(params.task_id)
        return task_fields(ref, await self._verdict(ctx, ref))

    async def _verdict(self, ctx: ServerRequestContext[Any, Any], ref: TaskRef) -> Verdict:
        try:
            return (await self.ext.follower.see(wire.runtime_of(ctx).client, ref)).verdict
        except (TaskGone, AuthFailed):
            raise wire.not_found(ref.task_id) from None
        except OpenHandsError as exc:
            return Verdict("working", f"OpenHands did not answer ({exc.message}); still following")

    async def result(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> dict[str, Any]:
        """Block until the task ends, asking the person about pending actions on the way; then the
        call's own result (or an error result saying why it ended otherwise)."""
        ref = wire.ref_of(params.task_id)
        client = wire.runtime_of(ctx).client
        last: str | None = None
        with anyio.move_on_after(RESULT_WAIT_SECONDS):
            while True:
                seen = await self.ext.follower.see(client, ref)
                verdict = seen.verdict
                if verdict.status != last:
                    await _notify(ctx, ref, verdict)
                    last = verdict.status
                if verdict.status == "input_required" and verdict.conversation is not None:
                    await self._ask(ctx, ref, verdict, seen.pending)
                elif verdict.terminal:
                    return await self._final(ctx, ref, verdict)
                await anyio.sleep(self.ext.follower.conversations.interval)
        return _ended(ref, "The task is still running; call tasks/result again.", error=True)

    async def _ask(self, ctx: ServerRequestContext[Any, Any], ref: TaskRef, verdict: Verdict, pending: Any) -> None:
        assert verdict.conversation is not None
        [(key, request)] = wire.approval_request(verdict.conversation, pending).items()
        form = request["params"]
        elicit = ElicitRequest(
            params=ElicitRequestFormParams(
                message=wire.scrub(form["message"]),
                requested_schema=form["requestedSchema"],
                _meta={RELATED_TASK: {"taskId": ref.task_id}},
            )
        )
        try:
            response = await ctx.session.send_request(
                elicit, ElicitResult, metadata=ServerMessageMetadata(related_request_id=ctx.request_id)
            )
        except MCPError as exc:
            raise MCPError(code=INVALID_PARAMS, message=f"Approval could not be asked: {exc}") from None
        accept, reason = wire.decision_of(response.model_dump(by_alias=True, mode="json", exclude_none=True))
        client = wire.runtime_of(ctx).client
        await answer(client, verdict.conversation, key, accept, reason)
        self.ext.follower.forget(client, verdict.conversation.id)

    async def _final(self, ctx: ServerRequestContext[Any, Any], ref: TaskRef, verdict: Verdict) -> dict[str, Any]:
        if verdict.status == "completed" and verdict.conversation is not None:
            return {**await self.ext.completed(ctx, verdict.conversation), "_meta": _related(ref)}
        word = "failed" if verdict.status == "failed" else "cancelled"
        return _ended(ref, f"Task {word}: {verdict.message}", error=True)

    async def list(self, ctx: ServerRequestContext[Any, Any], params: ListParams) -> dict[str, Any]:
        """The caller's delegations still running (or waiting for approval), as wait tasks."""
        client = wire.runtime_of(ctx).client
        page = await client.search_conversations(limit=100, page_id=params.cursor)
        live = (ExecutionStatus.RUNNING, ExecutionStatus.WAITING_FOR_CONFIRMATION)
        tasks = []
        for c in page.items:
            if c.execution_status in live:
                status = (
                    "input_required" if c.execution_status == ExecutionStatus.WAITING_FOR_CONFIRMATION else "working"
                )
                ref = TaskRef("w", c.id, int(c.created_at.timestamp() * 1000))
                tasks.append(task_fields(ref, Verdict(status, f"{c.title or c.id}: {c.execution_status}")))  # type: ignore[arg-type]
        return {"tasks": tasks, **({"nextCursor": page.next_page_id} if page.next_page_id else {})}

    async def cancel(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> dict[str, Any]:
        ref = wire.ref_of(params.task_id)
        rt = wire.runtime_of(ctx)
        verdict = await self._verdict(ctx, ref)
        if verdict.terminal and verdict.status != "cancelled":
            raise MCPError(code=INVALID_PARAMS, message=f"Cannot cancel task {ref.task_id}: it is {verdict.status}.")
        try:
            if verdict.conversation is not None:
                await cancel(rt.client, verdict.conversation)
                self.ext.follower.forget(rt.client, verdict.conversation.id)
            elif ref.kind == "s":
                if not await cancel_when_started(rt.client, ref.target):
                    raise still_starting(ref.task_id)
        except (NotFound, AuthFailed):
            raise wire.not_found(ref.task_id) from None
        message = "cancelled: the agent is stopped; send_message lets it go on"
        return task_fields(ref, Verdict("cancelled", message))


def task_fields(ref: TaskRef, verdict: Verdict) -> dict[str, Any]:
    stamp = wire.iso(now_ms())
    return {
        "taskId": ref.task_id,
        "status": verdict.status,
        "statusMessage": wire.scrub(verdict.message),
        "createdAt": wire.iso(ref.created_ms),
        "lastUpdatedAt": stamp,
        "ttl": TTL_MS,
        "pollInterval": POLL_INTERVAL_MS,
    }


def _with_execution(result: Any, names: frozenset[str]) -> Any:
    if not isinstance(result, dict) or not isinstance(result.get("tools"), list):
        return result
    tools = [{**t, "execution": {"taskSupport": "optional"}} if t.get("name") in names else t for t in result["tools"]]
    return {**result, "tools": tools}


def _related(ref: TaskRef) -> dict[str, Any]:
    return {RELATED_TASK: {"taskId": ref.task_id}}


def _ended(ref: TaskRef, text: str, *, error: bool) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": wire.scrub(text)}], "isError": error, "_meta": _related(ref)}


async def _notify(ctx: ServerRequestContext[Any, Any], ref: TaskRef, verdict: Verdict) -> None:
    """notifications/tasks/status on the tasks/result request's own stream (where a session exists)."""
    try:
        notification = TaskStatusNotification.model_validate({"params": task_fields(ref, verdict)}, by_name=False)
        await ctx.session.send_notification(notification, related_request_id=ctx.request_id)  # type: ignore[arg-type]
    except Exception:  # a status notification is optional; never let it end the wait
        logger.debug("task status notification not sent", exc_info=True)

"""The 2025-11-25 form of tasks, for clients that came through the `initialize` handshake and
declared task support (VS Code): the `tasks.requests.tools.call` capability, `execution.taskSupport`
on the task tools, a `tools/call` with `task` answered by `CreateTaskResult`, and `tasks/get`,
`tasks/result` (blocks) and `tasks/cancel`, with `notifications/tasks/status` on the request's stream.

Approvals: a client may only poll `tasks/get` and never call `tasks/result` while a task waits
(ext-tasks 0.2.2 does so). So the person is asked, by elicitation related to the task, as soon as any
read of the task sees actions waiting: from `tasks/get` on the session's own channel (stdio, or the
standalone stream over HTTP), from `tasks/result` on its stream. Each waiting set of actions is asked
about once per session, whichever saw it first.

`tasks/list` is not offered: the truth (the caller's tasks under the ids they were created with,
finished ones included) is known only to a table, and tasks here have none (see README).

It reads and acts through core.py, as the 2026-07-28 form (wire.py) does.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import replace
from typing import Any

import anyio
from mcp import MCPError
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.message import ServerMessageMetadata
from mcp.types import ElicitRequest, ElicitRequestFormParams, ElicitResult, TaskStatusNotification
from mcp.types.jsonrpc import INVALID_PARAMS

from ..openhands import AuthFailed, OpenHandsError, PendingAction
from .core import (
    TaskCore,
    TaskParams,
    approval_request,
    decision_of,
    holds_its_message,
    iso,
    not_found,
    ref_of,
    runtime_of,
    scrub,
)
from .follow import TaskGone, answer, now_ms
from .mapping import POLL_INTERVAL_MS, TTL_MS, Kind, TaskRef, Verdict, approval_key

logger = logging.getLogger(__name__)

VERSION = "2025-11-25"
RELATED_TASK = "io.modelcontextprotocol/related-task"
RESULT_WAIT_SECONDS = 3600.0
ASK_SECONDS = 3600.0  # how long a question asked on the session's channel waits for its answer
CAPABILITY: dict[str, Any] = {"cancel": {}, "requests": {"tools": {"call": {}}}}


class LegacyTasks:
    """Middleware for the handshake form's capability, tool listing and task-augmented calls, plus its
    tasks/* handlers (bound by the extension)."""

    def __init__(self, core: TaskCore) -> None:
        self.core = core
        # Per connection: the approval keys already asked about (or being asked), so nobody is asked twice.
        self._asked: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
        # Connections whose own channel could not carry a question (stateless HTTP has none): tasks/get
        # stops trying there, and tasks/result asks on its own stream.
        self._no_channel: weakref.WeakSet[Any] = weakref.WeakSet()

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "initialize":
            result = await call_next(ctx)
            if isinstance(result, dict) and result.get("protocolVersion") == VERSION:
                result = {**result, "capabilities": {**result.get("capabilities", {}), "tasks": CAPABILITY}}
            return result
        if ctx.protocol_version != VERSION:
            return await call_next(ctx)
        if ctx.method == "tools/list":
            listed: HandlerResult = _with_execution(await call_next(ctx), self.core.tools_with_tasks)
            return listed
        params = dict(ctx.params or {})
        if (
            ctx.method == "tools/call"
            and params.get("task") is not None
            and params.get("name") in self.core.tools_with_tasks
        ):
            created: HandlerResult = await self._create(ctx, call_next, params)
            return created
        return await call_next(ctx)

    async def _create(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext, params: dict[str, Any]) -> Any:
        name, args = params["name"], dict(params.get("arguments") or {})
        client = runtime_of(ctx).client
        if name == "wait_for_agent":
            if args.get("other_ids") or not self.core.accepts(name, args):
                return await call_next(ctx)
            try:
                conversation = await client.get_conversation(str(args.get("conversation_id", "")))
            except (OpenHandsError, ValueError):
                return await call_next(ctx)
            ref: TaskRef | None = await self.core.waited(client, conversation)
        else:
            if name == "send_message" and args.get("run") is False:
                return await call_next(ctx)
            held = name == "start_conversation" and holds_its_message(args)
            if name == "start_conversation" and not held:
                ctx = replace(ctx, params={**params, "arguments": {**args, "wait": False}})
            result = await call_next(ctx)
            structured = result.get("structuredContent") if isinstance(result, dict) else None
            if not isinstance(result, dict) or result.get("isError") or not isinstance(structured, dict):
                return result
            if held and structured.get("status") != "READY":
                return result  # it says that nothing was sent, and how to go on
            kind: Kind = "s" if name == "start_conversation" else "m"
            ref = await self.core.begun(client, kind, structured, str(args.get("message", "")))
            if ref is None:
                return result
        assert ref is not None
        return {"task": task_fields(ref, Verdict("working", "starting" if ref.kind == "s" else "the agent is working"))}

    # ---- tasks/* -----------------------------------------------------------------------------

    async def get(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> dict[str, Any]:
        """The task's status. Actions waiting for approval are asked about now, on the session's own
        channel, for a client that polls and never calls tasks/result while the task waits."""
        ref = ref_of(params.task_id)
        verdict, pending = await self._see(ctx, ref)
        if verdict.status == "input_required" and verdict.conversation is not None and self._may_ask(ctx):
            key = self._claim(ctx, pending)
            if key is not None:
                runtime_of(ctx).spawn(self._ask_on_session, ctx, ref, verdict, pending, key)
        return task_fields(ref, verdict)

    async def _see(self, ctx: ServerRequestContext[Any, Any], ref: TaskRef) -> tuple[Verdict, list[PendingAction]]:
        try:
            seen = await self.core.follower.see(runtime_of(ctx).client, ref)
        except (TaskGone, AuthFailed):
            raise not_found(ref.task_id) from None
        except OpenHandsError as exc:
            return Verdict("working", f"OpenHands did not answer ({exc.message}); still following"), []
        return seen.verdict, seen.pending

    async def result(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> dict[str, Any]:
        """Block until the task ends, asking the person about pending actions on the way (unless they
        were asked already); then the call's own result (or an error result saying why it ended
        otherwise)."""
        ref = ref_of(params.task_id)
        last: str | None = None
        with anyio.move_on_after(RESULT_WAIT_SECONDS):
            while True:
                verdict, pending = await self._see(ctx, ref)
                if verdict.status != last:
                    await _notify(ctx, ref, verdict)
                    last = verdict.status
                if verdict.status == "input_required" and verdict.conversation is not None:
                    if self._claim(ctx, pending) is not None:
                        await self._ask(ctx, ref, verdict, pending, related=True)
                elif verdict.terminal:
                    return await self._final(ctx, ref, verdict)
                await anyio.sleep(self.core.follower.conversations.interval)
        return _ended(ref, "The task is still running; call tasks/result again.", error=True)

    def _may_ask(self, ctx: ServerRequestContext[Any, Any]) -> bool:
        if _connection(ctx) in self._no_channel:
            return False
        settings = runtime_of(ctx).settings
        capabilities = ctx.session.client_capabilities
        return (
            settings.approvals == "elicit"
            and not settings.read_only
            and capabilities is not None
            and capabilities.elicitation is not None
        )

    def _claim(self, ctx: ServerRequestContext[Any, Any], pending: list[PendingAction]) -> str | None:
        """The approval key of these actions if this session has not asked about them yet (and now has)."""
        key = approval_key(pending)
        asked = self._asked.setdefault(_connection(ctx), set())
        if key in asked:
            return None
        asked.add(key)
        return key

    async def _ask_on_session(
        self,
        ctx: ServerRequestContext[Any, Any],
        ref: TaskRef,
        verdict: Verdict,
        pending: list[PendingAction],
        key: str,
    ) -> None:
        try:
            with anyio.move_on_after(ASK_SECONDS):
                await self._ask(ctx, ref, verdict, pending, related=False)
        except Exception as exc:  # no channel, or the session ended: tasks/result may still ask
            logger.info("approval for task %s not asked on the session: %s", ref.task_id, exc)
            self._no_channel.add(_connection(ctx))
            self._asked.get(_connection(ctx), set()).discard(key)

    async def _ask(
        self,
        ctx: ServerRequestContext[Any, Any],
        ref: TaskRef,
        verdict: Verdict,
        pending: list[PendingAction],
        *,
        related: bool,
    ) -> None:
        """Ask by elicitation tagged with the task; on tasks/result's own stream when `related`, else on
        the session's channel (its request has been answered already)."""
        assert verdict.conversation is not None
        [(key, request)] = approval_request(verdict.conversation, pending).items()
        form = request["params"]
        elicit = ElicitRequest(
            params=ElicitRequestFormParams(
                message=scrub(form["message"]),
                requested_schema=form["requestedSchema"],
                _meta={RELATED_TASK: {"taskId": ref.task_id}},
            )
        )
        metadata = ServerMessageMetadata(related_request_id=ctx.request_id) if related else None
        try:
            response = await ctx.session.send_request(elicit, ElicitResult, metadata=metadata)
        except MCPError as exc:
            raise MCPError(code=INVALID_PARAMS, message=f"Approval could not be asked: {exc}") from None
        accept, reason = decision_of(response.model_dump(by_alias=True, mode="json", exclude_none=True))
        client = runtime_of(ctx).client
        await answer(client, verdict.conversation, key, accept, reason)
        self.core.follower.forget(client, verdict.conversation.id)

    async def _final(self, ctx: ServerRequestContext[Any, Any], ref: TaskRef, verdict: Verdict) -> dict[str, Any]:
        if verdict.status == "completed" and verdict.conversation is not None:
            done = await self.core.completed(ctx, verdict)
            done.pop("resultType", None)  # the 2025-11-25 CallToolResult has none
            return {**done, "_meta": {**done.get("_meta", {}), **_related(ref)}}
        word = "failed" if verdict.status == "failed" else "cancelled"
        return _ended(ref, f"Task {word}: {verdict.message}", error=True)

    async def cancel(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> dict[str, Any]:
        ref = ref_of(params.task_id)
        await self.core.cancel(ctx, ref)
        message = "cancelled: the agent is stopped; send_message lets it go on"
        return task_fields(ref, Verdict("cancelled", message))


def _connection(ctx: ServerRequestContext[Any, Any]) -> Any:
    """The session proper: ctx.session is a proxy made anew for each request, over this connection."""
    return ctx.session._connection  # pyright: ignore[reportPrivateUsage]


def task_fields(ref: TaskRef, verdict: Verdict) -> dict[str, Any]:
    stamp = iso(now_ms())
    return {
        "taskId": ref.task_id,
        "status": verdict.status,
        "statusMessage": scrub(verdict.message),
        "createdAt": iso(ref.created_ms),
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
    return {"content": [{"type": "text", "text": scrub(text)}], "isError": error, "_meta": _related(ref)}


async def _notify(ctx: ServerRequestContext[Any, Any], ref: TaskRef, verdict: Verdict) -> None:
    """notifications/tasks/status on the tasks/result request's own stream (where a session exists)."""
    try:
        notification = TaskStatusNotification.model_validate({"params": task_fields(ref, verdict)}, by_name=False)
        await ctx.session.send_notification(notification, related_request_id=ctx.request_id)  # type: ignore[arg-type]
    except Exception:  # a status notification is optional; never let it end the wait
        logger.debug("task status notification not sent", exc_info=True)

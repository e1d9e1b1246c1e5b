"""The tasks extension on the wire (`io.modelcontextprotocol/tasks`, 2026-07-28): a `tools/call`
that declares it gets a task back from start_conversation, send_message and wait_for_agent, and
`tasks/get`, `tasks/update` and `tasks/cancel` answer from OpenHands each time (mapping.py says
what a state means, follow.py reads and acts, core.py holds what this form shares with the
2025-11-25 one). A call that does not declare the extension is passed through untouched.
"""

from __future__ import annotations

import logging
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.types import CallToolRequestParams, CallToolResult, TextContent

from ..openhands import AuthFailed, NotFound, OpenHandsClient, OpenHandsError
from .core import (
    MODERN,
    TASK_FAILED,
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
from .mapping import APPROVAL_PREFIX, POLL_INTERVAL_MS, TTL_MS, Kind, TaskRef

logger = logging.getLogger(__name__)

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
AGENT_TASK_META = "com.anthropic/agent-task"


class UpdateParams(TaskParams):
    input_responses: dict[str, dict[str, Any]] | None = None


def declared(ctx: ServerRequestContext[Any, Any], extension: str = TASKS_EXTENSION) -> bool:
    """Whether this request's client declared `extension` (2026-07-28: in the request's own _meta)."""
    if ctx.protocol_version not in MODERN:
        return False
    capabilities = ctx.session.client_capabilities
    return capabilities is not None and extension in (capabilities.extensions or {})


class ModernTasks:
    """The 2026-07-28 form: task-creating tools/call (intercepted by the extension), tasks/get,
    tasks/update and tasks/cancel; and a plain wait that asks for approval inside its result."""

    def __init__(self, core: TaskCore) -> None:
        self.core = core

    # ---- tools/call -----------------------------------------------------------------------------

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        args = dict(params.arguments or {})
        asking = params.name == "wait_for_agent" and (args.get("other_ids") or not declared(ctx)) and self._asks(ctx)
        tasked = params.name in self.core.tools_with_tasks and declared(ctx)
        if not (asking or tasked) or not self.core.accepts(params.name, args):
            return await call_next(ctx)  # nothing to do first, or the tool refuses these arguments itself
        if asking:
            return await self._wait_asking(params, ctx, call_next)
        if params.name == "start_conversation":
            return await self._start(params, ctx, args, call_next)
        if params.name == "send_message":
            if args.get("run") is False:  # nothing will run: no work to follow
                return await call_next(ctx)
            return await self._after_call(ctx, await call_next(ctx), "m", str(args.get("message", "")))
        if args.get("other_ids"):
            return await call_next(ctx)
        client = runtime_of(ctx).client
        try:
            conversation = await client.get_conversation(str(args.get("conversation_id", "")))
        except (OpenHandsError, ValueError):
            return await call_next(ctx)  # the tool words the error
        return self._created(await self.core.waited(client, conversation), conversation.id)

    def _asks(self, ctx: ServerRequestContext[Any, Any]) -> bool:
        """Whether a plain 2026-07-28 wait may ask the person inside its result (the era has no
        server-initiated elicitation): the client declared elicitation and approvals may be asked."""
        settings = runtime_of(ctx).settings
        capabilities = ctx.session.client_capabilities
        return (
            ctx.protocol_version in MODERN
            and settings.approvals == "elicit"
            and not settings.read_only
            and capabilities is not None
            and capabilities.elicitation is not None
        )

    async def _wait_asking(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        """wait_for_agent that answers `input_required` with the approval form while actions wait, and
        relays the form's answer when the call comes again with `inputResponses`."""
        client = runtime_of(ctx).client
        notes: list[str] = []
        if params.input_responses:
            notes = await self._relay(client, str((params.arguments or {}).get("conversation_id", "")), params)
        result = await call_next(ctx)
        if not isinstance(result, CallToolResult) or result.is_error or not result.structured_content:
            return result
        if result.structured_content.get("pending_actions"):
            conversation = await client.get_conversation(str(result.structured_content["conversation_id"]))
            pending = await client.pending_actions(conversation)
            if pending:
                return {
                    "resultType": "input_required",
                    "inputRequests": scrub(approval_request(conversation, pending)),
                }
        result.content[:0] = [TextContent(type="text", text=note) for note in notes]
        return result

    async def _relay(self, client: OpenHandsClient, conv_id: str, params: CallToolRequestParams) -> list[str]:
        notes = []
        try:
            conversation = await client.get_conversation(conv_id)
        except OpenHandsError:
            return []  # the wait itself says what is wrong with the conversation
        for key, response in (params.input_responses or {}).items():
            if not key.startswith(APPROVAL_PREFIX):
                continue
            accept, reason = decision_of(response.model_dump(by_alias=True, mode="json", exclude_none=True))
            if await answer(client, conversation, key, accept, reason):
                verb = "accepted" if accept else "rejected"
                notes.append(f"The person {verb} the pending actions of conversation {conversation.id}.")
        return notes

    async def _start(
        self,
        params: CallToolRequestParams,
        ctx: ServerRequestContext[Any, Any],
        args: dict[str, Any],
        call_next: CallNext,
    ) -> HandlerResult:
        assert self.core.server is not None
        if holds_its_message(args):
            result = await call_next(ctx)
            ready = isinstance(result, CallToolResult) and (result.structured_content or {}).get("status") == "READY"
            return await self._after_call(ctx, result, "s") if ready else result
        started = params.model_copy(update={"arguments": {**args, "wait": False}})
        # MCPServer has no public way to call a tool with other arguments from an interceptor.
        result = await self.core.server._handle_call_tool(ctx, started)  # pyright: ignore[reportPrivateUsage]
        return await self._after_call(ctx, result, "s")

    async def _after_call(
        self, ctx: ServerRequestContext[Any, Any], result: HandlerResult, kind: Kind, text: str = ""
    ) -> HandlerResult:
        if not isinstance(result, CallToolResult) or result.is_error or not result.structured_content:
            return result
        record = result.structured_content
        ref = await self.core.begun(runtime_of(ctx).client, kind, record, text)
        return result if ref is None else self._created(ref, record.get("conversation_id"))

    def _created(self, ref: TaskRef, conversation_id: str | None) -> dict[str, Any]:
        what = f"conversation {conversation_id}" if conversation_id else f"a new conversation (start task {ref.target})"
        immediate = (
            f"OpenHands works on this in {what}, in the background: its result arrives by itself when the agent "
            "is done. Carry on meanwhile; get_conversation shows its progress, send_message adds instructions "
            "and interrupt_agent stops it."
        )
        status = "starting" if ref.kind == "s" else "the agent is working"
        return {
            "resultType": "task",
            **self._fields(ref, "working", status),
            "_meta": {AGENT_TASK_META: {"modelImmediateResponse": scrub(immediate)}},
        }

    def _fields(self, ref: TaskRef, status: str, message: str) -> dict[str, Any]:
        return {
            "taskId": ref.task_id,
            "status": status,
            "createdAt": iso(ref.created_ms),
            "lastUpdatedAt": iso(now_ms()),
            "ttlMs": TTL_MS,
            "pollIntervalMs": POLL_INTERVAL_MS,
            "statusMessage": scrub(message),
        }

    # ---- tasks/* --------------------------------------------------------------------------------

    async def get(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> dict[str, Any]:
        ref = ref_of(params.task_id)
        client = runtime_of(ctx).client
        try:
            seen = await self.core.follower.see(client, ref)
        except (TaskGone, AuthFailed):
            raise not_found(params.task_id) from None
        except OpenHandsError as exc:  # OpenHands is out of reach for now: the task itself goes on
            return self._fields(ref, "working", f"OpenHands did not answer ({exc.message}); still following")
        verdict = seen.verdict
        out = self._fields(ref, verdict.status, verdict.message)
        if verdict.status == "input_required" and verdict.conversation is not None:
            out["inputRequests"] = scrub(approval_request(verdict.conversation, seen.pending))
        elif verdict.status == "completed" and verdict.conversation is not None:
            out["result"] = await self.core.completed(ctx, verdict)
        elif verdict.status == "failed":
            out["error"] = {"code": TASK_FAILED, "message": scrub(verdict.message)}
        return out

    async def update(self, ctx: ServerRequestContext[Any, Any], params: UpdateParams) -> dict[str, Any]:
        ref = ref_of(params.task_id)
        client = runtime_of(ctx).client
        for key, response in (params.input_responses or {}).items():
            if not key.startswith(APPROVAL_PREFIX):
                continue
            try:
                _, conversation = await self.core.follower.resolve(client, ref)
                if conversation is not None:
                    await answer(client, conversation, key, *decision_of(response))
                    self.core.follower.forget(client, conversation.id)
            except (TaskGone, NotFound, AuthFailed):
                raise not_found(params.task_id) from None
        return {}

    async def cancel(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> dict[str, Any]:
        await self.core.cancel(ctx, ref_of(params.task_id))
        return {}

"""The tasks extension on the wire (`io.modelcontextprotocol/tasks`, 2026-07-28): a `tools/call`
that declares it gets a task back from start_conversation, send_message and wait_for_agent, and
`tasks/get`, `tasks/update` and `tasks/cancel` answer from OpenHands each time (mapping.py says
what a state means, follow.py reads and acts). A call that does not declare the extension is
passed through untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from mcp import MCPError
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.elicitation import render_elicitation_schema
from mcp.server.extension import Extension, MethodBinding, RequestHandler
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolRequestParams, CallToolResult, PaginatedRequestParams, RequestParams, TextContent
from mcp.types.jsonrpc import INVALID_PARAMS
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

from ..openhands import AppConversation, AuthFailed, NotFound, OpenHandsClient, OpenHandsError, PendingAction
from ..openhands.redaction import secrets_in_scope
from ..outbound import scrub_tool_result, scrub_tree
from ..review.changes import list_changes
from ..review.diffs import summary_line
from ..runtime import Runtime
from ..tools.approvals import Decision, listing
from ..tools.arguments import accepts
from .follow import Follower, TaskGone, answer, cancel, cancel_when_started, now_ms, still_starting
from .legacy import LegacyTasks
from .mapping import APPROVAL_PREFIX, POLL_INTERVAL_MS, TTL_MS, Kind, TaskRef, approval_key, parse_task_id

logger = logging.getLogger(__name__)

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
AGENT_TASK_META = "com.anthropic/agent-task"
TASK_TOOLS = ("start_conversation", "send_message", "wait_for_agent")
COMPLETION_WAIT = 5  # seconds wait_for_agent may take to read a settled agent's answer
MODERN = frozenset(MODERN_PROTOCOL_VERSIONS)
LEGACY = frozenset({"2025-11-25"})  # the one handshake version with tasks
ERAS = MODERN | LEGACY
TASK_FAILED = -32603


class TaskParams(RequestParams):
    task_id: str


class ListParams(PaginatedRequestParams):
    pass


class UpdateParams(TaskParams):
    input_responses: dict[str, dict[str, Any]] | None = None


def declared(ctx: ServerRequestContext[Any, Any], extension: str = TASKS_EXTENSION) -> bool:
    """Whether this request's client declared `extension` (2026-07-28: in the request's own _meta)."""
    if ctx.protocol_version not in MODERN:
        return False
    capabilities = ctx.session.client_capabilities
    return capabilities is not None and extension in (capabilities.extensions or {})


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def approval_request(conversation: AppConversation, pending: Sequence[PendingAction]) -> dict[str, Any]:
    """One form input request showing every pending action; its key names exactly those actions."""
    who = conversation.title or conversation.id
    message = (
        f"The OpenHands agent of '{who}' asks to: {listing(list(pending), conversation)}. Accept it, or reject it "
        "with a reason the agent will read?"
    )
    params = {"mode": "form", "message": message, "requestedSchema": render_elicitation_schema(Decision)}
    return {approval_key(pending): {"method": "elicitation/create", "params": params}}


def decision_of(response: dict[str, Any]) -> tuple[bool, str]:
    """(accept, reason) from an elicitation answer: decline and cancel reject with no reason."""
    content = response.get("content") if response.get("action") == "accept" else None
    if not isinstance(content, dict):
        return False, ""
    reason = content.get("reason")
    return content.get("decision") == "accept", reason.strip() if isinstance(reason, str) else ""


class TasksExtension(Extension):
    """Serves tasks for the tools in `tools` (those of TASK_TOOLS the server has enabled)."""

    identifier = TASKS_EXTENSION

    def __init__(self, tools: Collection[str], read_interval: float = POLL_INTERVAL_MS / 1000) -> None:
        self.tools_with_tasks = frozenset(t for t in TASK_TOOLS if t in tools and "wait_for_agent" in tools)
        self.follower = Follower(min(read_interval, POLL_INTERVAL_MS / 1000))
        self._server: MCPServer[Runtime] | None = None
        self.legacy = LegacyTasks(self)

    def bind(self, server: MCPServer[Runtime]) -> None:
        """The server whose tools a task runs (set once it is built); adds the 2025-11-25 form's
        middleware, which must see tools/call before the SDK shapes its result."""
        self._server = server
        if self.tools_with_tasks:
            server.middleware.append(self.legacy)

    async def call_tool(
        self, ctx: ServerRequestContext[Any, Any], name: str, arguments: dict[str, Any]
    ) -> CallToolResult:
        assert self._server is not None
        call = CallToolRequestParams(name=name, arguments=arguments)
        # MCPServer has no public way to call a tool from an extension.
        result = await self._server._handle_call_tool(ctx, call)  # pyright: ignore[reportPrivateUsage]
        assert isinstance(result, CallToolResult)
        return result

    def methods(self) -> Sequence[MethodBinding]:
        if not self.tools_with_tasks:
            return ()
        return (
            MethodBinding("tasks/get", TaskParams, self._by_era(self._get, self.legacy.get), ERAS),
            MethodBinding("tasks/update", UpdateParams, self._update, MODERN),
            MethodBinding("tasks/cancel", TaskParams, self._by_era(self._cancel, self.legacy.cancel), ERAS),
            MethodBinding("tasks/result", TaskParams, self.legacy.result, LEGACY),
            MethodBinding("tasks/list", ListParams, self.legacy.list, LEGACY),
        )

    def _by_era(self, modern: RequestHandler, legacy: RequestHandler) -> RequestHandler:
        async def handle(ctx: ServerRequestContext[Any, Any], params: Any) -> HandlerResult:
            return await (modern if ctx.protocol_version in MODERN else legacy)(ctx, params)

        return handle

    # ---- tools/call -----------------------------------------------------------------------------

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        args = dict(params.arguments or {})
        asking = params.name == "wait_for_agent" and (args.get("other_ids") or not declared(ctx)) and self._asks(ctx)
        tasked = params.name in self.tools_with_tasks and declared(ctx)
        if not (asking or tasked) or not self.accepts(params.name, args):
            return await call_next(ctx)  # nothing to do first, or the tool refuses these arguments itself
        if asking:
            return await self._wait_asking(params, ctx, call_next)
        if params.name == "start_conversation":
            return await self._start(params, ctx, args, call_next)
        if params.name == "send_message":
            if args.get("run") is False:  # nothing will run: no work to follow
                return await call_next(ctx)
            return await self._after_call(ctx, await call_next(ctx), "m")
        if args.get("other_ids"):
            return await call_next(ctx)
        client = runtime_of(ctx).client
        try:
            conversation = await client.get_conversation(str(args.get("conversation_id", "")))
        except (OpenHandsError, ValueError):
            return await call_next(ctx)  # the tool words the error
        return self._created(TaskRef("w", conversation.id, now_ms()), conversation.id)

    def accepts(self, name: str, args: dict[str, Any]) -> bool:
        """Whether the tool takes these arguments (checked before acting on a call, never after)."""
        assert self._server is not None
        return accepts(self._server, name, args)

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
        assert self._server is not None
        if holds_its_message(args):
            result = await call_next(ctx)
            ready = isinstance(result, CallToolResult) and (result.structured_content or {}).get("status") == "READY"
            return await self._after_call(ctx, result, "s") if ready else result
        started = params.model_copy(update={"arguments": {**args, "wait": False}})
        # MCPServer has no public way to call a tool with other arguments from an interceptor.
        result = await self._server._handle_call_tool(ctx, started)  # pyright: ignore[reportPrivateUsage]
        return await self._after_call(ctx, result, "s")

    async def _after_call(
        self, ctx: ServerRequestContext[Any, Any], result: HandlerResult, kind: Kind
    ) -> HandlerResult:
        if not isinstance(result, CallToolResult) or result.is_error or not result.structured_content:
            return result
        made = task_for(kind, result.structured_content)
        return result if made is None else self._created(*made)

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

    async def _get(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> dict[str, Any]:
        ref = ref_of(params.task_id)
        client = runtime_of(ctx).client
        try:
            seen = await self.follower.see(client, ref)
        except (TaskGone, AuthFailed):
            raise not_found(params.task_id) from None
        except OpenHandsError as exc:  # OpenHands is out of reach for now: the task itself goes on
            return self._fields(ref, "working", f"OpenHands did not answer ({exc.message}); still following")
        verdict = seen.verdict
        out = self._fields(ref, verdict.status, verdict.message)
        if verdict.status == "input_required" and verdict.conversation is not None:
            out["inputRequests"] = scrub(approval_request(verdict.conversation, seen.pending))
        elif verdict.status == "completed" and verdict.conversation is not None:
            out["result"] = await self.completed(ctx, verdict.conversation)
        elif verdict.status == "failed":
            out["error"] = {"code": TASK_FAILED, "message": scrub(verdict.message)}
        return out

    async def completed(self, ctx: ServerRequestContext[Any, Any], conversation: AppConversation) -> dict[str, Any]:
        """What wait_for_agent gives for the settled agent, plus one line on the changed files."""
        assert self._server is not None
        arguments = {"conversation_id": conversation.id, "timeout_seconds": COMPLETION_WAIT}
        result = await self.call_tool(ctx, "wait_for_agent", arguments)
        line = await changes_line(runtime_of(ctx).client, conversation, self._server)
        if line:
            result.content.append(TextContent(type="text", text=line))
        dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True, exclude={"result_type"})
        return scrub_tool_result(dumped, secrets_in_scope())

    async def _update(self, ctx: ServerRequestContext[Any, Any], params: UpdateParams) -> dict[str, Any]:
        ref = ref_of(params.task_id)
        client = runtime_of(ctx).client
        for key, response in (params.input_responses or {}).items():
            if not key.startswith(APPROVAL_PREFIX):
                continue
            try:
                _, conversation = await self.follower.resolve(client, ref)
                if conversation is not None:
                    await answer(client, conversation, key, *decision_of(response))
                    self.follower.forget(client, conversation.id)
            except (TaskGone, NotFound, AuthFailed):
                raise not_found(params.task_id) from None
        return {}

    async def _cancel(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> dict[str, Any]:
        ref = ref_of(params.task_id)
        rt = runtime_of(ctx)
        try:
            early, conversation = await self.follower.resolve(rt.client, ref)
            if conversation is not None:
                await cancel(rt.client, await rt.client.get_conversation(conversation.id))
                self.follower.forget(rt.client, conversation.id)
            elif early is not None and early.status == "working":
                if not await cancel_when_started(rt.client, ref.target):
                    raise still_starting(ref.task_id)
        except (TaskGone, NotFound, AuthFailed):
            raise not_found(params.task_id) from None
        return {}


async def changes_line(
    client: OpenHandsClient, conversation: AppConversation, server: MCPServer[Runtime]
) -> str | None:
    """E.g. "Changes: 2 files changed, +10 -1; get_changes shows the diffs." None when unreadable."""
    if server._tool_manager.get_tool("get_changes") is None:  # pyright: ignore[reportPrivateUsage]
        return None
    try:
        _, found = await list_changes(client, conversation)
    except OpenHandsError as exc:
        logger.info("changes of %s not read: %s", conversation.id, exc.message)
        return None
    how = f'get_changes(conversation_id="{conversation.id}") shows the diffs.' if found else ""
    return f"Changes: {summary_line(f.change for f in found)} {how}".strip()


def holds_its_message(args: dict[str, Any]) -> bool:
    """Whether a start has work to do once READY that only the call holds: its message (sent after the
    approval policy or the upload) or its title (set on the agent server too, so auto-titling keeps
    it). Left to a background job it would die with the process or a stateless worker and fail
    unseen. So such a call waits for READY as a plain start does, the task follows the agent from
    there, and a start that outlives the wait answers plainly, saying what was not done."""
    return args.get("confirm", "never") != "never" or bool(args.get("local_path")) or bool(args.get("title"))


def task_for(kind: Kind, record: dict[str, Any]) -> tuple[TaskRef, str | None] | None:
    """The task a start's or a message's result begins, with its conversation id if known; None for a
    start that failed at once."""
    if kind == "s":
        if record.get("status") == "ERROR":
            return None
        return TaskRef("s", str(record["task_id"]), now_ms()), record.get("conversation_id")
    return TaskRef("m", str(record["conversation_id"]), now_ms()), str(record["conversation_id"])


def runtime_of(ctx: ServerRequestContext[Any, Any]) -> Runtime:
    runtime = ctx.lifespan_context
    assert isinstance(runtime, Runtime)
    return runtime


def ref_of(task_id: str) -> TaskRef:
    ref = parse_task_id(task_id)
    if ref is None:
        raise not_found(task_id)
    return ref


def not_found(task_id: str) -> MCPError:
    return MCPError(code=INVALID_PARAMS, message=f"Task not found: {task_id[:80]}")


def scrub(value: Any) -> Any:
    return scrub_tree(value, secrets_in_scope())

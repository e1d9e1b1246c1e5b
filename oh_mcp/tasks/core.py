"""What both forms of tasks share (2026-07-28 in wire.py, 2025-11-25 in legacy.py): the tools that
become tasks, the task a call begins (bound to its turn), the approval question, a completed task's
result (its own turn's answer), and a cancel that acts only on a task's own turn.

The two forms sit side by side on top of this module; neither imports the other.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from mcp import MCPError
from mcp.server.context import ServerRequestContext
from mcp.server.elicitation import render_elicitation_schema
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolRequestParams, CallToolResult, RequestParams, TextContent
from mcp.types.jsonrpc import INVALID_PARAMS
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

from ..openhands import AppConversation, AuthFailed, NotFound, OpenHandsClient, OpenHandsError, PendingAction
from ..openhands.redaction import secrets_in_scope
from ..outbound import scrub_tool_result, scrub_tree
from ..records import AgentState, pending_record, run_state
from ..review.changes import list_changes
from ..review.diffs import summary_line
from ..runtime import Runtime
from ..shaping import redact, window
from ..tools.approvals import ASK_TEXT_LIMIT, Decision
from ..tools.arguments import accepts
from .follow import (
    Follower,
    TaskGone,
    cancel,
    cancel_when_started,
    message_turn,
    newest_turn,
    now_ms,
    still_starting,
)
from .mapping import FIRST_TURN, POLL_INTERVAL_MS, Kind, TaskRef, Verdict, approval_key, parse_task_id

logger = logging.getLogger(__name__)

TASK_TOOLS = ("start_conversation", "send_message", "wait_for_agent")
MODERN = frozenset(MODERN_PROTOCOL_VERSIONS)
LEGACY = frozenset({"2025-11-25"})  # the one handshake version with tasks
ERAS = MODERN | LEGACY
TASK_FAILED = -32603


class TaskParams(RequestParams):
    task_id: str


class TaskCore:
    """The server a task's tools run on, the per-worker follower, and what both forms do alike."""

    def __init__(self, tools: Collection[str], read_interval: float = POLL_INTERVAL_MS / 1000) -> None:
        self.tools_with_tasks = frozenset(t for t in TASK_TOOLS if t in tools and "wait_for_agent" in tools)
        self.follower = Follower(min(read_interval, POLL_INTERVAL_MS / 1000))
        self.server: MCPServer[Runtime] | None = None

    def accepts(self, name: str, args: dict[str, Any]) -> bool:
        """Whether the tool takes these arguments (checked before acting on a call, never after)."""
        assert self.server is not None
        return accepts(self.server, name, args)

    async def call_tool(
        self, ctx: ServerRequestContext[Any, Any], name: str, arguments: dict[str, Any]
    ) -> CallToolResult:
        assert self.server is not None
        call = CallToolRequestParams(name=name, arguments=arguments)
        # MCPServer has no public way to call a tool from an extension.
        result = await self.server._handle_call_tool(ctx, call)  # pyright: ignore[reportPrivateUsage]
        assert isinstance(result, CallToolResult)
        return result

    # ---- the task a call begins ------------------------------------------------------------------

    async def begun(
        self, client: OpenHandsClient, kind: Kind, record: dict[str, Any], text: str = ""
    ) -> TaskRef | None:
        """The task a start's or a message's result begins, bound to its turn; None for a start that
        failed at once."""
        if kind == "s":
            if record.get("status") == "ERROR":
                return None
            return TaskRef("s", str(record["task_id"]), now_ms(), FIRST_TURN)
        conv_id = str(record["conversation_id"])
        try:
            turn = await message_turn(client, await client.get_conversation(conv_id), text)
        except OpenHandsError as exc:  # the message went; only its turn is unknown: follow the newest
            logger.info("turn of the message to %s not read: %s", conv_id, exc.message)
            turn = None
        return TaskRef("m", conv_id, now_ms(), turn)

    async def waited(self, client: OpenHandsClient, conversation: AppConversation) -> TaskRef:
        """A wait's task: the turn the conversation is in now."""
        try:
            turn: str | None = await newest_turn(client, conversation)
        except OpenHandsError as exc:
            logger.info("turn of %s not read: %s", conversation.id, exc.message)
            turn = None
        return TaskRef("w", conversation.id, now_ms(), turn)

    # ---- a completed task's result ---------------------------------------------------------------

    async def completed(self, ctx: ServerRequestContext[Any, Any], verdict: Verdict) -> dict[str, Any]:
        """wait_for_agent's record for the task's own turn: its answer, never a later turn's, plus one
        line on the changed files. The whole CallToolResult, `resultType` included."""
        assert self.server is not None and verdict.conversation is not None
        conversation = verdict.conversation
        client = runtime_of(ctx).client
        budget = runtime_of(ctx).settings.output_budget
        answer = redact(verdict.answer, client.secrets_for(conversation)) if verdict.answer else None
        chunk, offset = window(answer, 0, budget) if answer else (None, None)
        state = AgentState(
            **run_state(conversation, None).model_dump(),
            final_response=chunk,
            next_response_offset=None if verdict.closed else offset,
            next_step=_next_step(verdict, offset),
        )
        tool = self.server._tool_manager.get_tool("wait_for_agent")  # pyright: ignore[reportPrivateUsage]
        assert tool is not None
        result = tool.fn_metadata.convert_result(state)
        assert isinstance(result, CallToolResult)
        line = await changes_line(client, conversation, self.server)
        if line:
            result.content.append(TextContent(type="text", text=line))
        dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        dumped["resultType"] = "complete"
        return scrub_tool_result(dumped, secrets_in_scope())

    # ---- cancel --------------------------------------------------------------------------------------

    async def cancel(self, ctx: ServerRequestContext[Any, Any], ref: TaskRef) -> None:
        """Stop the task's own turn. A task that has finished is refused (-32602) and nothing reaches
        OpenHands; a turn a newer message followed has finished, so the newer work runs on."""
        client = runtime_of(ctx).client
        try:
            early, conversation = await self.follower.resolve(client, ref)
            if conversation is not None:
                self.follower.forget(client, conversation.id)  # decide on a fresh read
                verdict = (await self.follower.see(client, ref)).verdict
                if verdict.terminal:
                    raise finished(ref.task_id, verdict)
                await cancel(client, await client.get_conversation(conversation.id))
                self.follower.forget(client, conversation.id)
            elif early is not None and early.terminal:
                raise finished(ref.task_id, early)
            elif early is not None and not await cancel_when_started(client, ref.target):
                raise still_starting(ref.task_id)
        except (TaskGone, NotFound, AuthFailed):
            raise not_found(ref.task_id) from None


def _next_step(verdict: Verdict, offset: int | None) -> str:
    if verdict.closed:
        more = " (longer than shown: get_conversation_events has it whole)" if offset is not None else ""
        return (
            f"This task's turn is over{more}; later messages in the conversation are other work. Reply with "
            "send_message, or read the steps with get_conversation_events."
        )
    if offset is not None:
        return f"The response is longer: call wait_for_agent with response_offset={offset} to read on."
    return "Reply with send_message, or read the steps with get_conversation_events."


def finished(task_id: str, verdict: Verdict) -> MCPError:
    return MCPError(
        code=INVALID_PARAMS,
        message=f"Task {task_id[:120]} cannot be cancelled: it is already {verdict.status}. Nothing was sent.",
    )


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


def question(conversation: AppConversation, pending: Sequence[PendingAction]) -> str:
    """What the person reads: what the agent wants to do first (each action whole, up to
    ASK_TEXT_LIMIT), then its tool and risk; ids only at the end, for reference."""
    records = [pending_record(a, conversation.secret_values, ASK_TEXT_LIMIT) for a in pending]
    blocks = [f"{r.does}\n(tool {r.tool or 'unknown'}, risk {r.risk or 'UNKNOWN'})" for r in records]
    who = conversation.title or conversation.id
    ids = ", ".join(r.id for r in records)
    return (
        "\n\n".join(blocks) + f"\n\nThe OpenHands agent of '{who}' asks to run this. Accept, or reject with a reason "
        f"the agent will read?\n(conversation {conversation.id}; action {ids})"
    )


def approval_request(conversation: AppConversation, pending: Sequence[PendingAction]) -> dict[str, Any]:
    """One form input request showing every pending action; its key names exactly those actions."""
    params = {
        "mode": "form",
        "message": question(conversation, pending),
        "requestedSchema": render_elicitation_schema(Decision),
    }
    return {approval_key(pending): {"method": "elicitation/create", "params": params}}


def decision_of(response: dict[str, Any]) -> tuple[bool, str]:
    """(accept, reason) from an elicitation answer: decline and cancel reject with no reason."""
    content = response.get("content") if response.get("action") == "accept" else None
    if not isinstance(content, dict):
        return False, ""
    reason = content.get("reason")
    return content.get("decision") == "accept", reason.strip() if isinstance(reason, str) else ""


def holds_its_message(args: dict[str, Any]) -> bool:
    """Whether a start has work to do once READY that only the call holds: its message (sent after the
    approval policy or the upload) or its title (set on the agent server too, so auto-titling keeps
    it). Left to a background job it would die with the process or a stateless worker and fail
    unseen. So such a call waits for READY as a plain start does, the task follows the agent from
    there, and a start that outlives the wait answers plainly, saying what was not done."""
    return args.get("confirm", "never") != "never" or bool(args.get("local_path")) or bool(args.get("title"))


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


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

"""Conversation tools: start work, follow it, talk to the agent, read what it did."""

from __future__ import annotations

import logging
from typing import Annotated

import anyio
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from ..openhands import (
    AppConversation,
    AuthFailed,
    ConnectionFailed,
    ExecutionStatus,
    OpenHandsClient,
    SandboxNotRunning,
    SandboxStatus,
    StartRequest,
    StartTask,
    StartTaskStatus,
    Unavailable,
    WaitTimedOut,
    titles,
)
from ..records import (
    AgentState,
    ConversationDetail,
    ConversationList,
    Deleted,
    EventList,
    MessageSent,
    Renamed,
    StartResult,
    detail,
    event_record,
    secrets_of,
    summary,
)
from ..shaping import decode_cursor, encode_cursor, final_text, fits, redact, window
from .params import (
    DEFAULT_WAIT,
    ConversationId,
    EventKind,
    GitProvider,
    Limit,
    Message,
    PageId,
    TaskId,
    Title,
    WaitSeconds,
)
from .progress import Progress
from .running import make_running
from .toolset import Ctx, Toolset, runtime

conversations = Toolset(
    "conversations",
    "Start, follow and talk to OpenHands conversations (coding agents at work).",
    instructions=(
        "To delegate a coding task: start_conversation (it waits until the agent is running), then "
        "wait_for_agent to get the agent's answer; use send_message for follow-ups and "
        "get_conversation_events to see what the agent did."
    ),
)

logger = logging.getLogger(__name__)

EVENT_LAG_PATIENCE = 10.0  # the app server's event webhook lags a few seconds behind the agent


@conversations.tool(title="List conversations", read_only=True, destructive=False, idempotent=True)
async def list_conversations(
    ctx: Ctx,
    limit: Limit = 20,
    page_id: PageId = None,
    title_contains: Annotated[str | None, Field(max_length=500, description="Only titles containing this.")] = None,
    sandbox_id: Annotated[str | None, Field(max_length=200, description="Only conversations in this sandbox.")] = None,
) -> ConversationList:
    """List OpenHands conversations, newest first, with id, title and live status. Pass next_page_id as
    page_id for more; get_conversation gives cost and details."""
    page = await runtime(ctx).client.search_conversations(
        limit=limit, page_id=page_id, title_contains=title_contains, sandbox_id=sandbox_id
    )
    return ConversationList(items=[summary(c) for c in page.items], next_page_id=page.next_page_id)


@conversations.tool(title="Get conversation", read_only=True, destructive=False, idempotent=True)
async def get_conversation(ctx: Ctx, conversation_id: ConversationId) -> ConversationDetail:
    """Get a conversation's status, repository, model, cost and tokens. wait_for_agent reads the agent's
    answer."""
    return detail(await runtime(ctx).client.get_conversation(conversation_id))


@conversations.tool(
    title="Start conversation", read_only=False, destructive=False, idempotent=False, wait="timeout_seconds"
)
async def start_conversation(
    ctx: Ctx,
    message: Message,
    repository: Annotated[str | None, Field(max_length=300, description="owner/repo to clone.")] = None,
    branch: Annotated[str | None, Field(max_length=300)] = None,
    git_provider: GitProvider | None = None,
    sandbox_id: Annotated[str | None, Field(max_length=200, description="Reuse this sandbox.")] = None,
    llm_model: Annotated[str | None, Field(max_length=200, description="e.g. openai/gpt-5")] = None,
    title: Title | None = None,
    wait: Annotated[bool, Field(description="Wait until READY.")] = True,
    timeout_seconds: WaitSeconds = DEFAULT_WAIT,
) -> StartResult:
    """Delegate a task to a new OpenHands agent. Returns the conversation_id once READY (then call
    wait_for_agent), or a task_id for get_start_task if starting takes longer."""
    client = runtime(ctx).client
    request = StartRequest(
        initial_text=message,
        selected_repository=repository,
        selected_branch=branch,
        git_provider=git_provider,
        sandbox_id=sandbox_id,
        llm_model=llm_model,
    )
    task = await client.start_conversation(request)
    if not wait:
        return _start_result(task, title_pending=title is not None)
    progress = Progress(ctx, timeout_seconds)
    try:
        task = await client.wait_for_start_task(
            task.id, timeout=timeout_seconds, on_change=lambda t: progress.report(f"start task {t.status}")
        )
    except WaitTimedOut as exc:
        last = exc.last if isinstance(exc.last, StartTask) else task
        return _start_result(last, title_pending=title is not None)
    if title and task.app_conversation_id:
        # The start request's title is ignored upstream; a rename is the way to set it.
        await titles.rename(client, task.app_conversation_id, title, spawn=runtime(ctx).spawn)
    return _start_result(task, title_pending=False)


def _start_result(task: StartTask, *, title_pending: bool) -> StartResult:
    if task.status == StartTaskStatus.READY:
        step = "The agent is working: call wait_for_agent with this conversation_id to get its answer."
    elif task.status == StartTaskStatus.ERROR:
        step = "The start failed; read detail, fix the cause and start again."
    else:
        step = "Still starting: call get_start_task with this task_id until it is READY."
        if title_pending:
            step += " Then set the title with update_conversation."
    return StartResult(
        status=str(task.status),
        conversation_id=task.app_conversation_id,
        task_id=task.id,
        sandbox_id=task.sandbox_id,
        detail=task.detail,
        next_step=step,
    )


@conversations.tool(title="Get start task", read_only=True, destructive=False, idempotent=True)
async def get_start_task(ctx: Ctx, task_id: TaskId) -> StartResult:
    """Check a start that outlived start_conversation's wait: READY carries the conversation_id, ERROR the
    reason in detail."""
    return _start_result(await runtime(ctx).client.get_start_task(task_id), title_pending=False)


@conversations.tool(title="Send message", read_only=False, destructive=False, idempotent=False, wait="timeout_seconds")
async def send_message(
    ctx: Ctx,
    conversation_id: ConversationId,
    message: Message,
    image_urls: Annotated[list[Annotated[str, Field(max_length=2000)]] | None, Field(max_length=20)] = None,
    run: Annotated[bool, Field(description="Let the agent act on it.")] = True,
    auto_resume: Annotated[bool, Field(description="Resume a paused sandbox.")] = True,
    timeout_seconds: WaitSeconds = DEFAULT_WAIT,
) -> MessageSent:
    """Send a follow-up message to a conversation's agent, at most once; a paused sandbox is resumed first
    unless auto_resume is false. Then call wait_for_agent for the reply."""
    client = runtime(ctx).client
    conversation = await client.get_conversation(conversation_id)
    resumed = False
    if conversation.sandbox_status != SandboxStatus.RUNNING:
        resumed = await _resume(ctx, client, conversation, auto_resume, timeout_seconds)
    try:
        result = await client.send_message(conversation.id, message, image_urls=image_urls, run=run)
    except SandboxNotRunning:
        # 409 means nothing was delivered, so one resume and resend cannot duplicate the message.
        if not auto_resume:
            raise
        resumed = await _resume(ctx, client, conversation, auto_resume, timeout_seconds) or resumed
        result = await client.send_message(conversation.id, message, image_urls=image_urls, run=run)
    step = "Call wait_for_agent to get the agent's reply." if run else "Queued without running the agent."
    return MessageSent(
        delivered=result.success,
        conversation_id=conversation.id,
        resumed_sandbox=resumed,
        sandbox_status=None if result.sandbox_status is None else str(result.sandbox_status),
        next_step=("Resumed the paused sandbox, then delivered the message. " if resumed else "") + step,
    )


async def _resume(
    ctx: Ctx, client: OpenHandsClient, conversation: AppConversation, auto_resume: bool, timeout: float
) -> bool:
    return await make_running(
        ctx, client, conversation, auto_resume=auto_resume, timeout=timeout, undone="the message was not sent"
    )


@conversations.tool(title="Wait for agent", read_only=True, destructive=False, idempotent=True, wait="timeout_seconds")
async def wait_for_agent(
    ctx: Ctx,
    conversation_id: ConversationId,
    timeout_seconds: WaitSeconds = DEFAULT_WAIT,
    response_offset: Annotated[int, Field(ge=0, description="next_response_offset, to read on.")] = 0,
) -> AgentState:
    """Wait until the agent stops running or the timeout passes; returns its status and final response. If
    settled is false, call it again; get_conversation_events shows the steps."""
    rt = runtime(ctx)
    progress = Progress(ctx, timeout_seconds)
    deadline = anyio.current_time() + timeout_seconds
    try:
        conversation = await rt.client.wait_for_agent(
            conversation_id, timeout=timeout_seconds, on_poll=lambda c: progress.report(f"agent {c.execution_status}")
        )
        settled = True
    except WaitTimedOut as exc:
        if not isinstance(exc.last, AppConversation):
            raise
        conversation, settled = exc.last, False
    response = await _final_response(rt.client, conversation, deadline) if settled else None
    secrets = secrets_of(conversation)
    chunk, next_offset = (
        window(redact(response, secrets), response_offset, rt.settings.output_budget) if response else (None, None)
    )
    return AgentState(
        conversation_id=conversation.id,
        execution_status=None if conversation.execution_status is None else str(conversation.execution_status),
        sandbox_status=str(conversation.sandbox_status),
        settled=settled,
        final_response=chunk,
        next_response_offset=next_offset,
        next_step=_agent_step(conversation, settled, next_offset),
    )


def _agent_step(conversation: AppConversation, settled: bool, next_offset: int | None) -> str:
    if not settled:
        return "The agent is still running: call wait_for_agent again, or get_conversation_events to watch it."
    if next_offset is not None:
        return f"The response is longer: call wait_for_agent with response_offset={next_offset} to read on."
    if conversation.execution_status == ExecutionStatus.WAITING_FOR_CONFIRMATION:
        return "The agent waits for confirmation of an action; read get_conversation_events, then send_message."
    return "Reply with send_message, or read the steps with get_conversation_events."


async def _final_response(client: OpenHandsClient, conversation: AppConversation, deadline: float) -> str | None:
    """Ask the agent server; when the sandbox is not running, or its agent server is out of reach or
    refuses its key, fall back to the stored events: the app server holds the answer too."""
    if conversation.conversation_url:
        try:
            answer = await client.get_final_response(conversation)
        except (Unavailable, ConnectionFailed, AuthFailed) as exc:
            logger.warning("final response of %s read from stored events: %s", conversation.id, exc.message)
            answer = None
        if answer:
            return answer
    # The app server stores events by webhook, in batches: a finished agent's answer may land a moment
    # after its status, so wait for it (within the call's wait) rather than report no answer.
    finished = conversation.execution_status == ExecutionStatus.FINISHED
    deadline = min(deadline, anyio.current_time() + EVENT_LAG_PATIENCE)
    while (text := await _stored_final(client, conversation.id)) is None and finished:
        if anyio.current_time() + client.poll_interval >= deadline:
            break
        await anyio.sleep(client.poll_interval)
    return text


async def _stored_final(client: OpenHandsClient, conv_id: str) -> str | None:
    page = await client.search_events(conv_id, limit=50, newest_first=True)
    return next((text for event in page.items if (text := final_text(event))), None)


@conversations.tool(title="Get conversation events", read_only=True, destructive=False, idempotent=True)
async def get_conversation_events(
    ctx: Ctx,
    conversation_id: ConversationId,
    limit: Limit = 20,
    kind: EventKind | None = None,
    newest_first: bool = True,
    page_id: PageId = None,
) -> EventList:
    """Read what happened: messages, the agent's actions and commands, output excerpts and errors, newest
    first. Pass next_page_id as page_id for more."""
    rt = runtime(ctx)
    try:
        upstream_page, skip = decode_cursor(page_id)
    except ValueError as exc:
        raise ToolError(str(exc)) from None
    conversation = await rt.client.get_conversation(conversation_id)
    page = await rt.client.search_events(
        conversation.id, limit=limit, kind=kind, newest_first=newest_first, page_id=upstream_page
    )
    records = [event_record(event, secrets_of(conversation)) for event in page.items[skip:]]
    taken = fits(records, lambda r: len(r.text), rt.settings.output_budget)
    if taken < len(records):
        cursor = encode_cursor(upstream_page, skip + taken)
        return EventList(conversation_id=conversation.id, events=records[:taken], next_page_id=cursor, truncated=True)
    return EventList(conversation_id=conversation.id, events=records, next_page_id=page.next_page_id, truncated=False)


@conversations.tool(title="Rename conversation", read_only=False, destructive=False, idempotent=True)
async def update_conversation(
    ctx: Ctx,
    conversation_id: ConversationId,
    title: Title,
) -> Renamed:
    """Rename a conversation; returns its id and new title."""
    rt = runtime(ctx)
    updated = await titles.rename(rt.client, conversation_id, title, spawn=rt.spawn)
    return Renamed(id=updated.id, title=updated.title)


@conversations.tool(title="Delete conversation", read_only=False, destructive=True, idempotent=True)
async def delete_conversation(ctx: Ctx, conversation_id: ConversationId) -> Deleted:
    """Delete a conversation and its history for good (and its sandbox, if no other conversation uses
    it)."""
    client = runtime(ctx).client
    conversation = await client.get_conversation(conversation_id)
    await client.delete_conversation(conversation.id)
    return Deleted(deleted=True, id=conversation.id)

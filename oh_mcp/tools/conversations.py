"""Conversation tools: start work, follow it, talk to the agent, read what it did."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from ..next_steps import for_model
from ..openhands import (
    AppConversation,
    ConfirmPolicy,
    OpenHandsClient,
    OpenHandsError,
    RateLimited,
    SandboxNotRunning,
    SandboxStatus,
    SendMessageResult,
    StartFailed,
    StartRequest,
    StartTask,
    StartTaskStatus,
    WaitTimedOut,
    start_failure_hint,
    titles,
)
from ..openhands.waits import OnChange
from ..records import (
    ConversationDetail,
    ConversationList,
    Deleted,
    EventList,
    MessageSent,
    Renamed,
    StartResult,
    detail,
    event_record,
    summary,
)
from ..runtime import Runtime
from ..shaping import decode_cursor, encode_cursor, event_text, fits
from .confirmation import NOT_SENT_LATER, start_guarded, unsent_step
from .local import LocalPath, start_local
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
from .warm import WarmStart, warm_start

conversations = Toolset(
    "conversations",
    "Start, follow and talk to OpenHands conversations (coding agents at work).",
    instructions=(
        "To delegate a coding task: start_conversation (it waits until the agent is running), then "
        "wait_for_agent to get the agent's answer; use send_message for follow-ups and "
        "get_conversation_events to see what the agent did."
    ),
)


@conversations.tool(title="List conversations", read_only=True, destructive=False, idempotent=True)
async def list_conversations(
    ctx: Ctx,
    limit: Limit = 20,
    page_id: PageId = None,
    title_contains: Annotated[str | None, Field(max_length=500, description="Only titles containing this.")] = None,
    sandbox_id: Annotated[str | None, Field(max_length=200, description="Only conversations in this sandbox.")] = None,
) -> ConversationList:
    """List conversations, newest first, with id, title and live status. Pass next_page_id as page_id for
    more."""
    page = await runtime(ctx).client.search_conversations(
        limit=limit, page_id=page_id, title_contains=title_contains, sandbox_id=sandbox_id
    )
    return ConversationList(items=[summary(c) for c in page.items], next_page_id=page.next_page_id)


@conversations.tool(title="Get conversation", read_only=True, destructive=False, idempotent=True)
async def get_conversation(ctx: Ctx, conversation_id: ConversationId) -> ConversationDetail:
    """Get a conversation's status, repository, model, cost, tokens and pending_actions. wait_for_agent
    reads the agent's answer."""
    client = runtime(ctx).client
    conversation = await client.get_conversation(conversation_id)
    return detail(conversation, await client.pending_actions(conversation))


@conversations.tool(
    title="Start conversation", read_only=False, destructive=False, idempotent=False, wait="timeout_seconds"
)
async def start_conversation(
    ctx: Ctx,
    message: Message,
    repository: Annotated[str | None, Field(max_length=300, description="owner/repo to clone.")] = None,
    local_path: Annotated[LocalPath | None, Field(description="Your local git checkout to send instead.")] = None,
    branch: Annotated[str | None, Field(max_length=300)] = None,
    git_provider: GitProvider | None = None,
    sandbox_id: Annotated[str | None, Field(max_length=200, description="Reuse this sandbox.")] = None,
    llm_model: Annotated[str | None, Field(max_length=200, description="e.g. openai/gpt-5")] = None,
    title: Title | None = None,
    wait: Annotated[bool, Field(description="Wait until READY.")] = True,
    timeout_seconds: WaitSeconds = DEFAULT_WAIT,
    confirm: Annotated[ConfirmPolicy, Field(description="Actions that wait for approval: none, risky or all.")] = (
        "never"
    ),
) -> StartResult:
    """Delegate a task to a new OpenHands agent. Returns conversation_id once READY (then call
    wait_for_agent), or a task_id for get_start_task if starting takes longer."""
    rt = runtime(ctx)
    progress = Progress(ctx, timeout_seconds)
    start = await warm_start(rt, progress, sandbox_id)
    request = StartRequest(
        initial_text=message,
        selected_repository=repository,
        selected_branch=branch,
        git_provider=git_provider,
        sandbox_id=start.sandbox_id,
        llm_model=llm_model,
    )
    try:
        if local_path is not None:
            wait_for = timeout_seconds if wait else None
            result = await start_local(
                ctx, request, local_path, confirm=confirm, title=title, wait=wait_for, progress=progress
            )
        else:
            wait_for = timeout_seconds if wait else None
            result = await _start_plain(ctx, request, confirm, title, wait_for, progress, start)
    finally:
        start.refill()
    return start.told(result)


async def _start_plain(
    ctx: Ctx,
    request: StartRequest,
    confirm: ConfirmPolicy,
    title: str | None,
    wait: float | None,
    progress: Progress,
    start: WarmStart,
) -> StartResult:
    rt = runtime(ctx)
    try:
        task = await _start_or_cold(ctx, request, confirm, wait, progress, start)
    except WaitTimedOut as exc:
        assert isinstance(exc.last, StartTask)
        return _start_result(exc.last, title_pending=title is not None, guarded=confirm != "never")
    if title and task.app_conversation_id:
        # The start request's title is ignored upstream; a rename is the way to set it.
        await titles.rename(rt.client, task.app_conversation_id, title, spawn=rt.spawn)
    return _start_result(task, title_pending=False)


async def _start_or_cold(
    ctx: Ctx, request: StartRequest, confirm: ConfirmPolicy, wait: float | None, progress: Progress, start: WarmStart
) -> StartTask:
    try:
        return await _start(ctx, request, confirm, wait, progress)
    except StartFailed:
        if not start.warm:
            raise
    # The spare failed between its check and the start: a failed start task made no conversation, so
    # starting again cold is safe, and the person gets the agent rather than an error.
    await progress.report("the warm sandbox failed: starting cold")
    start.warm = False
    return await _start(ctx, request.model_copy(update={"sandbox_id": None}), confirm, wait, progress)


async def _start(
    ctx: Ctx, request: StartRequest, confirm: ConfirmPolicy, wait: float | None, progress: Progress
) -> StartTask:
    """Start, and wait until READY unless `wait` is None; WaitTimedOut carries the task as it was last seen."""
    rt = runtime(ctx)

    async def report(task: StartTask) -> None:
        await progress.report(f"starting: {task.status}")

    if confirm != "never":
        if rt.settings.approvals == "off":
            raise ToolError(
                "Approvals are off on this server (OH_MCP_APPROVALS=off), so confirm must be never. Start again "
                "without confirm."
            )
        return await _start_guarded(rt, request, confirm, wait, report)
    task = await rt.client.start_conversation(request)
    if wait is None:
        raise WaitTimedOut("Not waited for.", last=task)
    try:
        return await rt.client.wait_for_start_task(task.id, timeout=wait, on_change=report)
    except WaitTimedOut as exc:
        raise WaitTimedOut(exc.message, last=exc.last if isinstance(exc.last, StartTask) else task) from None


async def _start_guarded(
    rt: Runtime, request: StartRequest, confirm: ConfirmPolicy, wait: float | None, report: OnChange[StartTask]
) -> StartTask:
    try:
        return await start_guarded(rt.client, request, confirm, wait=wait, on_change=report)
    except (WaitTimedOut, StartFailed, ToolError):
        raise
    except OpenHandsError as exc:
        raise ToolError(
            "The conversation started, but its approval policy could not be set, so the task was not sent to "
            f"the agent: {for_model(exc)} Delete it with delete_conversation and start again."
        ) from None


def _start_result(task: StartTask, *, title_pending: bool, guarded: bool = False) -> StartResult:
    if task.status == StartTaskStatus.READY:
        step = "The agent is working: call wait_for_agent with this conversation_id to get its answer."
    elif task.status == StartTaskStatus.ERROR:
        step = start_failure_hint(task.detail) or "The start failed; read detail, fix the cause and start again."
    else:
        step = "Still starting: call get_start_task with this task_id until it is READY."
        if guarded:
            step += NOT_SENT_LATER
        if title_pending:
            step += " Then set the title with update_conversation."
    return StartResult.of(task, step)


@conversations.tool(title="Get start task", read_only=True, destructive=False, idempotent=True)
async def get_start_task(ctx: Ctx, task_id: TaskId) -> StartResult:
    """Check a start that outlived start_conversation's wait: READY gives conversation_id, ERROR the reason
    in detail."""
    client = runtime(ctx).client
    task = await client.get_start_task(task_id)
    result = _start_result(task, title_pending=False)
    unsent = await unsent_step(client, task)
    return result.model_copy(update={"next_step": unsent}) if unsent else result


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
    """Send a follow-up message to the agent, at most once; resumes a paused sandbox unless auto_resume is
    false. Then call wait_for_agent for the reply."""
    client = runtime(ctx).client
    conversation = await client.get_conversation(conversation_id)
    resumed = False
    if conversation.sandbox_status != SandboxStatus.RUNNING:
        resumed = await _resume(ctx, client, conversation, auto_resume, timeout_seconds)
    if run and not image_urls and await _saved_unanswered(client, conversation, message):
        return await _run_saved(client, conversation, resumed)
    try:
        result = await _send(client, conversation, message, image_urls, run)
    except SandboxNotRunning:
        # 409 means nothing was delivered, so one resume and resend cannot duplicate the message.
        if not auto_resume:
            raise
        resumed = await _resume(ctx, client, conversation, auto_resume, timeout_seconds) or resumed
        result = await _send(client, conversation, message, image_urls, run)
    step = "Call wait_for_agent to get the agent's reply." if run else "Queued without running the agent."
    return MessageSent(
        delivered=result.success,
        conversation_id=conversation.id,
        resumed_sandbox=resumed,
        sandbox_status=None if result.sandbox_status is None else str(result.sandbox_status),
        next_step=("Resumed the paused sandbox, then delivered the message. " if resumed else "") + step,
    )


AT_CAPACITY = (
    "The message was saved in the conversation, but its agent server is at its limit of running "
    "conversations (HTTP 429), so the agent has not started on it. Do not send it in other words: once "
    "another conversation has finished, call send_message again with this same message, and the saved one "
    "is started instead of being sent twice."
)


async def _send(
    client: OpenHandsClient, conversation: AppConversation, message: str, image_urls: list[str] | None, run: bool
) -> SendMessageResult:
    try:
        return await client.send_message(conversation.id, message, image_urls=image_urls, run=run)
    except RateLimited:  # the agent server saves the message, then refuses to run it (1.58.2 at capacity)
        raise ToolError(AT_CAPACITY) from None


async def _saved_unanswered(client: OpenHandsClient, conversation: AppConversation, message: str) -> bool:
    """Whether this very message is the conversation's newest event, saved but never acted on: what a
    send refused at capacity leaves. Sending it again would give the agent the message twice."""
    if not conversation.conversation_url or conversation.session_api_key is None:
        return False
    try:
        events = await client.agent_events(conversation, limit=5)
    except OpenHandsError:  # a check, not a step: the send goes through the app server alone
        return False
    for event in events:
        if event.kind in _BOOKKEEPING:
            continue
        return event.kind == "MessageEvent" and event.source == "user" and event_text(event)[0] == message
    return False


_BOOKKEEPING = frozenset({"ConversationStateUpdateEvent", "ConversationErrorEvent", "ServerErrorEvent"})


async def _run_saved(client: OpenHandsClient, conversation: AppConversation, resumed: bool) -> MessageSent:
    try:
        await client.run_agent(conversation)
    except RateLimited:
        raise ToolError(AT_CAPACITY) from None
    return MessageSent(
        delivered=True,
        conversation_id=conversation.id,
        resumed_sandbox=resumed,
        sandbox_status=str(conversation.sandbox_status),
        next_step="This message was already saved (not sent again); the agent is now working on it. "
        "Call wait_for_agent to get the agent's reply.",
    )


async def _resume(
    ctx: Ctx, client: OpenHandsClient, conversation: AppConversation, auto_resume: bool, timeout: float
) -> bool:
    return await make_running(
        ctx, client, conversation, auto_resume=auto_resume, timeout=timeout, undone="the message was not sent"
    )


@conversations.tool(title="Get conversation events", read_only=True, destructive=False, idempotent=True)
async def get_conversation_events(
    ctx: Ctx,
    conversation_id: ConversationId,
    limit: Limit = 20,
    kind: EventKind | None = None,
    newest_first: bool = True,
    page_id: PageId = None,
) -> EventList:
    """What happened: messages, the agent's actions and commands, outputs and errors, newest first. Pass
    next_page_id as page_id for more."""
    rt = runtime(ctx)
    try:
        upstream_page, skip = decode_cursor(page_id)
    except ValueError as exc:
        raise ToolError(str(exc)) from None
    conversation = await rt.client.get_conversation(conversation_id)
    page = await rt.client.search_events(
        conversation.id, limit=limit, kind=kind, newest_first=newest_first, page_id=upstream_page
    )
    records = [event_record(event, rt.client.secrets_for(conversation)) for event in page.items[skip:]]
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

"""The records tools and resources return: small, described, made for the model (never an
upstream payload), with the converters from the client's models.

Fields left None are dropped from results, so an absent field costs nothing.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from .openhands import AppConversation, Event, PendingAction, Sandbox, SandboxSpec, StartTask
from .openhands.waits import settled
from .shaping import EVENT_TEXT_LIMIT, action_detail, clip, cut_middle, event_text, redact, stamp

NextPageId = Annotated[str | None, Field(description="Pass as page_id for the next page; absent at the end.")]

# ---- conversations ------------------------------------------------------------------------------


class ConversationSummary(BaseModel):
    id: str
    title: str | None = None
    sandbox_id: str
    sandbox_status: str = Field(description="STARTING, RUNNING, PAUSED, ERROR or MISSING (archived).")
    execution_status: str | None = Field(
        default=None,
        description="Agent status (idle, running, finished, paused, error, stuck, waiting_for_confirmation); "
        "null while the sandbox is not RUNNING.",
    )
    repository: str | None = None
    branch: str | None = None
    updated_at: str


class TokenTotals(BaseModel):
    prompt: int
    completion: int
    cache_read: int | None = None
    reasoning: int | None = None


class PendingActionRecord(BaseModel):
    id: str
    tool: str | None = None
    does: str = Field(description="What it would do, whole: command, file edit, or tool and arguments.")
    risk: str | None = Field(default=None, description="OpenHands' rating: LOW, MEDIUM, HIGH or UNKNOWN.")


PendingActions = Annotated[
    list[PendingActionRecord] | None, Field(description="Actions waiting for respond_to_action.")
]


class ConversationDetail(ConversationSummary):
    git_provider: str | None = None
    llm_model: str | None = None
    cost_usd: float | None = Field(default=None, description="Accumulated LLM cost in US dollars.")
    tokens: TokenTotals | None = None
    pr_numbers: list[int] | None = None
    parent_conversation_id: str | None = None
    created_at: str
    pending_actions: PendingActions = None


class ConversationList(BaseModel):
    items: list[ConversationSummary]
    next_page_id: NextPageId = None


class StartResult(BaseModel):
    status: str = Field(description="READY when the agent is running; otherwise the start task's current status.")
    conversation_id: str | None = None
    task_id: str
    sandbox_id: str | None = None
    detail: str | None = None
    local: str | None = Field(default=None, description="What local_path sent: files, bytes, what was left out.")
    next_step: str

    @classmethod
    def of(cls, task: StartTask, next_step: str, *, local: str | None = None) -> StartResult:
        return cls(
            status=str(task.status),
            conversation_id=task.app_conversation_id,
            task_id=task.id,
            sandbox_id=task.sandbox_id,
            detail=task.detail,
            local=local,
            next_step=next_step,
        )


class MessageSent(BaseModel):
    delivered: bool
    conversation_id: str
    resumed_sandbox: bool = Field(description="True when a paused sandbox was resumed to deliver the message.")
    sandbox_status: str | None = None
    next_step: str


class RunState(BaseModel):
    conversation_id: str
    execution_status: str | None = None
    sandbox_status: str
    settled: bool = Field(description="True when the agent is no longer running.")
    pending_actions: PendingActions = None


class AgentState(RunState):
    final_response: str | None = Field(default=None, description="The agent's latest answer, windowed to the budget.")
    next_response_offset: int | None = Field(default=None, description="Pass as response_offset to read on.")
    next_step: str
    others: list[RunState] | None = Field(default=None, description="The other_ids' states.")


class Interrupted(BaseModel):
    conversation_id: str
    interrupted: bool = Field(description="False when nothing was running.")
    execution_status: str | None = None
    next_step: str


class ActionsAnswered(BaseModel):
    conversation_id: str
    accepted: bool
    action_ids: list[str]
    next_step: str


class AgentReply(BaseModel):
    conversation_id: str
    answer: str | None = Field(default=None, description="Absent when the agent did not answer in time.")
    next_step: str


class Renamed(BaseModel):
    id: str
    title: str | None = None


class Deleted(BaseModel):
    deleted: bool
    id: str


def summary(c: AppConversation) -> ConversationSummary:
    return ConversationSummary(
        id=c.id,
        title=c.title,
        sandbox_id=c.sandbox_id,
        sandbox_status=str(c.sandbox_status),
        execution_status=None if c.execution_status is None else str(c.execution_status),
        repository=c.selected_repository,
        branch=c.selected_branch,
        updated_at=stamp(c.updated_at),
    )


def detail(c: AppConversation, pending: list[PendingAction] | None = None) -> ConversationDetail:
    usage = c.metrics.accumulated_token_usage if c.metrics else None
    tokens = (
        TokenTotals(
            prompt=usage.prompt_tokens,
            completion=usage.completion_tokens,
            cache_read=usage.cache_read_tokens or None,
            reasoning=usage.reasoning_tokens or None,
        )
        if usage
        else None
    )
    return ConversationDetail(
        **summary(c).model_dump(),
        git_provider=c.git_provider,
        llm_model=c.llm_model,
        cost_usd=c.metrics.accumulated_cost if c.metrics else None,
        tokens=tokens,
        pr_numbers=c.pr_number or None,
        parent_conversation_id=c.parent_conversation_id,
        created_at=stamp(c.created_at),
        pending_actions=[pending_record(a, c.secret_values) for a in pending] if pending else None,
    )


# Characters of one pending action a result shows; past it the middle is cut and the cut is said.
PENDING_TEXT_LIMIT = 4_000


def pending_record(
    action: PendingAction, secrets: tuple[str, ...], limit: int = PENDING_TEXT_LIMIT
) -> PendingActionRecord:
    # Redacted before it is cut, so a secret the cut splits shows in neither part.
    does = redact(action_detail(action.tool_name, action.action), secrets)
    return PendingActionRecord(
        id=action.id, tool=action.tool_name, does=cut_middle(does, limit), risk=action.security_risk
    )


def run_state(c: AppConversation, pending: list[PendingAction] | None) -> RunState:
    return RunState(
        conversation_id=c.id,
        execution_status=None if c.execution_status is None else str(c.execution_status),
        sandbox_status=str(c.sandbox_status),
        settled=settled(c),
        pending_actions=[pending_record(a, c.secret_values) for a in pending] if pending else None,
    )


# ---- events -------------------------------------------------------------------------------------


class EventRecord(BaseModel):
    id: str
    time: str | None = Field(default=None, description="When it happened (agent-server local time).")
    source: str | None = Field(default=None, description="Who produced it: user, agent or environment.")
    kind: str = Field(description="Event kind, e.g. MessageEvent, ActionEvent, ObservationEvent.")
    text: str = Field(description="A short readable rendering: message text, action and command, output excerpt.")
    is_error: bool = False


class EventList(BaseModel):
    conversation_id: str
    events: list[EventRecord]
    next_page_id: str | None = None
    truncated: bool = Field(description="True when the output budget cut this page short; next_page_id reads on.")


def event_record(event: Event, secrets: tuple[str, ...], limit: int = EVENT_TEXT_LIMIT) -> EventRecord:
    text, is_error = event_text(event)
    return EventRecord(
        id=event.id,
        time=event.timestamp,
        source=event.source,
        kind=event.kind,
        text=clip(redact(" ".join(text.split()), secrets), limit),
        is_error=is_error,
    )


# ---- sandboxes and specs ------------------------------------------------------------------------


class SandboxSummary(BaseModel):
    id: str
    status: str = Field(description="STARTING, RUNNING, PAUSED, ERROR or MISSING.")
    spec: str = Field(description="Sandbox spec id, as listed by list_sandbox_specs.")
    created_at: str
    urls: list[str] = Field(
        default=[], description="Names of the URLs the sandbox exposes (e.g. AGENT_SERVER, VSCODE)."
    )


class SandboxList(BaseModel):
    items: list[SandboxSummary]
    next_page_id: NextPageId = None
    # Only when oh-mcp keeps warm spares (OH_MCP_WARM_SANDBOXES) and some are listed: absent otherwise.
    warm: list[str] | None = Field(default=None, description="Ids of oh-mcp's warm spares, kept for the next start.")


class SandboxState(BaseModel):
    sandbox_id: str
    status: str
    ready: bool = Field(description="True when the sandbox is RUNNING.")
    next_step: str


def sandbox_summary(s: Sandbox) -> SandboxSummary:
    # Only the names: exposed URLs can carry the sandbox's token (e.g. VS Code's ?tkn=).
    return SandboxSummary(
        id=s.id,
        status=str(s.status),
        spec=s.sandbox_spec_id,
        created_at=stamp(s.created_at),
        urls=[u.name for u in s.exposed_urls or []],
    )


class SpecSummary(BaseModel):
    id: str = Field(description="Spec id (an image name); pass it to start_sandbox as sandbox_spec_id.")
    command: str | None = None
    working_dir: str | None = None
    env_names: list[str] = Field(default=[], description="Names of the environment variables it sets.")


class SpecList(BaseModel):
    items: list[SpecSummary]
    next_page_id: NextPageId = None


def spec_summary(s: SandboxSpec) -> SpecSummary:
    return SpecSummary(
        id=s.id,
        command=" ".join(s.command) if s.command else None,
        working_dir=s.working_dir,
        env_names=sorted(s.initial_env),
    )


# ---- review: changes and files ------------------------------------------------------------------


class ChangedFile(BaseModel):
    path: str = Field(description="Relative to its repository.")
    status: str = Field(description="added, updated, deleted or moved.")
    added: int = Field(description="Lines added.")
    removed: int = Field(description="Lines removed.")
    moved_from: str | None = None
    diff: str | None = Field(default=None, description="Unified diff, 3 lines of context.")
    note: str | None = Field(default=None, description="Why the diff is absent or cut.")


class RepositoryChanges(BaseModel):
    path: str = Field(description="The repository in the sandbox; pass as repository_path.")
    compared_with: str = Field(description="The base: HEAD, origin/<branch>, a given ref or the empty tree.")
    files: list[ChangedFile]


class Changes(BaseModel):
    conversation_id: str
    summary: str = Field(description='E.g. "3 files changed, +40 -12", over all pages.')
    repositories: list[RepositoryChanges]
    patch: str | None = Field(default=None, description='format="patch": the git patch (or a window of it).')
    patch_base64: str | None = None
    patch_digest: str | None = Field(default=None, description="For apply_changes.")
    next_page_id: NextPageId = None


class FileText(BaseModel):
    path: str = Field(description="Absolute path in the sandbox.")
    size: int = Field(description="Bytes.")
    text: str
    next_offset: int | None = Field(default=None, description="Pass as offset to read on.")

"""Pydantic models of the OpenHands V1 resources, as served by openhands-ai 1.11.0.

Models ignore fields they do not know and keep status values they do not know as plain
strings, so a newer server does not break an older oh-mcp. Secrets (`session_api_key`) are
`SecretStr`, so they never show in a repr, a log line or a JSON dump.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator

from .errors import InvalidRequest
from .redaction import known


class SandboxStatus(StrEnum):
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    ERROR = "ERROR"
    MISSING = "MISSING"


class ExecutionStatus(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    WAITING_FOR_CONFIRMATION = "waiting_for_confirmation"
    FINISHED = "finished"
    ERROR = "error"
    STUCK = "stuck"
    DELETING = "deleting"


class StartTaskStatus(StrEnum):
    WORKING = "WORKING"
    WAITING_FOR_SANDBOX = "WAITING_FOR_SANDBOX"
    PREPARING_REPOSITORY = "PREPARING_REPOSITORY"
    RUNNING_SETUP_SCRIPT = "RUNNING_SETUP_SCRIPT"
    SETTING_UP_GIT_HOOKS = "SETTING_UP_GIT_HOOKS"
    SETTING_UP_SKILLS = "SETTING_UP_SKILLS"
    STARTING_CONVERSATION = "STARTING_CONVERSATION"
    READY = "READY"
    ERROR = "ERROR"


# Known values become the enum; a value a newer server adds stays a plain string.
SandboxStatusValue = Annotated[SandboxStatus | str, Field(union_mode="left_to_right")]
ExecutionStatusValue = Annotated[ExecutionStatus | str, Field(union_mode="left_to_right")]
StartTaskStatusValue = Annotated[StartTaskStatus | str, Field(union_mode="left_to_right")]

_SANDBOX_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def conversation_id(value: str) -> str:
    """Normalise a conversation or start-task id to the server's dashless hex form."""
    try:
        return uuid.UUID(value.strip()).hex
    except (ValueError, AttributeError):
        raise InvalidRequest(
            f"{value!r} is not a conversation id.",
            hint="Conversation ids are 32 hex characters (dashes allowed).",
            resource="conversation",
        ) from None


def sandbox_id(value: str) -> str:
    """Check a sandbox id is a plain token, so it can never escape its URL segment."""
    if not _SANDBOX_ID.match(value):
        raise InvalidRequest(
            f"{value[:80]!r} is not a sandbox id.",
            hint="Sandbox ids are letters, digits, '.', '_' or '-'.",
            resource="sandbox",
        )
    return value


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


T = TypeVar("T")


class Page(Model, Generic[T]):
    items: list[T]
    next_page_id: str | None = None


class TokenUsage(Model):
    model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    context_window: int = 0


class Metrics(Model):
    model_name: str | None = None
    accumulated_cost: float = 0.0
    max_budget_per_task: float | None = None
    accumulated_token_usage: TokenUsage | None = None


def _hex_id(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return uuid.UUID(value).hex
        except ValueError:
            return value
    return value


def _remember(key: SecretStr | None) -> SecretStr | None:
    """A session key becomes known the moment it is read, so it is masked wherever it shows up later
    (the agent may print it long after its sandbox stopped reporting it)."""
    if key is not None:
        known.add(key.get_secret_value())
    return key


SessionKey = Annotated[SecretStr | None, AfterValidator(_remember)]


class AppConversation(Model):
    id: str
    sandbox_id: str
    title: str | None = None
    created_by_user_id: str | None = None
    selected_repository: str | None = None
    selected_branch: str | None = None
    git_provider: str | None = None
    trigger: str | None = None
    pr_number: list[int] = []
    llm_model: str | None = None
    agent_kind: str | None = None
    metrics: Metrics | None = None
    parent_conversation_id: str | None = None
    sub_conversation_ids: list[str] = []
    public: bool | None = None
    tags: dict[str, str] = {}
    created_at: datetime
    updated_at: datetime
    sandbox_status: SandboxStatusValue = SandboxStatus.MISSING
    execution_status: ExecutionStatusValue | None = None
    conversation_url: str | None = None
    session_api_key: SessionKey = None

    _normalise_id = field_validator("id", "parent_conversation_id", mode="before")(_hex_id)

    @property
    def secret_values(self) -> tuple[str, ...]:
        """Its sandbox's session key, the value to redact from anything read for it."""
        return (self.session_api_key.get_secret_value(),) if self.session_api_key else ()


class StartTask(Model):
    id: str
    status: StartTaskStatusValue
    detail: str | None = None
    app_conversation_id: str | None = None
    sandbox_id: str | None = None
    agent_server_url: str | None = None
    created_by_user_id: str | None = None
    request: dict[str, Any] | None = None  # the start request as OpenHands keeps it
    created_at: datetime
    updated_at: datetime

    _normalise_id = field_validator("id", "app_conversation_id", mode="before")(_hex_id)

    @property
    def started_without_message(self) -> bool:
        """Started idle, as a guarded start is: its task message goes out by send-message afterwards."""
        return self.request is not None and not self.request.get("initial_message")

    @property
    def finished(self) -> bool:
        return self.status in (StartTaskStatus.READY, StartTaskStatus.ERROR)


class ExposedUrl(Model):
    name: str
    url: str
    port: int | None = None


class Sandbox(Model):
    id: str
    sandbox_spec_id: str
    status: SandboxStatusValue
    created_by_user_id: str | None = None
    session_api_key: SessionKey = None
    exposed_urls: list[ExposedUrl] | None = None
    created_at: datetime


class SandboxSpec(Model):
    id: str
    command: list[str] | None = None
    created_at: datetime | None = None
    initial_env: dict[str, str] = {}
    working_dir: str | None = None


class Event(BaseModel):
    """An event as stored by the app server. Its body varies by `kind`, so extra fields are kept."""

    model_config = ConfigDict(extra="allow")

    id: str
    kind: str = "Event"
    source: str | None = None
    timestamp: str | None = None

    def field(self, name: str) -> Any:
        return (self.model_extra or {}).get(name)


class SendMessageResult(Model):
    success: bool
    sandbox_status: SandboxStatusValue | None = None
    message: str | None = None


class GitChange(Model):
    """One entry of git/changes: `path` is relative to the repository asked about."""

    status: str
    path: str


class GitDiff(Model):
    """A file's two full texts (final newline stripped); null for a file outside any repository."""

    original: str | None = None
    modified: str | None = None


class CommandResult(Model):
    """The agent server's answer to a shell command it ran to the end (or killed at its timeout: -1)."""

    exit_code: int | None = None
    stdout: str | None = None
    stderr: str | None = None


class AgentAnswer(Model):
    response: str


ConfirmPolicy = Literal["never", "risky", "always"]
# The agent server's confirmation policies. ConfirmRisky asks for actions rated HIGH, and for those
# whose risk is UNKNOWN (its confirm_unknown default).
CONFIRMATION_POLICIES: dict[str, dict[str, str]] = {
    "never": {"kind": "NeverConfirm"},
    "risky": {"kind": "ConfirmRisky", "threshold": "HIGH"},
    "always": {"kind": "AlwaysConfirm"},
}


class PendingAction(Model):
    """An action the agent waits to have confirmed: an ActionEvent with no observation, rejection or error."""

    id: str
    tool_call_id: str | None = None
    tool_name: str | None = None
    action: dict[str, Any] = {}
    security_risk: str | None = None
    summary: str | None = None


def pending_actions(newest_first: list[Event]) -> list[PendingAction]:
    """The actions still waiting for an answer, oldest first, as the agent server itself finds them
    (ConversationState.get_unmatched_actions): observations and rejections name their action_id,
    errors only the tool_call_id. Any page of the newest events holds an action's answers too."""
    answered: set[str] = set()
    pending: list[PendingAction] = []
    for event in newest_first:
        if event.kind in ("ObservationEvent", "UserRejectObservation"):
            answered.add(str(event.field("action_id")))
        elif event.kind == "AgentErrorEvent":
            answered.add(str(event.field("tool_call_id")))
        elif event.kind == "ActionEvent" and event.field("action") is not None:
            if event.id not in answered and event.field("tool_call_id") not in answered:
                pending.insert(0, PendingAction.model_validate(event.model_dump()))
    return pending


class TextContent(Model):
    type: Literal["text"] = "text"
    text: str


class ImageContent(Model):
    type: Literal["image"] = "image"
    image_urls: list[str]


class StartRequest(Model):
    """The fields of AppConversationStartRequest that oh-mcp sends."""

    initial_text: str | None = Field(default=None, description="None starts the agent idle, with no message.")
    image_urls: list[str] = []
    run: bool = True
    sandbox_id: str | None = None
    selected_repository: str | None = None
    selected_branch: str | None = None
    git_provider: str | None = None
    llm_model: str | None = None

    def body(self) -> dict[str, Any]:
        # initial_message.run defaults to false upstream: without run=true the agent never starts.
        body: dict[str, Any] = {}
        if self.initial_text is not None:
            content = message_content(self.initial_text, self.image_urls)
            body["initial_message"] = {"role": "user", "content": content, "run": self.run}
        optional = self.model_dump(
            include={"sandbox_id", "selected_repository", "selected_branch", "git_provider", "llm_model"},
            exclude_none=True,
        )
        return body | optional


def message_content(text: str, image_urls: list[str] | None = None) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = [TextContent(text=text).model_dump()]
    if image_urls:
        content.append(ImageContent(image_urls=image_urls).model_dump())
    return content

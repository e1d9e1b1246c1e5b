"""Argument shapes shared by several tools, so the model sees the same wording and bounds everywhere."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

HEX_ID_PATTERN = r"^[0-9a-fA-F-]{32,36}$"
SANDBOX_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
# A git ref reaches git as an argument: one starting with '-' would be read as an option.
GIT_REF_PATTERN = r"^[^-\s]\S*$"
# No description on the ids: their names say it, and every copy costs each session ~70 characters.
ConversationId = Annotated[str, Field(min_length=32, max_length=36, pattern=HEX_ID_PATTERN)]
TaskId = Annotated[
    str,
    Field(
        min_length=32,
        max_length=36,
        pattern=HEX_ID_PATTERN,
        description="From start_conversation.",
    ),
]
SandboxId = Annotated[str, Field(min_length=1, max_length=200, pattern=SANDBOX_ID_PATTERN)]
Limit = Annotated[int, Field(ge=1, le=100)]
# No description: every paged tool says "pass next_page_id as page_id" once, in its own words.
PageId = Annotated[str | None, Field(max_length=2000)]
# No description: the server's instructions say it once (keep waits under the client's timeout)
# instead of five tools repeating it in every session's tools/list.
WaitSeconds = Annotated[float, Field(ge=0, le=3600)]
DEFAULT_WAIT = 45.0  # seconds: returns before the common 60 s client timeout
Message = Annotated[str, Field(min_length=1, max_length=100_000)]
# OpenHands' ProviderType: anything else gets a 422 upstream, so it is refused here first.
GitProvider = Literal[
    "github", "gitlab", "bitbucket", "bitbucket_data_center", "forgejo", "azure_devops", "enterprise_sso"
]
# The agent server, which OpenHands copies its titles from, takes 1 to 200 characters.
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]

# OpenHands 1.11.0's `kind__eq` values for event search, and SecurityAnalysisEvent, which newer agent
# servers (1.58.2) write and newer app servers take (1.11.0 answers it with a 422). Checked
# here rather than listed in the schema, where 19 names would cost every session ~350 characters.
EVENT_KINDS = frozenset(
    {
        "ACPToolCallEvent",
        "ActionEvent",
        "AgentErrorEvent",
        "Condensation",
        "CondensationRequest",
        "CondensationSummaryEvent",
        "ConversationErrorEvent",
        "ConversationStateUpdateEvent",
        "HookExecutionEvent",
        "InterruptEvent",
        "LLMCompletionLogEvent",
        "MessageEvent",
        "ObservationEvent",
        "PauseEvent",
        "ServerErrorEvent",
        "StreamingDeltaEvent",
        "SystemPromptEvent",
        "TokenEvent",
        "UserRejectObservation",
    }
)
NEWER_EVENT_KINDS = frozenset({"SecurityAnalysisEvent"})  # beyond 1.11.0's list
EVENT_KINDS |= NEWER_EVENT_KINDS


def _known_kind(kind: str) -> str:
    if kind not in EVENT_KINDS:
        # Worded to follow the argument's name: "kind must be …" (tools/arguments.py).
        raise ValueError(f"must be one of {', '.join(sorted(EVENT_KINDS))}")
    return kind


EventKind = Annotated[
    str,
    AfterValidator(_known_kind),
    Field(max_length=64, description="MessageEvent, ActionEvent, ObservationEvent, AgentErrorEvent …"),
]
GitRef = Annotated[
    str, Field(max_length=200, pattern=GIT_REF_PATTERN, description="Compare with this commit or branch.")
]

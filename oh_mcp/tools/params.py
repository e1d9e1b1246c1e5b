"""Argument shapes shared by several tools, so the model sees the same wording and bounds everywhere."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

ConversationId = Annotated[
    str,
    Field(
        min_length=32,
        max_length=36,
        pattern=r"^[0-9a-fA-F-]{32,36}$",
        description="Conversation id (32 hex characters), as returned by list_conversations or start_conversation.",
    ),
]
TaskId = Annotated[
    str,
    Field(
        min_length=32,
        max_length=36,
        pattern=r"^[0-9a-fA-F-]{32,36}$",
        description="Start task id, as returned by start_conversation.",
    ),
]
SandboxId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Sandbox id, as returned by list_sandboxes or get_conversation.",
    ),
]
Limit = Annotated[int, Field(ge=1, le=100, description="Maximum items to return (1-100).")]
PageId = Annotated[
    str | None,
    Field(max_length=2000, description="next_page_id from the previous call; omit for the first page."),
]
WaitSeconds = Annotated[
    float,
    Field(
        ge=0,
        le=3600,
        description="Longest time to wait, in seconds. Keep it under the client's request timeout (often 60 s).",
    ),
]
Message = Annotated[str, Field(min_length=1, max_length=100_000, description="The message for the agent.")]

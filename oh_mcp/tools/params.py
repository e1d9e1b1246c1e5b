"""Argument shapes shared by several tools, so the model sees the same wording and bounds everywhere."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

ConversationId = Annotated[
    str,
    Field(
        min_length=32,
        max_length=36,
        pattern=r"^[0-9a-fA-F-]{32,36}$",
        description="From list_conversations or start_conversation.",
    ),
]
TaskId = Annotated[
    str,
    Field(
        min_length=32,
        max_length=36,
        pattern=r"^[0-9a-fA-F-]{32,36}$",
        description="From start_conversation.",
    ),
]
SandboxId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="From list_sandboxes or get_conversation.",
    ),
]
Limit = Annotated[int, Field(ge=1, le=100)]
PageId = Annotated[
    str | None,
    Field(max_length=2000, description="next_page_id of the previous page."),
]
WaitSeconds = Annotated[
    float,
    Field(
        ge=0,
        le=3600,
        description="Stay under the client's timeout (often 60).",
    ),
]
Message = Annotated[str, Field(min_length=1, max_length=100_000)]
# The agent server, which OpenHands copies its titles from, takes 1 to 200 characters.
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]

"""What an assistant can do next after an OpenHands error, in oh-mcp's tool words.

The client's errors state what happened in OpenHands' words (and which resource it was); this
table, keyed by error class, adds the step to take with oh-mcp's tools. The most specific class
wins. Tools and resources both word their errors through `for_model`.
"""

from __future__ import annotations

from collections.abc import Callable

from .openhands import Archived, InvalidRequest, NotFound, OpenHandsError, SandboxNotRunning, Unavailable
from .openhands.errors import RequestTimeout

Step = Callable[[OpenHandsError], str | None]

_LISTED_BY = {
    "conversation": "list_conversations shows the conversations that exist.",
    "sandbox": "list_sandboxes shows the sandboxes that exist.",
    "start task": "Use the task_id that start_conversation returned.",
}


def _not_found(exc: OpenHandsError) -> str | None:
    return _LISTED_BY.get(exc.resource or "")


def _unavailable(exc: OpenHandsError) -> str:
    return "Check it with get_sandbox." if exc.resource == "sandbox" else "Check the sandbox with get_sandbox."


def _timed_out(exc: OpenHandsError) -> str | None:
    sent = isinstance(exc, RequestTimeout) and exc.sent
    return "get_conversation and get_conversation_events show the current state." if sent else None


NEXT_STEPS: dict[type[OpenHandsError], Step] = {
    SandboxNotRunning: lambda _: "Resume it with resume_sandbox, or call send_message with auto_resume=true.",
    Archived: lambda _: "Start a new conversation with start_conversation.",
    Unavailable: _unavailable,
    NotFound: _not_found,
    InvalidRequest: _not_found,
    RequestTimeout: _timed_out,
}


def next_step(exc: OpenHandsError) -> str | None:
    for cls in type(exc).__mro__:
        step = NEXT_STEPS.get(cls)
        if step is not None:
            return step(exc)
    return None


def for_model(exc: OpenHandsError) -> str:
    """One paragraph an assistant can act on: what happened, OpenHands' hint, then the tool to use."""
    return " ".join(part for part in (exc.message, exc.hint, next_step(exc)) if part)

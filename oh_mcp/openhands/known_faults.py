"""Failures of OpenHands releases whose cause is known, recognised by what OpenHands says of them.

OpenHands passes on its agent server's failures as a bare status line, so without these a person
reads "500 for url …/api/conversations" and nothing about why."""

from __future__ import annotations

import re

# The start task's detail when the agent server refused to create the conversation itself:
# "Server error '500 Internal Server Error' for url 'http://localhost:8000/api/conversations'".
_AGENT_SERVER_REFUSED_START = re.compile(r"\b500\b.*/api/conversations(?![\w/-])", re.DOTALL)

CRYPTOGRAPHY_51 = (
    "On OpenHands 1.11 installed with pip or uv this is most often cryptography 51 or newer, which "
    "refuses the key its sandboxes encrypt secrets with (about three starts in four fail): install "
    "'cryptography<51' into OpenHands' own environment and restart it. The Docker image is not affected."
)


def start_failure_hint(detail: str | None) -> str | None:
    """The known cause of a start that ended in ERROR with this detail, if its words point to one."""
    if detail and _AGENT_SERVER_REFUSED_START.search(detail):
        return CRYPTOGRAPHY_51
    return None


def start_failure(detail: str | None) -> str:
    """How a failed start reads: OpenHands' words, then the known cause if there is one."""
    text = f"Starting the conversation failed: {detail or 'no detail given'}."
    hint = start_failure_hint(detail)
    return f"{text} {hint}" if hint else text

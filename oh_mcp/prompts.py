"""Prompts that show an assistant how to use the tools well."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server import MCPServer
from pydantic import Field


def register_prompts(server: MCPServer[Any]) -> None:
    @server.prompt(title="Delegate a task to OpenHands")
    def delegate_task(
        task: Annotated[str, Field(description="What the agent should do.")],
        repository: Annotated[str | None, Field(description="owner/repo to work in, if any.")] = None,
    ) -> str:
        """Hand a coding task to an OpenHands agent and report its result."""
        where = f" in the repository {repository}" if repository else ""
        return (
            f"Delegate this task to OpenHands{where}:\n\n{task}\n\n"
            "1. Call start_conversation with the task as the message"
            + (f" and repository={repository!r}" if repository else "")
            + ".\n2. Call wait_for_agent with the conversation_id until settled is true "
            "(call it again while the agent is still running).\n"
            "3. Report the final_response. If the agent asks a question or needs confirmation, "
            "answer with send_message and wait again.\n"
            "4. If something failed, read get_conversation_events to see why."
        )

    @server.prompt(title="Review an OpenHands conversation")
    def review_conversation(
        conversation_id: Annotated[str, Field(description="The conversation to review.")],
    ) -> str:
        """Summarise what an OpenHands agent did in a conversation and whether it succeeded."""
        return (
            f"Review the OpenHands conversation {conversation_id}.\n"
            "1. Call get_conversation for its status, repository and cost.\n"
            "2. Call get_conversation_events (newest_first=false) to read the steps; page with next_page_id.\n"
            "3. Call wait_for_agent with timeout_seconds=0 to read the final response.\n"
            "Then summarise: the goal, what the agent changed or ran, errors it met, whether it finished, "
            "and what a follow-up message should ask for."
        )

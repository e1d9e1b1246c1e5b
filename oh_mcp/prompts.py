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
        local_path: Annotated[str | None, Field(description="Your local checkout to work on, if any.")] = None,
    ) -> str:
        """Hand a coding task to an OpenHands agent and report its result."""
        where = (
            f" in the repository {repository}" if repository else f" on the checkout {local_path}" if local_path else ""
        )
        how = (
            f" and repository={repository!r}" if repository else f" and local_path={local_path!r}" if local_path else ""
        )
        home = (
            "5. Show the changes with get_changes(format='patch'); once the person agrees, apply_changes with the "
            "same local_path and its patch_digest brings them into the checkout as uncommitted edits.\n"
            if local_path
            else ""
        )
        return (
            f"Delegate this task to OpenHands{where}:\n\n{task}\n\n"
            "Where to work: local_path is the repository the person has open on this machine (their uncommitted "
            "edits go too; the agent's work comes back with get_changes, then apply_changes); repository is a "
            "hosted owner/repo that OpenHands clones.\n"
            f"1. Call start_conversation with the task as the message{how}"
            + ".\n2. Call wait_for_agent with the conversation_id until settled is true "
            "(call it again while the agent is still running).\n"
            "3. Report the final_response. If the agent asks a question or needs confirmation, "
            "answer with send_message and wait again.\n"
            "4. If something failed, read get_conversation_events to see why.\n" + home
        ).rstrip("\n")

    @server.prompt(title="Review an OpenHands conversation")
    def review_conversation(
        conversation_id: Annotated[str, Field(description="The conversation to review.")],
    ) -> str:
        """Review what an OpenHands agent did in a conversation: its answer, its changes and its steps."""
        return (
            f"Review the OpenHands conversation {conversation_id}.\n"
            "1. Call wait_for_agent with timeout_seconds=0 for its status and final response (the agent's own "
            "account).\n"
            "2. Call get_changes for the files it changed, with diffs; page with next_page_id, and pass path to see "
            "a skipped file (a lockfile, a long new file) in full. If the sandbox is paused, call again with "
            "auto_resume=true. read_file reads any other file of the workspace.\n"
            "3. Call get_conversation_events (newest_first=false) to read the steps it took and the commands it ran.\n"
            "Then report: the goal; whether the changes do what the answer claims (check the diffs, not the "
            "words); mistakes, risks and leftovers (debug code, unrelated edits, deleted files); errors it met; "
            "and what a follow-up message should ask for."
        )

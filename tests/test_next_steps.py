"""The MCP layer adds the next step in tool words to the client's facts, by error class."""

from __future__ import annotations

import httpx2
import pytest

from oh_mcp.next_steps import for_model
from oh_mcp.openhands import errors as e
from oh_mcp.openhands.models import conversation_id, sandbox_id


def test_a_paused_sandbox_says_which_tools_bring_it_back() -> None:
    error = e.error_from_response(httpx2.Response(409, json={"detail": "Sandbox is PAUSED."}), "Conversation c1")
    assert for_model(error) == (
        "Conversation c1: its sandbox is PAUSED (HTTP 409). It must be RUNNING for this. "
        "Resume it with resume_sandbox, or call send_message with auto_resume=true."
    )


@pytest.mark.parametrize(
    ("resource", "step"),
    [
        ("conversation", "list_conversations shows the conversations that exist."),
        ("sandbox", "list_sandboxes shows the sandboxes that exist."),
        ("start task", "Use the task_id that start_conversation returned."),
    ],
)
def test_a_missing_resource_points_at_the_tool_that_lists_it(resource: str, step: str) -> None:
    error = e.NotFound("X not found.", hint="Check the id.", resource=resource)
    assert for_model(error) == f"X not found. Check the id. {step}"


def test_a_missing_resource_of_no_known_kind_gets_only_the_clients_hint() -> None:
    error = e.error_from_response(httpx2.Response(404, json={"detail": "Not Found"}), "Thing t")
    assert for_model(error) == "Thing t not found (HTTP 404). Check the id; list the items to find valid ids."


def test_a_malformed_id_says_its_shape_and_where_valid_ones_are_listed() -> None:
    with pytest.raises(e.InvalidRequest) as bad_conversation:
        conversation_id("nope")
    assert for_model(bad_conversation.value).endswith(
        "Conversation ids are 32 hex characters (dashes allowed). "
        "list_conversations shows the conversations that exist."
    )
    with pytest.raises(e.InvalidRequest) as bad_sandbox:
        sandbox_id("../etc")
    assert for_model(bad_sandbox.value).endswith("list_sandboxes shows the sandboxes that exist.")


def test_an_archived_conversation_suggests_a_new_one() -> None:
    error = e.error_from_response(httpx2.Response(410, json={"detail": "gone"}), "Conversation c1")
    assert for_model(error).endswith(
        "Its sandbox is gone, so it can no longer run. Start a new conversation with start_conversation."
    )


def test_a_write_that_timed_out_names_the_tools_that_show_the_state() -> None:
    sent = e.error_from_transport(httpx2.ReadTimeout("slow"), "Conversation c", write=True)
    assert for_model(sent).endswith("get_conversation and get_conversation_events show the current state.")
    read = e.error_from_transport(httpx2.ReadTimeout("slow"), "Conversation c", write=False)
    assert for_model(read) == "OpenHands did not answer in time for Conversation c. Try again."


def test_an_unavailable_sandbox_points_at_get_sandbox() -> None:
    error = e.error_from_response(httpx2.Response(503, text="down"), "Sandbox s")
    assert "get_sandbox" in for_model(error)
    assert "get_sandbox" not in error.for_model()

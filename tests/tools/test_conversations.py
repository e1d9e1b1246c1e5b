"""Conversation tools through the in-memory MCP client against the fake OpenHands over loopback."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client

from tests.calls import error_text, eventually
from tests.calls import ok as call
from tests.fake.state import FakeOpenHands

pytestmark = pytest.mark.anyio

MISSING_ID = "0123456789abcdef0123456789abcdef"


async def test_list_conversations_pages_newest_first(fake: FakeOpenHands, mcp_client: Client) -> None:
    made = [fake.add_conversation(title=f"task {i}") for i in range(5)]
    first = await call(mcp_client, "list_conversations", {"limit": 2})
    assert [c["title"] for c in first["items"]] == ["task 4", "task 3"]
    assert first["next_page_id"]
    rest = await call(mcp_client, "list_conversations", {"limit": 100, "page_id": first["next_page_id"]})
    assert [c["title"] for c in rest["items"]] == ["task 2", "task 1", "task 0"]
    assert "next_page_id" not in rest, "the last page carries no cursor"
    assert {c["id"] for c in first["items"] + rest["items"]} == {m["id"] for m in made}


async def test_list_conversations_filters_by_title_and_sandbox(fake: FakeOpenHands, mcp_client: Client) -> None:
    fake.add_conversation(title="fix the login bug")
    other = fake.add_conversation(title="write docs")
    by_title = await call(mcp_client, "list_conversations", {"title_contains": "login"})
    assert [c["title"] for c in by_title["items"]] == ["fix the login bug"]
    by_sandbox = await call(mcp_client, "list_conversations", {"sandbox_id": other["sandbox_id"]})
    assert [c["id"] for c in by_sandbox["items"]] == [other["id"]]


async def test_list_conversations_refuses_a_limit_out_of_range_before_any_request(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    before = len(fake.requests)
    for limit in (0, 101, -5):
        text = await error_text(mcp_client, "list_conversations", {"limit": limit})
        assert text == f"Error executing tool list_conversations: limit must be between 1 and 100 (got {limit})."
    assert len(fake.requests) == before


async def test_get_conversation_shows_status_cost_and_never_the_session_key(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    conv = fake.add_conversation(title="t", repository="acme/app", branch="main")
    result = await mcp_client.call_tool("get_conversation", {"conversation_id": conv["id"]})
    data = result.structured_content
    assert data is not None
    assert data["title"] == "t" and data["repository"] == "acme/app" and data["branch"] == "main"
    assert data["sandbox_status"] == "RUNNING"
    assert data["execution_status"] == "idle"
    assert "cost_usd" in data and "tokens" in data
    key = fake.sandbox_key(conv["sandbox_id"])
    assert key and key not in str(result.content) and key not in str(data)


async def test_get_conversation_accepts_a_dashed_id(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation(title="dashed")
    hex_id = conv["id"]
    dashed = f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:]}"
    data = await call(mcp_client, "get_conversation", {"conversation_id": dashed})
    assert data["id"] == hex_id


async def test_an_unknown_conversation_is_a_tool_error_in_words(mcp_client: Client) -> None:
    cases: list[tuple[str, dict[str, Any]]] = [
        ("get_conversation", {}),
        ("send_message", {"message": "hi"}),
        ("wait_for_agent", {"timeout_seconds": 1}),
        ("get_conversation_events", {}),
        ("update_conversation", {"title": "x"}),
        ("delete_conversation", {}),
    ]
    for tool, extra in cases:
        text = await error_text(mcp_client, tool, {"conversation_id": MISSING_ID, **extra})
        assert f"Conversation {MISSING_ID} not found" in text, (tool, text)


async def test_start_conversation_waits_until_ready_with_progress_and_sets_the_title(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    seen: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message)

    result = await mcp_client.call_tool(
        "start_conversation",
        {"message": "add a README", "repository": "acme/app", "title": "Docs please"},
        progress_callback=on_progress,
    )
    data = result.structured_content
    assert data is not None and data["status"] == "READY", data
    conv_id = data["conversation_id"]
    assert conv_id and data["task_id"] and data["sandbox_id"]
    assert any(m and "READY" in m for m in seen), seen
    assert any(m and "WORKING" in m for m in seen), seen
    detail = await call(mcp_client, "get_conversation", {"conversation_id": conv_id})
    assert detail["title"] == "Docs please"
    assert detail["repository"] == "acme/app"
    assert fake.started_requests[-1]["initial_message"]["run"] is True


async def test_the_title_survives_openhands_auto_title(fake: FakeOpenHands, mcp_client: Client) -> None:
    # Like 1.11.0: shortly after the first message the app's title is overwritten with the agent
    # server's; oh-mcp sets the title there too, so the copy keeps it.
    fake.auto_title_seconds = 0.3
    data = await call(mcp_client, "start_conversation", {"message": "add a README", "title": "  Docs please "})
    await eventually(lambda: auto_titled(fake, data["conversation_id"]))
    detail = await call(mcp_client, "get_conversation", {"conversation_id": data["conversation_id"]})
    assert detail["title"] == "Docs please"


def auto_titled(fake: FakeOpenHands, conv_id: str) -> bool:
    rec = fake.conversation(conv_id)  # reading advances the fake's clock-driven state
    return rec is not None and rec.title_copy_at == float("inf")


def app_title_patches(fake: FakeOpenHands) -> list[str]:
    return [p for m, p, _ in fake.requests if m == "PATCH" and p.startswith("/api/v1/app-conversations/")]


async def test_a_title_put_back_by_a_stale_upstream_write_is_set_again(fake: FakeOpenHands, mcp_client: Client) -> None:
    fake.stale_title_write_seconds = 0.2
    data = await call(mcp_client, "start_conversation", {"message": "add a README", "title": "Docs please"})
    conv_id = data["conversation_id"]
    # The stale write lands at 0.2 s; oh-mcp checks every 0.02 s and sets the title once more.
    await eventually(lambda: len(app_title_patches(fake)) == 2)
    detail = await call(mcp_client, "get_conversation", {"conversation_id": conv_id})
    rec = fake.conversation(conv_id)
    assert rec is not None and rec.title_revert is None, "the stale write should have happened"
    assert detail["title"] == "Docs please"


async def test_a_second_rename_wins_without_the_first_one_fighting_back(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    conv = fake.add_conversation(title="old")
    await call(mcp_client, "update_conversation", {"conversation_id": conv["id"], "title": "first"})
    await call(mcp_client, "update_conversation", {"conversation_id": conv["id"], "title": "second"})
    await anyio.sleep(0.1)  # five of the holds' checks: time for the first one to fight back, if it would
    detail = await call(mcp_client, "get_conversation", {"conversation_id": conv["id"]})
    assert detail["title"] == "second"
    assert len(app_title_patches(fake)) == 2


async def test_a_title_someone_else_sets_later_is_left_alone(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation(title="old")
    await call(mcp_client, "update_conversation", {"conversation_id": conv["id"], "title": "from oh-mcp"})
    rec = fake.conversation(conv["id"])
    assert rec is not None
    rec.title = "renamed in the OpenHands UI"
    await anyio.sleep(0.1)  # five of the hold's checks: time to put its title back, if it would
    detail = await call(mcp_client, "get_conversation", {"conversation_id": conv["id"]})
    assert detail["title"] == "renamed in the OpenHands UI"


async def test_a_rename_before_auto_title_also_survives_it(fake: FakeOpenHands, mcp_client: Client) -> None:
    fake.auto_title_seconds = 0.3
    data = await call(mcp_client, "start_conversation", {"message": "add a README"})
    renamed = await call(
        mcp_client, "update_conversation", {"conversation_id": data["conversation_id"], "title": "Mine"}
    )
    assert renamed["title"] == "Mine"
    await eventually(lambda: auto_titled(fake, data["conversation_id"]))
    detail = await call(mcp_client, "get_conversation", {"conversation_id": data["conversation_id"]})
    assert detail["title"] == "Mine"


async def test_a_rename_of_a_paused_conversation_sets_the_app_title_only(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    conv = fake.add_conversation(title="old", sandbox_status="PAUSED")
    renamed = await call(mcp_client, "update_conversation", {"conversation_id": conv["id"], "title": "new"})
    rec = fake.conversation(conv["id"])
    assert renamed["title"] == "new" and rec is not None and rec.agent_title is None
    assert not [p for m, p, _ in fake.requests if m == "PATCH" and p.startswith("/agent/")]


async def test_an_unknown_git_provider_is_refused_before_any_request(fake: FakeOpenHands, mcp_client: Client) -> None:
    # Found by the property test: OpenHands takes only its ProviderType values (a 422 otherwise).
    text = await error_text(mcp_client, "start_conversation", {"message": "hi", "git_provider": "github.com"})
    assert text.startswith('Error executing tool start_conversation: git_provider must be one of "github", ')
    assert text.endswith(' or "enterprise_sso" (got "github.com").') and fake.started_requests == []
    data = await call(mcp_client, "start_conversation", {"message": "hi", "git_provider": "gitlab", "wait": False})
    assert data["task_id"] and fake.started_requests[-1]["git_provider"] == "gitlab"


@pytest.mark.parametrize(
    ("title", "why"),
    [("   ", "title must not be empty."), ("x" * 201, "title must be at most 200 characters long (got 201).")],
)
async def test_a_blank_or_overlong_title_is_refused_before_any_request(
    fake: FakeOpenHands, mcp_client: Client, title: str, why: str
) -> None:
    conv = fake.add_conversation(title="old")
    before = len(fake.requests)
    text = await error_text(mcp_client, "update_conversation", {"conversation_id": conv["id"], "title": title})
    assert text == f"Error executing tool update_conversation: {why}" and len(fake.requests) == before


async def test_start_conversation_that_outlives_its_wait_returns_the_task_to_follow(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    fake.start_task_step_seconds = 0.5
    data = await call(mcp_client, "start_conversation", {"message": "slow", "timeout_seconds": 0.2})
    assert data["status"] != "READY" and "conversation_id" not in data
    assert "get_start_task" in data["next_step"]
    with anyio.fail_after(10):
        while data["status"] != "READY":
            await anyio.sleep(0.1)
            data = await call(mcp_client, "get_start_task", {"task_id": data["task_id"]})
    assert data["conversation_id"]


async def test_start_conversation_without_wait_returns_at_once(fake: FakeOpenHands, mcp_client: Client) -> None:
    fake.start_task_step_seconds = 5
    with anyio.fail_after(3):
        data = await call(mcp_client, "start_conversation", {"message": "go", "wait": False})
    assert data["status"] == "WORKING"
    assert data["task_id"]


async def test_a_failed_start_is_a_tool_error_with_the_reason(fake: FakeOpenHands, mcp_client: Client) -> None:
    fake.fail_next_start("Sandbox not found")
    text = await error_text(mcp_client, "start_conversation", {"message": "go"})
    assert "Starting the conversation failed: Sandbox not found" in text


# What OpenHands 1.11.0 passes on when its agent server refuses the new conversation (issue 26).
AGENT_SERVER_500 = "Server error '500 Internal Server Error' for url 'http://localhost:20000/api/conversations'"


async def test_an_agent_server_500_on_start_names_the_known_cryptography_break(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    fake.fail_next_start(AGENT_SERVER_500)
    text = await error_text(mcp_client, "start_conversation", {"message": "go"})
    assert f"Starting the conversation failed: {AGENT_SERVER_500}." in text
    assert "cryptography<51" in text and "Docker image is not affected" in text


@pytest.mark.parametrize(
    "detail",
    [
        "Sandbox not found",
        "Server error '500 Internal Server Error' for url 'http://localhost:3000/api/v1/app-conversations'",
        "Server error '502 Bad Gateway' for url 'http://localhost:20000/api/conversations'",
        "Server error '500 Internal Server Error' for url 'http://localhost:20000/api/conversations/abc/events'",
    ],
)
async def test_other_start_failures_get_no_cryptography_advice(
    fake: FakeOpenHands, mcp_client: Client, detail: str
) -> None:
    fake.fail_next_start(detail)
    text = await error_text(mcp_client, "start_conversation", {"message": "go"})
    assert detail in text and "cryptography" not in text


async def test_get_start_task_for_an_unknown_task(mcp_client: Client) -> None:
    text = await error_text(mcp_client, "get_start_task", {"task_id": MISSING_ID})
    assert f"Start task {MISSING_ID} not found" in text


async def test_send_message_delivers_once_and_the_agent_answers(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation(title="t")
    sent = await call(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "token-42"})
    assert sent["delivered"] is True and sent["resumed_sandbox"] is False
    assert [d["text"] for d in fake.deliveries] == ["token-42"]
    state = await call(mcp_client, "wait_for_agent", {"conversation_id": conv["id"], "timeout_seconds": 10})
    assert state["settled"] is True
    assert state["execution_status"] == "finished"
    assert "token-42" in state["final_response"]


async def test_send_message_resumes_a_paused_sandbox_first(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation(title="t", sandbox_status="PAUSED")
    seen: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message)

    result = await mcp_client.call_tool(
        "send_message", {"conversation_id": conv["id"], "message": "again"}, progress_callback=on_progress
    )
    data = result.structured_content
    assert data is not None and data["delivered"] is True and data["resumed_sandbox"] is True
    assert "Resumed" in data["next_step"]
    assert any(m and "RUNNING" in m for m in seen), seen
    assert [d["text"] for d in fake.deliveries] == ["again"]


async def test_send_message_without_auto_resume_refuses_a_paused_sandbox(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    conv = fake.add_conversation(title="t", sandbox_status="PAUSED")
    text = await error_text(
        mcp_client, "send_message", {"conversation_id": conv["id"], "message": "x", "auto_resume": False}
    )
    assert "PAUSED" in text and "resume_sandbox" in text
    assert fake.deliveries == []


async def test_send_message_to_an_archived_conversation(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation(title="t", sandbox_status="MISSING")
    text = await error_text(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "x"})
    assert "archived" in text and "start_conversation" in text
    assert fake.deliveries == []


async def test_send_message_to_a_broken_sandbox(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation(title="t", sandbox_status="ERROR")
    text = await error_text(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "x"})
    assert "ERROR" in text
    assert fake.deliveries == []


@pytest.mark.parametrize(("status", "words"), [(410, "archived"), (503, "unavailable"), (404, "not found")])
async def test_send_message_upstream_errors_are_clear_and_not_retried(
    fake: FakeOpenHands, mcp_client: Client, status: int, words: str
) -> None:
    conv = fake.add_conversation(title="t")
    fake.inject("POST", r"/send-message$", status, {"detail": "injected"})
    text = await error_text(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "x"})
    assert words in text.lower()
    assert fake.deliveries == []
    assert sum(1 for r in fake.requests if r[0] == "POST" and r[1].endswith("/send-message")) == 1


async def test_send_message_rejects_an_empty_message_before_any_request(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    conv = fake.add_conversation(title="t")
    before = len(fake.requests)
    await error_text(mcp_client, "send_message", {"conversation_id": conv["id"], "message": ""})
    assert len(fake.requests) == before


async def test_wait_for_agent_that_runs_out_says_how_to_continue(fake: FakeOpenHands, mcp_client: Client) -> None:
    fake.agent_run_seconds = 30
    conv = fake.add_conversation(title="t")
    await call(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "long job"})
    ticks: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        ticks.append(progress)

    result = await mcp_client.call_tool(
        "wait_for_agent", {"conversation_id": conv["id"], "timeout_seconds": 0.5}, progress_callback=on_progress
    )
    data = result.structured_content
    assert data is not None and data["settled"] is False and data["execution_status"] == "running"
    assert "wait_for_agent again" in data["next_step"]
    assert len(ticks) >= 2


async def test_wait_for_agent_can_be_cancelled(fake: FakeOpenHands, mcp_client: Client) -> None:
    fake.agent_run_seconds = 30
    conv = fake.add_conversation(title="t")
    await call(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "long job"})
    polls_before = len(fake.requests)
    with anyio.move_on_after(0.3):
        await mcp_client.call_tool("wait_for_agent", {"conversation_id": conv["id"], "timeout_seconds": 20})
    await anyio.sleep(0.1)
    polls_after_cancel = len(fake.requests)
    await anyio.sleep(0.1)  # five poll intervals
    assert polls_after_cancel > polls_before
    assert len(fake.requests) == polls_after_cancel, "polling went on after the call was cancelled"


async def test_long_final_responses_are_windowed_with_an_offset(fake: FakeOpenHands, settings, client_factory) -> None:
    from mcp import Client as McpClient

    from oh_mcp import build_server

    small = settings.model_copy(update={"output_budget": 1000})
    conv = fake.add_conversation(title="t")
    text = "x" * 2500
    async with McpClient(build_server(small, client_factory=client_factory)) as client:
        await call(client, "send_message", {"conversation_id": conv["id"], "message": text})
        first = await call(client, "wait_for_agent", {"conversation_id": conv["id"], "timeout_seconds": 10})
        assert first["next_response_offset"] == 1000 and len(first["final_response"]) == 1000
        pieces = [first["final_response"]]
        offset = first["next_response_offset"]
        while offset is not None:
            more = await call(client, "wait_for_agent", {"conversation_id": conv["id"], "response_offset": offset})
            pieces.append(more["final_response"])
            offset = more.get("next_response_offset")
    assert "".join(pieces) == "Echo: " + text


async def test_events_are_compact_records_and_page_on(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation(title="t")
    await call(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "list files"})
    await call(mcp_client, "wait_for_agent", {"conversation_id": conv["id"], "timeout_seconds": 10})
    page = await call(mcp_client, "get_conversation_events", {"conversation_id": conv["id"], "limit": 2})
    assert len(page["events"]) == 2 and page["next_page_id"]
    everything = await call(
        mcp_client, "get_conversation_events", {"conversation_id": conv["id"], "newest_first": False, "limit": 100}
    )
    kinds = [e["kind"] for e in everything["events"]]
    assert "MessageEvent" in kinds and "ActionEvent" in kinds and "ObservationEvent" in kinds
    first = everything["events"][0]
    assert first["source"] == "user" and "list files" in first["text"]
    assert any("FinishAction" in e["text"] for e in everything["events"])
    assert all(set(e) <= {"id", "time", "source", "kind", "text", "is_error"} for e in everything["events"])


async def test_events_filter_by_kind(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation(title="t")
    await call(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "hello"})
    await call(mcp_client, "wait_for_agent", {"conversation_id": conv["id"], "timeout_seconds": 10})
    page = await call(mcp_client, "get_conversation_events", {"conversation_id": conv["id"], "kind": "MessageEvent"})
    assert page["events"] and {e["kind"] for e in page["events"]} == {"MessageEvent"}


async def test_events_over_the_budget_are_cut_with_a_cursor_that_reads_on(
    fake: FakeOpenHands, settings, client_factory
) -> None:
    from mcp import Client as McpClient

    from oh_mcp import build_server

    small = settings.model_copy(update={"output_budget": 1000})
    conv = fake.add_conversation(title="t")
    async with McpClient(build_server(small, client_factory=client_factory)) as client:
        for i in range(4):
            await call(client, "send_message", {"conversation_id": conv["id"], "message": f"{i}" * 900})
            await call(client, "wait_for_agent", {"conversation_id": conv["id"], "timeout_seconds": 10})
        seen: list[str] = []
        page_id = None
        for _ in range(50):
            args = {"conversation_id": conv["id"], "limit": 100, "newest_first": False}
            page = await call(client, "get_conversation_events", args | ({"page_id": page_id} if page_id else {}))
            assert sum(len(e["text"]) for e in page["events"]) <= 1000 + 1500
            seen += [e["id"] for e in page["events"]]
            page_id = page.get("next_page_id")
            if page_id is None:
                break
            assert page["truncated"] is True
    total = len(fake.events_of(conv["id"]))
    assert len(seen) == total and len(set(seen)) == total


async def test_a_foreign_page_id_is_a_clear_error(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation(title="t")
    text = await error_text(
        mcp_client, "get_conversation_events", {"conversation_id": conv["id"], "page_id": "ohc:!!!"}
    )
    assert "page_id" in text


async def test_update_and_delete_conversation(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation(title="old")
    renamed = await call(mcp_client, "update_conversation", {"conversation_id": conv["id"], "title": "new"})
    assert renamed["title"] == "new"
    deleted = await call(mcp_client, "delete_conversation", {"conversation_id": conv["id"]})
    assert deleted == {"deleted": True, "id": conv["id"]}
    text = await error_text(mcp_client, "get_conversation", {"conversation_id": conv["id"]})
    assert "not found" in text


ISSUE_MESSAGE = "Implement a token bucket limiter and an Authorization header check; the reply token: XY12 please"
FAKE_OPENAI_KEY = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"


async def test_the_agent_and_the_user_are_read_word_for_word_with_only_a_key_masked(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    conv = fake.add_conversation(title="t")
    message = f"{ISSUE_MESSAGE}; my key is {FAKE_OPENAI_KEY} (max_tokens: 4096, api_key=None)"
    masked = message.replace(FAKE_OPENAI_KEY, "***")
    await call(mcp_client, "send_message", {"conversation_id": conv["id"], "message": message})
    answer = await call(mcp_client, "wait_for_agent", {"conversation_id": conv["id"], "timeout_seconds": 10})
    assert answer["final_response"] == "Echo: " + masked
    events = await call(mcp_client, "get_conversation_events", {"conversation_id": conv["id"], "limit": 100})
    said = [e["text"] for e in events["events"] if e["kind"] == "MessageEvent" and e["source"] == "user"]
    assert said == [masked]
    finish = [e["text"] for e in events["events"] if e["text"].startswith("FinishAction")]
    assert finish == [f"FinishAction: Echo: {masked} (thought: Done.)"]
    assert FAKE_OPENAI_KEY not in str(answer) + str(events)


async def test_a_session_key_split_by_the_response_window_shows_in_neither_window(
    fake: FakeOpenHands, settings, client_factory
) -> None:
    from mcp import Client as McpClient

    from oh_mcp import build_server

    conv = fake.add_conversation(title="t")
    key = fake.sandbox_key(conv["sandbox_id"])
    # "Echo: " + 990 characters puts the key across the 1,000-character window boundary.
    message = "x" * 990 + key + " and the rest"
    async with McpClient(
        build_server(settings.model_copy(update={"output_budget": 1000}), client_factory=client_factory)
    ) as client:
        await call(client, "send_message", {"conversation_id": conv["id"], "message": message})
        first = await call(client, "wait_for_agent", {"conversation_id": conv["id"], "timeout_seconds": 10})
        offset = first["next_response_offset"]
        second = await call(client, "wait_for_agent", {"conversation_id": conv["id"], "response_offset": offset})
    windows = [first["final_response"], second["final_response"]]
    for part in windows:
        assert not any(key[i : i + 6] in part for i in range(len(key) - 5)), part
    assert "".join(windows) == "Echo: " + "x" * 990 + "*** and the rest"


async def test_a_sandbox_paused_between_the_read_and_the_send_is_resumed_and_sent_once(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    conv = fake.add_conversation(title="t")  # RUNNING when send_message reads it
    fake.inject("POST", r"/send-message$", 409, {"detail": "Sandbox is PAUSED. Use POST …/resume to resume it first."})
    sent = await call(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "raced"})
    assert sent["delivered"] is True and sent["resumed_sandbox"] is True
    assert [d["text"] for d in fake.deliveries] == ["raced"]
    posts = [p for m, p, _ in fake.requests if m == "POST"]
    assert posts == [
        f"/api/v1/app-conversations/{conv['id']}/send-message",
        f"/api/v1/sandboxes/{conv['sandbox_id']}/resume",
        f"/api/v1/app-conversations/{conv['id']}/send-message",
    ]


async def test_the_409_race_without_auto_resume_is_an_error_and_nothing_is_sent(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    conv = fake.add_conversation(title="t")
    fake.inject("POST", r"/send-message$", 409, {"detail": "Sandbox is PAUSED. Use POST …/resume to resume it first."})
    args = {"conversation_id": conv["id"], "message": "raced", "auto_resume": False}
    text = await error_text(mcp_client, "send_message", args)
    assert "its sandbox is PAUSED (HTTP 409)" in text
    assert fake.deliveries == [] and not [p for _, p, _ in fake.requests if p.endswith("/resume")]


async def test_a_message_sent_with_run_false_is_queued_and_the_agent_stays_idle(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    conv = fake.add_conversation(title="t")
    sent = await call(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "later", "run": False})
    assert sent["next_step"] == "Queued without running the agent."
    assert fake.deliveries == [{"conversation_id": conv["id"], "text": "later", "run": False}]
    detail = await call(mcp_client, "get_conversation", {"conversation_id": conv["id"]})
    assert detail["execution_status"] == "idle"


async def test_a_starting_sandbox_is_waited_for_without_a_resume(fake: FakeOpenHands, mcp_client: Client) -> None:
    fake.start_sandbox_seconds = 0.2
    conv = fake.add_conversation(title="t", sandbox_status="STARTING")
    sent = await call(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "soon"})
    assert sent["delivered"] is True and sent["resumed_sandbox"] is False
    assert sent["next_step"] == "Call wait_for_agent to get the agent's reply."
    assert not [p for _, p, _ in fake.requests if p.endswith("/resume")]


@pytest.mark.parametrize(
    ("ends_in", "words"), [("ERROR", "ended in status ERROR"), ("MISSING", "ended in status MISSING")]
)
async def test_a_sandbox_that_fails_while_resuming_is_an_error_and_nothing_is_sent(
    fake: FakeOpenHands, mcp_client: Client, ends_in: str, words: str
) -> None:
    conv = fake.add_conversation(title="t", sandbox_status="PAUSED")
    fake.sandbox_start_ends_in(conv["sandbox_id"], ends_in)
    text = await error_text(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "x"})
    assert words in text, text
    assert fake.deliveries == []


async def test_cost_and_tokens_are_reported_as_upstream_counts_them(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation(title="t")
    rec = fake.conversation(conv["id"])
    assert rec is not None
    rec.cost, rec.prompt_tokens, rec.completion_tokens = 0.4321, 1234, 56
    detail = await call(mcp_client, "get_conversation", {"conversation_id": conv["id"]})
    assert detail["cost_usd"] == 0.4321
    assert detail["tokens"] == {"prompt": 1234, "completion": 56}


async def test_failed_commands_and_error_events_are_marked_as_errors(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation(title="t")
    await call(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "run frobnicate"})
    await call(mcp_client, "wait_for_agent", {"conversation_id": conv["id"], "timeout_seconds": 10})
    page = await call(mcp_client, "get_conversation_events", {"conversation_id": conv["id"], "newest_first": False})
    errors = [(e["kind"], e["text"]) for e in page["events"] if e.get("is_error")]
    assert errors == [
        ("ObservationEvent", "bash: frobnicate: command not found"),
        ("AgentErrorEvent", "Tool call interrupted before completion: the command was killed."),
        ("ConversationErrorEvent", "The context window is full."),
    ]
    fine = [e for e in page["events"] if e["kind"] == "MessageEvent"]
    assert fine and not any(e.get("is_error") for e in fine)


async def test_a_send_refused_at_capacity_is_saved_and_its_retry_only_starts_the_agent(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    """Agent server 1.58.2 at its limit of running conversations saves the message, then answers 429."""
    busy, conv = fake.add_conversation(), fake.add_conversation()
    fake.agent_run_seconds = 60
    await call(mcp_client, "send_message", {"conversation_id": busy["id"], "message": "a long task"})
    fake.run_capacity, fake.agent_run_seconds = 1, 0.05
    text = await error_text(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "do X"})
    assert "was saved" in text and "Do not send it in other words" in text and "rate limit" not in text
    refused = await error_text(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "do X"})
    assert "was saved" in refused, "still at capacity: the saved message is not sent a second time"
    fake.run_capacity = None
    again = await call(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "do X"})
    assert "already saved (not sent again)" in again["next_step"]
    users = [e for e in fake.events_of(conv["id"]) if e["kind"] == "MessageEvent" and e["source"] == "user"]
    assert len(users) == 1, "the retry did not send the message a second time"
    done = await call(mcp_client, "wait_for_agent", {"conversation_id": conv["id"], "timeout_seconds": 5})
    assert done["final_response"] == "Echo: do X"

"""The OpenHands client against the fake over loopback HTTP: every call, the waits, errors, auth, secrets."""

from __future__ import annotations

import anyio
import httpx2
import pytest

from oh_mcp.openhands import (
    Archived,
    AuthFailed,
    InvalidRequest,
    NotFound,
    OpenHandsClient,
    RateLimited,
    SandboxNotRunning,
    ServerError,
    StartFailed,
    StartRequest,
    StartTask,
    Unavailable,
    WaitTimedOut,
)
from oh_mcp.openhands.errors import ConnectionFailed, RequestTimeout
from tests.fake.state import FakeOpenHands
from tests.openapi_contract import OpenAPIContract, contract_event_hooks

pytestmark = pytest.mark.anyio


async def test_search_conversations_pages_and_filters(fake: FakeOpenHands, oh: OpenHandsClient) -> None:
    for i in range(3):
        fake.add_conversation(title=f"job {i}")
    first = await oh.search_conversations(limit=2)
    assert [c.title for c in first.items] == ["job 2", "job 1"] and first.next_page_id
    second = await oh.search_conversations(limit=2, page_id=first.next_page_id)
    assert [c.title for c in second.items] == ["job 0"] and second.next_page_id is None
    assert [c.title for c in (await oh.search_conversations(title_contains="1")).items] == ["job 1"]


async def test_batch_get_returns_none_for_unknown_ids(fake: FakeOpenHands, oh: OpenHandsClient) -> None:
    conv = fake.add_conversation(title="x")
    found = await oh.get_conversations([conv["id"], "0" * 32])
    assert found[0] is not None and found[0].id == conv["id"] and found[1] is None
    with pytest.raises(NotFound, match="Conversation 0{32} not found"):
        await oh.get_conversation("0" * 32)


async def test_create_then_poll_the_start_task_reports_each_status_once(
    fake: FakeOpenHands, oh: OpenHandsClient
) -> None:
    task = await oh.start_conversation(StartRequest(initial_text="hello", selected_repository="a/b"))
    assert task.status == "WORKING" and task.app_conversation_id is None
    seen: list[str] = []

    async def on_change(t: StartTask) -> None:
        seen.append(str(t.status))

    ready = await oh.wait_for_start_task(task.id, timeout=10, on_change=on_change)
    assert ready.status == "READY" and ready.app_conversation_id
    assert seen[-1] == "READY" and len(seen) == len(set(seen))
    assert "WAITING_FOR_SANDBOX" in seen or "STARTING_CONVERSATION" in seen
    conversation = await oh.get_conversation(ready.app_conversation_id)
    assert conversation.selected_repository == "a/b"
    assert fake.started_requests[-1]["initial_message"]["run"] is True


async def test_the_start_poll_honours_its_deadline(fake: FakeOpenHands, oh: OpenHandsClient) -> None:
    fake.start_task_step_seconds = 10
    task = await oh.start_conversation(StartRequest(initial_text="slow"))
    with anyio.fail_after(5), pytest.raises(WaitTimedOut) as info:
        await oh.wait_for_start_task(task.id, timeout=0.3)
    assert isinstance(info.value.last, StartTask) and info.value.last.status == "WORKING"


async def test_the_start_poll_stops_when_cancelled(fake: FakeOpenHands, oh: OpenHandsClient) -> None:
    fake.start_task_step_seconds = 10
    task = await oh.start_conversation(StartRequest(initial_text="slow"))
    with anyio.move_on_after(0.3):
        await oh.wait_for_start_task(task.id, timeout=60)
    count = len(fake.requests)
    await anyio.sleep(0.1)  # five poll intervals
    assert len(fake.requests) == count


async def test_a_start_task_in_error_raises_with_its_detail(fake: FakeOpenHands, oh: OpenHandsClient) -> None:
    fake.fail_next_start("Git clone failed")
    task = await oh.start_conversation(StartRequest(initial_text="x"))
    with pytest.raises(StartFailed, match="Git clone failed"):
        await oh.wait_for_start_task(task.id, timeout=10)


async def test_update_delete_and_send_message(fake: FakeOpenHands, oh: OpenHandsClient) -> None:
    conv = fake.add_conversation(title="a")
    assert (await oh.update_conversation(conv["id"], title="b")).title == "b"
    sent = await oh.send_message(conv["id"], "hi", image_urls=["http://img/1.png"])
    assert sent.success and sent.sandbox_status == "RUNNING"
    assert fake.deliveries == [{"conversation_id": conv["id"], "text": "hi", "run": True}]
    await oh.delete_conversation(conv["id"])
    with pytest.raises(NotFound):
        await oh.delete_conversation(conv["id"])


async def test_send_message_errors_follow_the_sandbox_state(fake: FakeOpenHands, oh: OpenHandsClient) -> None:
    paused = fake.add_conversation(sandbox_status="PAUSED")
    with pytest.raises(SandboxNotRunning) as info:
        await oh.send_message(paused["id"], "x")
    assert info.value.sandbox_status == "PAUSED"
    with pytest.raises(Archived):
        await oh.send_message(fake.add_conversation(sandbox_status="MISSING")["id"], "x")
    with pytest.raises(Unavailable):
        await oh.send_message(fake.add_conversation(sandbox_status="ERROR")["id"], "x")
    assert fake.deliveries == []


async def test_events_search_orders_filters_and_pages(fake: FakeOpenHands, oh: OpenHandsClient) -> None:
    conv = fake.add_conversation()
    await oh.send_message(conv["id"], "first")
    await oh.wait_for_agent(conv["id"], timeout=10)
    oldest = await oh.search_events(conv["id"], newest_first=False, limit=100)
    newest = await oh.search_events(conv["id"], newest_first=True, limit=100)
    assert [e.id for e in oldest.items] == [e.id for e in reversed(newest.items)]
    assert oldest.items[0].kind == "MessageEvent"
    messages = await oh.search_events(conv["id"], kind="MessageEvent")
    assert {e.kind for e in messages.items} == {"MessageEvent"}
    page = await oh.search_events(conv["id"], limit=1)
    assert len(page.items) == 1 and page.next_page_id


async def test_sandbox_lifecycle(fake: FakeOpenHands, oh: OpenHandsClient) -> None:
    created = await oh.create_sandbox()
    running = await oh.wait_for_sandbox(created.id, timeout=10)
    assert running.status == "RUNNING" and running.session_api_key is not None
    await oh.pause_sandbox(created.id)
    paused = await oh.get_sandbox(created.id)
    assert paused.status == "PAUSED" and paused.session_api_key is None and paused.exposed_urls is None
    await oh.resume_sandbox(created.id)
    assert (await oh.wait_for_sandbox(created.id, timeout=10)).status == "RUNNING"
    assert [s.id for s in (await oh.search_sandboxes()).items] == [created.id]
    assert (await oh.get_sandboxes([created.id, "nope"]))[1] is None
    await oh.delete_sandbox(created.id)
    delete = [r for r in fake.requests if r[0] == "DELETE"][-1]
    assert delete[1] == f"/api/v1/sandboxes/{created.id}" and f"sandbox_id={created.id}" in delete[2]
    with pytest.raises(NotFound, match=f"Sandbox {created.id} not found"):
        await oh.get_sandbox(created.id)


async def test_create_sandbox_sends_the_spec_as_a_query_parameter(fake: FakeOpenHands, oh: OpenHandsClient) -> None:
    spec = fake.specs[0]["id"]
    await oh.create_sandbox(spec)
    post = [r for r in fake.requests if r[0] == "POST" and r[1] == "/api/v1/sandboxes"][-1]
    assert "sandbox_spec_id=" in post[2]


async def test_wait_for_sandbox_gives_up_at_the_deadline(fake: FakeOpenHands, oh: OpenHandsClient) -> None:
    sandbox = fake.add_sandbox(status="PAUSED")
    fake.sandbox_stuck_starting(sandbox["id"])
    await oh.resume_sandbox(sandbox["id"])
    with pytest.raises(WaitTimedOut):
        await oh.wait_for_sandbox(sandbox["id"], timeout=0.3)


async def test_specs_search_gives_each_spec_with_its_command(oh: OpenHandsClient) -> None:
    specs = await oh.search_sandbox_specs()
    assert specs.items and specs.items[0].command


async def test_final_response_comes_from_the_agent_server_with_the_sandbox_key(
    fake: FakeOpenHands, oh: OpenHandsClient
) -> None:
    conv = fake.add_conversation()
    await oh.send_message(conv["id"], "ping")
    done = await oh.wait_for_agent(conv["id"], timeout=10)
    assert done.execution_status == "finished"
    assert await oh.get_final_response(done) == "Echo: ping"
    agent_calls = [r for r in fake.requests if r[1].startswith("/agent/")]
    assert agent_calls, "the final response must be read from conversation_url"


async def test_final_response_is_none_while_the_sandbox_is_paused(fake: FakeOpenHands, oh: OpenHandsClient) -> None:
    conv = fake.add_conversation(sandbox_status="PAUSED")
    assert await oh.get_final_response(await oh.get_conversation(conv["id"])) is None


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, InvalidRequest),
        (401, AuthFailed),
        (404, NotFound),
        (409, SandboxNotRunning),
        (410, Archived),
        (422, InvalidRequest),
        (429, RateLimited),
        (500, ServerError),
        (502, Unavailable),
        (503, Unavailable),
    ],
)
async def test_each_status_becomes_its_error(
    fake: FakeOpenHands, oh: OpenHandsClient, status: int, error: type[Exception]
) -> None:
    conv = fake.add_conversation()
    body = (
        {"detail": [{"type": "missing", "loc": ["body", "content"], "msg": "Field required"}]}
        if status == 422
        else None
    )
    fake.inject("POST", "/send-message$", status, body or {"detail": "injected"})
    with pytest.raises(error):
        await oh.send_message(conv["id"], "x")


async def test_reads_retry_transient_failures_but_writes_never_do(fake: FakeOpenHands, oh: OpenHandsClient) -> None:
    fake.inject("GET", "/api/v1/sandboxes/search$", 503, {"detail": "busy"})
    assert (await oh.search_sandboxes()).items == []
    fake.inject("GET", "/api/v1/sandboxes/search$", 429, {"detail": "slow"}, headers={"Retry-After": "0"})
    assert (await oh.search_sandboxes()).items == []
    conv = fake.add_conversation()
    fake.inject("POST", "/send-message$", 503, {"detail": "busy"})
    with pytest.raises(Unavailable):
        await oh.send_message(conv["id"], "once")
    posts = [r for r in fake.requests if r[0] == "POST" and r[1].endswith("/send-message")]
    assert len(posts) == 1 and fake.deliveries == []


async def test_a_write_that_times_out_says_its_outcome_is_unknown(
    fake: FakeOpenHands, contract: OpenAPIContract
) -> None:
    conv = fake.add_conversation()
    fake.inject("POST", "/send-message$", None, delay=1.0)
    async with OpenHandsClient(fake.base_url, timeout=0.2, event_hooks=contract_event_hooks(contract)) as oh:
        with pytest.raises(RequestTimeout) as info:
            await oh.send_message(conv["id"], "slow")
    assert info.value.sent and "may or may not have been applied" in str(info.value)


async def test_an_unreachable_server_is_a_connection_error() -> None:
    async with OpenHandsClient("http://127.0.0.1:9", timeout=2, retries=0) as oh:
        with pytest.raises(ConnectionFailed, match="OPENHANDS_URL"):
            await oh.search_sandboxes()


async def test_a_body_that_is_not_json_is_a_server_error(fake: FakeOpenHands) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, text="<html>login page</html>")

    async with OpenHandsClient("http://oh.test", transport=httpx2.MockTransport(handler)) as oh:
        for read in (oh.search_sandboxes, oh.alive, oh.version, lambda: oh.pause_sandbox("sb-1")):
            with pytest.raises(ServerError, match=r"not JSON \(HTTP 200\)"):
                await read()


async def test_a_payload_of_the_wrong_shape_is_a_server_error() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"items": [{"id": 5}]})

    async with OpenHandsClient("http://oh.test", transport=httpx2.MockTransport(handler)) as oh:
        with pytest.raises(ServerError, match="cannot read"):
            await oh.search_sandboxes()


@pytest.mark.parametrize(
    "headers",
    [("x-session-api-key",), ("authorization",), ("authorization", "x-session-api-key")],
    ids=["local server", "bearer only", "cloud (bearer first)"],
)
async def test_the_key_is_sent_both_ways_and_a_wrong_key_is_an_auth_error(
    fake: FakeOpenHands, contract: OpenAPIContract, headers: tuple[str, ...]
) -> None:
    # The fake reads the key only from `headers`: a client that drops one of the two fails here.
    fake.key_headers = headers
    fake.session_api_key = "sk-local-123"
    hooks = contract_event_hooks(contract)
    async with OpenHandsClient(fake.base_url, api_key="sk-local-123", event_hooks=hooks) as oh:
        assert (await oh.search_sandboxes()).items == []
        assert "sk-local-123" not in repr(oh)
    assert fake.keys_seen[-1][2] == "sk-local-123"
    async with OpenHandsClient(fake.base_url, api_key="sk-wrong-999", event_hooks=hooks) as oh:
        with pytest.raises(AuthFailed, match="OPENHANDS_API_KEY") as info:
            await oh.search_sandboxes()
    assert "sk-wrong-999" not in str(info.value)


async def test_ids_are_checked_before_any_request(fake: FakeOpenHands, oh: OpenHandsClient) -> None:
    before = len(fake.requests)
    with pytest.raises(InvalidRequest):
        await oh.send_message("../../sandboxes", "x")
    with pytest.raises(InvalidRequest):
        await oh.pause_sandbox("a/../b")
    assert len(fake.requests) == before


async def test_a_sandbox_start_may_outlast_the_request_timeout_up_to_its_own_limit(
    fake: FakeOpenHands, contract: OpenAPIContract
) -> None:
    # Scaled down from the real thing: a start of ~13 s (up to 30 s) against a 30 s request timeout.
    fake.sandbox_start_blocks_seconds = 0.4
    hooks = contract_event_hooks(contract)
    async with OpenHandsClient(fake.base_url, timeout=0.2, sandbox_start_timeout=0.8, event_hooks=hooks) as oh:
        made = await oh.create_sandbox()
        await oh.pause_sandbox(made.id)
        await oh.resume_sandbox(made.id)
        assert (await oh.get_sandbox(made.id)).status in ("STARTING", "RUNNING")
        fake.sandbox_start_blocks_seconds = 1.2
        with pytest.raises(RequestTimeout) as info:
            await oh.create_sandbox()
    assert info.value.sent and "may or may not have been applied" in str(info.value)
    assert [p for m, p, _ in fake.requests if m == "POST"].count("/api/v1/sandboxes") == 2, "never retried"

"""Every tool that touches a conversation's agent server, when that server is out of reach or refuses
its session key: what the app server can answer still works, and the rest says what to fix."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from mcp import Client

from oh_mcp import Settings, build_server
from oh_mcp.doctor import diagnose
from oh_mcp.openhands import AgentServerUnreachable, AppConversation, AuthFailed, OpenHandsClient, OpenHandsError
from tests.calls import ok as call
from tests.fake.state import FakeOpenHands

pytestmark = pytest.mark.anyio

BROKEN = ["unreachable", "rejects_keys"]


def break_agent_server(fake: FakeOpenHands, how: str) -> None:
    if how == "unreachable":
        fake.agent_server_reachable = False
    else:
        fake.agent_server_rejects_keys = True


def agent_calls(fake: FakeOpenHands) -> list[tuple[str, str]]:
    return [(m, p) for m, p, _ in fake.requests if p.startswith("/agent/")]


@pytest.mark.parametrize("how", BROKEN)
async def test_wait_for_agent_reads_the_answer_from_stored_events(
    fake: FakeOpenHands, mcp_client: Client, how: str
) -> None:
    conv = fake.add_conversation()
    break_agent_server(fake, how)
    await call(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "ping"})
    state = await call(mcp_client, "wait_for_agent", {"conversation_id": conv["id"], "timeout_seconds": 10})
    assert state["settled"] is True and state["final_response"] == "Echo: ping"
    searched = [p for _, p, _ in fake.requests if p.endswith("/events/search")]
    assert searched, "the answer must come from the app server's stored events"
    # Unreachable: no request ever arrives; refused: the agent server was asked and said 401.
    # Progress lines also ask the agent server what the agent is doing; those reads fail quietly.
    final = ("GET", agent_path(conv, "/agent_final_response"))
    assert agent_calls(fake) == [] if how == "unreachable" else final in agent_calls(fake)


def agent_path(conv: dict[str, str], tail: str = "") -> str:
    return f"/agent/{conv['sandbox_id']}/api/conversations/{conv['id']}{tail}"


async def test_wait_for_agent_waits_for_events_the_webhook_stores_late(fake: FakeOpenHands, mcp_client: Client) -> None:
    # The agent's status is live, but its events reach the app server a moment later.
    conv = fake.add_conversation()
    fake.agent_server_reachable = False
    fake.event_lag_seconds = 0.4
    await call(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "late"})
    state = await call(mcp_client, "wait_for_agent", {"conversation_id": conv["id"], "timeout_seconds": 10})
    assert state["execution_status"] == "finished" and state["final_response"] == "Echo: late"


@pytest.mark.parametrize("how", BROKEN)
async def test_a_rename_still_sets_the_app_title(fake: FakeOpenHands, mcp_client: Client, how: str) -> None:
    conv = fake.add_conversation(title="old")
    break_agent_server(fake, how)
    renamed = await call(mcp_client, "update_conversation", {"conversation_id": conv["id"], "title": "new"})
    rec = fake.conversation(conv["id"])
    assert renamed["title"] == "new" and rec is not None and rec.title == "new"
    assert rec.agent_title is None, "the agent server was out of reach or refused"


@pytest.mark.parametrize("how", BROKEN)
async def test_a_start_with_a_title_is_ready_and_titled(fake: FakeOpenHands, mcp_client: Client, how: str) -> None:
    break_agent_server(fake, how)
    started = await call(mcp_client, "start_conversation", {"message": "hello", "title": "Mine"})
    assert started["status"] == "READY"
    detail = await call(mcp_client, "get_conversation", {"conversation_id": started["conversation_id"]})
    assert detail["title"] == "Mine"


async def final_response_error(
    fake: FakeOpenHands, oh: OpenHandsClient, how: str
) -> tuple[dict[str, str], AppConversation, OpenHandsError]:
    conv = fake.add_conversation()
    break_agent_server(fake, how)
    conversation = await oh.get_conversation(conv["id"])
    with pytest.raises(OpenHandsError) as info:
        await oh.get_final_response(conversation)
    return conv, conversation, info.value


async def test_the_client_names_the_agent_server_address_it_tried_and_why(
    fake: FakeOpenHands, oh: OpenHandsClient
) -> None:
    conv, conversation, error = await final_response_error(fake, oh, "unreachable")
    assert isinstance(error, AgentServerUnreachable)
    tried = f"{conversation.conversation_url}/agent_final_response"
    assert tried.startswith("http://127.0.0.9:") and error.url == tried
    assert error.reason == "connection refused"
    text = str(error)
    assert f"Could not reach the agent server of conversation {conv['id']} at {tried}" in text
    assert "OH_MCP_AGENT_SERVER_URL" in text and "OPENHANDS_URL" not in text


async def test_a_refused_session_key_is_blamed_on_the_agent_server_not_the_api_key(
    fake: FakeOpenHands, oh: OpenHandsClient
) -> None:
    conv, _, error = await final_response_error(fake, oh, "rejects_keys")
    assert isinstance(error, AuthFailed)
    text = str(error)
    assert "agent server" in text and "session key" in text and "OPENHANDS_API_KEY" not in text
    assert fake.sandbox_key(conv["sandbox_id"]) not in text


@pytest.fixture
async def redirected(fake: FakeOpenHands, settings: Settings, client_factory) -> AsyncIterator[Client]:
    """oh-mcp told where agent servers really are: the reported port on the address the fake listens on."""
    fixed = settings.model_copy(update={"agent_server_url": "http://127.0.0.1:{port}"})
    async with Client(build_server(fixed, client_factory=client_factory), raise_exceptions=True) as client:
        yield client


async def test_agent_server_url_leads_to_the_agent_server(fake: FakeOpenHands, redirected: Client) -> None:
    conv = fake.add_conversation(title="old")
    fake.agent_server_reachable = False
    await call(redirected, "update_conversation", {"conversation_id": conv["id"], "title": "new"})
    await call(redirected, "send_message", {"conversation_id": conv["id"], "message": "ping"})
    state = await call(redirected, "wait_for_agent", {"conversation_id": conv["id"], "timeout_seconds": 10})
    assert state["final_response"] == "Echo: ping"
    rec = fake.conversation(conv["id"])
    assert rec is not None and rec.agent_title == "new", "the title reached the agent server"
    assert ("GET", agent_path(conv, "/agent_final_response")) in agent_calls(fake)


@pytest.mark.parametrize(
    ("template", "reported", "expected"),
    [
        ("http://openhands:{port}", "http://localhost:38101/api/conversations/c1", "http://openhands:38101"),
        ("https://{host}.example:{port}/x/", "http://box:80/api/conversations/c1", "https://box.example:80/x"),
        ("http://agents", "http://localhost/api/conversations/c1", "http://agents"),
        ("{scheme}://gw:{port}", "https://localhost/api/conversations/c1", "https://gw:443"),
    ],
)
def test_the_template_replaces_scheme_host_and_port_and_keeps_the_path(
    template: str, reported: str, expected: str
) -> None:
    client = OpenHandsClient(agent_server_url=template)
    assert client.agent_url(reported) == expected + "/api/conversations/c1"
    assert OpenHandsClient().agent_url(reported + "/") == reported, "no template: used as reported"


async def test_doctor_reports_an_unreachable_agent_server_and_the_fix(
    fake: FakeOpenHands, settings: Settings, client_factory
) -> None:
    fake.add_conversation()
    fake.add_conversation(sandbox_status="PAUSED")
    fake.agent_server_reachable = False
    async with client_factory(settings) as client:
        report = await diagnose(settings, client)
    check = next(c for c in report.checks if c.name == "agent servers")
    assert not check.ok and not report.healthy
    assert "Could not reach the agent server" in check.detail and "127.0.0.9" in check.detail
    assert check.fix is not None and "OH_MCP_AGENT_SERVER_URL" in check.fix


async def test_doctor_checks_agent_servers_at_the_configured_address(
    fake: FakeOpenHands, settings: Settings, client_factory
) -> None:
    fake.add_conversation()
    fake.agent_server_reachable = False
    fixed = settings.model_copy(update={"agent_server_url": "http://127.0.0.1:{port}"})
    async with client_factory(fixed) as client:
        report = await diagnose(fixed, client)
    check = next(c for c in report.checks if c.name == "agent servers")
    assert check.ok, check
    assert check.detail.startswith("reached 1, e.g. http://127.0.0.1:")


async def test_status_and_events_come_from_the_app_server_alone(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation(title="t")
    fake.agent_server_reachable = False
    fake.agent_server_rejects_keys = True
    args = {"conversation_id": conv["id"]}
    assert (await call(mcp_client, "get_conversation", args))["execution_status"] == "idle"
    assert [c["id"] for c in (await call(mcp_client, "list_conversations", {}))["items"]] == [conv["id"]]
    await call(mcp_client, "send_message", args | {"message": "hi"})
    assert (await call(mcp_client, "get_conversation_events", args))["events"]
    assert agent_calls(fake) == [], "none of these needs the agent server"

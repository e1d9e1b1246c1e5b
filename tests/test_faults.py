"""Fault injection against the fake: every failure gives a clear error or a correct success, the
server keeps serving, nothing leaks, and a message is delivered at most once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from mcp import Client

from oh_mcp import Settings, build_server
from oh_mcp.openhands import OpenHandsClient
from oh_mcp.openhands.transport import POOL_SIZE
from oh_mcp.runtime import client_for
from tests.fake.server import free_port, serve_fake
from tests.fake.state import FakeOpenHands
from tests.openapi_contract import OpenAPIContract, contract_event_hooks

pytestmark = pytest.mark.anyio

SEARCH = r"/api/v1/sandboxes/search$"
SEND = r"/send-message$"


@pytest.fixture
async def made(settings: Settings, contract: OpenAPIContract) -> AsyncIterator[tuple[Client, list[OpenHandsClient]]]:
    """An MCP client plus the OpenHands clients its server made, to inspect their pools."""
    clients: list[OpenHandsClient] = []

    def factory(s: Settings) -> OpenHandsClient:
        client = client_for(
            s,
            timeout=1.0,
            poll_interval=0.02,
            retries=2,
            # Injected faults break the contract on purpose and are marked so; all else is checked.
            event_hooks=contract_event_hooks(contract),
        )
        clients.append(client)
        return client

    async with Client(build_server(settings, client_factory=factory)) as mcp:
        yield mcp, clients


async def call(client: Client, tool: str, args: dict[str, Any] | None = None) -> tuple[bool, str]:
    result = await client.call_tool(tool, args or {})
    text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
    assert "Traceback" not in text and "internal error" not in text, text
    return result.is_error, text


FAULTS: list[tuple[str, dict[str, Any], bool, str]] = [
    # (name, injection, recovers by retry, words the error must hold when it does not)
    ("latency spike", {"status": None, "delay": 0.4}, True, ""),
    ("500", {"status": 500, "body": {"detail": "boom"}}, False, "failed on sandboxes (HTTP 500)"),
    ("502", {"status": 502}, True, "unavailable (HTTP 502)"),
    ("503", {"status": 503}, True, "unavailable (HTTP 503)"),
    ("504", {"status": 504}, True, "unavailable (HTTP 504)"),
    ("429", {"status": 429, "headers": {"Retry-After": "0.1"}}, True, "rate limiting"),
    ("reset", {"status": 200, "mode": "reset"}, True, "connection to OpenHands failed"),
    ("truncated body", {"status": 200, "mode": "truncate"}, True, "connection to OpenHands failed"),
    ("non-JSON page", {"status": 200, "mode": "raw", "body": "<html>login</html>"}, False, "not JSON"),
    ("error page as HTML", {"status": 502, "mode": "raw", "body": "<html>bad gateway</html>"}, True, "HTTP 502"),
    ("hang", {"status": 200, "delay": 3.0}, False, "did not answer in time"),
]


@pytest.mark.parametrize(("name", "injection", "recovers", "words"), FAULTS, ids=[f[0] for f in FAULTS])
async def test_a_read_survives_each_fault(
    fake: FakeOpenHands,
    made: tuple[Client, list[OpenHandsClient]],
    name: str,
    injection: dict[str, Any],
    recovers: bool,
    words: str,
) -> None:
    client, oh_clients = made
    tasks_before = len(asyncio.all_tasks())
    fake.inject("GET", SEARCH, times=1, **injection)
    failed, text = await call(client, "list_sandboxes")
    if recovers:
        assert not failed, text
    else:
        assert failed and words in text, text
    # A fault that outlasts every retry is a clear error too.
    fake.inject("GET", SEARCH, times=10, **injection)
    failed, text = await call(client, "list_sandboxes")
    if words and name != "latency spike":
        assert failed and words in text, text
    fake.inject("GET", SEARCH, times=0, status=None)
    fake.clear_injections()
    assert await call(client, "list_sandboxes") == (False, '{"items":[]}'), "the next call must work"
    await anyio.sleep(0.05)
    assert len(asyncio.all_tasks()) <= tasks_before + 1
    assert _pool_size(oh_clients[0]) <= POOL_SIZE


def _pool_size(client: OpenHandsClient) -> int:
    # Reads httpx's private pool on purpose: the one way to count the upstream connections held.
    pool = client._http._transport._pool  # type: ignore[attr-defined]
    return len(pool.connections)


@pytest.mark.parametrize(
    "injection",
    [
        {"status": 503},
        {"status": 502},
        {"status": 429},
        {"status": 200, "mode": "reset"},
        {"status": 200, "mode": "truncate"},
    ],
    ids=["503", "502", "429", "reset", "truncated"],
)
async def test_a_message_is_never_sent_twice(
    fake: FakeOpenHands, made: tuple[Client, list[OpenHandsClient]], injection: dict[str, Any]
) -> None:
    client, _ = made
    conv = fake.add_conversation()
    fake.inject("POST", SEND, **injection)
    failed, text = await call(client, "send_message", {"conversation_id": conv["id"], "message": "once"})
    assert failed, text
    posts = [r for r in fake.requests if r[0] == "POST" and r[1].endswith("/send-message")]
    assert len(posts) == 1 and len(fake.deliveries) <= 1
    failed, _ = await call(client, "send_message", {"conversation_id": conv["id"], "message": "next"})
    assert not failed and [d["text"] for d in fake.deliveries][-1] == "next"


async def test_a_write_that_times_out_says_the_outcome_is_unknown_and_lands_once(
    fake: FakeOpenHands, made: tuple[Client, list[OpenHandsClient]]
) -> None:
    client, _ = made
    conv = fake.add_conversation()
    fake.inject("POST", SEND, None, delay=1.5, mode="late")  # delivered at once, answered after the 1 s timeout
    with anyio.fail_after(10):
        failed, text = await call(client, "send_message", {"conversation_id": conv["id"], "message": "slow one"})
    assert failed and "may or may not have been applied" in text and "events" in text
    # The handler ran before its answer was held back, and a write that timed out is never retried.
    assert [d["text"] for d in fake.deliveries] == ["slow one"]
    assert [p for m, p, _ in fake.requests if m == "POST"] == [f"/api/v1/app-conversations/{conv['id']}/send-message"]


async def test_a_request_that_hangs_is_cut_at_the_request_timeout(fake: FakeOpenHands, settings: Settings) -> None:
    fake.inject("GET", r"/api/v1/app-conversations$", None, delay=30, times=10)
    conv = fake.add_conversation()
    fast = settings.model_copy(update={"timeout": 0.3})
    async with Client(build_server(fast)) as client:
        with anyio.fail_after(10):
            failed, text = await call(client, "get_conversation", {"conversation_id": conv["id"]})
    assert failed and "did not answer in time" in text


class TightBudget(Settings):
    """A whole-call budget far below the request timeout, so only the budget can end the call."""

    @property
    def call_budget(self) -> float:
        return 0.3


async def test_a_whole_tool_call_is_bounded_by_its_budget(fake: FakeOpenHands) -> None:
    # Each request answers within its 5 s timeout; the call as a whole outlasts its budget.
    fake.inject("GET", r"/api/v1/app-conversations$", None, delay=0.6, times=10)
    conv = fake.add_conversation()
    tight = TightBudget(openhands_url=fake.base_url, timeout=5, poll_interval=0.02)
    async with Client(build_server(tight)) as client:
        with anyio.fail_after(3):
            failed, text = await call(client, "get_conversation", {"conversation_id": conv["id"]})
    assert failed and "get_conversation did not finish within 0.3 s" in text, text
    assert "may or may not have happened" in text


async def test_an_upstream_that_goes_away_and_comes_back(settings: Settings, contract: OpenAPIContract) -> None:
    fake = FakeOpenHands()
    port = free_port()
    with serve_fake(fake, port) as url:
        moving = settings.model_copy(update={"openhands_url": url})
        async with Client(build_server(moving)) as client:
            assert (await call(client, "list_sandbox_specs"))[0] is False
            with serve_fake(FakeOpenHands(), free_port()):
                pass
    async with Client(build_server(moving)) as client:
        failed, text = await call(client, "list_sandbox_specs")
        assert failed and "Could not connect to OpenHands" in text
        with serve_fake(fake, port):
            assert (await call(client, "list_sandbox_specs"))[0] is False

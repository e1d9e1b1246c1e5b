"""A hosted server's secrets, per caller: what one caller sends as its OpenHands key is a secret of
that caller's requests alone. It must never change what another caller receives, nor push the
configured key or a sandbox's key out of what is masked."""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx
import pytest
from mcp import Client

from oh_mcp.config import Settings
from oh_mcp.http import transport_security
from oh_mcp.shaping import EVENT_TEXT_LIMIT
from tests.calls import ok
from tests.fake.state import FakeOpenHands, _message_event
from tests.test_http import TOKEN, hosted

pytestmark = pytest.mark.anyio

# Protocol 2025-06-18 needs no handshake on a stateless server: every POST stands alone.
HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Authorization": f"Bearer {TOKEN}",
    "MCP-Protocol-Version": "2025-06-18",
}
# Results full of "e": in protocol fields (type, mimeType, uri), ids and words.
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("tools/call", {"name": "list_conversations", "arguments": {}}),
    ("tools/call", {"name": "list_sandbox_specs", "arguments": {}}),
    ("tools/call", {"name": "get_conversation", "arguments": {"conversation_id": "not-an-id"}}),
    ("resources/read", {"uri": "openhands://sandbox-specs"}),
]


async def rpc(http: httpx.AsyncClient, url: str, method: str, params: dict[str, Any], key: str | None = None) -> bytes:
    headers = HEADERS | ({"X-OpenHands-API-Key": key} if key is not None else {})
    body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": params}
    answer = await http.post(url, json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.content


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_one_callers_one_letter_key_changes_nothing_another_caller_receives(
    fake: FakeOpenHands, workers: str
) -> None:
    fake.add_conversation(title="review the tests")
    args = ("--transport", "streamable-http", "--stateless", "--workers", workers)
    with hosted(fake, *args, OH_MCP_AUTH_TOKEN=TOKEN) as server:
        url = server.base + "/mcp"
        # No keep-alive: with two workers, each POST may land on either.
        async with httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0), timeout=30) as http:
            before = [await rpc(http, url, method, params) for method, params in CALLS]
            hostile = [await rpc(http, url, method, params, key="e") for method, params in CALLS * 3]
            after = [await rpc(http, url, method, params) for method, params in CALLS]
    assert after == before, "another caller's results changed after one caller sent the key 'e'"
    listed = json.loads(hostile[0])["result"]
    # The caller's own results stay readable: protocol fields untouched, words untouched.
    assert listed["content"][0]["type"] == "text"
    assert listed["structuredContent"]["items"][0]["title"] == "review the tests"
    spec = json.loads(hostile[3])["result"]["contents"][0]
    assert spec["uri"] == "openhands://sandbox-specs" and spec["mimeType"] == "application/json"
    assert "***" not in hostile[0].decode()


async def test_a_callers_key_is_masked_in_its_own_first_result_even_before_any_call_uses_it(
    fake: FakeOpenHands,
) -> None:
    key = "caller-key-3f9a71c2d8e4b6a0"
    args = ("--transport", "streamable-http", "--stateless")
    with hosted(fake, *args, OH_MCP_AUTH_TOKEN=TOKEN) as server:
        url = server.base + "/mcp"
        async with httpx.AsyncClient(timeout=30) as http:
            # A bad id is refused before any request to OpenHands; its error quotes the argument.
            params = {"name": "list_conversations", "arguments": {"limit": key}}
            own = await rpc(http, url, "tools/call", params, key=key)
            other = await rpc(http, url, "tools/call", params)
        logs = server.stderr()
    assert key not in own.decode() and "***" in own.decode()
    assert key in other.decode(), "a caller's key is a secret of that caller's requests only"
    assert key not in logs


async def test_a_thousand_junk_keys_never_push_out_the_configured_or_a_sandbox_key(fake: FakeOpenHands) -> None:
    configured = "configured-key-5b1d0e9f7a3c"
    conv = fake.add_conversation(title="before")
    # Not in a well-known token format: only remembering it can mask it.
    sandbox_key = fake.sandboxes[conv["sandbox_id"]].key = "sbx" + secrets.token_hex(12)
    fake.user_keys = {configured}
    args = ("--transport", "streamable-http", "--stateless", "--forward-user-key")
    with hosted(fake, *args, OH_MCP_AUTH_TOKEN=TOKEN, OPENHANDS_API_KEY=configured) as server:
        url = server.base + "/mcp"
        async with httpx.AsyncClient(timeout=30) as http:
            listing = {"name": "list_conversations", "arguments": {}}
            await rpc(http, url, "tools/call", listing)  # oh-mcp reads the sandbox's key here
            fake.set_sandbox_status(conv["sandbox_id"], "PAUSED")  # and OpenHands reports it no more
            for i in range(1024):
                await rpc(http, url, "tools/call", {"name": "list_sandbox_specs", "arguments": {}}, key=f"junk-{i}")
            # Another conversation shows them: only what the process remembers can mask them there.
            other = fake.conversation(fake.add_conversation(title="x")["id"])
            assert other is not None
            other.title = f"keys {configured} and {sandbox_key}"
            shown = (await rpc(http, url, "tools/call", listing)).decode()
    assert configured not in shown and sandbox_key not in shown
    assert "keys *** and ***" in shown


async def test_a_key_straddling_the_event_text_cut_shows_none_of_its_characters(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    conv = fake.add_conversation()
    key = fake.sandboxes[conv["sandbox_id"]].key = "sbx" + secrets.token_hex(12)
    rec = fake.conversation(conv["id"])
    assert rec is not None
    # Events are cut at 1,500 characters: the key starts just before the cut.
    rec.events.append(_message_event("agent", "x" * (EVENT_TEXT_LIMIT - 8) + key + " tail"))
    listed = await ok(mcp_client, "get_conversation_events", {"conversation_id": conv["id"], "limit": 5})
    text = json.dumps(listed)
    assert "x" * 100 in text, "the event is listed"
    assert not any(key[i : i + 6] in text for i in range(len(key) - 5)), "part of the key shows"


@pytest.mark.parametrize(
    ("bind", "allowed", "checked"),
    [("127.0.0.1", (), True), ("localhost", (), True), ("0.0.0.0", (), False), ("0.0.0.0", ("a.example",), True)],
)
def test_the_host_check_is_on_for_loopback_binds_and_for_named_hosts(
    bind: str, allowed: tuple[str, ...], checked: bool
) -> None:
    # A public bind without names sits behind a proxy that owns the Host header; a loopback bind
    # must refuse foreign Host headers (DNS rebinding from a web page).
    settings = Settings(host=bind, allowed_hosts=allowed, transport="streamable-http")
    security = transport_security(settings)
    assert (security is not None and security.enable_dns_rebinding_protection) == checked


async def test_a_loopback_server_refuses_a_foreign_host_header_without_any_setting(fake: FakeOpenHands) -> None:
    with hosted(fake, "--transport", "streamable-http", "--stateless") as server:
        async with httpx.AsyncClient(timeout=30) as http:
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
            headers = HEADERS | {"Host": "evil.example"}
            evil = await http.post(server.base + "/mcp", json=body, headers=headers)
            local = await http.post(server.base + "/mcp", json=body, headers=HEADERS)
    assert evil.status_code == 421 and local.status_code == 200

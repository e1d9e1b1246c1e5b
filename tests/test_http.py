"""oh-mcp hosted over HTTP: the real server process on an ephemeral loopback port, driven by the
SDK client, raw HTTP and the MCP Inspector."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from sse_starlette.sse import AppStatus
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from oh_mcp.http import Drain
from tests.calls import ALL_TOOLS, eventually, ok
from tests.fake.server import free_port
from tests.fake.state import FakeOpenHands

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "oh-mcp-test-token-8f2c"


class Hosted:
    def __init__(self, proc: subprocess.Popen[str], port: int, stderr: Any) -> None:
        self.proc, self.port, self._stderr = proc, port, stderr
        self.base = f"http://127.0.0.1:{port}"

    def stderr(self) -> str:
        self._stderr.seek(0)
        return str(self._stderr.read())


def env_for(fake: FakeOpenHands, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OH_MCP_", "OPENHANDS_"))}
    return base | {"OPENHANDS_URL": fake.base_url, "OH_MCP_POLL_INTERVAL": "0.05"} | extra


@contextmanager
def hosted(fake: FakeOpenHands, *args: str, **env: str) -> Iterator[Hosted]:
    port = free_port()
    command = [sys.executable, "-m", "oh_mcp", "--port", str(port), "--log-level", "INFO", *args]
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, text=True, env=env_for(fake, **env))
        server = Hosted(proc, port, err)
        try:
            _wait_healthy(server)
            yield server
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _wait_healthy(server: Hosted) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError(f"oh-mcp exited early:\n{server.stderr()}")
        try:
            if httpx.get(server.base + "/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"oh-mcp did not become healthy:\n{server.stderr()}")


@asynccontextmanager
async def connect(url: str, headers: dict[str, str] | None = None, **client_args: Any) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(headers=headers or {}, timeout=httpx2.Timeout(30, read=60))
    async with http, Client(streamable_http_client(url, http_client=http), **client_args) as client:
        yield client


pytestmark = pytest.mark.anyio


async def test_streamable_http_serves_tools_progress_and_resources(fake: FakeOpenHands) -> None:
    with hosted(fake, "--transport", "streamable-http") as server:
        async with connect(server.base + "/mcp", mode="legacy") as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert {"start_conversation", "send_message", "list_sandbox_specs"} <= names
            ticks: list[str | None] = []

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                ticks.append(message)

            started = await ok(client, "start_conversation", {"message": "over http"}, progress_callback=on_progress)
            assert started["status"] == "READY" and any(t and "READY" in t for t in ticks)
            resource = await client.read_resource(f"openhands://conversations/{started['conversation_id']}")
            assert json.loads(resource.contents[0].text)["id"] == started["conversation_id"]  # type: ignore[union-attr]


async def test_the_modern_protocol_works_too(fake: FakeOpenHands) -> None:
    fake.add_conversation(title="modern")
    with hosted(fake, "--transport", "streamable-http") as server:
        async with connect(server.base + "/mcp") as client:
            listed = await ok(client, "list_conversations", {})
    assert listed["items"][0]["title"] == "modern"


async def test_sse_serves_the_same_surface(fake: FakeOpenHands) -> None:
    fake.add_conversation(title="via sse")
    with hosted(fake, "--transport", "sse") as server:
        async with Client(sse_client(server.base + "/sse")) as client:
            assert len((await client.list_tools()).tools) == ALL_TOOLS
            listed = await ok(client, "list_conversations", {})
            assert listed["items"][0]["title"] == "via sse"
            assert (await client.list_resource_templates()).resource_templates


async def test_a_request_without_a_valid_token_gets_401_and_the_metadata(fake: FakeOpenHands) -> None:
    with hosted(fake, "--transport", "streamable-http", OH_MCP_AUTH_TOKEN=TOKEN) as server:
        async with httpx.AsyncClient() as http:
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
            missing = await http.post(server.base + "/mcp", json=body)
            wrong = await http.post(server.base + "/mcp", json=body, headers={"Authorization": "Bearer nope"})
            challenge = missing.headers.get("www-authenticate", "")
            assert missing.status_code == 401 and wrong.status_code == 401
            assert challenge.startswith("Bearer") and "resource_metadata=" in challenge
            metadata_url = challenge.split('resource_metadata="')[1].split('"')[0]
            metadata = (await http.get(metadata_url)).json()
            assert metadata["resource"].endswith("/mcp")
            health = await http.get(server.base + "/health")
            assert health.status_code == 200 and health.json()["openhands"]["reachable"] is True
            assert TOKEN not in health.text
        async with connect(server.base + "/mcp", {"Authorization": f"Bearer {TOKEN}"}) as client:
            assert len((await client.list_tools()).tools) == ALL_TOOLS
        assert TOKEN not in server.stderr()


async def test_a_tokens_file_is_honoured(fake: FakeOpenHands, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("# team tokens\nalpha-token-1\nbeta-token-2\n")
    with hosted(fake, "--transport", "streamable-http", "--auth-tokens-file", str(tokens)) as server:
        for token in ("alpha-token-1", "beta-token-2"):
            async with connect(server.base + "/mcp", {"Authorization": f"Bearer {token}"}) as client:
                assert (await client.list_tools()).tools
        async with httpx.AsyncClient() as http:
            denied = await http.post(server.base + "/mcp", json={}, headers={"Authorization": "Bearer # team tokens"})
            assert denied.status_code == 401


async def test_each_user_key_is_used_only_for_that_users_calls(fake: FakeOpenHands) -> None:
    fake.user_keys = {"user-key-alice", "user-key-bob"}
    with hosted(fake, "--transport", "streamable-http") as server:

        async def user(key: str, marker: str) -> None:
            async with connect(server.base + "/mcp", {"X-OpenHands-API-Key": key}) as client:
                for _ in range(8):
                    await ok(client, "list_conversations", {"title_contains": marker})

        async with anyio.create_task_group() as tg:
            tg.start_soon(user, "user-key-alice", "alice-marker")
            tg.start_soon(user, "user-key-bob", "bob-marker")
        async with connect(server.base + "/mcp") as anonymous:
            denied = await anonymous.call_tool("list_conversations", {})
            assert denied.is_error and "refused the credentials" in denied.content[0].text  # type: ignore[union-attr]
        logs = server.stderr()
    calls = [(query, key) for path, query, key in fake.keys_seen if path.endswith("/search")]
    alice = [key for query, key in calls if "alice-marker" in query]
    bob = [key for query, key in calls if "bob-marker" in query]
    assert len(alice) == 8 and set(alice) == {"user-key-alice"}
    assert len(bob) == 8 and set(bob) == {"user-key-bob"}
    assert "user-key-alice" not in logs and "user-key-bob" not in logs


async def test_a_title_hold_goes_on_after_the_session_with_the_callers_own_key(fake: FakeOpenHands) -> None:
    # The hold runs in the background (oh_mcp.openhands.titles); it must keep the key of the user
    # who renamed, since the server has none of its own.
    fake.user_keys = {"user-key-alice"}
    fake.stale_title_write_seconds = 0.5
    with hosted(fake, "--transport", "streamable-http", OH_MCP_POLL_INTERVAL="0.05") as server:
        async with connect(server.base + "/mcp", {"X-OpenHands-API-Key": "user-key-alice"}) as client:
            started = await ok(client, "start_conversation", {"message": "hi", "title": "Alice's"})
        # The stale write lands at 0.5 s, after the session has ended; the hold sets the title again.
        await eventually(lambda: len(title_patches(fake)) == 2, timeout=10)
        rec = fake.conversation(started["conversation_id"])
        assert rec is not None and rec.title == "Alice's" and rec.title_revert is None
        assert "user-key-alice" not in server.stderr()
    assert title_patches(fake) == ["user-key-alice", "user-key-alice"], "the rename, then the hold setting it again"


def title_patches(fake: FakeOpenHands) -> list[str | None]:
    """The key of each PATCH of an app conversation (a rename)."""
    return [key for path, _q, key in fake.keys_seen if re.fullmatch(r"/api/v1/app-conversations/[0-9a-f]{32}", path)]


async def test_a_server_key_wins_unless_forwarding_is_asked_for(fake: FakeOpenHands) -> None:
    fake.user_keys = {"server-key", "user-key"}
    with hosted(fake, "--transport", "streamable-http", OPENHANDS_API_KEY="server-key") as server:
        async with connect(server.base + "/mcp", {"X-OpenHands-API-Key": "user-key"}) as client:
            await ok(client, "list_sandboxes", {})
    assert fake.keys_seen[-1][2] == "server-key"
    with hosted(fake, "--transport", "streamable-http", "--forward-user-key", OPENHANDS_API_KEY="server-key") as server:
        async with connect(server.base + "/mcp", {"X-OpenHands-API-Key": "user-key"}) as client:
            await ok(client, "list_sandboxes", {})
    assert fake.keys_seen[-1][2] == "user-key"


async def test_stateless_workers_serve_one_clients_interleaved_calls(fake: FakeOpenHands) -> None:
    conv = fake.add_conversation(title="shared")
    with hosted(fake, "--transport", "streamable-http", "--stateless", "--workers", "2") as server:
        assert len(_children(server.proc.pid)) >= 2
        workers: set[int] = set()
        # No keep-alive: every call is a new connection, which either worker may accept.
        limits = httpx2.Limits(max_keepalive_connections=0)
        http = httpx2.AsyncClient(limits=limits, timeout=httpx2.Timeout(30, read=60))
        async with http, Client(streamable_http_client(server.base + "/mcp", http_client=http)) as client:
            results: list[dict[str, Any]] = []

            async def one(i: int) -> None:
                tool, args = [
                    ("list_conversations", {}),
                    ("get_conversation", {"conversation_id": conv["id"]}),
                    ("list_sandbox_specs", {}),
                ][i % 3]
                results.append(await ok(client, tool, args))
                async with httpx.AsyncClient() as probe:
                    workers.add((await probe.get(server.base + "/health")).json()["worker"])

            async with anyio.create_task_group() as tg:
                for i in range(30):
                    tg.start_soon(one, i)
        assert len(results) == 30
        assert all(r["title"] == "shared" for r in results if "title" in r)
    assert len(workers) == 2, workers


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


async def test_a_foreign_host_header_is_refused_and_allowed_hosts_work(fake: FakeOpenHands) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "c", "version": "0"}},
    }
    headers = {"Accept": "application/json, text/event-stream"}
    with hosted(fake, "--transport", "streamable-http", "--allowed-hosts", "oh-mcp.example.com") as server:
        async with httpx.AsyncClient() as http:
            evil = await http.post(server.base + "/mcp", json=body, headers=headers | {"Host": "evil.example"})
            good = await http.post(server.base + "/mcp", json=body, headers=headers | {"Host": "oh-mcp.example.com"})
            local = await http.post(server.base + "/mcp", json=body, headers=headers)
    assert evil.status_code == 421
    assert good.status_code == 200 and local.status_code == 200


def test_health_reports_an_unreachable_openhands_without_failing(fake: FakeOpenHands) -> None:
    with hosted(fake, "--transport", "streamable-http", OPENHANDS_URL="http://127.0.0.1:9") as server:
        health = httpx.get(server.base + "/health").json()
    assert health["status"] == "degraded" and health["openhands"]["reachable"] is False


def test_health_never_shows_a_password_in_openhands_url(fake: FakeOpenHands) -> None:
    url = fake.base_url.replace("http://", "http://admin:hunter2-pw@")
    with hosted(fake, "--transport", "streamable-http", OPENHANDS_URL=url) as server:
        health = httpx.get(server.base + "/health").text
    assert "hunter2-pw" not in health and "admin:***@127.0.0.1" in health


def test_refuses_a_public_address_without_auth(fake: FakeOpenHands) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "oh_mcp", "--transport", "streamable-http", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        env=env_for(fake),
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "refusing to serve 0.0.0.0 without authentication" in result.stderr
    assert "Traceback" not in result.stderr


async def test_sigterm_lets_the_call_in_flight_finish_then_exits_0(fake: FakeOpenHands) -> None:
    fake.agent_run_seconds = 2.0
    conv = fake.add_conversation()
    with hosted(fake, "--transport", "streamable-http") as server:
        async with connect(server.base + "/mcp", mode="legacy") as client:
            await ok(client, "send_message", {"conversation_id": conv["id"], "message": "slow"})
            answer: dict[str, Any] = {}

            async def wait() -> None:
                answer.update(
                    await ok(client, "wait_for_agent", {"conversation_id": conv["id"], "timeout_seconds": 20})
                )

            async with anyio.create_task_group() as tg:
                polls = len(fake.requests)
                tg.start_soon(wait)
                await eventually(lambda: len(fake.requests) > polls + 1)  # the wait is polling
                server.proc.send_signal(signal.SIGTERM)
        assert answer["settled"] is True and "slow" in answer["final_response"]
        assert server.proc.wait(timeout=30) == 0
    with pytest.raises(httpx.TransportError):
        async with httpx.AsyncClient() as http:
            await http.get(server.base + "/health", timeout=2)


def test_the_inspector_reaches_a_hosted_server_with_a_token(fake: FakeOpenHands) -> None:
    inspector = ROOT / "node_modules" / ".bin" / "mcp-inspector"
    fake.add_conversation(title="inspected over http")
    with (
        hosted(fake, "--transport", "streamable-http", OH_MCP_AUTH_TOKEN=TOKEN) as server,
        tempfile.TemporaryDirectory() as home,
    ):
        env = dict(os.environ) | {"HOME": home, "MCP_INSPECTOR_SECRET_STORE": "memory"}
        base = [str(inspector), "--cli", "-q", "--format", "json", server.base + "/mcp"]
        auth = ["--header", f"Authorization: Bearer {TOKEN}"]
        listed = subprocess.run(
            [*base, *auth, "--method", "tools/list"], capture_output=True, text=True, env=env, timeout=120, check=False
        )
        called = subprocess.run(
            [*base, *auth, "--method", "tools/call", "--tool-name", "list_conversations"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        denied = subprocess.run(
            [*base, "--method", "tools/list"], capture_output=True, text=True, env=env, timeout=120, check=False
        )
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)["result"]["tools"]) == ALL_TOOLS
    assert called.returncode == 0 and "inspected over http" in called.stdout
    assert denied.returncode != 0


async def test_during_shutdown_new_calls_get_503_while_the_one_in_flight_finishes() -> None:
    drain = Drain()
    entered, release = anyio.Event(), anyio.Event()

    async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
        entered.set()
        await release.wait()
        await JSONResponse({"done": True})(scope, receive, send)

    app = drain.wrap(slow_app)
    transport = httpx.ASGITransport(app=app)
    answers: dict[str, httpx.Response] = {}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://oh-mcp.test") as http:

            async def in_flight() -> None:
                answers["first"] = await http.post("/mcp", json={})

            async with anyio.create_task_group() as tg:
                tg.start_soon(in_flight)
                with anyio.fail_after(5):
                    await entered.wait()
                drain.begin()
                assert AppStatus.should_exit is False, "streams must outlive the call in flight"
                with anyio.fail_after(2):  # a call let through would wait on `release` forever
                    refused = await http.post("/mcp", json={})
                release.set()
            assert refused.status_code == 503 and "shutting down" in refused.json()["error"]
            assert answers["first"].json() == {"done": True}
            assert AppStatus.should_exit is True, "released once the last call has answered"
    finally:
        AppStatus.should_exit = False

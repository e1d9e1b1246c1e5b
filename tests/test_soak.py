"""A bounded soak over Streamable HTTP on loopback: many concurrent sessions doing mixed calls
against the fake, with injected faults. No unexpected errors, flat memory after warm-up, and a
bounded upstream connection pool."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from oh_mcp.openhands.transport import POOL_SIZE
from tests.fake.state import FakeOpenHands
from tests.test_http import connect, hosted

pytestmark = pytest.mark.anyio

SESSIONS = 24
CALLS = 12
ROUNDS = 4


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def session(url: str, conv_id: str, seed: int, outcomes: list[str]) -> None:
    rng = random.Random(seed)
    async with connect(url) as client:
        outcomes.extend([await one_call(client, rng, conv_id) for _ in range(CALLS)])


async def one_call(client: Client, rng: random.Random, conv_id: str) -> str:
    choices: list[tuple[str, dict[str, Any]]] = [
        ("list_conversations", {"limit": 5}),
        ("get_conversation", {"conversation_id": conv_id}),
        ("get_conversation_events", {"conversation_id": conv_id, "limit": 10}),
        ("list_sandboxes", {}),
        ("list_sandbox_specs", {}),
        ("get_conversation", {"conversation_id": "0" * 32}),
    ]
    tool, args = rng.choice(choices)
    result = await client.call_tool(tool, args)
    text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
    if not result.is_error:
        return "ok"
    if "not found" in text:
        return "not found"
    if "unavailable" in text:
        return "injected"
    return f"unexpected: {text[:200]}"


@pytest.mark.timeout(240)  # a soak: ~18 s idle, ~47 s on a busy machine
async def test_soak_many_sessions_with_faults(fake: FakeOpenHands) -> None:
    conv = fake.add_conversation(title="soak")
    with hosted(fake, "--transport", "streamable-http", "--log-level", "WARNING") as server:
        url = server.base + "/mcp"
        readings: list[int] = []
        outcomes: list[str] = []
        with anyio.fail_after(240):
            for round_no in range(ROUNDS):
                # Faults that outlast the retries, so some calls must fail cleanly.
                fake.inject("GET", r"/api/v1/sandboxes/search$", 503, times=6)
                async with anyio.create_task_group() as tg:
                    for i in range(SESSIONS):
                        tg.start_soon(session, url, conv["id"], round_no * 1000 + i, outcomes)
                readings.append(rss_kib(server.proc.pid))
        peers = {port for host, port in fake.peers}
    unexpected = [o for o in outcomes if o.startswith("unexpected")]
    print(f"\nsoak: {len(outcomes)} calls, RSS by round (KiB): {readings}, upstream connections: {len(peers)}")
    assert len(outcomes) == SESSIONS * CALLS * ROUNDS
    assert not unexpected, unexpected[:3]
    assert outcomes.count("ok") > len(outcomes) / 2
    warm, last = readings[1], readings[-1]
    assert last - warm < 20 * 1024, f"RSS grew {last - warm} KiB after warm-up: {readings}"
    # The fake also serves this test's own checks.
    assert len(peers) <= POOL_SIZE + 2, len(peers)

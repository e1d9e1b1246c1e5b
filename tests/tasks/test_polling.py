"""Cheap polling: many tasks polled by many clients through one worker cost one upstream batch read
of their conversations per interval, and a settled agent is heard within about two seconds."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from oh_mcp import Settings, build_server
from oh_mcp.tasks.batch import Batcher
from tests.fake.state import FakeOpenHands
from tests.tasks.raw import in_memory

pytestmark = pytest.mark.anyio


def batch_reads(fake: FakeOpenHands) -> int:
    return sum(1 for method, path, _ in fake.requests if method == "GET" and path == "/api/v1/app-conversations")


async def test_many_tasks_polled_by_many_clients_cost_one_batch_read_per_interval(
    fake: FakeOpenHands, client_factory: Any
) -> None:
    settings = Settings(openhands_url=fake.base_url, poll_interval=0.25, timeout=10)
    server = build_server(settings, client_factory=client_factory)
    fake.agent_run_seconds = 60
    conv_ids = []
    for i in range(6):
        conv_ids.append(fake.add_conversation(title=f"busy {i}")["id"])
        fake.deliver(fake.conversations[conv_ids[-1]], "long work", run=True)
    async with in_memory(server) as setup:
        task_ids = [(await setup.tool("wait_for_agent", {"conversation_id": c}))["taskId"] for c in conv_ids]
    polls = 0

    async def host(n: int) -> None:
        nonlocal polls
        async with in_memory(server) as raw:
            with anyio.move_on_after(2.0):
                while True:
                    for task_id in task_ids:
                        assert (await raw.get(task_id))["status"] == "working"
                        polls += 1
                    await anyio.sleep(0.05)

    before, began = batch_reads(fake), anyio.current_time()
    async with anyio.create_task_group() as tg:
        for n in range(4):
            tg.start_soon(host, n)
    elapsed = anyio.current_time() - began
    reads = batch_reads(fake) - before
    assert polls > 100, polls
    assert reads <= elapsed / 0.25 + 2, (reads, polls, elapsed)


async def test_a_settled_agent_is_heard_within_two_seconds_at_the_default_interval(
    fake: FakeOpenHands, client_factory: Any
) -> None:
    settings = Settings(openhands_url=fake.base_url, timeout=10)  # the default 1 s interval
    fake.agent_run_seconds = 60
    conv_id = fake.add_conversation(title="soon done")["id"]
    fake.deliver(fake.conversations[conv_id], "work", run=True)
    async with in_memory(build_server(settings, client_factory=client_factory)) as raw:
        task_id = (await raw.tool("wait_for_agent", {"conversation_id": conv_id}))["taskId"]
        assert (await raw.get(task_id))["status"] == "working"
        fake.conversations[conv_id].running_until = 0.0  # the agent finishes now
        began = anyio.current_time()
        with anyio.fail_after(5):
            while True:
                if (await raw.get(task_id))["status"] == "completed":
                    break
                await anyio.sleep(1.0)  # the pollIntervalMs a host is given
        assert anyio.current_time() - began <= 2.2


async def test_the_batcher_shares_a_read_only_between_callers_with_the_same_key() -> None:
    asked: list[tuple[str, list[str]]] = []

    def fetcher(key: str) -> Any:
        async def fetch(ids: list[str]) -> list[str | None]:
            asked.append((key, sorted(ids)))
            return [f"{key}:{i}" for i in ids]

        return fetch

    batcher: Batcher[str] = Batcher(0.2)
    got: dict[tuple[str, str], str | None] = {}

    async def one(key: str, item: str) -> None:
        got[key, item] = await batcher.get(key, item, fetcher(key))

    async with anyio.create_task_group() as tg:
        for key in ("alice", "bob"):
            for item in ("a", "b", "c"):
                tg.start_soon(one, key, item)
    assert got[("alice", "b")] == "alice:b" and got[("bob", "b")] == "bob:b"
    assert sorted(asked) == [("alice", ["a", "b", "c"]), ("bob", ["a", "b", "c"])]

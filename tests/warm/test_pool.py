"""Warm sandboxes through the tools, against the fake over HTTP: taken and replaced, never another's,
per key, a cold start when the spare is lost or fails, and paused when idle."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from pydantic import SecretStr

from oh_mcp import Settings, build_server
from tests.calls import eventually, ok
from tests.fake.state import FakeOpenHands
from tests.tasks.raw import in_memory
from tests.test_doctor import doctor

pytestmark = pytest.mark.anyio


def warm_settings(settings: Settings, folder: Path, **extra: Any) -> Settings:
    return settings.model_copy(update={"warm_sandboxes": 1, "warm_dir": str(folder)} | extra)


@asynccontextmanager
async def served(s: Settings, client_factory: Any) -> AsyncIterator[Client]:
    async with Client(build_server(s, client_factory=client_factory), raise_exceptions=True) as client:
        yield client


def recorded(folder: Path) -> list[str]:
    """Every spare id recorded in the folder's state files (all owners)."""
    return [s["id"] for f in sorted(folder.glob("*.json")) for s in json.loads(f.read_text())["spares"]]


def state_files(folder: Path) -> dict[str, str]:
    """Every file the pool wrote (state and lock), by name, with its text."""
    return {f.name: f.read_text() for f in folder.iterdir() if f.suffix == ".json"} | {
        f.name: "" for f in folder.iterdir() if f.suffix != ".json"
    }


def running_spares(fake: FakeOpenHands, folder: Path) -> list[str]:
    return [sid for sid in recorded(folder) if fake.sandbox_status(sid) == "RUNNING"]


def unused(fake: FakeOpenHands) -> set[str]:
    used = {c.sandbox_id for c in fake.conversations.values()}
    return {sid for sid in fake.sandboxes if sid not in used}


async def test_a_spare_is_taken_said_and_replaced_and_a_used_one_never_comes_back(
    fake: FakeOpenHands, settings: Settings, client_factory: Any, tmp_path: Path
) -> None:
    async with served(warm_settings(settings, tmp_path), client_factory) as client:
        await eventually(lambda: len(running_spares(fake, tmp_path)) == 1)
        spare = recorded(tmp_path)[0]
        listed = await ok(client, "list_sandboxes", {})
        assert listed["warm"] == [spare]

        messages: list[str] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            messages.append(message or "")

        started = await ok(client, "start_conversation", {"message": "hi"}, progress_callback=on_progress)
        assert started["status"] == "READY" and started["sandbox_id"] == spare
        assert started["next_step"].startswith("Started in a warm sandbox")
        assert f"starting in warm sandbox {spare}" in messages
        assert fake.started_requests[-1]["sandbox_id"] == spare

        await eventually(lambda: len(running_spares(fake, tmp_path)) == 1 and recorded(tmp_path) != [spare])
        replacement = recorded(tmp_path)[0]
        assert (await ok(client, "list_sandboxes", {}))["warm"] == [replacement]
        again = await ok(client, "start_conversation", {"message": "again"})
        assert again["sandbox_id"] == replacement != spare


async def test_a_sandbox_it_did_not_start_is_never_taken(
    fake: FakeOpenHands, settings: Settings, client_factory: Any, tmp_path: Path
) -> None:
    # The pool cannot make a spare (OpenHands refuses), while the person's own sandbox runs unused.
    fake.inject("POST", r"^/api/v1/sandboxes$", 503, times=1000)
    theirs = fake.add_sandbox(status="RUNNING")["id"]
    async with served(warm_settings(settings, tmp_path), client_factory) as client:
        await anyio.sleep(0.3)  # several rounds of the keeper
        assert (await ok(client, "list_sandboxes", {})).get("warm") is None
        fake.clear_injections()
        started = await ok(client, "start_conversation", {"message": "hi"})
        assert started["next_step"].startswith("Started cold")
        assert started["sandbox_id"] != theirs
        assert "sandbox_id" not in fake.started_requests[-1] or fake.started_requests[-1]["sandbox_id"] is None
    assert theirs in unused(fake) and fake.sandbox_status(theirs) == "RUNNING"


async def test_a_call_naming_a_sandbox_leaves_the_spares_alone(
    fake: FakeOpenHands, settings: Settings, client_factory: Any, tmp_path: Path
) -> None:
    mine = fake.add_sandbox(status="RUNNING")["id"]
    async with served(warm_settings(settings, tmp_path), client_factory) as client:
        await eventually(lambda: len(running_spares(fake, tmp_path)) == 1)
        spare = recorded(tmp_path)[0]
        started = await ok(client, "start_conversation", {"message": "hi", "sandbox_id": mine})
        assert started["sandbox_id"] == mine
        assert not started["next_step"].startswith(("Started in a warm", "Started cold"))
        assert recorded(tmp_path) == [spare]


async def test_each_key_has_its_own_spares(
    fake: FakeOpenHands, settings: Settings, client_factory: Any, tmp_path: Path
) -> None:
    key_a, key_b = "sk-warm-key-a-0123456789", "sk-warm-key-b-9876543210"
    a = warm_settings(settings, tmp_path, api_key=SecretStr(key_a))
    b = warm_settings(settings, tmp_path, api_key=SecretStr(key_b))
    async with served(a, client_factory) as client_a:
        await eventually(lambda: len(running_spares(fake, tmp_path)) == 1)
        spare_a = recorded(tmp_path)[0]
        async with served(b, client_factory) as client_b:
            await eventually(lambda: len(running_spares(fake, tmp_path)) == 2)
            assert sum(name.endswith(".json") for name in state_files(tmp_path)) == 2  # one per key
            (spare_b,) = set(recorded(tmp_path)) - {spare_a}
            assert (await ok(client_b, "list_sandboxes", {}))["warm"] == [spare_b]
            started_b = await ok(client_b, "start_conversation", {"message": "b"})
            assert started_b["sandbox_id"] == spare_b
            assert (await ok(client_a, "start_conversation", {"message": "a"}))["sandbox_id"] == spare_a
    text = "".join(f"{name}\n{content}" for name, content in state_files(tmp_path).items())
    assert key_a not in text and key_b not in text


async def test_a_lost_spare_means_a_cold_start_without_error_and_a_replacement(
    fake: FakeOpenHands, settings: Settings, client_factory: Any, tmp_path: Path
) -> None:
    async with served(warm_settings(settings, tmp_path, warm_idle_pause=600), client_factory) as client:
        await eventually(lambda: len(running_spares(fake, tmp_path)) == 1)
        lost = recorded(tmp_path)[0]
        fake.delete_sandbox(lost)  # gone behind oh-mcp's back
        started = await ok(client, "start_conversation", {"message": "hi"})
        assert started["status"] == "READY" and started["sandbox_id"] != lost
        await eventually(lambda: len(running_spares(fake, tmp_path)) == 1)
        assert lost not in recorded(tmp_path)


async def test_a_spare_that_fails_at_the_start_falls_back_to_a_cold_start(
    fake: FakeOpenHands, settings: Settings, client_factory: Any, tmp_path: Path
) -> None:
    async with served(warm_settings(settings, tmp_path), client_factory) as client:
        await eventually(lambda: len(running_spares(fake, tmp_path)) == 1)
        spare = recorded(tmp_path)[0]
        fake.fail_next_start("Sandbox not found")
        started = await ok(client, "start_conversation", {"message": "hi"})
        assert started["status"] == "READY" and started["conversation_id"]
        assert started["next_step"].startswith("Started cold")
        assert [r.get("sandbox_id") for r in fake.started_requests] == [spare, None]


async def test_a_failed_spare_is_deleted_and_replaced(
    fake: FakeOpenHands, settings: Settings, client_factory: Any, tmp_path: Path
) -> None:
    async with served(warm_settings(settings, tmp_path, warm_idle_pause=4), client_factory):  # looks every 1 s
        await eventually(lambda: len(running_spares(fake, tmp_path)) == 1)
        failed = recorded(tmp_path)[0]
        fake.set_sandbox_status(failed, "ERROR")
        await eventually(lambda: failed not in fake.sandboxes and len(running_spares(fake, tmp_path)) == 1)


async def test_idle_spares_are_paused_and_the_next_start_resumes_them(
    fake: FakeOpenHands, settings: Settings, client_factory: Any, tmp_path: Path
) -> None:
    async with served(warm_settings(settings, tmp_path, warm_idle_pause=0.4), client_factory) as client:
        await eventually(lambda: len(recorded(tmp_path)) == 1)
        spare = recorded(tmp_path)[0]
        await eventually(lambda: fake.sandbox_status(spare) == "PAUSED")
        started = await ok(client, "start_conversation", {"message": "hi"})
        assert started["next_step"].startswith("Started cold") and started["sandbox_id"] != spare
        await eventually(lambda: ("POST", f"/api/v1/sandboxes/{spare}/resume", "") in fake.requests)
        assert recorded(tmp_path) == [spare]  # still the one spare: resumed, not replaced


async def test_doctor_shows_the_spares_and_only_them(
    fake: FakeOpenHands, settings: Settings, client_factory: Any, tmp_path: Path
) -> None:
    theirs = fake.add_sandbox(status="RUNNING")["id"]
    s = warm_settings(settings, tmp_path, warm_keep=True)
    async with served(s, client_factory):
        await eventually(lambda: len(running_spares(fake, tmp_path)) == 1)
    (spare,) = recorded(tmp_path)
    env = {"OPENHANDS_URL": fake.base_url, "OH_MCP_WARM_SANDBOXES": "1", "OH_MCP_WARM_DIR": str(tmp_path)}
    result = await anyio.to_thread.run_sync(lambda: doctor("--json", **env))
    report = json.loads(result.stdout)
    assert report["warm_spares"] == {spare: "RUNNING"}
    (check,) = [c for c in report["checks"] if c["name"] == "warm sandboxes"]
    assert check["ok"] and "1 wanted, 1 running and unused" in check["detail"] and theirs not in check["detail"]


async def test_a_delegation_as_a_task_starts_in_a_spare_too(
    fake: FakeOpenHands, settings: Settings, client_factory: Any, tmp_path: Path
) -> None:
    async with in_memory(build_server(warm_settings(settings, tmp_path), client_factory=client_factory)) as raw:
        await eventually(lambda: len(running_spares(fake, tmp_path)) == 1)
        (spare,) = recorded(tmp_path)
        created = await raw.tool("start_conversation", {"message": "hello"})
        assert created["resultType"] == "task"
        done = await raw.until(created["taskId"], "completed", "failed")
        assert done["status"] == "completed"
        assert [r.get("sandbox_id") for r in fake.started_requests] == [spare]


async def test_a_read_only_server_keeps_no_spares(
    fake: FakeOpenHands, settings: Settings, client_factory: Any, tmp_path: Path
) -> None:
    async with served(warm_settings(settings, tmp_path, read_only=True), client_factory) as client:
        await anyio.sleep(0.3)
        assert (await ok(client, "list_sandboxes", {})).get("warm") is None
    assert fake.sandboxes == {} and recorded(tmp_path) == []

"""Warm sandboxes across real oh-mcp processes on the fake: a stdio server killed with SIGKILL leaves
its spares to the next one, which adopts them; the end of a stdio session deletes them; stateless
HTTP workers of one key keep N between them, not N each."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from tests.calls import eventually, ok
from tests.fake.state import FakeOpenHands
from tests.stdio_raw import INITIALIZE
from tests.test_http import connect, hosted
from tests.test_stdio import server_env

pytestmark = pytest.mark.anyio


def recorded(folder: Path) -> list[str]:
    return [s["id"] for f in sorted(folder.glob("*.json")) for s in json.loads(f.read_text())["spares"]]


def stdio_server(fake: FakeOpenHands, folder: Path, **env: str) -> subprocess.Popen[str]:
    env = server_env(fake, OH_MCP_WARM_SANDBOXES="2", OH_MCP_WARM_DIR=str(folder), **env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "oh_mcp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("".join(json.dumps(m) + "\n" for m in INITIALIZE))
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline())["id"] == 1  # serving
    return proc


def closed(proc: subprocess.Popen[str]) -> None:
    """Make sure it is gone and its pipes are closed."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None and not pipe.closed:
            pipe.close()


def running(fake: FakeOpenHands) -> set[str]:
    return {sid for sid in list(fake.sandboxes) if fake.sandbox_status(sid) == "RUNNING"}


async def test_spares_outlive_sigkill_are_adopted_and_go_when_the_session_ends(
    fake: FakeOpenHands, tmp_path: Path
) -> None:
    first = stdio_server(fake, tmp_path)
    try:
        await eventually(lambda: len(running(fake)) == 2 and len(recorded(tmp_path)) == 2, timeout=20)
    finally:
        first.send_signal(signal.SIGKILL)
        closed(first)
    spares = set(recorded(tmp_path))
    assert running(fake) == spares  # nothing cleaned up: the process had no chance

    second = stdio_server(fake, tmp_path)
    try:
        await anyio.sleep(1.5)  # the keeper has looked at least once (every 5 s at most, first at once)
        assert set(recorded(tmp_path)) == spares and set(fake.sandboxes) == spares  # adopted, none added
        assert second.stdin is not None
        second.stdin.close()  # the host ends the session
        second.wait(timeout=20)
    finally:
        closed(second)
    assert fake.sandboxes == {} and recorded(tmp_path) == []


async def test_kept_spares_stay_after_the_session(fake: FakeOpenHands, tmp_path: Path) -> None:
    proc = stdio_server(fake, tmp_path, OH_MCP_WARM_KEEP="true")
    try:
        await eventually(lambda: len(recorded(tmp_path)) == 2, timeout=20)
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=20)
    finally:
        closed(proc)
    assert set(fake.sandboxes) == set(recorded(tmp_path)) and len(fake.sandboxes) == 2


async def test_stateless_workers_keep_n_spares_between_them(fake: FakeOpenHands, tmp_path: Path) -> None:
    env = {"OH_MCP_WARM_SANDBOXES": "2", "OH_MCP_WARM_DIR": str(tmp_path), "OH_MCP_WARM_IDLE_PAUSE": "8"}
    with hosted(fake, "--transport", "streamable-http", "--stateless", "--workers", "2", **env) as server:
        await eventually(lambda: len(recorded(tmp_path)) == 2, timeout=20)
        started = []
        for i in range(4):  # stateless: each call may land on either worker
            async with connect(server.base + "/mcp") as client:
                started.append(await ok(client, "start_conversation", {"message": f"task {i}"}))
        assert all(s["next_step"].startswith("Started in a warm sandbox") for s in started[:1])
        assert len({s["sandbox_id"] for s in started}) == 4  # no sandbox given twice
        await eventually(lambda: len(recorded(tmp_path)) == 2 and len(running(fake)) == 6, timeout=20)
        await anyio.sleep(2.5)  # both workers' keepers (every 2 s here) looked again
        used = {c.sandbox_id for c in fake.conversations.values()}
        assert len(set(fake.sandboxes) - used) == 2, "spares multiplied with the workers"
        assert set(recorded(tmp_path)).isdisjoint(used)

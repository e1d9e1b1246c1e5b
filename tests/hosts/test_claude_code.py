"""A real host: Claude Code 2.1.332 (pinned in package.json) delegates through oh-mcp as a task and
gets the agent's answer as a new turn by itself. Its model is played by a fake Anthropic API; it runs
headless the way the Agent SDK runs it (stream-json in and out, stdin open until the second result),
with background tasks on (see ../shared/spec/mcp-tasks.md, "Making Claude Code use tasks in a test")."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fake.state import FakeOpenHands
from tests.hosts.fake_anthropic import FakeAnthropic, Reply, last_user_text, serve_fake_anthropic

ROOT = Path(__file__).resolve().parents[2]
CLAUDE = ROOT / "node_modules" / ".bin" / "claude"
TOOL = "mcp__openhands__start_conversation"
TOKEN = "answer-from-the-background-task"

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(not CLAUDE.exists(), reason="Claude Code is not installed: run scripts/setup --dev"),
]


def model(body: dict[str, Any]) -> Reply:
    text = last_user_text(body)
    offered = {t.get("name") for t in body.get("tools", [])}
    if "<task-notification>" in text:
        return "The OpenHands task is done: " + (TOKEN if TOKEN in text else "no answer seen")
    if TOOL in offered and "Delegate" in text and "tool_result" not in json.dumps(body["messages"][-1]):
        return (TOOL, {"message": f"SAY: {TOKEN}"})
    if TOOL in offered:
        return "Delegated to OpenHands; I carry on meanwhile."
    return "ok"


def claude_env(tmp: Path, llm: FakeAnthropic) -> dict[str, str]:
    config = tmp / "claude"
    config.mkdir()
    gate = {"cachedGrowthBookFeatures": {"tengu_glowing_lark": True}, "hasCompletedOnboarding": True}
    (config / ".claude.json").write_text(json.dumps(gate))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE", "OH_MCP_", "OPENHANDS_"))}
    return base | {
        "HOME": str(tmp),
        "CLAUDE_CONFIG_DIR": str(config),
        "ANTHROPIC_BASE_URL": llm.base_url,
        "ANTHROPIC_API_KEY": "sk-ant-fake-key-for-tests-0000000000",
        "CLAUDE_AUTO_BACKGROUND_TASKS": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_GB_DISK_CACHE_WHEN_TELEMETRY_OFF": "1",
        "DISABLE_AUTOUPDATER": "1",
        "ENABLE_TOOL_SEARCH": "false",  # MCP tools offered up front, not behind ToolSearch
    }


def mcp_config(tmp: Path, fake: FakeOpenHands) -> Path:
    env = {"OPENHANDS_URL": fake.base_url, "OH_MCP_POLL_INTERVAL": "0.2"}
    server = {"command": sys.executable, "args": ["-m", "oh_mcp"], "env": env}
    path = tmp / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"openhands": server}}))
    return path


def test_claude_code_delegates_as_a_task_and_hears_the_result_as_a_new_turn(
    fake: FakeOpenHands, tmp_path: Path
) -> None:
    fake.agent_run_seconds = 4.0  # the task really runs in the background for a while
    with serve_fake_anthropic(FakeAnthropic(model)) as llm:
        command = [
            str(CLAUDE), "-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose",
            "--mcp-config", str(mcp_config(tmp_path, fake)), "--strict-mcp-config", "--allowedTools", TOOL,
        ]  # fmt: skip
        lines = run_until_results(command, claude_env(tmp_path, llm), cwd=tmp_path, results=2, seconds=180)
        turns = [r for r in llm.requests if TOOL in {t.get("name") for t in r.get("tools", [])}]
    results = [line for line in lines if line.get("type") == "result"]
    assert len(results) == 2, [line.get("type") for line in lines]
    assert "Delegated to OpenHands" in results[0].get("result", "")
    assert TOKEN in results[1].get("result", ""), results[1]
    notified = [last_user_text(r) for r in turns if "<task-notification>" in last_user_text(r)]
    assert notified and "completed" in notified[0] and TOKEN in notified[0], notified
    assert len(fake.started_requests) == 1


def run_until_results(
    command: list[str], env: dict[str, str], cwd: Path, results: int, seconds: float
) -> list[dict[str, Any]]:
    """Start Claude Code, send the prompt, keep stdin open until `results` result lines came."""
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd
    )
    assert proc.stdin is not None and proc.stdout is not None
    prompt = {"type": "user", "message": {"role": "user", "content": "Delegate to OpenHands: write the answer."}}
    proc.stdin.write(json.dumps(prompt) + "\n")
    proc.stdin.flush()
    lines: queue.Queue[str] = queue.Queue()
    stdout = proc.stdout

    def pump() -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    try:
        while sum(1 for s in seen if s.get("type") == "result") < results and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                if proc.poll() is not None:
                    break
                continue
            if line.strip().startswith("{"):
                seen.append(json.loads(line))
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read() if proc.stderr else ""
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    if sum(1 for s in seen if s.get("type") == "result") < results:
        kinds = [(s.get("type"), s.get("subtype")) for s in seen]
        raise AssertionError(f"Claude Code gave {kinds}; stderr: {stderr[-2000:]}")
    return seen

"""An independent client: the MCP Inspector CLI lists and calls the tools over stdio, and its --strict
schema lint passes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.fake.state import FakeOpenHands

ROOT = Path(__file__).resolve().parents[1]
INSPECTOR = ROOT / "node_modules" / ".bin" / "mcp-inspector"


def inspector(fake: FakeOpenHands, *args: str) -> subprocess.CompletedProcess[str]:
    if not INSPECTOR.exists():
        pytest.fail("the MCP Inspector is not installed: run scripts/setup --dev (npm ci)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OH_MCP_", "OPENHANDS_"))}
    with tempfile.TemporaryDirectory() as home:
        env |= {"HOME": home, "MCP_INSPECTOR_SECRET_STORE": "memory"}
        command = [
            str(INSPECTOR),
            "--cli",
            "-q",
            "--format",
            "json",
            "-e",
            f"OPENHANDS_URL={fake.base_url}",
            "-e",
            "OH_MCP_POLL_INTERVAL=0.05",
            sys.executable,
            "-m",
            "oh_mcp",
            *args,
        ]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)


def test_inspector_lists_the_tools(fake: FakeOpenHands) -> None:
    result = inspector(fake, "--method", "tools/list")
    assert result.returncode == 0, result.stderr
    names = {t["name"] for t in json.loads(result.stdout)["result"]["tools"]}
    assert {"list_conversations", "send_message", "resume_sandbox", "list_sandbox_specs"} <= names


def test_inspector_strict_schema_check_passes(fake: FakeOpenHands) -> None:
    result = inspector(fake, "--method", "tools/list", "--strict")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning:" not in result.stdout + result.stderr, result.stderr


def test_inspector_calls_tools(fake: FakeOpenHands) -> None:
    conv = fake.add_conversation(title="inspected")
    listed = inspector(fake, "--method", "tools/call", "--tool-name", "list_conversations", "--tool-arg", "limit=5")
    assert listed.returncode == 0, listed.stderr
    assert "inspected" in listed.stdout
    sent = inspector(
        fake,
        "--method",
        "tools/call",
        "--tool-name",
        "send_message",
        "--tool-args-json",
        json.dumps({"conversation_id": conv["id"], "message": "from the inspector"}),
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert [d["text"] for d in fake.deliveries] == ["from the inspector"]
    resource = inspector(fake, "--method", "resources/read", "--uri", f"openhands://conversations/{conv['id']}")
    assert resource.returncode == 0 and "inspected" in resource.stdout


def test_inspector_sees_a_tool_error_as_one(fake: FakeOpenHands) -> None:
    result = inspector(fake, "--method", "tools/call", "--tool-name", "get_sandbox", "--tool-arg", "sandbox_id=nope")
    assert result.returncode == 5, result.stdout + result.stderr
    assert "not found" in result.stdout + result.stderr

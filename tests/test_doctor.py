"""`oh-mcp doctor` against the fake, a stopped server and a wrong key, as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx

from tests.calls import ALL_TOOLS
from tests.fake.state import FakeOpenHands


def doctor(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OH_MCP_", "OPENHANDS_"))}
    return subprocess.run(
        [sys.executable, "-m", "oh_mcp", "doctor", *args],
        capture_output=True,
        text=True,
        env=base | env,
        timeout=60,
        check=False,
    )


def test_a_healthy_setup_reports_version_specs_counts_and_tools(fake: FakeOpenHands) -> None:
    fake.add_conversation(title="a")
    fake.add_conversation(title="b", sandbox_status="PAUSED")
    result = doctor(OPENHANDS_URL=fake.base_url)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "[ok] reach OpenHands: version 1.11.0" in out
    assert fake.specs[0]["id"] in out
    assert "sandboxes by status:     PAUSED 1, RUNNING 1" in out
    assert "conversations by status: PAUSED 1, idle 1" in out
    assert f"tools enabled ({ALL_TOOLS})" in out and out.rstrip().endswith("healthy")


def test_json_output_for_machines(fake: FakeOpenHands) -> None:
    result = doctor("--json", "--read-only", OPENHANDS_URL=fake.base_url)
    data = json.loads(result.stdout)
    assert result.returncode == 0 and data["healthy"] is True
    assert data["openhands_version"] == "1.11.0"
    assert "send_message" in data["disabled_tools"] and "read-only" in data["disabled_tools"]["send_message"]


def test_a_stopped_server_is_a_problem_with_a_next_step() -> None:
    result = doctor(OPENHANDS_URL="http://127.0.0.1:9")
    assert result.returncode == 1
    assert "[FAIL] reach OpenHands" in result.stdout
    assert "next step: Start OpenHands, or set OPENHANDS_URL" in result.stdout
    assert "Traceback" not in result.stderr


def test_a_wrong_key_is_an_auth_problem_and_the_key_stays_masked(fake: FakeOpenHands) -> None:
    fake.session_api_key = "right-key-123456"
    result = doctor(OPENHANDS_URL=fake.base_url, OPENHANDS_API_KEY="wrong-key-987654321")
    assert result.returncode == 1
    assert "[FAIL] authentication: OpenHands refused the credentials" in result.stdout
    assert "next step: Set OPENHANDS_API_KEY" in result.stdout
    assert "wrong-key-987654321" not in result.stdout + result.stderr
    assert "wron…4321 (from OPENHANDS_API_KEY)" in result.stdout


def test_a_server_that_hides_its_openapi_document_is_healthy_with_version_unknown(fake: FakeOpenHands) -> None:
    fake.inject("GET", r"^/openapi\.json$", 404, {"detail": "Not Found"}, times=5)
    result = doctor("--json", OPENHANDS_URL=fake.base_url)
    data = json.loads(result.stdout)
    assert result.returncode == 0 and data["healthy"] is True, result.stdout
    assert data["openhands_version"] == "unknown"
    assert [p for _, p, _ in fake.requests].count("/server_info") == 0


def test_a_key_too_short_to_mask_inside_words_is_pointed_out(fake: FakeOpenHands) -> None:
    fake.user_keys = {"e2e-abc"}
    result = doctor(OPENHANDS_URL=fake.base_url, OPENHANDS_API_KEY="e2e-abc")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[ok] key length: OPENHANDS_API_KEY is 7 characters, under 16" in result.stdout
    assert "never inside longer words" in result.stdout
    long_key = doctor(OPENHANDS_URL=fake.base_url, OPENHANDS_API_KEY="k" * 16)
    assert "key length" not in long_key.stdout


def failed_start(fake: FakeOpenHands, detail: str) -> None:
    """A start that ended in ERROR, made over HTTP as any client would."""
    fake.start_task_step_seconds = 0
    fake.fail_next_start(detail)
    body = {"initial_message": {"content": [{"type": "text", "text": "go"}], "run": True}}
    task = httpx.post(f"{fake.base_url}/api/v1/app-conversations", json=body, timeout=10).json()
    assert (
        httpx.get(f"{fake.base_url}/api/v1/app-conversations/start-tasks", params={"ids": task["id"]}).json()[0][
            "status"
        ]
        == "ERROR"
    )


def test_the_newest_start_failing_like_cryptography_51_is_named_with_its_fix(fake: FakeOpenHands) -> None:
    failed_start(fake, "Server error '500 Internal Server Error' for url 'http://localhost:20000/api/conversations'")
    result = doctor(OPENHANDS_URL=fake.base_url)
    assert result.returncode == 1, result.stdout
    assert "[FAIL] recent starts: 1 of the last 1 starts failed; the newest: Server error '500" in result.stdout
    assert "next step: On OpenHands 1.11 installed with pip or uv" in result.stdout
    assert "'cryptography<51'" in result.stdout


def test_an_old_failure_behind_a_good_start_is_counted_not_alarmed(fake: FakeOpenHands) -> None:
    failed_start(fake, "Sandbox not found")
    time.sleep(0.01)  # the good start is the newer one
    body = {"initial_message": {"content": [{"type": "text", "text": "go"}], "run": True}}
    httpx.post(f"{fake.base_url}/api/v1/app-conversations", json=body, timeout=10)
    result = doctor(OPENHANDS_URL=fake.base_url)
    assert result.returncode == 0, result.stdout
    assert "[ok] recent starts: 1 of the last 2 starts failed" in result.stdout

"""Third-party task clients against oh-mcp on the fake, over stdio and Streamable HTTP: the official
ext-tasks 0.2.2 on @modelcontextprotocol/client 2.3.1 (both forms), the TypeScript SDK 1.32.2's
experimental tasks (2025-11-25) and fastmcp-tasks 4.1.4 (2026-07-28). Each is driven by a small
script (tests/tasks/clients/) that uses the client as an application would and prints what it saw."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.fake.state import FakeOpenHands
from tests.test_http import env_for, hosted

CLIENTS = Path(__file__).parent / "clients"
REPO = Path(__file__).parents[2]


@contextmanager
def endpoint(fake: FakeOpenHands, carrier: str) -> Iterator[str | None]:
    """None for stdio (the driver starts the server itself), else the URL of a hosted server."""
    if carrier == "stdio":
        yield None
        return
    with hosted(fake, "--transport", "streamable-http") as server:
        yield server.base + "/mcp"


def drive(script: str, fake: FakeOpenHands, *args: str, url: str | None = None) -> dict[str, dict[str, Any]]:
    env = env_for(fake) | {"PYTHON": sys.executable}
    runner = sys.executable if script.endswith(".py") else "node"
    command = [runner, str(CLIENTS / script), *args, *([url] if url else [])]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, cwd=REPO)
    steps = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            steps[record["step"]] = record
    assert done.returncode == 0 and "error" not in steps, (steps, done.stderr[-3000:])
    return steps


CARRIERS = ("stdio", "http")
FORMS = ("2026", "2025")


@pytest.mark.parametrize("carrier", CARRIERS)
@pytest.mark.parametrize("form", FORMS)
def test_ext_tasks_sees_a_task_complete_with_a_result_its_own_schema_accepts(
    fake: FakeOpenHands, form: str, carrier: str
) -> None:
    with endpoint(fake, carrier) as url:
        steps = drive("ext_tasks.mjs", fake, form, carrier, "complete", url=url)
    assert steps["created"]["kind"] == "task" and steps["created"]["taskId"].startswith("oht-s-")
    outcome = steps["outcome"]
    assert outcome["status"] == "completed", outcome
    assert outcome["result"]["structuredContent"]["final_response"] == "Echo: hello from ext-tasks"
    if form == "2026":
        assert outcome["result"]["resultType"] == "complete"


@pytest.mark.parametrize("carrier", CARRIERS)
@pytest.mark.parametrize("form", FORMS)
def test_ext_tasks_gets_the_approval_in_its_input_handler_and_the_accept_runs_the_action(
    fake: FakeOpenHands, form: str, carrier: str
) -> None:
    with endpoint(fake, carrier) as url:
        steps = drive("ext_tasks.mjs", fake, form, carrier, "approve", url=url)
    outcome = steps["outcome"]
    assert outcome["status"] == "completed", outcome
    [question] = outcome["asked"]
    assert question.startswith("run: touch approved-by-ext-tasks"), question
    [conversation] = fake.conversations.values()
    assert "ObservationEvent" in [e["kind"] for e in conversation.events], "the accepted action ran"


@pytest.mark.parametrize("carrier", CARRIERS)
@pytest.mark.parametrize("form", FORMS)
def test_ext_tasks_cancels_a_running_task_and_a_second_cancel_is_refused(
    fake: FakeOpenHands, form: str, carrier: str
) -> None:
    fake.agent_run_seconds = 60
    with endpoint(fake, carrier) as url:
        steps = drive("ext_tasks.mjs", fake, form, carrier, "cancel", url=url)
    assert steps["cancelled"]["status"] == "cancelled", steps
    refused = steps["second cancel"]["refused"]
    assert refused is not None and refused["code"] == -32602 and "already cancelled" in refused["message"], refused
    [conversation] = fake.conversations.values()
    assert conversation.execution_status == "paused"


@pytest.mark.parametrize("carrier", CARRIERS)
def test_the_typescript_sdk_streams_a_task_to_a_result_its_own_schema_accepts(
    fake: FakeOpenHands, carrier: str
) -> None:
    with endpoint(fake, carrier) as url:
        steps = drive("ts_sdk.mjs", fake, carrier, "complete", url=url)
    outcome = steps["outcome"]
    assert outcome["seen"][0] == "taskCreated" and outcome["seen"][-1] == "result", outcome["seen"]
    assert outcome["failure"] is None and "resultType" not in outcome["result"]
    assert outcome["result"]["structuredContent"]["final_response"] == "Echo: hello from the sdk"
    assert outcome["result"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"] == steps["created"]["taskId"]


@pytest.mark.parametrize("carrier", CARRIERS)
def test_the_typescript_sdk_answers_the_task_related_approval_once(fake: FakeOpenHands, carrier: str) -> None:
    with endpoint(fake, carrier) as url:
        steps = drive("ts_sdk.mjs", fake, carrier, "approve", url=url)
    outcome = steps["outcome"]
    assert "taskStatus:input_required" in outcome["seen"] and outcome["seen"][-1] == "result", outcome["seen"]
    [ask] = outcome["asked"]
    assert ask["message"].startswith("run: touch approved-by-sdk")
    assert ask["meta"]["io.modelcontextprotocol/related-task"]["taskId"] == steps["created"]["taskId"]
    [conversation] = fake.conversations.values()
    assert "ObservationEvent" in [e["kind"] for e in conversation.events], "the accepted action ran"


@pytest.mark.parametrize("carrier", CARRIERS)
def test_the_typescript_sdk_cancels_a_running_task_and_a_second_cancel_is_refused(
    fake: FakeOpenHands, carrier: str
) -> None:
    fake.agent_run_seconds = 60
    with endpoint(fake, carrier) as url:
        steps = drive("ts_sdk.mjs", fake, carrier, "cancel", url=url)
    assert steps["cancelled"]["status"] == "cancelled"
    refused = steps["second cancel"]["refused"]
    assert refused is not None and refused["code"] == -32602 and "already cancelled" in refused["message"], refused
    [conversation] = fake.conversations.values()
    assert conversation.execution_status == "paused"


@pytest.mark.parametrize("carrier", CARRIERS)
def test_fastmcp_tasks_completes_a_task_and_drives_a_plain_call_through_one(fake: FakeOpenHands, carrier: str) -> None:
    with endpoint(fake, carrier) as url:
        steps = drive("fastmcp_tasks_driver.py", fake, carrier, "complete", url=url)
    assert steps["created"]["taskId"].startswith("oht-s-")
    assert steps["outcome"]["structured"]["final_response"] == "Echo: hello from fastmcp"
    assert steps["transparent"]["structured"]["final_response"] == "Echo: transparent"


@pytest.mark.parametrize("carrier", CARRIERS)
def test_fastmcp_tasks_asks_its_elicitation_handler_for_the_approval(fake: FakeOpenHands, carrier: str) -> None:
    with endpoint(fake, carrier) as url:
        steps = drive("fastmcp_tasks_driver.py", fake, carrier, "approve", url=url)
    [question] = steps["outcome"]["asked"]
    assert question.startswith("run: touch approved-by-fastmcp"), question
    assert steps["outcome"]["structured"]["final_response"] == "Echo: RUN: touch approved-by-fastmcp"


@pytest.mark.parametrize("carrier", CARRIERS)
def test_fastmcp_tasks_cancels_a_running_task_and_a_second_cancel_is_refused(fake: FakeOpenHands, carrier: str) -> None:
    fake.agent_run_seconds = 60
    with endpoint(fake, carrier) as url:
        steps = drive("fastmcp_tasks_driver.py", fake, carrier, "cancel", url=url)
    assert steps["cancelled"]["status"] == "cancelled"
    refused = steps["second cancel"]["refused"]
    assert refused is not None and "already cancelled" in refused["message"], refused
    assert next(iter(fake.conversations.values())).execution_status == "paused"

"""oh-mcp's agent-server calls against a standalone agent server 1.58.2, the newer one OpenHands Cloud and
newer self-hosted setups run (OpenHands 1.11.0's own sandboxes run 1.34.0, which the rest of the stage
drives). Only what runs without an app server: commands, files, the patch, events and the final
answer, starting a saved message, confirmation, interrupt. Through oh-mcp's own client."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest

from oh_mcp import Settings
from oh_mcp.openhands import OpenHandsClient
from oh_mcp.review.patch import read_patch
from oh_mcp.runtime import client_for

from .fake_llm import FakeLLM
from .install import E2EError, ensure_agent_server
from .standalone import StandaloneAgentServer, standalone_agent_server

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
DEADLINE = 120


@pytest.fixture(scope="module")
def agent_server(fake_llm: FakeLLM) -> Iterator[StandaloneAgentServer]:
    try:
        python = ensure_agent_server().python
        context = standalone_agent_server(python, fake_llm.base_url)
        server = context.__enter__()
    except E2EError as exc:
        pytest.fail(f"the standalone agent server did not come up: {exc}", pytrace=False)
    try:
        yield server
    finally:
        context.__exit__(None, None, None)


@pytest.fixture
async def client() -> AsyncIterator[OpenHandsClient]:
    async with client_for(Settings(openhands_url="http://127.0.0.1:9", poll_interval=0.2)) as made:
        yield made


async def settled(server: StandaloneAgentServer, conversation_id: str, *wanted: str) -> str:
    with anyio.fail_after(60):
        while True:
            status = server.execution_status(conversation_id)
            if status in wanted:
                return status
            await anyio.sleep(0.2)


async def test_commands_files_and_the_patch(agent_server: StandaloneAgentServer, client: OpenHandsClient) -> None:
    conversation = agent_server.described(agent_server.start_conversation())
    work = str(agent_server.root / "work")
    with anyio.fail_after(DEADLINE):
        ran = await client.execute_command(conversation, "echo from-1.58.2", cwd=work)
        assert ran.exit_code == 0 and "from-1.58.2" in (ran.stdout or "")
        await client.upload_file(conversation, f"{work}/up.bin", b"\0bytes\xff")
        assert await client.download_file(conversation, f"{work}/up.bin") == b"\0bytes\xff"
        script = (
            "git init -q repo && cd repo && printf 'a\\n' > a.txt && git add -A && "
            "git -c user.name=t -c user.email=t@t commit -qm one && printf 'b\\n' >> a.txt && printf 'n\\n' > new.txt"
        )
        assert (await client.execute_command(conversation, script, cwd=work)).exit_code == 0
        patch = await client.git_delta(conversation, f"{work}/repo", "HEAD", limit=10_000_000)
        files = {f.path: f.status for f in await read_patch(patch)}
        assert files == {"a.txt": "modified", "new.txt": "added"}, patch.decode(errors="replace")


async def test_a_saved_message_runs_and_its_events_and_answer_read_back(
    agent_server: StandaloneAgentServer, client: OpenHandsClient
) -> None:
    conversation_id = agent_server.start_conversation()
    agent_server.send(conversation_id, "RUN: echo step-one\nSAY: finished tok-1582", run=False)
    conversation = agent_server.described(conversation_id)
    with anyio.fail_after(DEADLINE):
        await client.run_agent(conversation)  # what send_message does for a message saved at capacity
        assert await settled(agent_server, conversation_id, "finished") == "finished"
        conversation = agent_server.described(conversation_id)
        assert await client.get_final_response(conversation) == "finished tok-1582"
        kinds = [e.kind for e in await client.agent_events(conversation)]
        assert "MessageEvent" in kinds and "ActionEvent" in kinds and "ObservationEvent" in kinds
        assert await client.count_actions(conversation) >= 2
        assert await client.ask_agent(conversation, "How far are you?")


async def test_confirmation_holds_an_action_and_interrupt_stops_a_run(
    agent_server: StandaloneAgentServer, client: OpenHandsClient
) -> None:
    conversation_id = agent_server.start_conversation(policy="always")
    agent_server.send(conversation_id, "RUN: touch never-run.txt")
    with anyio.fail_after(DEADLINE):
        await settled(agent_server, conversation_id, "waiting_for_confirmation")
        conversation = agent_server.described(conversation_id)
        [pending] = await client.pending_actions(conversation)
        assert "never-run.txt" in (pending.summary or "")
        await client.respond_to_confirmation(conversation, accept=False, reason="not now")
        await client.set_confirmation_policy(conversation, "never")
        assert not (agent_server.root / "work" / "never-run.txt").exists()

        agent_server.send(conversation_id, "SLOW: 30\nSAY: too late")
        await settled(agent_server, conversation_id, "running")
        assert await client.interrupt(agent_server.described(conversation_id)) is True
        assert await settled(agent_server, conversation_id, "paused", "finished") == "paused"
        missing = agent_server.described(conversation_id).model_copy(
            update={"conversation_url": f"{agent_server.url}/api/conversations/{uuid.uuid4().hex}"}
        )
        assert await client.interrupt(missing) is False, "1.58.2 answers 404: nothing was running"


def test_the_stage_runs_the_agent_server_it_pins(agent_server: StandaloneAgentServer) -> None:
    lock = Path(__file__).resolve().parents[2] / "locks" / "agent-server.txt"
    assert "openhands-agent-server==1.58.2" in lock.read_text()
    answer = agent_server.request("GET", "/server_info")
    assert answer.status_code == 200, answer.text

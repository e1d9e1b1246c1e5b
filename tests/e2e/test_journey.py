"""A user's whole journey through oh-mcp (over stdio, as a desktop client runs it) against the real
OpenHands 1.11.0 app server with its process sandbox and a fake LLM that echoes each message."""

from __future__ import annotations

import json
import uuid

import anyio
import pytest
from mcp import Client
from mcp.types import TextResourceContents

from .harness import AppServer, Journey, oh_mcp_params, short, text_of

# The timeout (thread method, a server start included) comes from conftest.py, as for every e2e test.
pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

JOURNEY_TIMEOUT = 300
TITLE_TIMEOUT = 120
AUTO_TITLE_WINDOW = 12.0  # the server's title callback polls the agent server 4 times, 3 s apart


def token() -> str:
    return "tok-" + uuid.uuid4().hex[:10]


async def test_a_whole_journey_against_the_real_server(app_server: AppServer) -> None:
    first, second, third = token(), token(), token()
    with anyio.fail_after(JOURNEY_TIMEOUT):
        async with Client(oh_mcp_params(app_server)) as client:
            j = Journey(client)
            j.step(f"oh-mcp connected over stdio to OpenHands {app_server.version} at {app_server.url}")

            specs = await j.ok("list_sandbox_specs", {})
            assert specs["items"], "the process sandbox should offer one spec"

            started = await j.ok(
                "start_conversation", {"message": f"Please echo {first}", "wait": True, "timeout_seconds": 120}
            )
            assert started["status"] == "READY", started
            conv_id, sandbox_id = started["conversation_id"], started["sandbox_id"]
            assert conv_id and sandbox_id

            await j.answer(conv_id, first, after="start_conversation")

            detail = await j.ok("get_conversation", {"conversation_id": conv_id})
            assert detail["id"] == conv_id and detail["sandbox_id"] == sandbox_id
            assert (detail["sandbox_status"], detail["execution_status"]) == ("RUNNING", "finished")
            assert detail["llm_model"] == "openai/fake-model"

            listed = await j.ok("list_conversations", {})
            assert conv_id in [c["id"] for c in listed["items"]]

            sent = await j.ok("send_message", {"conversation_id": conv_id, "message": f"Now echo {second}"})
            assert sent["delivered"] and not sent["resumed_sandbox"], sent
            await j.answer(conv_id, second, after="send_message")

            paused = await j.ok("pause_sandbox", {"sandbox_id": sandbox_id})
            assert paused["status"] == "PAUSED", paused

            sent = await j.ok("send_message", {"conversation_id": conv_id, "message": f"After the pause, echo {third}"})
            assert sent["delivered"] and sent["resumed_sandbox"] is True, sent
            await j.answer(conv_id, third, after="send_message with auto_resume")

            paused = await j.ok("pause_sandbox", {"sandbox_id": sandbox_id})
            assert paused["status"] == "PAUSED", paused
            refused = await j.call(
                "send_message", {"conversation_id": conv_id, "message": "never delivered", "auto_resume": False}
            )
            assert refused.is_error and "PAUSED" in text_of(refused), text_of(refused)

            # The sandbox is paused: the events come from the app server's store, fed by the webhook.
            events = await j.ok("get_conversation_events", {"conversation_id": conv_id, "limit": 100})
            texts = "\n".join(str(e.get("text", "")) for e in events["events"])
            for sent_token in (first, second, third):
                assert texts.count(sent_token) >= 2, f"{sent_token} and its echo should be in the events: {texts}"
            assert "never delivered" not in texts

            resource = await client.read_resource(f"openhands://conversations/{conv_id}")
            content = resource.contents[0]
            assert isinstance(content, TextResourceContents)
            assert json.loads(content.text)["id"] == conv_id
            j.step(f"read openhands://conversations/{conv_id} -> {short(content.text)}")

            # Deleting while the process sandbox is paused stalls the app server about 10 s (it SIGTERMs a
            # stopped process and waits on it in its event loop), so the next call is slow, not broken.
            deleted = await j.ok("delete_conversation", {"conversation_id": conv_id})
            assert deleted == {"deleted": True, "id": conv_id}
            gone = await j.call("get_conversation", {"conversation_id": conv_id})
            assert gone.is_error and "not found" in text_of(gone).lower(), text_of(gone)
            j.step("journey done")


async def test_the_title_given_to_start_conversation_stays(app_server: AppServer) -> None:
    title = "E2E title " + token()
    with anyio.fail_after(TITLE_TIMEOUT):
        async with Client(oh_mcp_params(app_server)) as client:
            j = Journey(client)
            started = await j.ok(
                "start_conversation", {"message": f"Echo {token()}", "title": title, "timeout_seconds": 120}
            )
            assert started["status"] == "READY", started
            conv_id = started["conversation_id"]
            try:
                await j.ok("wait_for_agent", {"conversation_id": conv_id, "timeout_seconds": 60})
                # OpenHands may put an older title back for a moment (a stale webhook write, then
                # its auto-title); oh-mcp sets it again, so the title the user sees settles on ours.
                titles = []
                with anyio.move_on_after(AUTO_TITLE_WINDOW):
                    while True:
                        titles.append((await j.ok("get_conversation", {"conversation_id": conv_id}))["title"])
                        await anyio.sleep(1)
                await anyio.sleep(2)
                titles.append((await j.ok("get_conversation", {"conversation_id": conv_id}))["title"])
                j.step(f"titles seen: {sorted(set(titles), key=titles.index)}")
                assert titles[-1] == title, f"the title became {titles[-1]!r}"
            finally:
                await j.call("delete_conversation", {"conversation_id": conv_id})


ISSUE_MESSAGE = "Implement a token bucket limiter and an Authorization header check; the reply token: XY12 please"


async def test_the_agent_s_words_come_back_intact_and_only_a_key_is_masked(app_server: AppServer) -> None:
    key = "sk-proj-" + uuid.uuid4().hex + "E2e"  # a made-up key, shaped like OpenAI's
    message = f"{ISSUE_MESSAGE}, with max_tokens: 4096 and the key {key}"
    masked = message.replace(key, "***")
    with anyio.fail_after(TITLE_TIMEOUT):
        async with Client(oh_mcp_params(app_server)) as client:
            j = Journey(client)
            started = await j.ok("start_conversation", {"message": message, "timeout_seconds": 120})
            assert started["status"] == "READY", started
            conv_id = started["conversation_id"]
            try:
                # The fake LLM answers "Echo: <message>": every word must come back, the key as ***.
                answer = await j.answer(conv_id, masked, after="start_conversation")
                events = await j.ok("get_conversation_events", {"conversation_id": conv_id, "limit": 100})
                users = [e["text"] for e in events["events"] if e["kind"] == "MessageEvent" and e["source"] == "user"]
                assert any(masked in text for text in users), users
                echoes = [e["text"] for e in events["events"] if "Echo: " in e["text"]]
                assert any(masked in text for text in echoes), echoes
                assert key not in json.dumps(answer) + json.dumps(events)
            finally:
                await j.call("delete_conversation", {"conversation_id": conv_id})

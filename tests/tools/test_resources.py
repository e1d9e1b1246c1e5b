"""Resources, templates, completion and prompts."""

from __future__ import annotations

import json

import pytest
from mcp import Client, MCPError
from mcp.types import PromptReference, ResourceTemplateReference

from oh_mcp import Settings
from oh_mcp.resources import RecentPaths, complete_path
from oh_mcp.runtime import Runtime, client_for
from tests.calls import ok as call
from tests.fake.state import FakeOpenHands

pytestmark = pytest.mark.anyio


async def read_json(client: Client, uri: str) -> object:
    result = await client.read_resource(uri)
    return json.loads(result.contents[0].text)  # type: ignore[union-attr]


async def test_static_resources_list_specs_sandboxes_and_conversations(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation(title="hello")
    listed = {r.uri for r in (await mcp_client.list_resources()).resources}
    assert {"openhands://sandbox-specs", "openhands://sandboxes", "openhands://conversations"} <= listed
    specs = await read_json(mcp_client, "openhands://sandbox-specs")
    assert isinstance(specs, list) and specs[0]["id"].startswith("ghcr.io/")
    convs = await read_json(mcp_client, "openhands://conversations")
    assert isinstance(convs, list) and convs[0]["id"] == conv["id"]
    sandboxes = await read_json(mcp_client, "openhands://sandboxes")
    assert isinstance(sandboxes, list) and sandboxes[0]["id"] == conv["sandbox_id"]


async def test_templates_read_one_item_without_secrets(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation(title="hello")
    templates = {t.uri_template for t in (await mcp_client.list_resource_templates()).resource_templates}
    assert templates == {
        "openhands://sandboxes/{sandbox_id}",
        "openhands://conversations/{conversation_id}",
        "openhands://conversations/{conversation_id}/events",
        "openhands://conversations/{conversation_id}/changes",
        "openhands://conversations/{conversation_id}/patch",
        "openhands://conversations/{conversation_id}/files/{+path}",
    }
    meta = await mcp_client.read_resource(f"openhands://conversations/{conv['id']}")
    text = meta.contents[0].text  # type: ignore[union-attr]
    assert json.loads(text)["title"] == "hello"
    assert fake.sandbox_key(conv["sandbox_id"]) not in text
    sandbox = await read_json(mcp_client, f"openhands://sandboxes/{conv['sandbox_id']}")
    assert isinstance(sandbox, dict) and sandbox["status"] == "RUNNING"


async def test_events_resource_is_compact(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation(title="hello")
    await call(mcp_client, "send_message", {"conversation_id": conv["id"], "message": "ping"})
    await call(mcp_client, "wait_for_agent", {"conversation_id": conv["id"], "timeout_seconds": 10})
    events = await read_json(mcp_client, f"openhands://conversations/{conv['id']}/events")
    assert isinstance(events, list) and events
    assert all(set(e) == {"id", "time", "source", "kind", "text", "is_error"} for e in events)


@pytest.mark.parametrize(
    "uri",
    [
        "openhands://conversations/0123456789abcdef0123456789abcdef",
        "openhands://conversations/not-an-id",
        "openhands://sandboxes/nope",
        "openhands://conversations/0123456789abcdef0123456789abcdef/events",
    ],
)
async def test_a_missing_item_is_resource_not_found(mcp_client: Client, uri: str) -> None:
    with pytest.raises(MCPError) as info:
        await mcp_client.read_resource(uri)
    assert info.value.error.code == -32602


async def test_completion_offers_recent_ids_by_prefix(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation(title="a")
    fake.add_conversation(title="b")
    ref = ResourceTemplateReference(type="ref/resource", uri="openhands://conversations/{conversation_id}")
    result = await mcp_client.complete(ref, {"name": "conversation_id", "value": conv["id"][:6]})
    assert conv["id"] in result.completion.values
    assert all(v.startswith(conv["id"][:6]) for v in result.completion.values)
    sandbox_ref = ResourceTemplateReference(type="ref/resource", uri="openhands://sandboxes/{sandbox_id}")
    sandboxes = await mcp_client.complete(sandbox_ref, {"name": "sandbox_id", "value": ""})
    assert conv["sandbox_id"] in sandboxes.completion.values
    prompt = await mcp_client.complete(
        PromptReference(type="ref/prompt", name="review_conversation"), {"name": "conversation_id", "value": ""}
    )
    assert len(prompt.completion.values) == 2


async def test_prompts_guide_the_workflow(mcp_client: Client) -> None:
    prompts = {p.name: p for p in (await mcp_client.list_prompts()).prompts}
    assert {"delegate_task", "review_conversation"} <= set(prompts)
    got = await mcp_client.get_prompt("delegate_task", {"task": "fix bug 12", "repository": "acme/app"})
    text = got.messages[0].content.text  # type: ignore[union-attr]
    assert "fix bug 12" in text and "start_conversation" in text and "acme/app" in text
    review = await mcp_client.get_prompt("review_conversation", {"conversation_id": "abc"})
    assert "get_conversation_events" in review.messages[0].content.text  # type: ignore[union-attr]


async def test_path_completion_lists_once_per_conversation_and_caller(fake: FakeOpenHands, settings: Settings) -> None:
    """Completion comes on every keystroke: the listing is reused for a few seconds, but never across
    callers with different OpenHands keys."""
    conv = fake.add_conversation()
    fake.shell(conv["sandbox_id"], "echo x > a.txt && echo y > b.txt")
    user = {"key": "user-one-key"}
    rt = Runtime(settings, client_factory=lambda s: client_for(s, key_provider=lambda: user["key"]))
    recent = RecentPaths()
    async with rt.lifespan(None):
        before = len(fake.commands)
        listed = []
        for typed in ("", "a", "b"):
            completed = await complete_path(rt, {"conversation_id": conv["id"]}, typed, recent)
            assert completed.values == [p for p in ("a.txt", "b.txt") if p.startswith(typed)]
            listed.append(len(fake.commands))
        assert before < listed[0] == listed[1] == listed[2], "later keystrokes are served from the cache"
        user["key"] = "user-two-key"
        await complete_path(rt, {"conversation_id": conv["id"]}, "a", recent)
        assert len(fake.commands) > listed[2], "another caller's key lists anew"

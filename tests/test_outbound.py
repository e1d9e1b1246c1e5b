"""Whatever leaves the server is scrubbed, including fields no tool redacts itself."""

from __future__ import annotations

import pytest
from mcp import Client
from mcp.types import TextResourceContents

from oh_mcp.outbound import scrub_tool_result, scrub_tree
from tests.calls import ok as call
from tests.fake.state import FakeOpenHands

pytestmark = pytest.mark.anyio

FAKE_KEY = "sk-" + "T3stKey0nly4Tests" * 2


async def test_a_key_in_a_title_is_masked_in_tool_results_and_resources(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    conv = fake.add_conversation(title=f"use {FAKE_KEY} for the token bucket")
    listed = await mcp_client.call_tool("list_conversations", {})
    assert listed.structured_content is not None
    assert listed.structured_content["items"][0]["title"] == "use *** for the token bucket"
    assert FAKE_KEY not in listed.content[0].text  # type: ignore[union-attr]
    resource = await mcp_client.read_resource(f"openhands://conversations/{conv['id']}")
    content = resource.contents[0]
    assert isinstance(content, TextResourceContents)
    assert FAKE_KEY not in content.text and "use *** for the token bucket" in content.text


async def test_a_key_quoted_in_a_start_error_is_masked_in_the_error_and_the_task(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    fake.fail_next_start(f"the agent server refused {FAKE_KEY}")
    failed = await mcp_client.call_tool("start_conversation", {"message": "go", "timeout_seconds": 10})
    text = failed.content[0].text  # type: ignore[union-attr]
    assert failed.is_error and "the agent server refused ***" in text, text
    task = await call(mcp_client, "get_start_task", {"task_id": list(fake.tasks)[-1]})
    assert task["detail"] == "the agent server refused ***"


def test_scrub_tree_masks_every_string_and_keeps_the_shape() -> None:
    tree = {"a": [f"x {FAKE_KEY}", 1, None, {"b": "known-value-123"}], "n": 2.5, "ok": True}
    assert scrub_tree(tree, ("known-value-123",)) == {"a": ["x ***", 1, None, {"b": "***"}], "n": 2.5, "ok": True}


def test_of_a_thousand_known_keys_only_those_present_are_masked_and_a_clean_tree_is_untouched() -> None:
    keys = tuple(f"sess-{i:04d}-Zq9" for i in range(1000))
    clean = {"items": [{"title": "token bucket", "repo": "acme/app?x=1&y=2"}] * 50}
    assert scrub_tree(clean, keys) is clean
    dirty = {"items": [{"title": "ok"}, {"title": f"key {keys[737]} and {keys[3]}"}], "note": "a\0b"}
    assert scrub_tree(dirty, keys) == {"items": [{"title": "ok"}, {"title": "key *** and ***"}], "note": "a\0b"}


def test_a_credential_shape_inside_one_string_of_many_is_masked() -> None:
    tree = {"a": ["plain", "sk-learn", {"b": f"see {FAKE_KEY}"}]}
    assert scrub_tree(tree, ()) == {"a": ["plain", "sk-learn", {"b": "see ***"}]}


def test_a_tool_result_is_searched_once_and_masked_wherever_the_key_stands() -> None:
    key = "known-value-1234567"
    clean = {
        "content": [{"type": "text", "text": "fine"}, {"type": "resource", "resource": {"uri": "x:1", "text": "ok"}}],
        "structuredContent": {"items": [{"title": "fine"}]},
    }
    assert scrub_tool_result(clean, (key,)) is clean
    in_text = {**clean, "content": [{"type": "text", "text": f"a {key}"}]}
    assert scrub_tool_result(in_text, (key,))["content"] == [{"type": "text", "text": "a ***"}]
    in_resource = {**clean, "content": [{"type": "resource", "resource": {"uri": key, "text": key}}]}
    assert scrub_tool_result(in_resource, (key,))["content"][0]["resource"] == {"uri": key, "text": "***"}
    in_structured = {**clean, "structuredContent": {"items": [{"title": key}]}}
    scrubbed = scrub_tool_result(in_structured, (key,))
    assert scrubbed["structuredContent"] == {"items": [{"title": "***"}]} and scrubbed["content"] == clean["content"]
    shaped = {"content": [{"type": "text", "text": f"token {FAKE_KEY}"}], "structuredContent": {"n": 1}}
    assert scrub_tool_result(shaped, ())["content"][0]["text"] == "token ***"

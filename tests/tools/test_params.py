"""Argument values that OpenHands restricts are checked before any request, against the same
lists its OpenAPI document gives, so neither can drift from the real server."""

from __future__ import annotations

from typing import get_args

import pytest
from mcp import Client

from oh_mcp.tools.params import EVENT_KINDS, NEWER_EVENT_KINDS, GitProvider
from tests.fake.state import FakeOpenHands
from tests.openapi_contract import OpenAPIContract

pytestmark = pytest.mark.anyio


def test_the_lists_match_the_openapi_document(openapi: OpenAPIContract) -> None:
    schemas = openapi.doc["components"]["schemas"]
    assert set(get_args(GitProvider)) == set(schemas["ProviderType"]["enum"])
    search = openapi.doc["paths"]["/api/v1/conversation/{conversation_id}/events/search"]["get"]
    kind = next(p for p in search["parameters"] if p["name"] == "kind__eq")["schema"]
    assert EVENT_KINDS - NEWER_EVENT_KINDS == set(kind["anyOf"][0]["enum"])
    assert not NEWER_EVENT_KINDS & set(kind["anyOf"][0]["enum"]), "1.11.0 knows it now: not newer"


async def test_an_unknown_event_kind_is_refused_before_any_request(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation()
    refused = await mcp_client.call_tool("get_conversation_events", {"conversation_id": conv["id"], "kind": "Message"})
    text = refused.content[0].text  # type: ignore[union-attr]
    assert refused.is_error and "MessageEvent" in text, text
    assert not [p for _, p, _ in fake.requests if p.endswith("/events/search")]
    listed = await mcp_client.call_tool(
        "get_conversation_events", {"conversation_id": conv["id"], "kind": "MessageEvent"}
    )
    assert not listed.is_error

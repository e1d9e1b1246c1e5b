"""The agent-server routes oh-mcp calls, checked against both agent servers it is tested with: 1.34.0
(OpenHands 1.11.0's sandboxes) and 1.58.2 (newer setups, OpenHands Cloud). The routes, parameters,
body fields, answer fields and enum values come from the client's own list (agent_routes.py); the
documents are cut by scripts/agent-server-openapi. A route a document lacks, a field it drops, an enum
value it no longer takes, or any difference between the two not listed below fails here."""

from __future__ import annotations

import json
from typing import Any

import pytest

from oh_mcp.openhands.agent_routes import ROUTES, AgentRoute
from oh_mcp.openhands.models import CONFIRMATION_POLICIES
from tests.openapi_contract import AGENT_DOCUMENTS, AGENT_VERSIONS

DOCUMENTS = {version: json.loads(path.read_text()) for version, path in AGENT_DOCUMENTS.items()}
# Where the two documents differ on oh-mcp's routes, as read on 2026-12-08, each with what oh-mcp does
# about it. A new difference fails the test until it is understood and listed.
KNOWN_DIFFERENCES = {
    # 1.58.2 declares its limit of running conversations: oh-mcp says the message is saved (send_message).
    ("post", "/api/conversations/{conversation_id}/events/respond_to_confirmation", "responses/429"),
    ("post", "/api/conversations/{conversation_id}/run", "responses/429"),
    # 1.34.0 wrote `lte`, which JSON Schema ignores; 1.58.2 enforces 100. oh-mcp asks for at most 100.
    ("get", "/api/conversations/{conversation_id}/events/search", "parameters/limit/schema/lte"),
    ("get", "/api/conversations/{conversation_id}/events/search", "parameters/limit/schema/maximum"),
    # 1.58.2 declares the bytes it sends; oh-mcp reads them as bytes either way.
    ("get", "/api/file/archive", "responses/200/content/application/octet-stream"),
    ("get", "/api/file/download", "responses/200/content/application/octet-stream"),
    # 1.58.2 answers an upload with its size (FileUploadResult); oh-mcp reads neither answer.
    ("post", "/api/file/upload", "responses/200/content/application/json/schema/$ref"),
}


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def operation(document: dict[str, Any], route: AgentRoute) -> dict[str, Any]:
    found: dict[str, Any] | None = document["paths"].get(route.path, {}).get(route.method.lower())
    assert found is not None, f"{route.method} {route.path} is missing"
    return found


def properties(document: dict[str, Any], content: dict[str, Any]) -> set[str]:
    schema = resolve(document, next(iter(content.values()))["schema"])
    return set(schema.get("properties", {}))


CASES = [(version, route) for version in AGENT_VERSIONS for route in ROUTES]


@pytest.mark.parametrize(("version", "route"), CASES, ids=[f"{v}-{r.method}-{r.path}" for v, r in CASES])
def test_each_route_oh_mcp_calls_takes_what_it_sends_and_gives_what_it_reads(version: str, route: AgentRoute) -> None:
    document = DOCUMENTS[version]
    op = operation(document, route)
    query = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}
    assert set(route.params) <= set(query), f"{version}: {route.path} lacks {set(route.params) - set(query)}"
    if route.body:
        sent = properties(document, op["requestBody"]["content"])
        assert set(route.body) <= sent, f"{version}: {route.path}'s body lacks {set(route.body) - sent}"
    if route.reads:
        given = properties(document, op["responses"]["200"]["content"])
        assert set(route.reads) <= given, f"{version}: {route.path}'s answer lacks {set(route.reads) - given}"
    for name, values in route.enums.items():
        allowed = set(_enum(document, query[name]["schema"]))
        assert set(values) <= allowed, f"{version}: {route.path} {name} no longer takes {set(values) - allowed}"


def _enum(document: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    schema = resolve(document, schema)
    for option in schema.get("anyOf", []):
        if "enum" in resolve(document, option) or "$ref" in option:
            return _enum(document, option)
    return list(schema.get("enum", []))


@pytest.mark.parametrize("version", AGENT_VERSIONS)
def test_the_confirmation_policies_oh_mcp_sends_are_kinds_the_server_knows(version: str) -> None:
    document = DOCUMENTS[version]
    schemas = document["components"]["schemas"]
    kinds = {
        schema["properties"]["kind"].get("const")
        for schema in schemas.values()
        if "kind" in schema.get("properties", {})
    }
    for policy in CONFIRMATION_POLICIES.values():
        assert policy["kind"] in kinds, f"{version} has no policy kind {policy['kind']}"
    risk = schemas["SecurityRisk"]["enum"]
    assert CONFIRMATION_POLICIES["risky"]["threshold"] in risk


def differences(old: Any, new: Any, where: str = "") -> set[str]:
    """JSON pointers where two fragments differ, prose (descriptions, titles, examples) aside."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: set[str] = set()
        for key in (old.keys() | new.keys()) - {"description", "title", "examples", "summary"}:
            if key not in old or key not in new:
                found.add(f"{where}/{key}".lstrip("/"))
            else:
                found |= differences(old[key], new[key], f"{where}/{key}")
        return found
    if isinstance(old, list) and isinstance(new, list) and all(isinstance(i, dict) and "name" in i for i in old + new):
        return differences({i["name"]: i for i in old}, {i["name"]: i for i in new}, where)
    return set() if old == new else {where.lstrip("/")}


def test_the_two_agent_servers_differ_only_where_it_is_known_and_handled() -> None:
    old, new = (DOCUMENTS[v] for v in AGENT_VERSIONS)
    found = set()
    for route in ROUTES:
        method = route.method.lower()
        for pointer in differences(operation(old, route), operation(new, route)):
            found.add((method, route.path, pointer))
    assert found == KNOWN_DIFFERENCES


def test_every_schema_both_documents_hold_is_the_same_where_oh_mcp_reads_it() -> None:
    old, new = (DOCUMENTS[v]["components"]["schemas"] for v in AGENT_VERSIONS)
    changed = {name for name in old.keys() & new.keys() if differences(old[name], new[name])}
    assert changed == set(), f"schemas changed between {AGENT_VERSIONS}: {sorted(changed)}"
    assert set(new) - set(old) == {"FileUploadResult"} and set(old) <= set(new)

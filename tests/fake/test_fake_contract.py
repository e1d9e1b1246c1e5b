"""The fake against the real server's OpenAPI document: every route it serves, and the rules the
spec describes. Also proves the contract checker catches drift."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fake.state import FakeOpenHands
from tests.openapi_contract import ContractViolation, OpenAPIContract, api_path, contract_event_hooks

pytestmark = pytest.mark.anyio


@pytest.fixture
async def http(fake: FakeOpenHands, contract: OpenAPIContract):
    async with httpx.AsyncClient(base_url=fake.base_url, event_hooks=contract_event_hooks(contract)) as client:
        yield client


async def test_every_route_answers_within_the_contract(fake: FakeOpenHands, http: httpx.AsyncClient) -> None:
    conv = fake.add_conversation(title="c")
    cid, sid = conv["id"], conv["sandbox_id"]
    assert (await http.get("/api/v1/app-conversations/search", params={"limit": 5})).status_code == 200
    assert (await http.get("/api/v1/app-conversations", params={"ids": [cid, "0" * 32]})).json()[1] is None
    task = (
        await http.post(
            "/api/v1/app-conversations",
            json={"initial_message": {"content": [{"type": "text", "text": "x"}], "run": True}},
        )
    ).json()
    assert task["status"] == "WORKING"
    assert (await http.get("/api/v1/app-conversations/start-tasks", params={"ids": [task["id"]]})).status_code == 200
    assert (await http.get("/api/v1/app-conversations/start-tasks/search")).status_code == 200
    assert (await http.patch(f"/api/v1/app-conversations/{cid}", json={"title": "d"})).json()["title"] == "d"
    sent = await http.post(
        f"/api/v1/app-conversations/{cid}/send-message", json={"content": [{"type": "text", "text": "hi"}]}
    )
    assert sent.json() == {"success": True, "sandbox_status": "RUNNING", "message": None}
    assert (
        await http.get(f"/api/v1/conversation/{cid}/events/search", params={"sort_order": "TIMESTAMP_DESC"})
    ).status_code == 200
    assert (await http.get("/api/v1/sandboxes/search")).status_code == 200
    assert (await http.get("/api/v1/sandboxes", params={"id": [sid, "nope"]})).json()[1] is None
    assert (await http.post("/api/v1/sandboxes")).json()["status"] in ("STARTING", "RUNNING")
    assert (await http.post(f"/api/v1/sandboxes/{sid}/pause")).json() == {"success": True}
    assert (await http.post(f"/api/v1/sandboxes/{sid}/resume")).json() == {"success": True}
    assert (await http.get("/api/v1/sandbox-specs/search")).json()["items"][0]["id"] == fake.specs[0]["id"]
    assert (await http.get("/api/v1/sandbox-specs", params={"id": ["nope"]})).json() == [None]
    assert (await http.delete(f"/api/v1/app-conversations/{cid}")).json() == {"success": True}


async def test_a_ready_conversation_has_its_live_fields_and_events_match_the_schemas(
    fake: FakeOpenHands, http: httpx.AsyncClient
) -> None:
    fake.agent_run_seconds = 0
    conv = fake.add_conversation()
    await http.post(
        f"/api/v1/app-conversations/{conv['id']}/send-message", json={"content": [{"type": "text", "text": "go"}]}
    )
    data = (await http.get("/api/v1/app-conversations", params={"ids": [conv["id"]]})).json()[0]
    assert data["conversation_url"].endswith(f"/api/conversations/{conv['id']}")
    assert data["session_api_key"] == fake.sandbox_key(conv["sandbox_id"])
    events = (await http.get(f"/api/v1/conversation/{conv['id']}/events/search")).json()["items"]
    assert {e["kind"] for e in events} >= {"MessageEvent", "ActionEvent", "ObservationEvent"}, events


async def test_live_fields_are_null_unless_the_sandbox_runs(fake: FakeOpenHands, http: httpx.AsyncClient) -> None:
    conv = fake.add_conversation(sandbox_status="PAUSED")
    data = (await http.get("/api/v1/app-conversations", params={"ids": [conv["id"]]})).json()[0]
    assert data["sandbox_status"] == "PAUSED"
    assert data["execution_status"] is None and data["conversation_url"] is None and data["session_api_key"] is None


@pytest.fixture
async def lax(fake: FakeOpenHands, contract: OpenAPIContract):
    """For requests that break the contract on purpose: only the answers are checked (by the hooks)."""
    fake.check_contract = False
    hooks = contract_event_hooks(contract, check_requests=False)
    async with httpx.AsyncClient(base_url=fake.base_url, event_hooks=hooks) as client:
        yield client


async def test_validation_errors_use_fastapis_shape(fake: FakeOpenHands, lax: httpx.AsyncClient) -> None:
    http = lax
    for limit in (0, 101):
        response = await http.get("/api/v1/sandboxes/search", params={"limit": limit})
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "limit"]
    sandbox = fake.add_sandbox()
    quirk = await http.delete(f"/api/v1/sandboxes/{sandbox['id']}")
    assert quirk.status_code == 422 and quirk.json()["detail"][0]["loc"] == ["query", "sandbox_id"]


async def test_send_message_rules(fake: FakeOpenHands, lax: httpx.AsyncClient) -> None:
    http = lax
    body = {"content": [{"type": "text", "text": "x"}]}
    expectations = {"PAUSED": 409, "MISSING": 410, "ERROR": 503}
    for status, code in expectations.items():
        conv = fake.add_conversation(sandbox_status=status)
        response = await http.post(f"/api/v1/app-conversations/{conv['id']}/send-message", json=body)
        assert response.status_code == code, status
    unknown = await http.post(f"/api/v1/app-conversations/{'0' * 32}/send-message", json=body)
    assert unknown.status_code == 404
    empty = await http.post(
        f"/api/v1/app-conversations/{fake.add_conversation()['id']}/send-message", json={"content": []}
    )
    assert empty.status_code == 422


async def test_session_api_key_auth(fake: FakeOpenHands) -> None:
    fake.session_api_key = "k1"
    async with httpx.AsyncClient(base_url=fake.base_url) as http:
        assert (await http.get("/api/v1/sandboxes/search")).status_code == 401
        assert (await http.get("/api/v1/sandboxes/search", headers={"Authorization": "Bearer k1"})).status_code == 401
        assert (await http.get("/api/v1/sandboxes/search", headers={"X-Session-API-Key": "k1"})).status_code == 200
        assert (await http.get("/server_info")).status_code == 200


async def test_the_agent_face_checks_the_sandbox_key(fake: FakeOpenHands) -> None:
    conv = fake.add_conversation()
    url = f"{fake.base_url}/agent/{conv['sandbox_id']}/api/conversations/{conv['id']}/agent_final_response"
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).status_code == 401
        good = await http.get(url, headers={"X-Session-API-Key": fake.sandbox_key(conv["sandbox_id"])})
        assert good.status_code == 200 and good.json() == {"response": ""}


def test_the_checker_catches_drift(openapi: OpenAPIContract) -> None:
    with pytest.raises(ContractViolation, match="not declared"):
        openapi.validate_request("GET", "/api/v1/sandboxes/search", {"offset": ["2"]}, None)
    with pytest.raises(ContractViolation, match="required query parameter 'sandbox_id'"):
        openapi.validate_request("DELETE", "/api/v1/sandboxes/abc", {}, None)
    with pytest.raises(ContractViolation, match="no such operation"):
        openapi.validate_request("GET", "/api/v1/app-conversations/abc", {}, None)
    sandbox = {"id": "s", "created_by_user_id": None, "sandbox_spec_id": "x", "status": "RUNNING"}
    with pytest.raises(ContractViolation, match="session_api_key"):
        openapi.validate_response("GET", "/api/v1/sandboxes/search", 200, {"items": [sandbox]})
    with pytest.raises(ContractViolation):
        openapi.validate_response(
            "GET", "/api/v1/sandboxes/search", 200, {"items": [sandbox | {"session_api_key": None, "status": 7}]}
        )
    with pytest.raises(ContractViolation, match="error body"):
        openapi.validate_response("POST", "/api/v1/sandboxes/x/pause", 404, {"message": "gone"})
    with pytest.raises(ContractViolation):
        openapi.validate_request("POST", "/api/v1/app-conversations/abc/send-message", {}, {"content": "not a list"})


def test_the_checker_reads_formats_path_parameters_and_statuses_as_the_server_does(openapi: OpenAPIContract) -> None:
    hex_id = "0123456789abcdef0123456789abcdef"
    body = {"content": [{"type": "text", "text": "x"}]}
    openapi.validate_request("POST", f"/api/v1/app-conversations/{hex_id}/send-message", {}, body)
    with pytest.raises(ContractViolation, match="path conversation_id"):
        openapi.validate_request("POST", "/api/v1/app-conversations/not-a-uuid/send-message", {}, body)
    spec: dict[str, Any] = {
        "id": "s",
        "command": None,
        "created_at": "2026-12-01T10:00:00",
        "initial_env": {},
        "working_dir": ".",
    }
    openapi.validate_response("GET", "/api/v1/sandbox-specs/search", 200, {"items": [spec]})
    with pytest.raises(ContractViolation, match="is not a 'date-time'"):
        openapi.validate_response("GET", "/api/v1/sandbox-specs/search", 200, {"items": [spec | {"created_at": "May"}]})
    with pytest.raises(ContractViolation, match="neither declared nor documented"):
        openapi.validate_response("GET", "/api/v1/sandboxes/search", 404, {"detail": "Not Found"})
    openapi.validate_response("POST", "/api/v1/sandboxes/s1/pause", 404, {"detail": "Not Found"})


def test_the_checker_knows_the_agent_server_routes_oh_mcp_uses(openapi: OpenAPIContract) -> None:
    path = api_path("/agent/sbx1/api/conversations/0123456789abcdef0123456789abcdef/agent_final_response")
    assert path == "/api/conversations/0123456789abcdef0123456789abcdef/agent_final_response"
    assert api_path("/api/v1/sandboxes") == "/api/v1/sandboxes" and api_path("/alive") is None
    openapi.validate_response("GET", path, 200, {"response": "done"})
    with pytest.raises(ContractViolation, match="response"):
        openapi.validate_response("GET", path, 200, {"answer": "done"})
    with pytest.raises(ContractViolation, match="path conversation_id"):
        openapi.validate_request("PATCH", "/api/conversations/c1", {}, {"title": "t"})
    with pytest.raises(ContractViolation, match="no such operation"):
        openapi.validate_request("POST", path.removesuffix("/agent_final_response") + "/events", {}, {})


async def test_the_workspace_routes_answer_within_the_contract(fake: FakeOpenHands, http: httpx.AsyncClient) -> None:
    conv = fake.add_conversation()
    cid, root = conv["id"], str(fake.workspace(conv["sandbox_id"]))
    fake.shell(conv["sandbox_id"], "echo hi > notes.txt")
    changes = (await http.get(f"/api/v1/app-conversations/{cid}/git/changes", params={"path": root})).json()
    assert {"status": "ADDED", "path": "notes.txt"} in changes
    diff = await http.get(f"/api/v1/app-conversations/{cid}/git/diff", params={"path": root + "/notes.txt"})
    assert diff.json() == {"original": "", "modified": "hi"}
    text = await http.get(f"/api/v1/app-conversations/{cid}/file", params={"file_path": root + "/notes.txt"})
    assert text.json() == "hi\n"
    fake.pause(conv["sandbox_id"])
    paused = await http.get(f"/api/v1/app-conversations/{cid}/git/diff", params={"path": root + "/notes.txt"})
    assert paused.status_code == 409


def test_the_agent_server_fragment_knows_the_steering_routes_and_their_bodies(openapi: OpenAPIContract) -> None:
    agent = openapi
    base = "/api/conversations/0123456789abcdef0123456789abcdef"
    for kind in ("NeverConfirm", "AlwaysConfirm", "ConfirmRisky"):
        agent.validate_request("POST", base + "/confirmation_policy", {}, {"policy": {"kind": kind}})
    agent.validate_request("POST", base + "/events/respond_to_confirmation", {}, {"accept": False, "reason": "no"})
    agent.validate_request("POST", base + "/ask_agent", {}, {"question": "how far?"})
    agent.validate_request("GET", base + "/events/search", {"limit": ["5"], "sort_order": ["TIMESTAMP_DESC"]}, None)
    agent.validate_response("POST", base + "/interrupt", 200, {"success": True})
    with pytest.raises(ContractViolation):
        agent.validate_request("POST", base + "/confirmation_policy", {}, {"policy": {"kind": "Sometimes"}})
    with pytest.raises(ContractViolation):
        agent.validate_request("POST", base + "/events/respond_to_confirmation", {}, {"reason": "no accept"})

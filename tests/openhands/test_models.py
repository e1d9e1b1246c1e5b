"""Models tolerate a newer server: unknown fields are ignored, unknown statuses kept as strings."""

from __future__ import annotations

import pytest

from oh_mcp.openhands import AppConversation, InvalidRequest, Sandbox, SandboxStatus
from oh_mcp.openhands.models import conversation_id, sandbox_id

SANDBOX = {
    "id": "2coz4f07bGr8GX4zsNMcEn",
    "sandbox_spec_id": "ghcr.io/openhands/agent-server:1.34.0-python",
    "status": "RUNNING",
    "session_api_key": "sbx-secret-key",
    "exposed_urls": [{"name": "AGENT_SERVER", "url": "http://localhost:8000", "port": 8000}],
    "created_at": "2026-11-28T10:00:00Z",
}


def test_unknown_fields_and_statuses_do_not_break_parsing() -> None:
    sandbox = Sandbox.model_validate(SANDBOX | {"status": "HIBERNATING", "brand_new_field": {"x": 1}})
    assert sandbox.status == "HIBERNATING"
    known = Sandbox.model_validate(SANDBOX)
    assert known.status is SandboxStatus.RUNNING


def test_session_keys_never_show_in_repr_or_json() -> None:
    sandbox = Sandbox.model_validate(SANDBOX)
    assert "sbx-secret-key" not in repr(sandbox)
    assert "sbx-secret-key" not in sandbox.model_dump_json()


def test_dashed_conversation_ids_are_normalised_to_hex() -> None:
    dashed = "645a788b-fba1-4d71-9dce-b16e654eb145"
    conv = AppConversation.model_validate(
        {"id": dashed, "sandbox_id": "s", "created_at": "2026-11-28T10:00:00Z", "updated_at": "2026-11-28T10:00:00Z"}
    )
    assert conv.id == "645a788bfba14d719dceb16e654eb145"
    assert conversation_id(dashed.upper()) == conv.id


@pytest.mark.parametrize("bad", ["../etc", "abc", "645a788bfba14d719dceb16e654eb14?", ""])
def test_a_malformed_conversation_id_is_refused_before_any_request(bad: str) -> None:
    with pytest.raises(InvalidRequest):
        conversation_id(bad)


@pytest.mark.parametrize("bad", ["../x", "a/b", "a?b=1", "a#b", "%2f", "a\nb", "", "-rf"])
def test_a_sandbox_id_that_could_escape_its_url_segment_is_refused(bad: str) -> None:
    with pytest.raises(InvalidRequest):
        sandbox_id(bad)

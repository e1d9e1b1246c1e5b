"""The error tree: three upstream body shapes, one normalised error per status, no secrets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx2
import pytest

from oh_mcp.openhands import errors as e


def _response(status: int, body: object = None, headers: dict[str, str] | None = None) -> httpx2.Response:
    return httpx2.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, e.InvalidRequest),
        (401, e.AuthFailed),
        (403, e.AuthFailed),
        (404, e.NotFound),
        (409, e.SandboxNotRunning),
        (410, e.Archived),
        (422, e.InvalidRequest),
        (429, e.RateLimited),
        (500, e.ServerError),
        (502, e.Unavailable),
        (503, e.Unavailable),
        (504, e.Unavailable),
    ],
)
def test_each_status_maps_to_its_error(status: int, kind: type[e.OpenHandsError]) -> None:
    error = e.error_from_response(_response(status, {"detail": "boom"}), "Conversation abc")
    assert type(error) is kind
    assert error.status == status
    assert "Conversation abc" in error.for_model()


def test_the_three_body_shapes_are_normalised() -> None:
    plain = e.error_from_response(_response(400, {"detail": "Too many ids"}), "x")
    listed = e.error_from_response(
        _response(422, {"detail": [{"type": "missing", "loc": ["query", "sandbox_id"], "msg": "Field required"}]}), "x"
    )
    other = e.error_from_response(_response(500, {"error": "agent server exploded"}), "x")
    assert "Too many ids" in plain.for_model()
    assert isinstance(listed, e.InvalidRequest)
    assert listed.field_errors == ["sandbox_id: Field required"]
    assert "agent server exploded" in other.for_model()


def test_a_409_carries_the_sandbox_status_as_a_fact() -> None:
    body = {"detail": "Sandbox is PAUSED. Use POST /api/v1/sandboxes/s1/resume to resume it first."}
    error = e.error_from_response(_response(409, body), "Conversation c1")
    assert isinstance(error, e.SandboxNotRunning)
    assert error.sandbox_status == "PAUSED"
    assert error.for_model() == "Conversation c1: its sandbox is PAUSED (HTTP 409). It must be RUNNING for this."


def test_retry_after_is_read_from_a_429() -> None:
    error = e.error_from_response(_response(429, {"detail": "slow down"}, {"Retry-After": "7"}), "x")
    assert isinstance(error, e.RateLimited)
    assert error.retry_after == 7.0
    assert "Wait 7 s" in error.for_model()


@pytest.mark.parametrize(
    ("offset", "low", "high"),
    [(30, 28.0, 30.0), (-60, 0.0, 0.0)],
)
def test_retry_after_may_be_an_http_date(offset: int, low: float, high: float) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=offset), usegmt=True)
    error = e.error_from_response(_response(429, {"detail": "slow down"}, {"Retry-After": when}), "x")
    assert isinstance(error, e.RateLimited) and error.retry_after is not None
    assert low <= error.retry_after <= high, (when, error.retry_after)


def test_a_retry_after_that_is_neither_seconds_nor_a_date_is_ignored() -> None:
    error = e.error_from_response(_response(429, {"detail": "slow"}, {"Retry-After": "soon"}), "x")
    assert isinstance(error, e.RateLimited) and error.retry_after is None
    assert "Wait a little" in error.for_model()


def test_a_non_json_error_body_still_gives_a_clean_error() -> None:
    error = e.error_from_response(httpx2.Response(502, text="<html>Bad gateway</html>"), "Sandbox s")
    assert isinstance(error, e.Unavailable)
    assert "Sandbox s is unavailable (HTTP 502)" in error.for_model()


def test_secrets_in_upstream_text_are_scrubbed() -> None:
    body = {"detail": "GET http://h:8000/x?session_api_key=abc123XYZ failed; key sk-live-999 rejected"}
    error = e.error_from_response(_response(500, body), "x", secrets=("sk-live-999",))
    text = error.for_model()
    assert "abc123XYZ" not in text and "sk-live-999" not in text
    assert "***" in text


def test_a_write_that_timed_out_says_it_may_have_been_applied() -> None:
    error = e.error_from_transport(httpx2.ReadTimeout("slow"), "Conversation c", write=True)
    assert isinstance(error, e.RequestTimeout) and error.sent
    assert "may or may not have been applied" in error.for_model()
    read = e.error_from_transport(httpx2.ReadTimeout("slow"), "Conversation c", write=False)
    assert isinstance(read, e.RequestTimeout) and not read.sent


def test_a_refused_connection_names_the_setting_to_check() -> None:
    error = e.error_from_transport(httpx2.ConnectError("refused"), "sandboxes", write=False)
    assert isinstance(error, e.ConnectionFailed)
    assert "OPENHANDS_URL" in error.for_model()


@pytest.mark.parametrize("at", [150, 195, 199, 400, 495])
def test_a_key_in_a_long_plain_text_error_body_shows_none_of_its_characters(at: int) -> None:
    key = "sbx" + "9f8e7d6c5b4a3f2e1d0c"
    body = "x" * at + key + " trailing text " * 50
    error = e.error_from_response(httpx2.Response(500, text=body), "Conversation 1", (key,))
    assert "xxxxx" in error.message
    assert not any(key[i : i + 5] in error.message for i in range(len(key) - 4)), error.message

"""oh-mcp against a real OpenHands app server started with SESSION_API_KEY."""

from __future__ import annotations

import json
import subprocess

import anyio
import pytest
from mcp import Client

from .harness import AppServer, Journey, oh_mcp_params, text_of

# The timeout (thread method, a server start included) comes from conftest.py, as for every e2e test.
pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


async def test_the_session_api_key_is_required_and_checked(keyed_app_server: AppServer) -> None:
    key = keyed_app_server.session_api_key
    assert key
    with anyio.fail_after(60):
        async with Client(oh_mcp_params(keyed_app_server, api_key=key)) as client:
            listed = await Journey(client).ok("list_conversations", {})
            assert listed["items"] == []

        for wrong in (None, "not-the-key"):
            async with Client(oh_mcp_params(keyed_app_server, api_key=wrong)) as client:
                refused = await Journey(client).call("list_conversations", {})
                assert refused.is_error, refused
                assert "refused the credentials" in text_of(refused), text_of(refused)
                assert key not in text_of(refused)


def test_doctor_reports_the_real_version_and_a_healthy_keyed_server(keyed_app_server: AppServer) -> None:
    params = oh_mcp_params(keyed_app_server, api_key=keyed_app_server.session_api_key)
    result = subprocess.run(
        [params.command, *params.args, "doctor", "--json"],
        env=params.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["healthy"] is True, result.stdout + result.stderr
    assert report["openhands_version"] == keyed_app_server.version == "1.11.0"

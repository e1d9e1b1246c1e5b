"""Every file in config-examples/ and the Dockerfile: parsed, free of real-looking secrets, and
the command each one runs actually serves."""

from __future__ import annotations

import configparser
import json
import re
import shlex
from pathlib import Path

import httpx
import pytest
import yaml

from tests.fake.state import FakeOpenHands
from tests.test_http import Hosted, hosted

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "config-examples"
SECRET_SHAPES = re.compile(r"(sk-[A-Za-z0-9]{16,}|ghp_[A-Za-z0-9]{20,}|Bearer [A-Za-z0-9_-]{20,})")


def test_no_example_holds_a_real_looking_secret() -> None:
    for path in [*EXAMPLES.iterdir(), ROOT / "Dockerfile"]:
        assert not SECRET_SHAPES.search(path.read_text()), path.name


def test_the_remote_example_names_the_url_and_both_headers() -> None:
    server = json.loads((EXAMPLES / "remote-http.json").read_text())["mcpServers"]["openhands"]
    assert server["url"].endswith("/mcp")
    assert server["headers"]["Authorization"].startswith("Bearer ${")
    assert "X-OpenHands-API-Key" in server["headers"]


def _unit() -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    text = (EXAMPLES / "oh-mcp.service").read_text()
    # systemd repeats Environment=; fold repeats into one list for configparser.
    lines, seen = [], 0
    for line in text.splitlines():
        if line.startswith("Environment="):
            seen += 1
            line = f"Environment{seen}=" + line.split("=", 1)[1]
        lines.append(line)
    unit.read_string("\n".join(lines))
    return unit


def _service_env(unit: configparser.ConfigParser) -> dict[str, str]:
    pairs = [
        v.split("=", 1) for k, v in unit["Service"].items() if k.startswith("Environment") and k != "EnvironmentFile"
    ]
    return dict(pairs)


def test_the_systemd_unit_runs_oh_mcp_over_http_and_its_command_serves(fake: FakeOpenHands) -> None:
    unit = _unit()
    service = unit["Service"]
    assert service["ExecStart"].endswith("/bin/oh-mcp") and service["User"] != "root"
    assert int(service["TimeoutStopSec"]) > 20
    _serves(fake, _service_env(unit))


def test_the_compose_file_and_dockerfile_agree(fake: FakeOpenHands) -> None:
    compose = yaml.safe_load((EXAMPLES / "compose.yaml").read_text())
    service = compose["services"]["oh-mcp"]
    assert service["build"] == ".." and service["ports"] == ["8000:8000"]
    assert service["environment"]["OH_MCP_TRANSPORT"] == "streamable-http"


def _dockerfile() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            instructions.append((word.upper(), rest.strip()))
    return instructions


def test_the_dockerfile_runs_as_a_user_with_a_healthcheck_and_its_command_serves(fake: FakeOpenHands) -> None:
    instructions = _dockerfile()
    words = [w for w, _ in instructions]
    assert words[0] == "FROM" and "HEALTHCHECK" in words and "USER" in words
    user = [r for w, r in instructions if w == "USER"][-1]
    assert user not in ("root", "0")
    assert words.index("USER") < words.index("CMD")
    assert "/health" in [r for w, r in instructions if w == "HEALTHCHECK"][0]
    env: dict[str, str] = {}
    for word, rest in instructions:
        if word == "ENV":
            env |= dict(pair.split("=", 1) for pair in shlex.split(rest))
    assert json.loads([r for w, r in instructions if w == "CMD"][0]) == ["oh-mcp"]
    # Outside Docker: the same environment on loopback, with the token the image requires.
    env |= {"OH_MCP_HOST": "127.0.0.1", "OH_MCP_AUTH_TOKEN": "docker-test-token"}
    _serves(fake, env)


def _serves(fake: FakeOpenHands, env: dict[str, str]) -> None:
    """Run oh-mcp with that environment (on a free loopback port) and check it answers."""
    with hosted(fake, **env) as server:
        health = httpx.get(server.base + "/health", timeout=5).json()
        assert health["openhands"]["reachable"] is True
        _check_mcp(server, env.get("OH_MCP_AUTH_TOKEN"))


def _check_mcp(server: Hosted, token: str | None) -> None:
    headers = {"Accept": "application/json, text/event-stream"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    response = httpx.post(server.base + "/mcp", json=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert "list_conversations" in response.text


@pytest.mark.parametrize("path", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_every_json_example_parses(path: str) -> None:
    data = json.loads((EXAMPLES / path).read_text())
    assert data

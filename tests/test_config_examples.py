"""Every file in config-examples/ and the Dockerfile: parsed, free of real-looking secrets, and
the command each one runs actually serves."""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from mcp import Client, StdioServerParameters

from oh_mcp.config import OPTIONS
from tests.calls import ALL_TOOLS
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
def test_every_json_example_declares_one_openhands_server_that_runs_oh_mcp(path: str) -> None:
    data = json.loads((EXAMPLES / path).read_text())
    servers = [v for key in ("mcpServers", "servers", "context_servers") for v in data.get(key, {}).values()]
    assert [s for key in ("mcpServers", "servers", "context_servers") for s in data.get(key, {})] == ["openhands"]
    (server,) = servers
    launched = " ".join([server.get("command", ""), *server.get("args", [])])
    assert launched.rstrip().endswith("oh-mcp") or server.get("url", "").endswith("/mcp"), server


# ---- host configurations ------------------------------------------------------------------------

KNOWN_ENV = {option.env for option in OPTIONS}
OH_MCP = ROOT / ".venv" / "bin" / "oh-mcp"
PLACEHOLDER = re.compile(r"^(\$\{[^}]+\}|<[^>]+>|)$")


def stdio_servers() -> dict[str, dict[str, Any]]:
    """Every stdio entry in config-examples, as {file: {command, args, env}}."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(EXAMPLES.glob("*.json")):
        data = json.loads(path.read_text())
        for key in ("mcpServers", "servers", "context_servers"):
            for entry in data.get(key, {}).values():
                if "command" in entry:
                    found[path.name] = {
                        "command": entry["command"],
                        "args": entry.get("args", []),
                        "env": entry.get("env", {}),
                    }
    for entry in yaml.safe_load((EXAMPLES / "continue.yaml").read_text())["mcpServers"]:
        found["continue.yaml"] = {
            "command": entry["command"],
            "args": entry.get("args", []),
            "env": entry.get("env", {}),
        }
    words = shlex.split((EXAMPLES / "claude-code.sh").read_text().split("\n", 2)[2].replace("\\\n", " "))
    env = dict(w.split("=", 1) for prev, w in zip(words, words[1:], strict=False) if prev == "--env")
    found["claude-code.sh"] = {
        "command": words[words.index("--") + 1],
        "args": words[words.index("--") + 2 :],
        "env": env,
    }
    return found


def test_every_host_has_an_example() -> None:
    names = set(stdio_servers())
    for host in ("claude-desktop", "claude-code", "vscode", "cursor", "windsurf", "zed", "continue"):
        assert any(n.startswith(host) for n in names), host
    cloud = json.loads((EXAMPLES / "claude-desktop-cloud.json").read_text())["mcpServers"]["openhands"]["env"]
    assert cloud["OPENHANDS_URL"] == "https://app.all-hands.dev"
    local = json.loads((EXAMPLES / "claude-desktop.json").read_text())["mcpServers"]["openhands"]["env"]
    assert local["OPENHANDS_URL"] == "http://localhost:3000"


def test_every_example_uses_only_real_settings_and_keeps_keys_out() -> None:
    for name, server in stdio_servers().items():
        assert set(server["env"]) <= KNOWN_ENV, (name, set(server["env"]) - KNOWN_ENV)
        key = server["env"].get("OPENHANDS_API_KEY", "")
        assert PLACEHOLDER.match(key.strip('"')) or key.startswith("${"), (name, "API key must be a placeholder")
        command = [server["command"], *server["args"]]
        assert command[0].endswith("oh-mcp") or command[-1] == "oh-mcp", name
    vscode = json.loads((EXAMPLES / "vscode.json").read_text())
    assert vscode["servers"]["openhands"]["env"]["OPENHANDS_API_KEY"].startswith("${input:")
    assert vscode["inputs"][0]["password"] is True


def _launchable(server: dict[str, Any], fake: FakeOpenHands) -> StdioServerParameters:
    env = {k: v for k, v in server["env"].items() if not PLACEHOLDER.match(v) and not v.startswith("${")}
    env |= {"OPENHANDS_URL": fake.base_url, "PATH": os.environ["PATH"]}
    return StdioServerParameters(command=str(OH_MCP), args=[], env=env)


@pytest.mark.anyio
@pytest.mark.parametrize("name", sorted(n for n in stdio_servers() if "uvx" not in n))
async def test_each_stdio_example_launches_oh_mcp(fake: FakeOpenHands, name: str) -> None:
    async with Client(_launchable(stdio_servers()[name], fake)) as client:
        result = await client.call_tool("list_sandbox_specs", {})
    assert not result.is_error and result.structured_content is not None
    assert result.structured_content["items"][0]["id"] == fake.specs[0]["id"]


def test_the_claude_desktop_file_runs_under_the_inspectors_config_mode(fake: FakeOpenHands, tmp_path: Path) -> None:
    config = json.loads((EXAMPLES / "claude-desktop.json").read_text())
    entry = config["mcpServers"]["openhands"]
    entry["command"] = str(OH_MCP)
    entry["env"]["OPENHANDS_URL"] = fake.base_url
    path = tmp_path / "claude_desktop_config.json"
    path.write_text(json.dumps(config))
    inspector = ROOT / "node_modules" / ".bin" / "mcp-inspector"
    env = dict(os.environ) | {"HOME": str(tmp_path), "MCP_INSPECTOR_SECRET_STORE": "memory"}
    args = [str(inspector), "--cli", "-q", "--format", "json", "--config", str(path), "--server", "openhands"]
    listed = subprocess.run([*args, "--method", "tools/list"], capture_output=True, text=True, env=env, timeout=120)
    called = subprocess.run(
        [*args, "--method", "tools/call", "--tool-name", "list_sandbox_specs"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)["result"]["tools"]) == ALL_TOOLS
    assert called.returncode == 0 and fake.specs[0]["id"] in called.stdout

"""The Claude Code plugin and its marketplace, with the pinned Claude Code 2.1.332: `claude plugin
validate` accepts both; in a scratch config dir the marketplace is added from this checkout's path, the
plugin installed with its options, and Claude Code lists its MCP server, skill and commands. Then a
headless session runs /oh-mcp:status: the plugin's server, started by uvx (from the built wheel), reaches
the fake OpenHands with the URL and key given as options, and the model's answer carries what it found."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fake.state import FakeOpenHands
from tests.hosts.fake_anthropic import FakeAnthropic, Reply, last_user_text, serve_fake_anthropic
from tests.hosts.test_claude_code import claude_env
from tests.uv_env import uv_env

ROOT = Path(__file__).resolve().parents[2]
CLAUDE = ROOT / "node_modules" / ".bin" / "claude"
PLUGIN = "oh-mcp@oh-mcp"
TOOL = "mcp__plugin_oh-mcp_openhands__list_conversations"
SECRET = "oh-plugin-secret-5b8e21c4f0"
TITLE = "Fix the flaky login test"

pytestmark = [
    pytest.mark.timeout(400),
    pytest.mark.skipif(not CLAUDE.exists(), reason="Claude Code is not installed: run scripts/setup --dev"),
]


def claude(args: list[str], env: dict[str, str], cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    done = subprocess.run([CLAUDE, *args], env=env, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"claude {' '.join(args)}: {done.stdout[-1500:]} {done.stderr[-1500:]}"
    return done


def model(body: dict[str, Any]) -> Reply:
    """Claude's part: the status command's text asks for the conversations; the tool's answer is reported."""
    text = last_user_text(body)
    offered = {t.get("name") for t in body.get("tools", [])}
    if "tool_result" in json.dumps(body["messages"][-1]):
        return "OpenHands status: " + text[:2000]
    if TOOL in offered and "Tell the user what OpenHands is doing" in text:
        return (TOOL, {})
    return "no command seen"


def test_claude_code_validates_the_plugin_and_the_marketplace(tmp_path: Path) -> None:
    with serve_fake_anthropic(FakeAnthropic(model)) as llm:
        env = claude_env(tmp_path, llm)
        plugin = claude(["plugin", "validate", "--strict", str(ROOT / "plugin")], env, tmp_path).stdout
        market = claude(
            ["plugin", "validate", "--strict", str(ROOT / ".claude-plugin" / "marketplace.json")], env, tmp_path
        )
        # The same check refuses a broken copy: it is not a rubber stamp.
        broken = tmp_path / "broken"
        shutil.copytree(ROOT / "plugin", broken)
        manifest = json.loads((broken / ".claude-plugin" / "plugin.json").read_text())
        manifest["userConfig"]["api_key"]["type"] = "password"
        (broken / ".claude-plugin" / "plugin.json").write_text(json.dumps(manifest))
        refused = subprocess.run(
            [CLAUDE, "plugin", "validate", str(broken)], env=env, cwd=tmp_path, capture_output=True, timeout=180
        )
    for part in ("mcpServers: openhands stdio uvx", "skills: oh-mcp:delegate-to-openhands", "commands: oh-mcp:delegate",
                 "commands: oh-mcp:status", "commands: oh-mcp:bring-home", "Validation passed"):  # fmt: skip
        assert part in plugin, plugin
    assert "Validation passed" in market.stdout
    assert refused.returncode != 0


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `uvx oh-mcp@<version>` finds: the wheel of this checkout (it is not on PyPI from here)."""
    out = tmp_path_factory.mktemp("wheels")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


def test_the_marketplace_installs_the_plugin_and_its_command_reaches_openhands(
    fake: FakeOpenHands, tmp_path: Path, wheels: Path
) -> None:
    fake.session_api_key = SECRET  # any other key gets 401
    fake.add_conversation(title=TITLE)
    roots = f"{tmp_path / 'work'},{tmp_path / 'projects'}"
    with serve_fake_anthropic(FakeAnthropic(model)) as llm:
        uv = {k: v for k, v in uv_env(tmp_path / "uv").items() if k.startswith("UV_") or k == "PATH"}
        # The session waits for the plugin's server before the model's turn, up to a minute: on first use uvx
        # installs it, which on a busy machine outlasts Claude Code's own short wait.
        waits = {"MCP_CONNECTION_NONBLOCKING": "false", "CLAUDE_CODE_MCP_STARTUP_WAIT_MS": "60000"}
        env = claude_env(tmp_path, llm) | uv | waits | {"UV_FIND_LINKS": str(wheels)}
        claude(["plugin", "marketplace", "add", str(ROOT)], env, tmp_path)
        options = ["--config", f"openhands_url={fake.base_url}", "--config", f"local_roots={roots}"]
        claude(["plugin", "install", PLUGIN, *options], env, tmp_path)
        # The key as a person gives it, on no command line: the configure flow, values on stdin.
        claude(["plugin", "configure", PLUGIN, "--values-stdin"], env, tmp_path, json.dumps({"api_key": SECRET}))
        listed = json.loads(claude(["plugin", "list", "--json"], env, tmp_path).stdout)
        # With no API to count tokens (a closed loopback port), Claude Code estimates them itself.
        details = claude(
            ["plugin", "details", PLUGIN], env | {"ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}, tmp_path
        ).stdout
        configured = json.loads(claude(["plugin", "configure", PLUGIN, "--json"], env, tmp_path).stdout)
        session = claude(
            ["-p", "/oh-mcp:status", "--output-format", "stream-json", "--verbose", "--allowedTools", TOOL],
            env,
            tmp_path,
        )
    (ours,) = [p for p in listed if p["id"] == PLUGIN]
    assert ours["enabled"] and ours["version"] == "0.1.0" and ours["hasUserConfig"], ours
    assert set(ours["mcpServers"]) == {"openhands"} and ours["mcpServers"]["openhands"]["command"] == "uvx"
    assert "MCP servers (1)  openhands" in details
    for name in ("delegate-to-openhands", "delegate", "status", "bring-home"):
        assert name in details.split("Component inventory")[1].split("Agents")[0], details
    # What the plugin costs every session: the skill's and commands' descriptions (the server's tools not counted).
    always_on = re.search(r"Always-on:\s+~(\d+) tok", details)
    assert always_on and int(always_on.group(1)) <= 200, details
    assert configured["inputs"]["openhands_url"] == fake.base_url and configured["inputs"]["local_roots"] == roots

    lines = [json.loads(line) for line in session.stdout.splitlines() if line.startswith("{")]
    init = next(line for line in lines if line.get("type") == "system" and line.get("subtype") == "init")
    servers = {s["name"]: s["status"] for s in init.get("mcp_servers", [])}
    assert servers.get("plugin:oh-mcp:openhands") == "connected", servers
    assert TOOL in init["tools"] and "oh-mcp:delegate-to-openhands" in init["skills"]
    assert {"oh-mcp:delegate", "oh-mcp:status", "oh-mcp:bring-home"} <= set(init["slash_commands"]), init
    (plugin,) = [p for p in init["plugins"] if p["name"] == "oh-mcp"]
    assert (plugin["source"], plugin["version"]) == (PLUGIN, "0.1.0")
    result = next(line for line in lines if line.get("type") == "result")
    assert TITLE in result.get("result", ""), result  # the URL and key reached OpenHands through the options

    # The key was given as a secret: in Claude Code's credential store only, never in its output or settings.
    assert SECRET not in session.stdout + session.stderr + details + json.dumps(configured)
    for path in (tmp_path / "claude").rglob("*"):
        if path.is_file() and path.name != ".credentials.json":
            assert SECRET.encode() not in path.read_bytes(), path

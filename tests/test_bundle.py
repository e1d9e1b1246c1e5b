"""The MCP Bundle (dist/oh-mcp.mcpb): scripts/bundle validates and packs it with @anthropic-ai/mcpb
2.1.2. Unpacked, it starts exactly as its manifest's mcp_config says, with a person's settings put in
by mcpb's own substitution (tests/mcpb_config.mjs) and the key given as a secret, and serves over stdio."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from oh_mcp.config import OPTIONS, Settings
from oh_mcp.selection import select
from oh_mcp.tools import TOOLSETS
from tests.calls import ALL_TOOLS
from tests.fake.state import FakeOpenHands
from tests.stdio_raw import INITIALIZE, exchange
from tests.uv_env import uv_env

ROOT = Path(__file__).resolve().parents[1]
MCPB = ROOT / "node_modules" / ".bin" / "mcpb"
PATH = ROOT / "bundle" / "manifest.json"
MANIFEST = json.loads(PATH.read_text())
SECRET = "oh-bundle-secret-7d1f0c2e9a"

pytestmark = pytest.mark.skipif(not MCPB.exists(), reason="mcpb is not installed: run scripts/setup --dev")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "oh-mcp.mcpb"
    built = subprocess.run([ROOT / "scripts" / "bundle", out], capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr[-2000:]
    assert built.stdout.count("Manifest schema validation passes!") >= 1, built.stdout
    return out


@pytest.fixture(scope="module")
def unpacked(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("unpacked")
    subprocess.run([MCPB, "unpack", bundle, dest], check=True, capture_output=True, timeout=60)
    return dest


def test_the_bundle_holds_the_manifest_icon_project_and_package_only(bundle: Path) -> None:
    names = zipfile.ZipFile(bundle).namelist()
    assert {"manifest.json", "icon.png", "pyproject.toml", "README.md", "LICENSE"} <= set(names)
    assert "oh_mcp/server.py" in names and "oh_mcp/panel/panel.html" in names
    assert (
        MANIFEST["server"]["entry_point"] in names
        and f"${{__dirname}}/{MANIFEST['server']['entry_point']}" in (MANIFEST["server"]["mcp_config"]["args"])
    ), "the command runs the entry point the manifest names"
    assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", ".venv/", "node_modules/"))]
    assert zipfile.ZipFile(bundle).read("icon.png").startswith(b"\x89PNG\r\n\x1a\n")


def test_mcpb_validate_refuses_a_broken_manifest(tmp_path: Path) -> None:
    # The build's check is real: the same validator rejects what a host would.
    broken = MANIFEST | {"user_config": {"api_key": {"type": "secret", "title": "Key", "description": "x"}}}
    (tmp_path / "manifest.json").write_text(json.dumps(broken))
    checked = subprocess.run([MCPB, "validate", tmp_path / "manifest.json"], capture_output=True, text=True)
    assert checked.returncode != 0


def test_the_static_tool_list_is_the_servers_own() -> None:
    enabled = select(TOOLSETS, Settings()).enabled
    tools = [{"name": s.name, "description": s.summary} for s in enabled]
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":  # as for tests/snapshots/tools/: rewrite, then review the diff
        manifest = json.loads(PATH.read_text()) | {"tools": tools}
        PATH.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    assert json.loads(PATH.read_text())["tools"] == tools, "tools changed; review, then UPDATE_SNAPSHOTS=1 pytest"
    assert MANIFEST["tools_generated"] is False and len(MANIFEST["tools"]) == ALL_TOOLS


def test_each_setting_reaches_the_server_as_what_it_reads() -> None:
    config, fields = MANIFEST["server"]["mcp_config"], MANIFEST["user_config"]
    assert MANIFEST["manifest_version"] == "0.4" and MANIFEST["server"]["type"] == "uv"
    env_names = {o.env for o in OPTIONS}
    assert set(config["env"]) <= env_names, set(config["env"]) - env_names
    assert config["env"]["OPENHANDS_API_KEY"] == "${user_config.api_key}" and fields["api_key"]["sensitive"]
    assert "${user_config.api_key}" not in config["args"], "a key in args shows in every process list"
    assert fields["openhands_url"]["default"] == "http://localhost:3000"
    assert fields["local_roots"]["type"] == "directory" and fields["local_roots"]["multiple"]
    # A host expands a multiple field into separate arguments, so it comes last, after the flag.
    assert config["args"][-2:] == ["--local-roots", "${user_config.local_roots}"]
    assert fields["read_only"]["type"] == "boolean" and config["env"]["OH_MCP_READ_ONLY"] == "${user_config.read_only}"
    assert MANIFEST["compatibility"]["runtimes"]["python"] == ">=3.11"
    assert set(MANIFEST["compatibility"]["platforms"]) == {"darwin", "linux", "win32"}


def host_config(unpacked: Path, user_config: dict[str, Any]) -> dict[str, Any]:
    """The command, arguments and environment a host starts, from mcpb's own code."""
    out = subprocess.run(
        ["node", ROOT / "tests" / "mcpb_config.mjs", unpacked],
        input=json.dumps(user_config),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return dict(json.loads(out.stdout))


def call(id_: int, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": {"name": name, "arguments": arguments}}


@pytest.mark.timeout(300)  # the first start has uv install the dependencies from the index
def test_the_unpacked_bundle_serves_as_its_manifest_says(unpacked: Path, fake: FakeOpenHands, tmp_path: Path) -> None:
    fake.session_api_key = SECRET  # the fake answers 401 to any other key
    kept, other = tmp_path / "work", tmp_path / "projects"
    kept.mkdir()
    other.mkdir()
    settings = {"openhands_url": fake.base_url, "api_key": SECRET, "local_roots": [str(kept), str(other)]}
    config = host_config(unpacked, settings | {"read_only": False})
    assert SECRET not in json.dumps(config["args"]) and config["env"]["OPENHANDS_API_KEY"] == SECRET
    env = uv_env(tmp_path / "uv") | config["env"]
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    messages = [
        *INITIALIZE,
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        call(3, "list_conversations", {}),
        call(4, "start_conversation", {"message": "hi", "local_path": str(outside)}),
    ]
    with (tmp_path / "stderr").open("w") as stderr:
        answers = exchange([config["command"], *config["args"]], messages, env, stderr=stderr)
    assert len(answers[2]["result"]["tools"]) == ALL_TOOLS
    listed = answers[3]["result"]
    assert not listed.get("isError"), listed  # the URL and the key arrived: the fake accepted the call
    refused = answers[4]["result"]
    assert refused.get("isError"), refused
    assert str(kept) in json.dumps(refused) and str(other) in json.dumps(refused), "both folders are the roots"

    read_only = host_config(unpacked, settings | {"read_only": True})
    answers = exchange([read_only["command"], *read_only["args"]], [*INITIALIZE, messages[2]], env | read_only["env"])
    names = {t["name"] for t in answers[2]["result"]["tools"]}
    assert "list_conversations" in names and "start_conversation" not in names and len(names) < ALL_TOOLS

    # The key was given as a secret: it shows nowhere the server or uv wrote.
    assert SECRET not in (tmp_path / "stderr").read_text()
    for path in unpacked.rglob("*"):
        if path.is_file() and ".venv" not in path.parts:
            assert SECRET.encode() not in path.read_bytes(), path

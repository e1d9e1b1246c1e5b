"""The e2e stage's OpenHands comes from the committed lock, and only a venv built from that very lock
is reused (issue 26: a cache warmed by an older resolution hid a broken fresh install)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from . import install
from .harness import AppServer
from .install import (
    AGENT_SERVER,
    OPENHANDS,
    STAMP,
    E2EError,
    Product,
    ensure_openhands,
    lock_hash,
    refused_session_keys,
)


def pins(lock: Path) -> dict[str, str]:
    found = {}
    for line in lock.read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, _, version = line.partition(" ")[0].partition("==")
            found[name.lower()] = version
    return found


@pytest.mark.parametrize("product", [OPENHANDS, AGENT_SERVER], ids=lambda p: p.package)
def test_the_lock_holds_every_requirement_of_its_input_at_a_version_that_satisfies_it(product: Product) -> None:
    pinned = pins(product.lock)
    assert len(pinned) > 100, "a whole resolution, not a few top-level pins"
    for line in product.lock.with_suffix(".in").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        requirement = Requirement(line)
        version = pinned.get(requirement.name.lower())
        assert version is not None, f"{requirement.name} is not in {product.lock.name}: run scripts/lock-openhands"
        assert requirement.specifier.contains(version), f"{requirement.name}=={version} breaks {line!r}"
    assert pinned[product.package] == product.version
    assert int(pinned["cryptography"].split(".")[0]) < 51


FAKE_UV = """#!/bin/sh
# Records each call; `venv` makes a venv whose python claims openhands-ai 1.11.0.
echo "$*" >> "$CALLS"
if [ "$1" = venv ]; then
  for last; do :; done
  mkdir -p "$last/bin"
  printf '#!/bin/sh\\necho 1.11.0\\n' > "$last/bin/python"
  chmod +x "$last/bin/python"
fi
"""


@pytest.fixture
def fake_uv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    uv = tmp_path / "uv"
    uv.write_text(FAKE_UV)
    uv.chmod(uv.stat().st_mode | stat.S_IEXEC)
    calls = tmp_path / "calls"
    monkeypatch.setenv("CALLS", str(calls))
    monkeypatch.setenv("OH_MCP_E2E_BASE_PYTHON", "python3.12")
    monkeypatch.delenv("OH_MCP_E2E_OPENHANDS_PYTHON", raising=False)
    monkeypatch.setattr(install, "find_uv", lambda: [str(uv)])
    return calls


def syncs(calls: Path) -> list[str]:
    return [line for line in calls.read_text().splitlines() if line.startswith("pip sync")] if calls.exists() else []


def test_a_venv_is_reused_only_when_built_from_this_very_lock(tmp_path: Path, fake_uv: Path) -> None:
    cache, lock = tmp_path / "cache", tmp_path / "openhands.txt"
    lock.write_text("openhands-ai==1.11.0\ncryptography==50.0.2\n")
    first = ensure_openhands(cache, lock)
    assert not first.reused and syncs(fake_uv) == [f"pip sync --quiet --python {first.python} {lock}"]
    assert (first.python.parent.parent / STAMP).read_text().strip() == lock_hash(lock)
    assert ensure_openhands(cache, lock).reused and len(syncs(fake_uv)) == 1

    lock.write_text("openhands-ai==1.11.0\ncryptography==51.0.1\n")
    changed = ensure_openhands(cache, lock)
    assert not changed.reused and changed.python != first.python and len(syncs(fake_uv)) == 2


def test_a_venv_whose_install_never_finished_is_rebuilt(tmp_path: Path, fake_uv: Path) -> None:
    cache, lock = tmp_path / "cache", tmp_path / "openhands.txt"
    lock.write_text("openhands-ai==1.11.0\n")
    install = ensure_openhands(cache, lock)
    (install.python.parent.parent / STAMP).unlink()  # as a sync killed half-way leaves it
    assert not ensure_openhands(cache, lock).reused and len(syncs(fake_uv)) == 2


def test_the_unkeyed_venv_of_before_the_lock_is_removed(tmp_path: Path, fake_uv: Path) -> None:
    cache, lock = tmp_path / "cache", tmp_path / "openhands.txt"
    lock.write_text("openhands-ai==1.11.0\n")
    (cache / "oh-venv" / "bin").mkdir(parents=True)
    ensure_openhands(cache, lock)
    assert not (cache / "oh-venv").exists()


def test_another_openhands_python_must_have_the_tested_version(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\necho 1.10.0\n")
    python.chmod(0o755)
    monkeypatch.setenv("OH_MCP_E2E_OPENHANDS_PYTHON", str(python))
    with pytest.raises(E2EError, match="has openhands-ai 1.10.0, not 1.11.0"):
        ensure_openhands(tmp_path / "cache")


@pytest.mark.e2e
def test_the_installed_agent_server_encrypts_secrets_with_any_session_key(openhands_python: Path) -> None:
    """The break itself: cryptography 51 refused about three in four of these keys, and each such sandbox
    answered 500 to every new conversation."""
    assert refused_session_keys(openhands_python) == 0


def test_a_cipher_that_refuses_keys_is_counted(tmp_path: Path) -> None:
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\n# stands in for a venv with cryptography 51\necho 147\n")
    python.chmod(0o755)
    assert refused_session_keys(python) == 147


def test_a_failure_shows_the_agent_servers_log_beside_the_app_servers(tmp_path: Path) -> None:
    server = AppServer(python=Path("python"), llm_base_url="http://127.0.0.1:9", root=tmp_path)
    server.log_path.write_text("ERROR Error starting conversation\n")
    old, new = tmp_path / "sandboxes" / "old", tmp_path / "sandboxes" / "new"
    for folder, words in ((old, "started"), (new, "ValueError: Fernet key must be 32 url-safe base64-encoded bytes.")):
        folder.mkdir(parents=True)
        (folder / ".openhands-agent-server.log").write_text(f"INFO {words}\n")
    os.utime(old / ".openhands-agent-server.log", (1, 1))
    shown = server.diagnostics()
    assert "ERROR Error starting conversation" in shown
    assert shown.index("Fernet key must be 32") < shown.index("INFO started"), "the newest agent server first"


def test_no_agent_server_log_is_said_so(tmp_path: Path) -> None:
    server = AppServer(python=Path("python"), llm_base_url="http://127.0.0.1:9", root=tmp_path)
    assert f"no agent server log under {tmp_path}" in server.diagnostics()

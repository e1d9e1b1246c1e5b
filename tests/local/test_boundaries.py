"""The edges of sending a checkout and bringing work home, each made to break once in the code and
seen to fail here: roots compared as paths, not strings; the repository's top checked too; the
client's roots used (and narrowed by OH_MCP_LOCAL_ROOTS); the size refused before git hashes a byte;
nested repositories left out; names read NUL-separated; the undo command quoted and exact."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters, types
from mcp.client.context import ClientRequestContext

from oh_mcp import Settings, build_server
from oh_mcp.local.apply import ApplyRefused, Caps, apply_patch
from tests.calls import error_text
from tests.calls import ok as call
from tests.fake.state import FakeOpenHands
from tests.local.shell import sh
from tests.trees import everything

pytestmark = pytest.mark.anyio


def repo(path: Path, extra: str = "") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    sh(path, "git init -q -b main && printf 'one\\ntwo\\n' > a.txt && git add -A && git commit -qm one" + extra)
    return path


@pytest.fixture
async def server(fake: FakeOpenHands, tmp_path: Path, client_factory: Any) -> AsyncIterator[Any]:
    def make(**settings: Any) -> Any:
        base = Settings(openhands_url=fake.base_url, poll_interval=0.02, timeout=10, **settings)
        return build_server(base, client_factory=client_factory)

    yield make


def roots_callback(*folders: Path) -> Any:
    async def list_roots(context: ClientRequestContext) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri=f"file://{folder}") for folder in folders])

    return list_roots


async def start(client: Client, local_path: Path) -> str:
    args = {"message": "x", "local_path": str(local_path), "timeout_seconds": 10}
    result = await client.call_tool("start_conversation", args)
    return " ".join(getattr(part, "text", "") for part in result.content)


async def test_a_root_is_a_folder_not_a_string_prefix(server: Any, tmp_path: Path) -> None:
    repo(tmp_path / "work")
    repo(tmp_path / "work2")
    async with Client(server(local_roots=(str(tmp_path / "work"),))) as client:
        assert "outside the folders" in await start(client, tmp_path / "work2")
        assert "sending 1 files" in await start(client, tmp_path / "work")


async def test_the_repository_s_top_must_lie_inside_the_roots_too(server: Any, tmp_path: Path) -> None:
    big = repo(tmp_path / "big")
    (big / "sub").mkdir()
    (big / "sub" / "x.txt").write_text("x\n")
    async with Client(server(local_roots=(str(big / "sub"),))) as client:
        text = await start(client, big / "sub")
        assert f"starts at {big}, outside the folders" in text


async def test_the_client_s_roots_are_used_over_stdio(fake: FakeOpenHands, tmp_path: Path) -> None:
    """A real stdio subprocess, and a client of the 2025-11-25 era: roots are a request from server to
    client, which the 2026-07-28 era has none of (there, OH_MCP_LOCAL_ROOTS or the start folder rule)."""
    mine = repo(tmp_path / "mine")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OH_MCP_", "OPENHANDS_"))}
    env |= {"OPENHANDS_URL": fake.base_url, "OH_MCP_POLL_INTERVAL": "0.05"}
    # No OH_MCP_LOCAL_ROOTS: without the client's roots, only the folder oh-mcp started in would do.
    (tmp_path / "started-here").mkdir()
    started_in = str(tmp_path / "started-here")
    params = StdioServerParameters(command=sys.executable, args=["-m", "oh_mcp"], env=env, cwd=started_in)
    async with Client(params, mode="legacy", list_roots_callback=roots_callback(tmp_path)) as client:
        assert "sending 1 files" in await start(client, mine)
        assert "outside the folders" in await start(client, repo(tmp_path.parent / f"{tmp_path.name}-beside"))


async def test_the_client_s_roots_narrow_oh_mcp_local_roots(server: Any, tmp_path: Path) -> None:
    allowed, other = repo(tmp_path / "home" / "work"), repo(tmp_path / "home" / "else")
    stranger = repo(tmp_path / "elsewhere")
    roots = roots_callback(tmp_path / "home" / "work", tmp_path / "elsewhere")
    async with Client(
        server(local_roots=(str(tmp_path / "home"),)), mode="legacy", list_roots_callback=roots
    ) as client:
        assert "sending 1 files" in await start(client, allowed)
        assert "outside the folders" in await start(client, other), "the client did not offer it"
        assert "outside the folders" in await start(client, stranger), "the operator did not allow it"
    disjoint = roots_callback(tmp_path / "elsewhere")
    async with Client(
        server(local_roots=(str(tmp_path / "home"),)), mode="legacy", list_roots_callback=disjoint
    ) as client:
        assert "no folder in common" in await start(client, stranger)


def loose_objects(path: Path) -> str:
    return sh(path, "git count-objects -v | grep -E '^(count|size):'")


async def test_an_oversize_checkout_is_refused_before_git_reads_it(
    server: Any, fake: FakeOpenHands, tmp_path: Path
) -> None:
    work = repo(tmp_path / "work")
    (work / "big.txt").write_text("x" * 5000)
    before = loose_objects(work)
    async with Client(server(local_roots=(str(tmp_path),), local_max_bytes=1000)) as client:
        assert "at least" in await start(client, work) and "over the limit of 1,000 bytes" in await start(client, work)
    assert loose_objects(work) == before, "git hashed the oversize file before the refusal"
    assert fake.started_requests == []


async def test_nested_repositories_are_left_out_and_tracked_secrets_are_pointed_out(
    server: Any, fake: FakeOpenHands, tmp_path: Path
) -> None:
    work = repo(
        tmp_path / "work", " && printf 'K=1\\n' > .env && printf 'k' > id_rsa && git add -A && git commit -qm s"
    )
    repo(work / "inner")
    async with Client(server(local_roots=(str(tmp_path),))) as client:
        result = await call(client, "start_conversation", {"message": "x", "local_path": str(work)})
    remote = Path(result["local"].rsplit(" into ", 1)[1])
    assert not (remote / "inner").exists() and "inner (a nested git repository)" in result["local"]
    assert "WARNING: sent files that look like secrets" in result["local"]
    assert ".env, id_rsa" in result["local"]


async def test_odd_names_are_read_nul_separated_and_the_undo_command_is_quoted(
    server: Any, fake: FakeOpenHands, tmp_path: Path
) -> None:
    folder = tmp_path / "it's $(touch PWNED) dir"
    work = repo(folder / "work", " && printf 'x\\n' > 'qu\"ote é.txt' && git add -A && git commit -qm two")
    async with Client(server(local_roots=(str(folder),))) as client:
        started = await call(client, "start_conversation", {"message": "x", "local_path": str(work)})
        remote = Path(started["local"].rsplit(" into ", 1)[1])
        sh(remote, "printf 'y\\n' > 'qu\"ote é.txt' && git mv a.txt 'b c\"d.txt' && printf 'n\\n' > 'new \"é.txt'")
        changes = await call(client, "get_changes", {"conversation_id": started["conversation_id"], "format": "patch"})
        assert 'qu"ote é.txt (modified)' in changes["summary"], changes["summary"]
        before = everything(folder)
        args = {"conversation_id": started["conversation_id"], "local_path": str(work)}
        applied = await call(client, "apply_changes", args | {"patch_digest": changes["patch_digest"]})
    assert (work / 'qu"ote é.txt').read_text() == "y\n" and (work / 'new "é.txt').exists()
    assert (work / 'b c"d.txt').exists() and not (work / "a.txt").exists()
    sh(tmp_path, applied["undo"])
    assert not (tmp_path / "PWNED").exists() and not (folder / "PWNED").exists()
    after = everything(folder)
    assert {k: v for k, v in after.items() if "/.git/oh-mcp" not in k} == before, "undo puts back every byte"


async def test_undo_brings_back_renames_deletions_modes_and_the_person_s_merged_edits(
    server: Any, fake: FakeOpenHands, tmp_path: Path
) -> None:
    work = repo(
        tmp_path / "work",
        " && printf '1\\n2\\n3\\n4\\n5\\n6\\n7\\n' > m.txt && printf 'gone\\n' > g.txt && printf 'r\\n' > r.txt && "
        "printf 's\\n' > s.sh && git add -A && git commit -qm two",
    )
    async with Client(server(local_roots=(str(tmp_path),))) as client:
        started = await call(client, "start_conversation", {"message": "x", "local_path": str(work)})
        remote = Path(started["local"].rsplit(" into ", 1)[1])
        sh(remote, "sed -i 's/^7$/SEVEN/' m.txt && rm g.txt && git mv r.txt moved.txt && chmod +x s.sh")
        changes = await call(client, "get_changes", {"conversation_id": started["conversation_id"], "format": "patch"})
        sh(work, "sed -i 's/^1$/ONE (mine)/' m.txt")  # the person's edit, away from the agent's
        before = everything(work)
        args = {"conversation_id": started["conversation_id"], "local_path": str(work)}
        applied = await call(client, "apply_changes", args | {"patch_digest": changes["patch_digest"]})
    assert applied["merged"] == ["m.txt"] and (work / "m.txt").read_text().startswith("ONE (mine)\n")
    assert "g.txt (deleted)" in applied["files"] and "moved.txt (renamed from r.txt)" in applied["files"]
    assert "s.sh (modified, mode 100644 -> 100755)" in applied["files"]
    sh(tmp_path, applied["undo"])
    after = everything(work)
    assert {k: v for k, v in after.items() if not k.startswith(".git/oh-mcp")} == before


async def test_an_id_from_the_app_server_never_becomes_a_path_unchecked(tmp_path: Path) -> None:
    work = repo(tmp_path / "work")
    head = sh(work, "git rev-parse HEAD").strip()
    with pytest.raises(ApplyRefused, match="is not a conversation id"):
        await apply_patch(work, b"diff", head, set(), "../../../tmp/x", Caps(files=10, bytes=10))
    assert not (work / ".git" / "oh-mcp").exists()


async def test_a_refusal_says_what_it_is(server: Any, fake: FakeOpenHands, tmp_path: Path) -> None:
    work = repo(tmp_path / "work")
    async with Client(server(local_roots=(str(tmp_path),))) as client:
        started = await call(client, "start_conversation", {"message": "x", "local_path": str(work)})
        remote = Path(started["local"].rsplit(" into ", 1)[1])
        sh(remote, "printf 'one\\nTWO\\n' > a.txt")
        changes = await call(client, "get_changes", {"conversation_id": started["conversation_id"], "format": "patch"})
        (work / "a.txt").write_text("one\nZWEI\n")
        args = {"conversation_id": started["conversation_id"], "local_path": str(work)}
        text = await error_text(client, "apply_changes", args | {"patch_digest": changes["patch_digest"]})
    assert "conflict with your edits to a.txt" in text and "apply again" in text and "unsafe" not in text

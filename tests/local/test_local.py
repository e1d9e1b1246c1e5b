"""Sending a local checkout to a sandbox and bringing the agent's work home, against the fake whose
sandboxes are real folders with real git: what is selected, every limit, and applying the patch."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from oh_mcp import Settings, build_server
from oh_mcp.local import snapshot
from tests.calls import error_text
from tests.calls import ok as call
from tests.fake.state import FakeOpenHands
from tests.local.shell import sh

pytestmark = pytest.mark.anyio

HEX = "0123456789abcdef"


def status(repo: Path) -> list[str]:
    return sorted(sh(repo, "git status --porcelain=v1 -z --untracked-files=all").split("\0"))


def tree(repo: Path) -> dict[str, bytes]:
    """Every file of the working tree but .git, with its bytes (a link's target for a link)."""
    files: dict[str, bytes] = {}
    for path in sorted(repo.rglob("*")):
        rel = path.relative_to(repo).as_posix()
        if rel == ".git" or rel.startswith(".git/") or (path.is_dir() and not path.is_symlink()):
            continue
        files[rel] = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
    return files


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The allowed root, holding `work`: a repository with two commits and every kind of file."""
    root = tmp_path / "home"
    repo = root / "work"
    repo.mkdir(parents=True)
    sh(
        repo,
        "git init -q -b main && printf '.env\\nbuild/\\n' > .gitignore && printf 'one\\ntwo\\nthree\\n' > a.txt && "
        "printf 'bye\\n' > gone.txt && printf 'stay\\n' > stay.txt && printf 'x\\0y' > tracked.bin && "
        "mkdir -p 'd ü' && printf 'spaced\\n' > 'd ü/na me é.txt' && git add -A && git commit -qm one && "
        "printf 'four\\n' >> stay.txt && git commit -qam two && "
        # the person's uncommitted work, and what must never leave
        "printf 'one\\ntwo\\nthree\\nmine\\n' > a.txt && rm gone.txt && printf 'new\\n' > 'new ü.txt' && "
        "printf 'SECRET=1\\n' > .env && mkdir build && printf 'out\\n' > build/out.o && "
        "printf 'a\\0b' > image.bin && ln -s /etc/hostname link-out && ln -s a.txt link-in",
    )
    return root


@pytest.fixture
def local_settings(fake: FakeOpenHands, home: Path) -> Settings:
    return Settings(openhands_url=fake.base_url, poll_interval=0.02, timeout=10, local_roots=(str(home),))


@pytest.fixture
async def client(local_settings: Settings, client_factory: Any) -> AsyncIterator[Client]:
    async with Client(build_server(local_settings, client_factory=client_factory), raise_exceptions=True) as c:
        yield c


async def start(client: Client, local_path: str, **extra: Any) -> dict[str, Any]:
    args = {"message": "Fix it", "local_path": local_path, "timeout_seconds": 10} | extra
    return await call(client, "start_conversation", args)


def sandbox_repo(fake: FakeOpenHands, result: dict[str, Any]) -> Path:
    """The repository's folder in the sandbox, which start_conversation names (last in `local`)."""
    return Path(result["local"].rsplit(" into ", 1)[1])


async def reviewed(client: Client, conversation_id: str, local_path: str = "work") -> dict[str, Any]:
    """apply_changes' arguments after a review, as an assistant makes them."""
    changes = await call(client, "get_changes", {"conversation_id": conversation_id, "format": "patch"})
    return {"conversation_id": conversation_id, "local_path": local_path, "patch_digest": changes["patch_digest"]}


async def test_the_sandbox_gets_the_work_and_not_what_git_ignores(
    fake: FakeOpenHands, client: Client, home: Path
) -> None:
    local = home / "work"
    before = status(local)
    result = await start(client, str(local))
    assert result["status"] == "READY"
    remote = sandbox_repo(fake, result)
    assert remote.name == "work" and remote.parent == fake.workspace(result["sandbox_id"])
    sent = tree(remote)
    assert ".env" not in sent and not any(p.startswith("build/") for p in sent), "ignored files never leave"
    assert "image.bin" not in sent and "left out: image.bin (binary)" in result["local"]
    expected = {p: b for p, b in tree(local).items() if p not in (".env", "build/out.o", "image.bin")}
    assert sent == expected, "every other file, a link as a link (never followed out of the repository)"
    assert sent["link-out"] == b"/etc/hostname" and sent["tracked.bin"] == b"x\0y"
    assert sh(remote, "git rev-parse HEAD^{tree}") == sh(local, "git rev-parse HEAD^{tree}"), "base = local HEAD"
    assert sh(remote, "git rev-list --count HEAD").strip() == "1", "no history beyond the base"
    assert status(remote) == [s for s in before if "image.bin" not in s], "the person's changes stay uncommitted"
    assert status(local) == before, "the local index and working tree are untouched"
    assert result["local"].startswith(f"sending {len(expected)} files, ")
    [delivered] = fake.deliveries
    assert delivered["text"].startswith("Fix it") and str(remote) in delivered["text"], "sent after the upload"


async def test_get_changes_patch_holds_only_the_agents_work(fake: FakeOpenHands, client: Client, home: Path) -> None:
    result = await start(client, str(home / "work"))
    remote = sandbox_repo(fake, result)
    sh(remote, "printf 'one\\nTWO\\nthree\\nmine\\n' > a.txt && printf 'added\\n' > added.txt && rm stay.txt")
    changes = await call(client, "get_changes", {"conversation_id": result["conversation_id"], "format": "patch"})
    patch = changes["patch"]
    assert "3 files changed" in changes["summary"]
    assert "a.txt (modified), added.txt (added), stay.txt (deleted)" in changes["summary"]
    assert "against what was sent from the local checkout" in changes["summary"]
    assert "-two\n+TWO" in patch and "new ü.txt" not in patch, "not the person's own changes"
    assert changes["patch_digest"] == hashlib.sha256(patch.encode()).hexdigest()
    resource = await client.read_resource(f"openhands://conversations/{result['conversation_id']}/patch")
    text = resource.contents[0].text  # type: ignore[union-attr]
    assert text == f"oh-mcp patch_digest: {changes['patch_digest']}\n\n{patch}", "the digest, then the same patch"


async def test_apply_changes_brings_the_work_home_once(fake: FakeOpenHands, client: Client, home: Path) -> None:
    local = home / "work"
    result = await start(client, str(local))
    remote = sandbox_repo(fake, result)
    sh(remote, "printf 'one\\nTWO\\nthree\\nmine\\n' > a.txt && printf 'added\\n' > added.txt && rm stay.txt")
    args = await reviewed(client, result["conversation_id"])
    before, index = tree(local), (local / ".git" / "index").read_bytes()
    applied = await call(client, "apply_changes", args)
    assert sorted(applied["files"]) == ["a.txt (modified)", "added.txt (added)", "stay.txt (deleted)"]
    assert tree(local) == tree(remote) | {".env": b"SECRET=1\n", "build/out.o": b"out\n", "image.bin": b"a\0b"}
    assert (local / ".git" / "index").read_bytes() == index, "the person's index is never changed"
    assert ".undo.patch" in applied["undo"]
    again = await error_text(client, "apply_changes", args)
    assert "already" in again
    sh(local, applied["undo"])
    assert tree(local) == before, "the undo command puts back every byte"


async def test_a_local_edit_the_agent_also_made_is_merged_or_refused_untouched(
    fake: FakeOpenHands, client: Client, home: Path
) -> None:
    local = home / "work"
    result = await start(client, str(local))
    remote = sandbox_repo(fake, result)
    sh(remote, "printf 'one\\nTWO\\nthree\\nmine\\n' > a.txt && printf 'added\\n' > added.txt")
    sh(local, "printf 'one\\nZWEI\\nthree\\nmine\\n' > a.txt")  # the same line, changed meanwhile
    before, files = status(local), tree(local)
    args = await reviewed(client, result["conversation_id"])
    text = await error_text(client, "apply_changes", args)
    assert "conflict" in text and "a.txt" in text and "nothing was written" in text
    assert status(local) == before and tree(local) == files
    sh(local, "printf 'one\\ntwo\\nthree\\nMINE\\n' > a.txt")  # in the patch's context, not its line: merges
    applied = await call(client, "apply_changes", args)
    assert (local / "a.txt").read_text() == "one\nTWO\nthree\nMINE\n" and "a.txt" in applied["merged"]
    assert (local / "added.txt").read_text() == "added\n"


async def test_limits_refuse_before_anything_is_sent(
    fake: FakeOpenHands, client_factory: Any, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / "plain").mkdir()
    (tmp_path / "elsewhere").mkdir()
    sh(tmp_path / "elsewhere", "git init -q")
    (home / "escape").symlink_to(tmp_path / "elsewhere")
    small = Settings(openhands_url=fake.base_url, timeout=10, local_roots=(str(home),), local_max_bytes=20)
    async with Client(build_server(small, client_factory=client_factory), raise_exceptions=True) as c:
        cases = {
            "work": "over the limit of 20 bytes",
            "plain": "not inside a git work tree",
            "../elsewhere": "outside the folders",
            "escape": "outside the folders",
            str(tmp_path / "elsewhere"): "outside the folders",
            "-rf": "not a folder",
            "nowhere": "not a folder",
        }
        for path, words in cases.items():
            text = await error_text(c, "start_conversation", {"message": "x", "local_path": path})
            assert words in text and "Nothing was sent" in text, (path, text)
        both = await error_text(c, "start_conversation", {"message": "x", "local_path": "work", "repository": "a/b"})
        assert "not both" in both
    assert fake.started_requests == [] and fake.uploads == []
    monkeypatch.setattr(snapshot, "LARGE_FILE", 3)
    snap = await snapshot.take(home / "work", 10**6)
    assert any(item.startswith("new ü.txt (large") for item in snap.left_out)


async def test_local_paths_are_off_over_http_unless_roots_are_set_and_hidden_when_read_only(
    fake: FakeOpenHands, client_factory: Any, home: Path
) -> None:
    http = Settings(openhands_url=fake.base_url, timeout=10, transport="streamable-http")
    async with Client(build_server(http, client_factory=client_factory), raise_exceptions=True) as c:
        text = await error_text(c, "start_conversation", {"message": "x", "local_path": str(home / "work")})
        assert "OH_MCP_LOCAL_ROOTS" in text
    read_only = Settings(openhands_url=fake.base_url, read_only=True, local_roots=(str(home),))
    async with Client(build_server(read_only, client_factory=client_factory), raise_exceptions=True) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert "apply_changes" not in names and "start_conversation" not in names


async def test_a_repository_without_commits_or_on_a_detached_head_is_sent(
    fake: FakeOpenHands, client: Client, home: Path
) -> None:
    sh(home, "git init -q fresh && printf 'hi\\n' > fresh/first.txt")
    result = await start(client, str(home / "fresh"))
    remote = sandbox_repo(fake, result)
    assert tree(remote) == {"first.txt": b"hi\n"} and status(remote) == ["", "?? first.txt"]
    sh(home / "work", "git checkout -q --detach HEAD~1 -- 2>/dev/null || git checkout -q --detach HEAD~1")
    detached = await start(client, str(home / "work"))
    assert sh(sandbox_repo(fake, detached), "git branch --show-current").strip() == "oh-mcp-work"


async def test_the_assistant_is_told_when_to_send_a_local_checkout(client: Client) -> None:
    got = await client.get_prompt("delegate_task", {"task": "fix bug 12", "local_path": "/src/app"})
    text = got.messages[0].content.text  # type: ignore[union-attr]
    assert "local_path='/src/app'" in text and "apply_changes" in text and "hosted owner/repo" in text
    assert "apply_changes brings it into their checkout" in (client.instructions or "")


async def test_a_start_that_outlives_its_wait_sends_nothing_later_and_says_so(
    fake: FakeOpenHands, client: Client, home: Path
) -> None:
    # The snapshot lives in the call: left to a background task it would die with the process (or a
    # stateless worker) and fail unseen, so the call says nothing was sent and how to go on.
    fake.start_task_step_seconds = 5
    result = await start(client, str(home / "work"), timeout_seconds=1)
    assert result["status"] != "READY"
    assert "neither your checkout nor the task message was sent" in result["next_step"]
    assert "nothing sends them later" in result["next_step"]
    fake.start_task_step_seconds = 0.01
    await anyio.sleep(1.5)
    assert fake.uploads == [] and fake.deliveries == [], "nothing went up after the call ended"

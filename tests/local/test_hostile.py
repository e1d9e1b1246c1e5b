"""Hostile patches from a sandbox, through the MCP tools: each class of attack on the person's machine
is refused with nothing written anywhere (the checkout, its .git, and a fake home beside it), or is
harmless. The fake's agent server serves the patch, as an agent server that the agent replaced would."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from oh_mcp import Settings, build_server
from tests.calls import error_text
from tests.calls import ok as call
from tests.fake.state import FakeOpenHands
from tests.local.shell import sh
from tests.trees import changed, everything

pytestmark = pytest.mark.anyio


@dataclass
class Scene:
    root: Path  # holds the fake home and the allowed folder
    local: Path
    remote: Path  # the sandbox's repository
    conversation_id: str
    sent: str  # the commit the work was sent as


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A fake home with a key, a secret sibling, and `code/work`: a repository holding what attacks aim at."""
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "id_rsa").write_text("-----BEGIN FAKE KEY-----\n")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "secret.txt").write_text("next door\n")
    repo = tmp_path / "code" / "work"
    repo.mkdir()
    (tmp_path / "outside").mkdir()
    sh(
        repo,
        "git init -q -b main && printf '.env\\n.venv/\\nbuild/\\n' > .gitignore && printf 'one\\ntwo\\n' > a.txt && "
        "mkdir src && printf 'code\\n' > src/app.py && printf 'run\\n' > tool.sh && "
        "git add -A && git commit -qm one && "
        "git config remote.origin.url https://user:tok@example.com/r.git && "
        "printf 'SECRET=1\\n' > .env && mkdir -p .venv/lib/site-packages && printf 'a\\0b' > image.bin && "
        "mkdir inner && git -C inner init -q && printf 'nested\\n' > inner/n.txt && "
        f"ln -s {tmp_path / 'outside'} linkdir",
    )
    return tmp_path


@pytest.fixture
async def client(fake: FakeOpenHands, home: Path, client_factory: Any) -> AsyncIterator[Client]:
    settings = Settings(openhands_url=fake.base_url, poll_interval=0.02, timeout=10, local_roots=(str(home / "code"),))
    async with Client(build_server(settings, client_factory=client_factory), raise_exceptions=True) as c:
        yield c


@pytest.fixture
async def scene(fake: FakeOpenHands, client: Client, home: Path) -> Scene:
    local = home / "code" / "work"
    args = {"message": "Fix it", "local_path": str(local), "timeout_seconds": 10}
    result = await call(client, "start_conversation", args)
    remote = Path(result["local"].rsplit(" into ", 1)[1])
    sent = sh(remote, "git rev-parse refs/remotes/oh-mcp/main").strip()
    return Scene(home, local, remote, result["conversation_id"], sent)


async def refused(client: Client, fake: FakeOpenHands, scene: Scene, patch: bytes) -> str:
    """Serve `patch`, apply it with its digest, and check that nothing anywhere changed."""
    fake.served_patch = patch
    before = everything(scene.root)
    args = {
        "conversation_id": scene.conversation_id,
        "local_path": str(scene.local),
        "patch_digest": hashlib.sha256(patch).hexdigest(),
    }
    text = await error_text(client, "apply_changes", args)
    assert changed(before, everything(scene.root)) == [], f"written though refused\n{text}"
    return text


def unsafe(text: str, *words: str) -> None:
    assert "Refused as unsafe" in text and "Do not apply it again" in text, text
    for word in words:
        assert word in text, (word, text)


def new_file(path: str, body: bytes = b"evil\n", mode: str = "100644") -> bytes:
    return (
        f"diff --git a/{path} b/{path}\nnew file mode {mode}\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1 @@\n+".encode()
        + body
    )


def copy(source: str, target: str, kind: str = "copy") -> bytes:
    return (
        f"diff --git a/{source} b/{target}\nsimilarity index 100%\n{kind} from {source}\n{kind} to {target}\n"
    ).encode()


# ---- reading outside what was sent --------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    ["{home}/.ssh/id_rsa", "../secret.txt", "../../.ssh/id_rsa", ".git/config", ".env", "image.bin", "inner/n.txt"],
)
@pytest.mark.parametrize("kind", ["copy", "rename"])
async def test_a_copy_or_rename_reads_only_what_was_sent(
    fake: FakeOpenHands, client: Client, scene: Scene, source: str, kind: str
) -> None:
    text = await refused(client, fake, scene, copy(source.format(home=scene.root), "stolen.txt", kind))
    assert "stolen" not in "".join(os.listdir(scene.local))
    assert "nothing was written" in text.lower()


# ---- writing where nobody looks ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "words"),
    [
        (".venv/lib/site-packages/x.pth", "ignored by git here"),
        (".venv/lib/python3.12/site-packages/evil.pth", "ignored by git here"),  # folders that do not exist yet
        ("build/run.sh", "ignored by git here"),
        (".env", "ignored by git here"),
        ("image.bin", "left out of what was sent"),
        ("inner/evil.txt", "nested repository inner"),
        ("linkdir/evil.txt", "beyond a symbolic link"),
    ],
)
async def test_a_patch_writes_nowhere_the_person_would_not_see(
    fake: FakeOpenHands, client: Client, scene: Scene, path: str, words: str
) -> None:
    unsafe(await refused(client, fake, scene, new_file(path)), words)
    assert not (scene.root / "outside" / "evil.txt").exists()


@pytest.mark.parametrize("name", ["tab\there.txt", "new\nline.txt", "esc\x1b[2J.txt", "del\x7f.txt"])
async def test_a_name_with_a_control_character_is_refused_and_shown_escaped(
    fake: FakeOpenHands, client: Client, scene: Scene, name: str
) -> None:
    quoted = '"' + name.encode("unicode_escape").decode() + '"'  # as the review shows it
    escaped = "".join(c if c.isprintable() else {"\t": "\\t", "\n": "\\n"}.get(c, f"\\{ord(c):03o}") for c in name)
    patch = (
        f'diff --git "a/{escaped}" "b/{escaped}"\nnew file mode 100644\n--- /dev/null\n+++ "b/{escaped}"\n'
        "@@ -0,0 +1 @@\n+evil\n"
    ).encode()
    fake.served_patch = patch
    review = await call(client, "get_changes", {"conversation_id": scene.conversation_id, "format": "patch"})
    assert quoted in review["summary"], "the review shows the name with its escapes"
    unsafe(await refused(client, fake, scene, patch), "a control character in the name")


@pytest.mark.parametrize(
    "path", [".git/hooks/post-checkout", ".GIT/config", ".git./x", "src/.git/x", "git~1/config", "../escape.txt"]
)
async def test_writes_into_git_or_out_of_the_checkout_stay_refused(
    fake: FakeOpenHands, client: Client, scene: Scene, path: str
) -> None:
    text = await refused(client, fake, scene, new_file(path))
    assert "nothing was written" in text.lower()


# ---- links, modes, submodules, attributes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("{home}/.ssh/id_rsa", "absolute path"),
        ("../../.ssh", "points out of the checkout"),
        (".git/config", "into .git"),
        ("src/../../..", "turns back"),
    ],
)
async def test_a_planted_link_stays_inside_the_checkout(
    fake: FakeOpenHands, client: Client, scene: Scene, target: str, words: str
) -> None:
    patch = (
        "diff --git a/l b/l\nnew file mode 120000\n--- /dev/null\n+++ b/l\n@@ -0,0 +1 @@\n"
        f"+{target.format(home=scene.root)}\n\\ No newline at end of file\n"
    ).encode()
    unsafe(await refused(client, fake, scene, patch), words)


async def test_a_file_turned_into_a_link_or_a_submodule_is_refused(
    fake: FakeOpenHands, client: Client, scene: Scene
) -> None:
    retype = b"diff --git a/a.txt b/a.txt\nold mode 100644\nnew mode 120000\n"
    unsafe(await refused(client, fake, scene, retype))
    gitlink = (
        "diff --git a/sub b/sub\nnew file mode 160000\n--- /dev/null\n+++ b/sub\n@@ -0,0 +1 @@\n"
        f"+Subproject commit {scene.sent}\n"
    ).encode()
    unsafe(await refused(client, fake, scene, gitlink), "a submodule")


async def test_the_exec_bit_goes_only_on_files_the_agent_received(
    fake: FakeOpenHands, client: Client, scene: Scene
) -> None:
    unsafe(await refused(client, fake, scene, b"diff --git a/.env b/.env\nold mode 100644\nnew mode 100755\n"))
    fake.served_patch = b"diff --git a/tool.sh b/tool.sh\nold mode 100644\nnew mode 100755\n"
    changes = await call(client, "get_changes", {"conversation_id": scene.conversation_id, "format": "patch"})
    assert "tool.sh (modified, mode 100644 -> 100755)" in changes["summary"]
    args = {"conversation_id": scene.conversation_id, "local_path": str(scene.local)}
    await call(client, "apply_changes", args | {"patch_digest": changes["patch_digest"]})
    assert os.stat(scene.local / "tool.sh").st_mode & 0o111


async def test_gitattributes_are_applied_as_text_and_no_filter_driver_runs(
    fake: FakeOpenHands, client: Client, scene: Scene
) -> None:
    marker = scene.root / "filter-ran"
    sh(scene.local, f"git config filter.evil.smudge 'touch {marker}; cat' && git config filter.evil.clean cat")
    (scene.remote / ".gitattributes").write_text("* filter=evil\n")
    (scene.remote / "a.txt").write_text("one\nTWO\n")
    changes = await call(client, "get_changes", {"conversation_id": scene.conversation_id, "format": "patch"})
    args = {"conversation_id": scene.conversation_id, "local_path": str(scene.local)}
    applied = await call(client, "apply_changes", args | {"patch_digest": changes["patch_digest"]})
    assert (scene.local / "a.txt").read_text() == "one\nTWO\n"
    assert any("no filter ran" in f for f in applied["files"]) and not marker.exists()


# ---- what is applied is what was reviewed ---------------------------------------------------------


async def test_a_patch_that_changed_since_the_review_is_not_applied(
    fake: FakeOpenHands, client: Client, scene: Scene
) -> None:
    (scene.remote / "a.txt").write_text("one\nreviewed\n")
    changes = await call(client, "get_changes", {"conversation_id": scene.conversation_id, "format": "patch"})
    (scene.remote / "a.txt").write_text("one\nswapped\n")
    before = everything(scene.root)
    args = {"conversation_id": scene.conversation_id, "local_path": str(scene.local)}
    text = await error_text(client, "apply_changes", args | {"patch_digest": changes["patch_digest"]})
    assert "not the one reviewed" in text and everything(scene.root) == before


async def test_a_paused_sandbox_is_never_resumed_to_apply(fake: FakeOpenHands, client: Client, scene: Scene) -> None:
    (scene.remote / "a.txt").write_text("one\nTWO\n")
    changes = await call(client, "get_changes", {"conversation_id": scene.conversation_id, "format": "patch"})
    conversation = fake.conversations[scene.conversation_id]
    fake.sandboxes[conversation.sandbox_id].status = "PAUSED"
    args = {"conversation_id": scene.conversation_id, "local_path": str(scene.local)}
    text = await error_text(client, "apply_changes", args | {"patch_digest": changes["patch_digest"]})
    assert "never resumes it" in text and "resume_sandbox" in text
    assert fake.sandboxes[conversation.sandbox_id].status == "PAUSED"
    assert (scene.local / "a.txt").read_text() == "one\ntwo\n"


async def test_a_patch_from_another_checkout_is_refused_as_such(
    fake: FakeOpenHands, client: Client, scene: Scene
) -> None:
    sh(scene.remote, "git commit -q --allow-empty -m elsewhere && git update-ref refs/remotes/oh-mcp/main HEAD")
    (scene.remote / "a.txt").write_text("one\nTWO\n")
    changes = await call(client, "get_changes", {"conversation_id": scene.conversation_id, "format": "patch"})
    args = {"conversation_id": scene.conversation_id, "local_path": str(scene.local)}
    text = await error_text(client, "apply_changes", args | {"patch_digest": changes["patch_digest"]})
    assert "comes from another checkout" in text


# ---- caps --------------------------------------------------------------------------------------------


async def test_an_endless_or_oversized_patch_is_cut_at_its_cap(
    fake: FakeOpenHands, home: Path, scene: Scene, client_factory: Any
) -> None:
    settings = Settings(
        openhands_url=fake.base_url,
        timeout=10,
        local_roots=(str(home / "code"),),
        patch_max_bytes=1_000_000,
        apply_max_bytes=100_000,
        apply_max_files=2,
    )
    async with Client(build_server(settings, client_factory=client_factory), raise_exceptions=True) as small:
        fake.served_patch = "endless"
        args = {"conversation_id": scene.conversation_id, "format": "patch"}
        assert "over the limit of 1,000,000 bytes" in await error_text(small, "get_changes", args)
        with pytest.raises(MCPError, match="over the limit of 1,000,000 bytes"):
            await small.read_resource(f"openhands://conversations/{scene.conversation_id}/patch")
        fake.served_patch = None
        (scene.remote / "zeros.bin").write_bytes(b"\0" * 300_000)  # a patch of a few hundred bytes
        many = "".join(f"printf x > f{i}.txt && " for i in range(3))
        sh(scene.remote, many + "true")
        changes = await call(small, "get_changes", {"conversation_id": scene.conversation_id, "format": "patch"})
        args = {"conversation_id": scene.conversation_id, "local_path": str(scene.local)}
        before = everything(scene.root)
        text = await error_text(small, "apply_changes", args | {"patch_digest": changes["patch_digest"]})
        assert "OH_MCP_APPLY_MAX_FILES" in text and everything(scene.root) == before
        sh(scene.remote, "rm f0.txt f1.txt f2.txt")
        changes = await call(small, "get_changes", {"conversation_id": scene.conversation_id, "format": "patch"})
        text = await error_text(small, "apply_changes", args | {"patch_digest": changes["patch_digest"]})
        assert "300,000 bytes" in text and "OH_MCP_APPLY_MAX_BYTES" in text and everything(scene.root) == before

"""A property of apply_patch: whatever a patch from a small grammar of attacks holds (copies, renames,
modes, links, ignored and nested paths, odd names), nothing outside the allowed set changes. The
allowed set is worked out here on its own, from git's view of the checkout, and checked by diffing
the whole tree (the checkout, its .git and a fake home beside it) before and after."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oh_mcp.local.apply import ApplyRefused, Caps, apply_patch
from oh_mcp.local.snapshot import take
from oh_mcp.review.patch import UnreadablePatch, read_patch
from tests.fake.workspace import git_env
from tests.local.shell import sh
from tests.trees import changed, everything

CONVERSATION = "0123456789abcdef0123456789abcdef"
NEW_PATHS = [
    "new.txt",
    "src/new.py",
    "build/out.sh",
    ".venv/lib/x.pth",
    "inner/x.txt",
    "linkdir/x.txt",
    ".git/hooks/pre-commit",
    ".GIT/config",
    "a/../../x",
    "tab\there",
    "image.bin",
    ".env",
]
SOURCES = ["a.txt", ".env", "../secret.txt", "/etc/hostname", ".git/config", "image.bin", "inner/n.txt"]
LINK_TARGETS = ["a.txt", "src", "../..", "/etc", ".git/config", "src/../..", "../secret.txt"]
SENT_FILES = ["a.txt", "tool.sh", "src/app.py"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A fake home holding `code/work` (sent once) and what attacks aim at; copied for each example."""
    root = tmp_path_factory.mktemp("template")
    (root / "code").mkdir()
    (root / "code" / "secret.txt").write_text("next door\n")
    (root / "outside").mkdir()
    repo = root / "code" / "work"
    repo.mkdir()
    sh(
        repo,
        "git init -q -b main && printf '.env\\n.venv/\\nbuild/\\n' > .gitignore && printf 'one\\ntwo\\n' > a.txt && "
        "mkdir src && printf 'code\\n' > src/app.py && printf 'run\\n' > tool.sh && git add -A && "
        "git commit -qm one && printf 'SECRET=1\\n' > .env && mkdir -p .venv/lib && printf 'a\\0b' > image.bin && "
        "mkdir inner && git -C inner init -q && printf 'nested\\n' > inner/n.txt && ln -s ../../outside linkdir",
    )
    sent = anyio.run(take, repo, 10**8).sent
    return root, sent


def quoted(path: str) -> str:
    if path.isprintable():
        return path
    return '"' + "".join(c if c.isprintable() else f"\\{ord(c):03o}" for c in path) + '"'


def name(prefix: str, path: str) -> str:
    return quoted(f"{prefix}/{path}") if not path.isprintable() else f"{prefix}/{path}"


def new_file(path: str, mode: str = "100644", body: str = "evil") -> str:
    a, b = name("a", path), name("b", path)
    return f"diff --git {a} {b}\nnew file mode {mode}\n--- /dev/null\n+++ {b}\n@@ -0,0 +1 @@\n+{body}\n"


def new_link(path: str, target: str) -> str:
    return new_file(path, "120000", target) + "\\ No newline at end of file\n"


def copy(kind: str, source: str, target: str) -> str:
    return f"diff --git a/{source} b/{target}\nsimilarity index 100%\n{kind} from {source}\n{kind} to {target}\n"


def mode(path: str, new: str) -> str:
    return f"diff --git a/{path} b/{path}\nold mode 100644\nnew mode {new}\n"


def modify(path: str) -> str:
    return f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1,2 +1,2 @@\n one\n-two\n+TWO\n"


def delete(path: str) -> str:
    return f"diff --git a/{path} b/{path}\ndeleted file mode 100644\n--- a/{path}\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n"


BLOCKS = st.one_of(
    st.builds(new_file, st.sampled_from(NEW_PATHS), st.sampled_from(["100644", "100755", "160000"])),
    st.builds(new_link, st.sampled_from(NEW_PATHS), st.sampled_from(LINK_TARGETS)),
    st.builds(copy, st.sampled_from(["copy", "rename"]), st.sampled_from(SOURCES), st.sampled_from(NEW_PATHS)),
    st.builds(mode, st.sampled_from([*SENT_FILES, ".env", "image.bin"]), st.sampled_from(["100755", "120000"])),
    st.just(modify("a.txt")),
    st.builds(delete, st.sampled_from([".env", "image.bin", "inner/n.txt", "src/app.py"])),
)


def allowed(repo: Path, sent: str, path: str) -> bool:
    """Worked out apart from the code under test: where a patch may have written, in `repo`."""
    in_sent = path in sh(repo, f"git ls-tree -r --name-only {sent}").splitlines()
    if any(ord(c) < 32 for c in path) or path.split("/")[0].lower() in (".git", "inner", "linkdir"):
        return False
    if in_sent:
        return True
    ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=repo, env=git_env(repo))
    return ignored.returncode != 0 and path not in ("image.bin",)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blocks=st.lists(BLOCKS, min_size=1, max_size=4))
def test_no_patch_writes_outside_the_allowed_set(
    template: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory, blocks: list[str]
) -> None:
    source, sent = template
    root = tmp_path_factory.mktemp("example") / "home"
    shutil.copytree(source, root, symlinks=True)
    repo = root / "code" / "work"
    patch = "".join(blocks).encode("utf-8", "surrogateescape")
    before = everything(root)

    async def attempt() -> None:
        try:
            files = await read_patch(patch)
            reviewed = {f.path for f in files} | {f.source for f in files if f.source}  # as apply_changes does
        except UnreadablePatch:
            return
        try:
            await apply_patch(repo, patch, sent, reviewed, CONVERSATION, Caps(files=100, bytes=10**7))
        except ApplyRefused:
            pass

    anyio.run(attempt)
    for path in changed(before, everything(root)):
        inside = path.removeprefix("code/work/")
        assert path.startswith("code/work/"), f"wrote outside the checkout: {path}"
        if inside.startswith(".git/oh-mcp"):
            continue
        assert allowed(repo, sent, inside), f"wrote {inside!r} for {blocks}"

"""A local checkout delegated to the real OpenHands 1.11.0 and its work brought home: two commits, an
uncommitted edit and an ignored .env go in; the scripted agent edits a file, adds one and deletes
one; apply_changes makes the local tree the sandbox's, once, and never over a conflicting edit."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import anyio
import pytest
from mcp import Client

from tests.trees import changed, everything

from .harness import AppServer, Journey, oh_mcp_params, text_of
from .proxy import hostile_proxy

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

LOCAL_TIMEOUT = 300
SCRIPT = "\n".join(
    [
        "Change the repository in the folder work.",
        "RUN: (cd work && printf 'b1\\nB2\\nb3\\n' > b.txt && printf 'added\\n' > added.txt && rm stay.txt)"
        " && echo edited",
        "SAY: Edited b.txt, added added.txt and deleted stay.txt.",
    ]
)


# What a replaced agent server serves: a copy of the ignored .env (never sent), and a .pth file under
# an ignored folder, which Python would run at its next start.
HOSTILE = (
    b"diff --git a/.env b/stolen.txt\nsimilarity index 100%\ncopy from .env\ncopy to stolen.txt\n"
    b"diff --git a/.venv/lib/x.pth b/.venv/lib/x.pth\nnew file mode 100644\n--- /dev/null\n+++ b/.venv/lib/x.pth\n"
    b"@@ -0,0 +1 @@\n+import os; os.system('touch /tmp/pwned')\n"
)


def sh(cwd: Path, script: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env |= {
        "GIT_AUTHOR_NAME": "me",
        "GIT_AUTHOR_EMAIL": "me@x",
        "GIT_COMMITTER_NAME": "me",
        "GIT_COMMITTER_EMAIL": "me@x",
    }
    done = subprocess.run(script, shell=True, cwd=cwd, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def tree(repo: Path, *, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    found = {}
    for path in sorted(repo.rglob("*")):
        rel = path.relative_to(repo).as_posix()
        if rel.split("/")[0] == ".git" or rel in skip or path.is_dir():
            continue
        found[rel] = path.read_bytes()
    return found


def status(repo: Path) -> set[str]:
    return set(sh(repo, "git status --porcelain=v1 --untracked-files=all").splitlines())


async def test_a_local_checkout_goes_to_the_sandbox_and_comes_home(app_server: AppServer, tmp_path: Path) -> None:
    local = tmp_path / "work"
    local.mkdir()
    sh(
        local,
        "git init -q -b main && printf '.env\\n.venv/\\n' > .gitignore && printf 'a1\\na2\\n' > a.txt && "
        "printf 'b1\\nb2\\nb3\\n' > b.txt && printf 'stay\\n' > stay.txt && git add -A && git commit -qm one && "
        "printf 'a3\\n' >> a.txt && git commit -qam two && printf 'a1\\nA2 mine\\na3\\n' > a.txt && "
        "printf 'TOKEN=do-not-send\\n' > .env",
    )
    with hostile_proxy() as proxy, anyio.fail_after(LOCAL_TIMEOUT):
        # Every agent-server call goes through the proxy, which passes it on until it is armed.
        params = oh_mcp_params(app_server)
        params.env = (params.env or {}) | {
            "OH_MCP_LOCAL_ROOTS": str(tmp_path),
            "OH_MCP_AGENT_SERVER_URL": proxy.template,
        }
        async with Client(params) as client:
            j = Journey(client)
            started = await j.ok(
                "start_conversation", {"message": SCRIPT, "local_path": str(local), "timeout_seconds": 120}
            )
            assert started["status"] == "READY", started
            j.step(f"  sent: {started['local']}")
            assert started["local"].startswith("sending 4 files, ") and "1 of them uncommitted" in started["local"]
            remote = Path(started["local"].rsplit(" into ", 1)[1])
            conv_id = started["conversation_id"]
            answer = await j.ok("wait_for_agent", {"conversation_id": conv_id, "timeout_seconds": 90})
            assert answer["settled"] and "deleted stay.txt" in (answer["final_response"] or ""), answer

            assert not (remote / ".env").exists(), "the ignored .env never reached the sandbox"
            assert sh(remote, "git rev-parse HEAD^{tree}") == sh(local, "git rev-parse HEAD^{tree}")
            patch = await j.ok("get_changes", {"conversation_id": conv_id, "format": "patch"})
            assert "added.txt (added), b.txt (modified), stay.txt (deleted)" in patch["summary"], patch["summary"]
            assert "diff --git a/a.txt" not in (patch["patch"] or ""), "the person's own edit is not the agent's"

            args = {"conversation_id": conv_id, "local_path": str(local), "patch_digest": patch["patch_digest"]}
            before_apply = everything(tmp_path)
            applied = await j.ok("apply_changes", args)
            j.step(f"  applied: {applied['files']}; undo: {applied['undo']}")
            assert tree(local, skip=(".env",)) == tree(remote), "the local tree is the sandbox's, file for file"
            assert status(local) == {" M a.txt", " M b.txt", " D stay.txt", "?? added.txt"}
            assert (local / ".env").read_text() == "TOKEN=do-not-send\n"

            again = await j.call("apply_changes", args)
            assert again.is_error and "already" in text_of(again), text_of(again)

            sh(local, applied["undo"])
            undone = changed(before_apply, everything(tmp_path))
            assert all(p.startswith("work/.git/oh-mcp") for p in undone), f"undo left {undone}"

            # The agent server now lies: its patch reads the ignored .env and plants a .pth file.
            proxy.patch = HOSTILE
            hostile = await j.ok("get_changes", {"conversation_id": conv_id, "format": "patch"})
            assert proxy.served == 1 and "stolen.txt (copied from .env)" in hostile["summary"], hostile["summary"]
            before = everything(tmp_path)
            attack = args | {"patch_digest": hostile["patch_digest"]}
            refused_ = await j.call("apply_changes", attack)
            assert refused_.is_error and "Refused as unsafe" in text_of(refused_), text_of(refused_)
            assert changed(before, everything(tmp_path)) == [], "a refused patch writes nothing anywhere"
            proxy.patch = None

            (local / "b.txt").write_text("b1\nmy b2\nb3\n")
            mine = tree(local)
            refused = await j.call("apply_changes", args)
            assert refused.is_error and "conflict" in text_of(refused) and "b.txt" in text_of(refused), text_of(refused)
            assert tree(local) == mine and status(local) == {" M a.txt", " M b.txt"}, "nothing was written"
            await j.call("delete_conversation", {"conversation_id": conv_id})

"""Reviewing an agent's work against the real OpenHands 1.11.0: the fake LLM makes the agent run
scripted commands (a git repository with a commit, then an edit, a new file and a deletion), and
oh-mcp must show exactly those changes and files, also after the sandbox was paused."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import ResourceLink

from .harness import AppServer, Journey, oh_mcp_params, text_of

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]  # the timeout (thread method) comes from conftest.py

REVIEW_TIMEOUT = 300
GIT = "git -c user.name=e2e -c user.email=e2e@example.com"
SCRIPT = "\n".join(
    [
        "Set up a repository, then change it.",
        f"RUN: (git init -q repo && cd repo && printf 'one\\ntwo\\nthree\\n' > a.txt && printf 'bye\\n' > gone.txt"
        f" && printf 'keep\\n' > keep.txt && git add . && {GIT} commit -qm base) && echo committed",
        "RUN: (cd repo && printf 'one\\n2\\nthree\\n' > a.txt && printf 'new\\n' > b.txt && rm gone.txt)"
        " && echo edited",
        "SAY: Edited a.txt, added b.txt and deleted gone.txt.",
    ]
)
A_DIFF = "--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+2\n three"


def files_of(changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for repo in changes["repositories"] for f in repo["files"]}


def assert_the_agents_changes(changes: dict[str, Any]) -> None:
    assert changes["summary"] == "3 files changed, +2 -2", changes
    [repo] = changes["repositories"]
    assert repo["path"].endswith("/repo") and repo["compared_with"] == "HEAD", repo
    files = files_of(changes)
    assert {p: (f["status"], f["added"], f["removed"]) for p, f in files.items()} == {
        "a.txt": ("updated", 1, 1),
        "b.txt": ("added", 1, 0),
        "gone.txt": ("deleted", 0, 1),
    }
    assert files["a.txt"]["diff"] == A_DIFF
    assert files["b.txt"]["diff"] == "--- /dev/null\n+++ b/b.txt\n@@ -0,0 +1 @@\n+new"


async def test_get_changes_and_read_file_show_what_the_agent_did(app_server: AppServer) -> None:
    with anyio.fail_after(REVIEW_TIMEOUT):
        async with Client(oh_mcp_params(app_server)) as client:
            j = Journey(client)
            started = await j.ok("start_conversation", {"message": SCRIPT, "timeout_seconds": 120})
            assert started["status"] == "READY", started
            conv_id, sandbox_id = started["conversation_id"], started["sandbox_id"]
            answer = await j.ok("wait_for_agent", {"conversation_id": conv_id, "timeout_seconds": 90})
            assert answer["settled"] and "deleted gone.txt" in (answer["final_response"] or ""), answer

            result = await j.call("get_changes", {"conversation_id": conv_id})
            assert not result.is_error, text_of(result)
            assert_the_agents_changes(result.structured_content or {})
            links = [str(c.uri) for c in result.content if isinstance(c, ResourceLink)]
            assert links == [f"openhands://conversations/{conv_id}/files/repo/{n}" for n in ("a.txt", "b.txt")]

            deleted = await j.ok("get_changes", {"conversation_id": conv_id, "path": "repo/gone.txt"})
            assert files_of(deleted)["gone.txt"]["diff"] == "--- a/gone.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye"
            read = await j.ok("read_file", {"conversation_id": conv_id, "path": "repo/a.txt"})
            assert read["text"] == "one\n2\nthree\n" and read["path"].endswith("/repo/a.txt")
            missing = await j.call("read_file", {"conversation_id": conv_id, "path": "repo/gone.txt"})
            assert missing.is_error and "no file" in text_of(missing), text_of(missing)

            paused = await j.ok("pause_sandbox", {"sandbox_id": sandbox_id})
            assert paused["status"] == "PAUSED", paused
            refused = await j.call("get_changes", {"conversation_id": conv_id})
            assert refused.is_error and "PAUSED" in text_of(refused) and "auto_resume" in text_of(refused)
            again = await j.ok("get_changes", {"conversation_id": conv_id, "auto_resume": True})
            j.step(f"  progress during the resume: {j.progress_seen()}")
            assert_the_agents_changes(again)
            await j.ok("pause_sandbox", {"sandbox_id": sandbox_id})
            reread = await j.ok("read_file", {"conversation_id": conv_id, "path": "repo/b.txt", "auto_resume": True})
            assert reread["text"] == "new\n"
            await j.call("delete_conversation", {"conversation_id": conv_id})


ODD_SCRIPT = "\n".join(
    [
        "Change two files whose names git quotes.",
        "RUN: (git init -q odd && cd odd && printf 'old\\n' > café.py && printf 'old\\n' > 'two words.txt'"
        f" && git add . && {GIT} commit -qm base && printf 'new\\n' > café.py && printf 'new\\n' > 'two words.txt')"
        " && echo edited",
        "SAY: Edited café.py and two words.txt.",
    ]
)
ODD_NAMES = ("café.py", "two words.txt")


async def test_names_git_quotes_are_reviewed_like_any_other(app_server: AppServer) -> None:
    """OpenHands' own listing loses such names (it splits git's lines at whitespace and keeps the
    quoted form "caf\\303\\251.py"): oh-mcp must list, diff, link and read them all the same."""
    with anyio.fail_after(REVIEW_TIMEOUT):
        async with Client(oh_mcp_params(app_server)) as client:
            j = Journey(client)
            started = await j.ok("start_conversation", {"message": ODD_SCRIPT, "timeout_seconds": 120})
            assert started["status"] == "READY", started
            conv_id = started["conversation_id"]
            answer = await j.ok("wait_for_agent", {"conversation_id": conv_id, "timeout_seconds": 90})
            assert answer["settled"] and "two words.txt" in (answer["final_response"] or ""), answer

            result = await j.call("get_changes", {"conversation_id": conv_id})
            assert not result.is_error, text_of(result)
            changes = result.structured_content or {}
            if changes.get("summary") != "2 files changed, +2 -2":  # show what the agent's command did
                events = await j.call("get_conversation_events", {"conversation_id": conv_id})
                raise AssertionError(f"{changes}\n{text_of(events)}")
            [repo] = changes["repositories"]
            assert repo["path"].endswith("/odd") and repo["compared_with"] == "HEAD", repo
            files = files_of(changes)
            assert sorted(files) == sorted(ODD_NAMES), files
            for name in ODD_NAMES:
                assert files[name]["diff"] == f"--- a/{name}\n+++ b/{name}\n@@ -1 +1 @@\n-old\n+new", files[name]
                read = await j.ok("read_file", {"conversation_id": conv_id, "path": f"odd/{name}"})
                assert read["text"] == "new\n", read
            links = [str(c.uri) for c in result.content if isinstance(c, ResourceLink)]
            base = f"openhands://conversations/{conv_id}/files/odd/"
            assert links == [base + "caf%C3%A9.py", base + "two%20words.txt"], links
            for uri in links:
                assert (await client.read_resource(uri)).contents[0].text == "new\n"  # type: ignore[union-attr]
            await j.call("delete_conversation", {"conversation_id": conv_id})

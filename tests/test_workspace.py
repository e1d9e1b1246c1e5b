"""Finding the agent's work through the fake, whose sandboxes hold real git repositories."""

from __future__ import annotations

import time

import anyio
import pytest

from oh_mcp.openhands import InvalidRequest, OpenHandsClient, ServerError
from oh_mcp.review.diffs import ChangeStatus
from oh_mcp.review.workspace import changed_files, find_workspace, old_text
from tests.fake.state import FakeOpenHands

pytestmark = pytest.mark.anyio

REPO = (
    "git init -q repo && cd repo && printf 'one\\ntwo\\n' > a.txt && printf 'bye\\n' > gone.txt && "
    "printf 'same\\n' > old.txt && git add . && git commit -qm init && "
    "printf 'one\\n2\\n' > a.txt && printf 'new\\nfile\\n' > b.txt && rm gone.txt && mv old.txt moved.txt && "
    "printf 'x\\000y' > blob.bin"
)


async def test_the_workspace_root_and_its_repositories_are_found_with_their_bases(
    fake: FakeOpenHands, oh: OpenHandsClient
) -> None:
    conv = fake.add_conversation()
    fake.shell(conv["sandbox_id"], REPO + " && cd .. && git init -q empty")
    conversation = await oh.get_conversation(conv["id"])
    ws = await find_workspace(oh, conversation)
    root = str(fake.workspace(conv["sandbox_id"]))
    assert ws.root == root
    assert [(r.name, r.compared_with, r.base is not None) for r in ws.repositories] == [
        (".", "empty tree", False),
        ("empty", "empty tree", False),
        ("repo", "HEAD", True),
    ]
    assert ws.repositories[2].path == root + "/repo"


async def test_changes_have_counts_moves_binaries_and_no_agent_server_files(
    fake: FakeOpenHands, oh: OpenHandsClient
) -> None:
    conv = fake.add_conversation()
    fake.shell(conv["sandbox_id"], REPO + " && cd .. && echo note > notes.md")
    conversation = await oh.get_conversation(conv["id"])
    await oh.execute_command(conversation, "true")  # leaves a bash event file in the root
    ws = await find_workspace(oh, conversation)
    root, repo = ws.repositories
    found = {c.path: c for c in await changed_files(oh, conversation, ws, repo)}
    assert {p: (c.status, c.added, c.removed) for p, c in found.items()} == {
        "a.txt": (ChangeStatus.UPDATED, 1, 1),
        "b.txt": (ChangeStatus.ADDED, 2, 0),
        "blob.bin": (ChangeStatus.ADDED, 0, 0),
        "gone.txt": (ChangeStatus.DELETED, 0, 1),
        "moved.txt": (ChangeStatus.MOVED, 0, 0),
    }
    assert found["moved.txt"].old_path == "old.txt"
    assert found["blob.bin"].binary and found["blob.bin"].size == 3
    assert found["gone.txt"].size == 4
    assert [c.path for c in await changed_files(oh, conversation, ws, root)] == ["notes.md"]
    assert await old_text(oh, conversation, repo, "gone.txt") == "bye"


async def test_a_ref_that_does_not_exist_is_refused(fake: FakeOpenHands, oh: OpenHandsClient) -> None:
    conv = fake.add_conversation()
    fake.shell(conv["sandbox_id"], REPO)
    conversation = await oh.get_conversation(conv["id"])
    with pytest.raises(InvalidRequest, match="nope"):
        await find_workspace(oh, conversation, ref="nope", only="repo")


async def test_many_changed_files_are_inspected_in_batches(fake: FakeOpenHands, oh: OpenHandsClient) -> None:
    conv = fake.add_conversation()
    fake.shell(conv["sandbox_id"], "git init -q r && cd r && for i in $(seq 1 201); do echo $i > f$i.txt; done")
    conversation = await oh.get_conversation(conv["id"])
    ws = await find_workspace(oh, conversation)
    before = len(fake.commands)
    changes = await changed_files(oh, conversation, ws, ws.repositories[1])
    assert len(changes) == 201 and all(c.added == 1 for c in changes)
    assert len(fake.commands) - before == 3, "one listing, then two batches of facts"


async def test_a_failing_command_is_an_error_without_the_sandbox_key(fake: FakeOpenHands, oh: OpenHandsClient) -> None:
    conv = fake.add_conversation()
    key = fake.sandbox_key(conv["sandbox_id"])
    conversation = await oh.get_conversation(conv["id"])
    fake.inject(
        "POST",
        r"/api/bash/execute_bash_command$",
        200,
        {"exit_code": 2, "stdout": None, "stderr": f"fatal: {key} is broken", "kind": "BashOutput"},
    )
    with pytest.raises(ServerError) as caught:
        await find_workspace(oh, conversation)
    assert key not in caught.value.message and "exit 2" in caught.value.message


async def test_a_same_size_rewrite_in_the_second_of_the_commit_is_counted(
    fake: FakeOpenHands, oh: OpenHandsClient
) -> None:
    """Git trusts a file's size and times to the second unless the index file is as new as the entry: the
    throwaway index must keep the real one's age, or a rewrite in the commit's second counts as unchanged."""
    script = "git init -q r && cd r && echo old > a.txt && git add . && git commit -qm base && echo new > a.txt"
    for _ in range(5):  # the commit and the rewrite must fall in one second
        conv = fake.add_conversation()
        fake.shell(conv["sandbox_id"], script)
        repo = fake.workspace(conv["sandbox_id"]) / "r"
        second = int((repo / ".git" / "index").stat().st_mtime)
        if int((repo / "a.txt").stat().st_ctime) == second:
            break
    await anyio.sleep(max(0.0, second + 1.1 - time.time()))  # the copy is made in a later second
    conversation = await oh.get_conversation(conv["id"])
    ws = await find_workspace(oh, conversation, only="r")
    [change] = await changed_files(oh, conversation, ws, ws.repositories[0])
    assert (change.path, change.added, change.removed) == ("a.txt", 1, 1)


async def test_directories_named_like_options_or_with_a_newline_are_repositories_as_named(
    fake: FakeOpenHands, oh: OpenHandsClient
) -> None:
    conv = fake.add_conversation()
    fake.shell(conv["sandbox_id"], 'for d in -P \'a\nrepo\' -; do git init -q -- "$d" && echo x > "$d/f.txt"; done')
    conversation = await oh.get_conversation(conv["id"])
    ws = await find_workspace(oh, conversation)
    root = str(fake.workspace(conv["sandbox_id"]))
    assert sorted((r.name, r.path) for r in ws.repositories) == sorted(
        [(".", root), ("-", f"{root}/-"), ("-P", f"{root}/-P"), ("a\nrepo", f"{root}/a\nrepo")]
    )
    for repo in ws.repositories[1:]:
        assert [c.path for c in await changed_files(oh, conversation, ws, repo)] == ["f.txt"], repo.name

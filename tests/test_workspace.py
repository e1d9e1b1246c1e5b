"""Finding the agent's work through the fake, whose sandboxes hold real git repositories."""

from __future__ import annotations

import pytest

from oh_mcp.openhands import InvalidRequest, OpenHandsClient, ServerError
from oh_mcp.review import ChangeStatus
from oh_mcp.workspace import changed_files, find_workspace, old_text
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
    assert len(fake.commands) - before == 2


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

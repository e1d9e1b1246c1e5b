"""The client's workspace calls (git changes and diffs, files, commands) against the fake, whose
workspaces are real directories with real git, contract-checked like every other route."""

from __future__ import annotations

import pytest

from oh_mcp.openhands import (
    CommandResult,
    GitChange,
    GitDiff,
    InvalidRequest,
    NotFound,
    OpenHandsClient,
    SandboxNotRunning,
    Unavailable,
)
from tests.fake.state import FakeOpenHands

pytestmark = pytest.mark.anyio

SETUP = (
    "git init -q repo && cd repo && printf 'one\\ntwo\\n' > a.txt && printf 'bye\\n' > gone.txt && "
    "git add . && git commit -qm init && printf 'one\\n2\\n' > a.txt && printf 'new\\n' > b.txt && rm gone.txt"
)


@pytest.fixture
def conv(fake: FakeOpenHands) -> dict[str, str]:
    made = fake.add_conversation()
    fake.shell(made["sandbox_id"], SETUP)
    return made | {"root": str(fake.workspace(made["sandbox_id"]))}


async def test_git_changes_against_head_list_updates_additions_and_deletions(
    conv: dict[str, str], oh: OpenHandsClient
) -> None:
    changes = await oh.git_changes(conv["id"], conv["root"] + "/repo", ref="HEAD")
    assert changes == [
        GitChange(status="UPDATED", path="a.txt"),
        GitChange(status="ADDED", path="b.txt"),
        GitChange(status="DELETED", path="gone.txt"),
    ]
    # Without a ref, a repository with no remote compares with the empty tree, as upstream does.
    assert [c.status for c in await oh.git_changes(conv["id"], conv["root"] + "/repo")] == ["ADDED", "ADDED"]


async def test_git_diff_gives_both_texts_and_a_deleted_file_is_unavailable(
    conv: dict[str, str], oh: OpenHandsClient
) -> None:
    repo = conv["root"] + "/repo"
    assert await oh.git_diff(conv["id"], repo + "/a.txt", ref="HEAD") == GitDiff(original="one\ntwo", modified="one\n2")
    with pytest.raises(Unavailable):
        await oh.git_diff(conv["id"], repo + "/gone.txt", ref="HEAD")


async def test_download_tells_a_missing_file_from_a_directory(
    conv: dict[str, str], oh: OpenHandsClient, fake: FakeOpenHands
) -> None:
    conversation = await oh.get_conversation(conv["id"])
    assert await oh.download_file(conversation, conv["root"] + "/repo/a.txt") == b"one\n2\n"
    with pytest.raises(NotFound):
        await oh.download_file(conversation, conv["root"] + "/repo/nope.txt")
    with pytest.raises(InvalidRequest):
        await oh.download_file(conversation, conv["root"] + "/repo")
    # The app server's file route cannot tell them apart.
    assert await oh.read_conversation_file(conv["id"], conv["root"] + "/repo/nope.txt") == ""
    assert await oh.read_conversation_file(conv["id"], conv["root"] + "/repo/b.txt") == "new\n"


async def test_a_command_runs_in_the_workspace_with_the_sandbox_key(
    conv: dict[str, str], oh: OpenHandsClient, fake: FakeOpenHands
) -> None:
    conversation = await oh.get_conversation(conv["id"])
    result = await oh.execute_command(conversation, "pwd; echo oops >&2; exit 3")
    assert result == CommandResult(exit_code=3, stdout=conv["root"] + "\n", stderr="oops\n")
    inside = await oh.execute_command(conversation, "ls", cwd=conv["root"] + "/repo")
    assert inside.stdout == "a.txt\nb.txt\n"


async def test_a_paused_sandbox_refuses_workspace_calls(
    conv: dict[str, str], oh: OpenHandsClient, fake: FakeOpenHands
) -> None:
    fake.pause(conv["sandbox_id"])
    with pytest.raises(SandboxNotRunning):
        await oh.git_changes(conv["id"], conv["root"])
    conversation = await oh.get_conversation(conv["id"])
    with pytest.raises(SandboxNotRunning) as caught:
        await oh.execute_command(conversation, "pwd")
    assert "PAUSED" in caught.value.message
    assert await oh.read_conversation_file(conv["id"], conv["root"] + "/repo/a.txt") == ""


async def test_an_unknown_conversation_is_not_found(oh: OpenHandsClient) -> None:
    with pytest.raises(NotFound):
        await oh.git_changes("0123456789abcdef0123456789abcdef", "/workspace")

"""Review tools through the in-memory MCP client, against the fake whose sandboxes hold real git
repositories: what the model sees for every shape of change, file and sandbox state."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client
from mcp.types import ResourceLink, ResourceTemplateReference

from oh_mcp import Settings, build_server
from oh_mcp.review.diffs import HUGE_BYTES
from tests.calls import ok as call
from tests.fake.state import FakeOpenHands

pytestmark = pytest.mark.anyio

COMMIT = "git add -A && git commit -qm base"
REPO = (
    "git init -q repo && cd repo && printf 'one\\ntwo\\nthree\\n' > a.txt && printf 'bye\\n' > gone.txt && "
    f"printf 'same\\n' > old.txt && printf 'keep\\n' > untouched.txt && {COMMIT} && "
    "printf 'one\\n2\\nthree\\n' > a.txt && printf 'new\\nfile\\n' > b.txt && rm gone.txt && mv old.txt moved.txt"
)


async def error_text(client: Client, tool: str, args: dict[str, Any]) -> str:
    result = await client.call_tool(tool, args)
    assert result.is_error, result.structured_content
    text: str = result.content[0].text  # type: ignore[union-attr]
    assert "Traceback" not in text
    return text


def agent_did(fake: FakeOpenHands, script: str) -> dict[str, str]:
    conv = fake.add_conversation()
    fake.shell(conv["sandbox_id"], script)
    return conv


def files_of(changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for repo in changes["repositories"] for f in repo["files"]}


async def test_changes_show_each_status_with_counts_and_diffs(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = agent_did(fake, REPO)
    changes = await call(mcp_client, "get_changes", {"conversation_id": conv["id"]})
    assert changes["summary"] == "4 files changed, +3 -2"
    [repo] = changes["repositories"]
    assert repo["path"].endswith("/repo") and repo["compared_with"] == "HEAD"
    files = files_of(changes)
    assert sorted(files) == ["a.txt", "b.txt", "gone.txt", "moved.txt"], "untouched files are not listed"
    assert files["a.txt"]["status"] == "updated" and (files["a.txt"]["added"], files["a.txt"]["removed"]) == (1, 1)
    assert files["a.txt"]["diff"] == "--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+2\n three"
    assert files["b.txt"]["status"] == "added" and files["b.txt"]["diff"].startswith("--- /dev/null\n+++ b/b.txt")
    assert files["gone.txt"] == {
        "path": "gone.txt",
        "status": "deleted",
        "added": 0,
        "removed": 1,
        "note": "deleted (1 line)",
    }
    assert files["moved.txt"]["status"] == "moved" and files["moved.txt"]["moved_from"] == "old.txt"
    assert "diff" not in files["moved.txt"]


async def test_a_deleted_file_asked_for_by_path_shows_its_old_text(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = agent_did(fake, REPO)
    changes = await call(mcp_client, "get_changes", {"conversation_id": conv["id"], "path": "repo/gone.txt"})
    assert files_of(changes)["gone.txt"]["diff"] == "--- a/gone.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye"
    assert changes["summary"] == "4 files changed, +3 -2", "the summary still covers every file"


async def test_changes_link_the_files_that_still_exist(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = agent_did(fake, REPO)
    result = await mcp_client.call_tool("get_changes", {"conversation_id": conv["id"], "diff": False})
    links = [c for c in result.content if isinstance(c, ResourceLink)]
    base = f"openhands://conversations/{conv['id']}/files/"
    assert [str(link.uri) for link in links] == [base + p for p in ("repo/a.txt", "repo/b.txt", "repo/moved.txt")]
    assert all("diff" not in f for f in files_of(result.structured_content or {}).values())


async def test_binary_huge_and_lockfiles_are_listed_without_diffs(fake: FakeOpenHands, mcp_client: Client) -> None:
    script = (
        f"git init -q r && cd r && echo '{{}}' > package-lock.json && {COMMIT} && printf 'a\\000b' > logo.png && "
        f"head -c {HUGE_BYTES + 10} /dev/zero | tr '\\0' 'x' > big.txt && echo '{{\"v\": 2}}' > package-lock.json"
    )
    conv = agent_did(fake, script)
    files = files_of(await call(mcp_client, "get_changes", {"conversation_id": conv["id"]}))
    assert files["logo.png"]["note"] == "binary, 3 bytes" and "diff" not in files["logo.png"]
    assert files["big.txt"]["note"] == "too large to diff (512.0 KB)"
    assert files["package-lock.json"]["note"] == "lockfile: diff skipped unless asked for by path"
    asked = files_of(
        await call(mcp_client, "get_changes", {"conversation_id": conv["id"], "path": "r/package-lock.json"})
    )
    assert '+{"v": 2}' in asked["package-lock.json"]["diff"]


async def test_the_agent_servers_own_files_are_never_changes(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = agent_did(fake, "echo notes > notes.md")
    await call(mcp_client, "read_file", {"conversation_id": conv["id"], "path": "notes.md"})  # leaves bash events
    changes = await call(mcp_client, "get_changes", {"conversation_id": conv["id"]})
    assert list(files_of(changes)) == ["notes.md"]
    assert changes["repositories"][0]["compared_with"] == "empty tree"


async def test_no_changes_name_the_repositories_compared(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = agent_did(fake, f"git init -q repo && cd repo && echo x > a.txt && {COMMIT}")
    changes = await call(mcp_client, "get_changes", {"conversation_id": conv["id"], "repository_path": "repo"})
    assert changes["summary"] == "No changes."
    assert [(r["path"].rsplit("/", 1)[-1], r["compared_with"], r["files"]) for r in changes["repositories"]] == [
        ("repo", "HEAD", [])
    ]


async def test_no_repository_is_an_answer_not_an_error(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = agent_did(fake, "rm -rf .git && echo x > notes.md")
    changes = await call(mcp_client, "get_changes", {"conversation_id": conv["id"]})
    assert changes["summary"].startswith("No git repository in this conversation's workspace")
    assert changes["repositories"] == []


async def test_repository_path_and_ref_choose_what_is_compared(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = agent_did(fake, REPO + f" && {COMMIT} && echo three > c.txt")
    only = {"conversation_id": conv["id"], "repository_path": "repo", "diff": False}
    assert list(files_of(await call(mcp_client, "get_changes", only))) == ["c.txt"]
    since_first = files_of(await call(mcp_client, "get_changes", only | {"ref": "HEAD~1"}))
    assert sorted(since_first) == ["a.txt", "b.txt", "c.txt", "gone.txt", "moved.txt"]
    text = await error_text(mcp_client, "get_changes", only | {"ref": "no-such-branch"})
    assert "no-such-branch" in text and "does not exist" in text


async def test_a_long_change_set_pages_under_the_budget(
    fake: FakeOpenHands, settings: Settings, client_factory: Any
) -> None:
    lines = "\\n".join(f"line {i}" for i in range(60))
    conv = agent_did(
        fake,
        f"git init -q r && cd r && {COMMIT} --allow-empty && "
        f"for i in 1 2 3 4 5; do printf '{lines}\\n' > f$i.txt; done",
    )
    small = settings.model_copy(update={"output_budget": 1_000})
    async with Client(build_server(small, client_factory=client_factory)) as client:
        seen: list[str] = []
        page_id = None
        for _ in range(10):
            changes = await call(client, "get_changes", {"conversation_id": conv["id"], "page_id": page_id})
            seen += list(files_of(changes))
            assert changes["summary"] == "5 files changed, +300 -0"
            page_id = changes.get("next_page_id")
            if page_id is None:
                break
    assert seen == [f"f{i}.txt" for i in range(1, 6)]


async def test_a_paused_sandbox_is_an_error_unless_auto_resume(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = agent_did(fake, REPO)
    fake.pause(conv["sandbox_id"])
    text = await error_text(mcp_client, "get_changes", {"conversation_id": conv["id"]})
    assert "PAUSED" in text and "auto_resume=true" in text
    assert fake.sandbox_status(conv["sandbox_id"]) == "PAUSED", "reading never resumes on its own"
    changes = await call(mcp_client, "get_changes", {"conversation_id": conv["id"], "auto_resume": True})
    assert changes["summary"] == "4 files changed, +3 -2"
    fake.pause(conv["sandbox_id"])
    read = await call(
        mcp_client, "read_file", {"conversation_id": conv["id"], "path": "repo/b.txt", "auto_resume": True}
    )
    assert read["text"] == "new\nfile\n"


async def test_a_read_only_server_refuses_auto_resume(
    fake: FakeOpenHands, settings: Settings, client_factory: Any
) -> None:
    conv = agent_did(fake, REPO)
    fake.pause(conv["sandbox_id"])
    read_only = settings.model_copy(update={"read_only": True})
    async with Client(build_server(read_only, client_factory=client_factory)) as client:
        text = await error_text(client, "get_changes", {"conversation_id": conv["id"], "auto_resume": True})
    assert "read-only" in text and fake.sandbox_status(conv["sandbox_id"]) == "PAUSED"


async def test_archived_and_unknown_conversations_say_so(fake: FakeOpenHands, mcp_client: Client) -> None:
    archived = fake.add_conversation(sandbox_status="MISSING")
    assert "archived" in await error_text(mcp_client, "get_changes", {"conversation_id": archived["id"]})
    assert "archived" in await error_text(mcp_client, "read_file", {"conversation_id": archived["id"], "path": "x"})
    unknown = await error_text(mcp_client, "get_changes", {"conversation_id": "0123456789abcdef0123456789abcdef"})
    assert "not found" in unknown and "list_conversations" in unknown


async def test_a_path_that_is_not_a_changed_file_is_named(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = agent_did(fake, REPO)
    text = await error_text(mcp_client, "get_changes", {"conversation_id": conv["id"], "path": "repo/untouched.txt"})
    assert "repo/untouched.txt is not among the changed files" in text and "repo/a.txt" in text


async def test_read_file_windows_text_and_refuses_what_is_not_text(
    fake: FakeOpenHands, settings: Settings, client_factory: Any
) -> None:
    conv = agent_did(
        fake, "mkdir d && printf 'a\\000b' > bin.dat && for i in $(seq 1 400); do echo \"line $i\"; done > long.txt"
    )
    small = settings.model_copy(update={"output_budget": 1_000})
    async with Client(build_server(small, client_factory=client_factory)) as client:
        first = await call(client, "read_file", {"conversation_id": conv["id"], "path": "long.txt"})
        assert first["text"].startswith("line 1\n") and len(first["text"]) == 1_000 and first["next_offset"] == 1_000
        rest = await call(client, "read_file", {"conversation_id": conv["id"], "path": first["path"], "offset": 1_000})
        full = "".join(f"line {i}\n" for i in range(1, 401))
        assert rest["text"] == full[1_000:2_000] and rest["path"] == first["path"]
        assert "directory" in await error_text(client, "read_file", {"conversation_id": conv["id"], "path": "d"})
        assert "no file" in await error_text(client, "read_file", {"conversation_id": conv["id"], "path": "nope.txt"})
        assert "binary" in await error_text(client, "read_file", {"conversation_id": conv["id"], "path": "bin.dat"})


async def test_secrets_never_appear_in_diffs_or_files(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation()
    key = fake.sandbox_key(conv["sandbox_id"])
    fake.shell(conv["sandbox_id"], f"echo 'KEY={key}' > env.txt")
    changes = await mcp_client.call_tool("get_changes", {"conversation_id": conv["id"]})
    read = await mcp_client.call_tool("read_file", {"conversation_id": conv["id"], "path": "env.txt"})
    for result in (changes, read):
        shown = json.dumps(result.structured_content) + str(result.content)
        assert key not in shown and "KEY=***" in shown


async def test_resources_give_the_changes_and_a_file_and_complete_paths(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    conv = agent_did(fake, REPO)
    base = f"openhands://conversations/{conv['id']}"
    changes = json.loads((await mcp_client.read_resource(f"{base}/changes")).contents[0].text)  # type: ignore[union-attr]
    assert changes["summary"] == "4 files changed, +3 -2" and "diff" not in json.dumps(changes)
    text = (await mcp_client.read_resource(f"{base}/files/repo/b.txt")).contents[0].text  # type: ignore[union-attr]
    assert text == "new\nfile\n"
    ref = ResourceTemplateReference(
        type="ref/resource", uri="openhands://conversations/{conversation_id}/files/{+path}"
    )
    completed = await mcp_client.complete(ref, {"name": "path", "value": "repo/"}, {"conversation_id": conv["id"]})
    assert completed.completion.values == ["repo/a.txt", "repo/b.txt", "repo/moved.txt"]


async def test_files_outside_the_workspace_and_option_like_refs_are_refused(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    conv = agent_did(fake, REPO)
    for path in ("../../etc/passwd", "/etc/passwd"):
        text = await error_text(mcp_client, "read_file", {"conversation_id": conv["id"], "path": path})
        assert "outside the workspace" in text
    commands = len(fake.commands)
    text = await error_text(mcp_client, "get_changes", {"conversation_id": conv["id"], "ref": "--output=/tmp/x"})
    assert "ref must be a commit or branch name" in text and len(fake.commands) == commands, "refused before it ran"


async def test_one_files_long_diff_reads_on_with_page_id(
    fake: FakeOpenHands, settings: Settings, client_factory: Any
) -> None:
    conv = agent_did(fake, f"git init -q r && cd r && {COMMIT} --allow-empty && seq 1 600 > n.txt")
    small = settings.model_copy(update={"output_budget": 1_000})
    args = {"conversation_id": conv["id"], "path": "r/n.txt"}
    async with Client(build_server(small, client_factory=client_factory)) as client:
        first = await call(client, "get_changes", args)
        assert "call again with page_id" in files_of(first)["n.txt"]["note"]
        diff = files_of(first)["n.txt"]["diff"]
        page_id = first["next_page_id"]
        while page_id:
            more = await call(client, "get_changes", args | {"page_id": page_id})
            diff += files_of(more)["n.txt"]["diff"]
            page_id = more.get("next_page_id")
    assert diff.splitlines()[3:] == [f"+{i}" for i in range(1, 601)]


async def test_a_page_id_this_server_never_gave_is_refused(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = agent_did(fake, REPO)
    text = await error_text(mcp_client, "get_changes", {"conversation_id": conv["id"], "page_id": "ohc:%%%"})
    assert "page_id is not one this server returned" in text


async def test_a_clone_compares_with_its_remote_branch_so_commits_count(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    script = (
        f"git init -q seed && cd seed && echo v1 > app.py && {COMMIT} && cd .. && git clone -q --bare seed up.git && "
        "rm -rf seed && git clone -q up.git proj && cd proj && echo v2 > app.py && git commit -qam fix && echo t > t.py"
    )
    conv = agent_did(fake, script)
    changes = await call(mcp_client, "get_changes", {"conversation_id": conv["id"], "repository_path": "proj"})
    [repo] = changes["repositories"]
    assert repo["compared_with"].startswith("origin/"), repo["compared_with"]
    files = files_of(changes)
    assert {p: f["status"] for p, f in files.items()} == {"app.py": "updated", "t.py": "added"}
    assert files["app.py"]["diff"].endswith("-v1\n+v2")


# Names git quotes in its line-based listings ("caf\303\251.py"), and one it cannot list on a line at all.
ODD_NAMES = ["café.py", "two words.txt", 'say "hi".txt', "back\\slash.txt", "tab\there.txt", "new\nline.txt"]


async def test_files_with_names_git_quotes_are_listed_diffed_and_read(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = fake.add_conversation()
    repo = fake.workspace(conv["sandbox_id"]) / "repo"
    repo.mkdir()
    for name in ODD_NAMES:
        (repo / name).write_text("old\n")
    fake.shell(conv["sandbox_id"], f"cd repo && git init -q && {COMMIT}")
    for name in ODD_NAMES:
        (repo / name).write_text("new\n")
    changes = await call(mcp_client, "get_changes", {"conversation_id": conv["id"]})
    assert changes["summary"] == "6 files changed, +6 -6", changes
    files = files_of(changes)
    assert sorted(files) == sorted(ODD_NAMES)
    for name in ODD_NAMES:
        assert files[name]["diff"] == f"--- a/{name}\n+++ b/{name}\n@@ -1 +1 @@\n-old\n+new", name
        read = await call(mcp_client, "read_file", {"conversation_id": conv["id"], "path": f"repo/{name}"})
        assert read["text"] == "new\n"
    listed = files_of(await call(mcp_client, "get_changes", {"conversation_id": conv["id"], "diff": False}))
    assert all((f["added"], f["removed"]) == (1, 1) for f in listed.values()), listed


async def test_a_ref_missing_from_some_repositories_names_them(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = agent_did(
        fake,
        f"git init -q a && cd a && echo 1 > x.txt && {COMMIT} && git tag v1 && echo 2 > x.txt && cd .. && "
        f"git init -q b && cd b && echo 1 > y.txt && {COMMIT} && echo 2 > y.txt",
    )
    changes = await call(mcp_client, "get_changes", {"conversation_id": conv["id"], "ref": "v1", "diff": False})
    assert list(files_of(changes)) == ["x.txt"]
    root = str(fake.workspace(conv["sandbox_id"]))
    assert changes["summary"] == f"1 file changed, +1 -1; not compared, no ref 'v1' in: {root}, {root}/b", changes


async def test_a_file_openhands_cannot_diff_is_noted_and_the_rest_shown(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    conv = agent_did(fake, REPO)
    fake.inject("GET", r"/git/diff$", 502, {"detail": "Agent server error: 400"}, times=2)  # a.txt's, retried
    files = files_of(await call(mcp_client, "get_changes", {"conversation_id": conv["id"]}))
    assert files["a.txt"]["note"].startswith("diff unavailable: ") and "diff" not in files["a.txt"]
    assert files["b.txt"]["diff"].startswith("--- /dev/null\n+++ b/b.txt")


async def test_read_file_refuses_links_out_of_the_workspace_and_neighbouring_sandboxes(
    fake: FakeOpenHands, mcp_client: Client
) -> None:
    conv = fake.add_conversation()
    root = fake.workspace(conv["sandbox_id"])
    neighbour = root.parent / f"{root.name}-x"  # shares the root's name as a prefix
    neighbour.mkdir()
    (neighbour / "f").write_text("another sandbox's file\n")
    fake.shell(
        conv["sandbox_id"], f"echo mine > mine.txt && ln -s {neighbour}/f out && ln -s mine.txt in && ln -s .. up"
    )
    args = {"conversation_id": conv["id"]}
    for path in (f"../{root.name}-x/f", f"{neighbour}/f"):
        assert "outside the workspace" in await error_text(mcp_client, "read_file", args | {"path": path}), path
    for path in ("out", f"up/{root.name}-x/f"):
        text = await error_text(mcp_client, "read_file", args | {"path": path})
        assert "a link to" in text and "outside the workspace" in text and "another" not in text, text
    assert (await call(mcp_client, "read_file", args | {"path": "in"}))["text"] == "mine\n"


async def test_read_file_checks_the_size_before_downloading(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = agent_did(fake, "head -c 11000000 /dev/zero | tr '\\0' 'x' > big.log")
    text = await error_text(mcp_client, "read_file", {"conversation_id": conv["id"], "path": "big.log"})
    assert "11000000 bytes" in text and "up to 10 MiB" in text
    assert not [r for r in fake.requests if "/file/download" in r[1]], "refused before any download"


async def test_file_links_are_percent_encoded_and_read_back(fake: FakeOpenHands, mcp_client: Client) -> None:
    names = ["x#y.txt", "what?.txt", "100%.txt", "two words.txt", "café.txt"]
    conv = fake.add_conversation()
    for name in names:
        (fake.workspace(conv["sandbox_id"]) / name).write_text(f"{name}\n")
    result = await mcp_client.call_tool("get_changes", {"conversation_id": conv["id"], "diff": False})
    links = {link.name: str(link.uri) for link in result.content if isinstance(link, ResourceLink)}
    assert sorted(links) == sorted(names)
    assert links["x#y.txt"].endswith("/files/x%23y.txt") and links["café.txt"].endswith("/files/caf%C3%A9.txt")
    for name, uri in links.items():
        assert (await mcp_client.read_resource(uri)).contents[0].text == f"{name}\n"  # type: ignore[union-attr]


async def test_a_copy_and_a_move_of_one_file_make_one_move(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = agent_did(fake, f"git init -q r && cd r && echo same > old && {COMMIT} && cp old c1 && mv old c2")
    files = files_of(await call(mcp_client, "get_changes", {"conversation_id": conv["id"]}))
    assert sorted((p, f["status"], f.get("moved_from")) for p, f in files.items()) == [
        ("c1", "moved", "old"),
        ("c2", "added", None),
    ], "only one of the two copies can pair with the deleted file"


async def test_a_file_whose_diff_alone_exceeds_the_budget_is_shown_cut(
    fake: FakeOpenHands, settings: Settings, client_factory: Any
) -> None:
    conv = agent_did(fake, f"git init -q r && cd r && seq 1 150 > n.txt && {COMMIT} && seq 1000 1150 > n.txt")
    small = settings.model_copy(update={"output_budget": 1_000})
    async with Client(build_server(small, client_factory=client_factory)) as client:
        changes = await call(client, "get_changes", {"conversation_id": conv["id"]})
    assert changes["summary"] == "1 file changed, +151 -150"
    assert "diff cut at" in files_of(changes)["n.txt"]["note"] and files_of(changes)["n.txt"]["diff"]


async def test_repository_path_is_one_shell_word(fake: FakeOpenHands, mcp_client: Client) -> None:
    conv = agent_did(fake, "git init -q 'my repo' && echo x > 'my repo/a.txt'")
    args = {"conversation_id": conv["id"], "diff": False}
    assert list(files_of(await call(mcp_client, "get_changes", args | {"repository_path": "my repo"}))) == ["a.txt"]
    for bad in ("x; touch pwned", "$(touch pwned)", "`touch pwned`"):
        changes = await call(mcp_client, "get_changes", args | {"repository_path": bad})
        assert changes["repositories"] == [], bad
    assert not list(fake.workspace(conv["sandbox_id"]).rglob("pwned")), "nothing ran in the sandbox"

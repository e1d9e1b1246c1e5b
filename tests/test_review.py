"""The pure review rules: diffs, counts, statuses, moves, what is skipped and why, the summary line."""

from __future__ import annotations

from oh_mcp.review.diffs import (
    ADDED_PREVIEW_LINES,
    HUGE_BYTES,
    ChangeStatus,
    FileChange,
    Kind,
    classify,
    is_agent_server_file,
    line_counts,
    pair_moves,
    skip_reason,
    status_of,
    summary_line,
    unified_diff,
)

ADDED, UPDATED, DELETED, MOVED = ChangeStatus


def test_a_unified_diff_has_git_headers_and_three_lines_of_context() -> None:
    original = "\n".join(f"line {i}" for i in range(1, 11))
    modified = original.replace("line 5", "line five")
    diff = unified_diff(FileChange("src/a.py", UPDATED), original, modified)
    assert diff.splitlines()[:3] == ["--- a/src/a.py", "+++ b/src/a.py", "@@ -2,7 +2,7 @@"]
    assert "-line 5" in diff and "+line five" in diff
    assert "line 1\n" not in diff and "No newline" not in diff


def test_added_and_deleted_files_diff_against_dev_null() -> None:
    assert unified_diff(FileChange("new.txt", ADDED), "", "hi").splitlines()[:2] == ["--- /dev/null", "+++ b/new.txt"]
    assert unified_diff(FileChange("old.txt", DELETED), "bye", "").splitlines()[:2] == [
        "--- a/old.txt",
        "+++ /dev/null",
    ]


def test_line_counts_count_changed_lines_on_each_side() -> None:
    assert line_counts("a\nb\nc", "a\nB\nc\nd") == (2, 1)
    assert line_counts("", "x\ny") == (2, 0)
    assert line_counts("x\ny\nz", None) == (0, 3)
    assert line_counts("same", "same") == (0, 0)


def test_upstream_statuses_map_to_lower_case_and_unknown_ones_count_as_updated() -> None:
    assert [status_of(s) for s in ("ADDED", "UPDATED", "DELETED", "MOVED", "COPIED")] == [
        ADDED,
        UPDATED,
        DELETED,
        MOVED,
        UPDATED,
    ]


def test_the_agent_servers_own_files_are_recognised_and_the_agents_are_not() -> None:
    own = [
        ".openhands-agent-server.log",
        "workspace/bash_events/20261202_BashCommand_1",
        "workspace/conversations/abc/base_state.json",
        "workspace/openhands_agent_server_config.json",
    ]
    assert all(is_agent_server_file(p) for p in own)
    assert not any(is_agent_server_file(p) for p in ("notes.md", "repo/workspace/conversations/x", "workspace/app.py"))


def test_lockfiles_and_generated_files_are_classified_by_path() -> None:
    assert classify("web/package-lock.json") == Kind.LOCKFILE
    assert classify("uv.lock") == Kind.LOCKFILE
    assert classify("dist/app.js") == Kind.GENERATED
    assert classify("static/app.min.js") == Kind.GENERATED
    assert classify("api/service_pb2.py") == Kind.GENERATED
    assert classify("src/build.py") == Kind.SOURCE
    assert classify("README.md") == Kind.SOURCE


def test_a_deleted_and_an_added_file_with_the_same_content_are_one_move() -> None:
    changes = [
        FileChange("b/new.py", ADDED, added=3, blob="111"),
        FileChange("a/old.py", DELETED, removed=3, blob="111"),
        FileChange("c.py", ADDED, added=1, blob="222"),
        FileChange("d.py", DELETED, removed=1, blob="333"),
    ]
    paired = pair_moves(changes)
    assert [(c.path, c.status, c.old_path, c.added, c.removed) for c in paired] == [
        ("b/new.py", MOVED, "a/old.py", 0, 0),
        ("c.py", ADDED, None, 1, 0),
        ("d.py", DELETED, None, 0, 1),
    ]


def test_what_is_skipped_says_why_and_asking_by_path_shows_text_diffs() -> None:
    assert skip_reason(FileChange("logo.png", ADDED, size=2048, binary=True), asked=True) == "binary, 2.0 KB"
    huge = FileChange("data.csv", UPDATED, size=HUGE_BYTES + 1)
    assert skip_reason(huge, asked=True) == "too large to diff (512.0 KB)"
    lock = FileChange("poetry.lock", UPDATED, added=900)
    assert skip_reason(lock, asked=False) == "lockfile: diff skipped unless asked for by path"
    assert skip_reason(lock, asked=True) is None
    assert skip_reason(FileChange("gone.py", DELETED, removed=40), asked=False) == "deleted (40 lines)"
    long_new = FileChange("big.py", ADDED, added=ADDED_PREVIEW_LINES + 1)
    assert "ask for it by path" in (skip_reason(long_new, asked=False) or "")
    assert skip_reason(FileChange("small.py", ADDED, added=3), asked=False) is None
    assert skip_reason(FileChange("b.py", MOVED, old_path="a.py"), asked=True) == "moved from a.py unchanged"


def test_the_summary_line_totals_files_and_lines() -> None:
    changes = [
        FileChange("a", UPDATED, added=30, removed=10),
        FileChange("b", ADDED, added=10),
        FileChange("c", DELETED, removed=2),
    ]
    assert summary_line(changes) == "3 files changed, +40 -12"
    assert summary_line(changes[:1]) == "1 file changed, +30 -10"
    assert summary_line([]) == "No changes."

"""Reviewing an agent's changes, with no I/O: which files count, how each is shown, and the totals.

OpenHands gives a file's two full texts, not a patch, and lists the agent server's own files at the
workspace root as if the agent had written them. This module turns those facts into what a
reviewer reads: unified diffs with a little context, a status per file, lines added and removed,
a one-line summary, and the files whose diffs are not worth reading (lockfiles, generated, binary,
huge) named with the reason instead of dumped.
"""

from __future__ import annotations

import difflib
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

CONTEXT_LINES = 3
HUGE_BYTES = 512 * 1024  # bigger files are summarised; OpenHands' own diff route stops at 1 MiB
ADDED_PREVIEW_LINES = 200  # a longer new file is listed, not dumped: read it with its path

# The agent server keeps its log and state in the workspace root, which OpenHands makes a git repository.
_AGENT_SERVER_FILES = (".openhands-agent-server.log", "workspace/openhands_agent_server_config.json")
_AGENT_SERVER_DIRS = ("workspace/conversations/", "workspace/bash_events/")

_LOCKFILES = frozenset(
    {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lockb",
        "bun.lock",
        "poetry.lock",
        "uv.lock",
        "pdm.lock",
        "Pipfile.lock",
        "Cargo.lock",
        "Gemfile.lock",
        "composer.lock",
        "go.sum",
        "flake.lock",
        "mix.lock",
        "pubspec.lock",
        "Package.resolved",
        "packages.lock.json",
        "gradle.lockfile",
    }
)
_GENERATED_DIRS = frozenset({"node_modules", "dist", "build", "__pycache__", ".next", ".nuxt", "coverage", "target"})
_GENERATED_SUFFIXES = (".min.js", ".min.css", ".map", ".pyc", "_pb2.py", "_pb2.pyi", ".pb.go", ".snap")


class ChangeStatus(StrEnum):
    ADDED = "added"
    UPDATED = "updated"
    DELETED = "deleted"
    MOVED = "moved"


class Kind(StrEnum):
    SOURCE = "source"
    LOCKFILE = "lockfile"
    GENERATED = "generated"


@dataclass(frozen=True)
class FileChange:
    """One changed file of one repository; `path` is relative to the repository."""

    path: str
    status: ChangeStatus
    added: int = 0
    removed: int = 0
    size: int | None = None
    binary: bool = False
    old_path: str | None = None  # where a moved file was
    blob: str | None = None  # git object id of its content (the old content when deleted), to pair moves

    @property
    def kind(self) -> Kind:
        return classify(self.path)


def is_agent_server_file(path: str) -> bool:
    """A path (relative to the workspace root) that the agent server wrote for itself."""
    return path in _AGENT_SERVER_FILES or path.startswith(_AGENT_SERVER_DIRS)


def classify(path: str) -> Kind:
    name = posixpath.basename(path)
    if name in _LOCKFILES:
        return Kind.LOCKFILE
    parts = path.split("/")[:-1]
    if any(part in _GENERATED_DIRS for part in parts) or name.endswith(_GENERATED_SUFFIXES):
        return Kind.GENERATED
    return Kind.SOURCE


def status_of(upstream: str) -> ChangeStatus:
    """OpenHands' ADDED, UPDATED, DELETED or MOVED; anything newer counts as updated."""
    try:
        return ChangeStatus(upstream.lower())
    except ValueError:
        return ChangeStatus.UPDATED


def _lines(text: str | None) -> list[str]:
    return (text or "").splitlines()


def line_counts(original: str | None, modified: str | None) -> tuple[int, int]:
    """Lines added and removed between two texts."""
    added = removed = 0
    matcher = difflib.SequenceMatcher(None, _lines(original), _lines(modified), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            removed += i2 - i1
            added += j2 - j1
    return added, removed


def unified_diff(change: FileChange, original: str | None, modified: str | None, context: int = CONTEXT_LINES) -> str:
    """A git-style unified diff. OpenHands strips each text's final newline, so none is reported missing."""
    before = "/dev/null" if change.status == ChangeStatus.ADDED else f"a/{change.old_path or change.path}"
    after = "/dev/null" if change.status == ChangeStatus.DELETED else f"b/{change.path}"
    lines = difflib.unified_diff(_lines(original), _lines(modified), before, after, n=context, lineterm="")
    return "\n".join(lines)


def skip_reason(change: FileChange, asked: bool) -> str | None:
    """Why a file's diff is not shown, or None to show it. `asked`: the caller named this file."""
    if change.binary:
        return f"binary, {_size(change.size)}"
    if change.size is not None and change.size > HUGE_BYTES:
        return f"too large to diff ({_size(change.size)})"
    if change.status == ChangeStatus.MOVED and not (change.added or change.removed):
        return f"moved from {change.old_path} unchanged"
    if asked:
        return None
    if change.status == ChangeStatus.DELETED:
        return f"deleted ({_lines_word(change.removed)})"
    if change.kind != Kind.SOURCE:
        return f"{change.kind}: diff skipped unless asked for by path"
    if change.status == ChangeStatus.ADDED and change.added > ADDED_PREVIEW_LINES:
        return f"new file of {_lines_word(change.added)}: too long to show here, ask for it by path"
    return None


def _lines_word(count: int) -> str:
    return f"{count} line" if count == 1 else f"{count} lines"


def _size(size: int | None) -> str:
    if size is None:
        return "size unknown"
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def pair_moves(changes: Iterable[FileChange]) -> list[FileChange]:
    """A deleted file and an added one with the same content are one move, as git would say.

    OpenHands reports a rename as a deletion plus an addition; with the blob ids of the old and the
    new content the two are joined again. Sorted by path, like OpenHands' list.
    """
    items = list(changes)
    deleted = {c.blob: c for c in items if c.status == ChangeStatus.DELETED and c.blob}
    result: list[FileChange] = []
    moved_from: set[str] = set()
    for change in items:
        origin = deleted.get(change.blob) if change.status == ChangeStatus.ADDED and change.blob else None
        if origin is not None and origin.path not in moved_from:
            moved_from.add(origin.path)
            result.append(replace(change, status=ChangeStatus.MOVED, old_path=origin.path, added=0, removed=0))
        else:
            result.append(change)
    result = [c for c in result if not (c.status == ChangeStatus.DELETED and c.path in moved_from)]
    return sorted(result, key=lambda c: c.path)


def summary_line(changes: Iterable[FileChange]) -> str:
    """E.g. "3 files changed, +40 -12"."""
    items = list(changes)
    if not items:
        return "No changes."
    noun = "file" if len(items) == 1 else "files"
    return f"{len(items)} {noun} changed, +{sum(c.added for c in items)} -{sum(c.removed for c in items)}"

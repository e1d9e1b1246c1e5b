"""Where a patch from the sandbox may write in the person's checkout: one rule, checked for every
path the patch changes, whatever way the change is then written.

A path may change when it was sent (tracked, or untracked and not ignored) or is new and not
ignored here, and when:
- its name is plain: no control characters, no empty, `.` or `..` part, no `.git` in any spelling;
- it lies in no nested repository or submodule, and crosses no symbolic link;
- it was not here and left out of what was sent (a file the agent never saw is never overwritten);
- its mode changes at most by the exec bit, and only on a file the agent received; a new entry is a
  plain file, an executable or a link; never a submodule;
- a link it makes points inside the checkout, and not into `.git`.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

FILE, EXECUTABLE, LINK, GITLINK = "100644", "100755", "120000", "160000"
_NEW_MODES = {FILE, EXECUTABLE, LINK}
_GIT_NAMES = {".git", "git~1"}


@dataclass(frozen=True)
class Entry:
    mode: str
    blob: str


@dataclass(frozen=True)
class Change:
    path: str
    old: Entry | None  # in what was sent
    new: Entry | None  # after the patch


@dataclass(frozen=True)
class Ground:
    """What the rule is checked against: the checkout, what was sent, and what git ignores here."""

    top: Path
    sent: dict[str, Entry]
    ignored: frozenset[str]  # of the new paths, those the person's git ignores
    links: dict[str, str]  # the targets of the links the patch makes


@dataclass(frozen=True)
class Violation:
    path: str
    rule: str


def violations(changes: Iterable[Change], ground: Ground) -> list[Violation]:
    found: list[Violation] = []
    for change in changes:
        rule = _broken_rule(change, ground)
        if rule:
            found.append(Violation(change.path, rule))
    return found


def _broken_rule(change: Change, ground: Ground) -> str | None:
    path = change.path
    return (
        bad_name(path)
        or _nested_or_linked(path, ground)
        or _unsent(change, ground)
        or _mode(change)
        or (_link_target(path, ground.links[path]) if change.new and change.new.mode == LINK else None)
    )


def bad_name(path: str) -> str | None:
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        return "a control character in the name"
    if path.startswith("/") or "\\" in path:
        return "an absolute path or a backslash"
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "an empty, '.' or '..' part in the path"
    if any(p.rstrip(" .").lower() in _GIT_NAMES for p in parts):
        return "inside .git"
    return None


def _nested_or_linked(path: str, ground: Ground) -> str | None:
    parts = path.split("/")
    for depth in range(1, len(parts)):
        folder = "/".join(parts[:depth])
        entry = ground.sent.get(folder)
        if entry is not None and entry.mode == GITLINK:
            return f"inside the submodule {folder}"
        if entry is not None and entry.mode == LINK:
            return f"through the symbolic link {folder}"
        try:
            info = os.lstat(ground.top / folder)
        except FileNotFoundError:
            return None  # nothing deeper exists either
        except OSError:
            return f"{folder} cannot be read"
        if stat.S_ISLNK(info.st_mode):
            return f"through the symbolic link {folder}"
        if not stat.S_ISDIR(info.st_mode):
            return f"{folder} is not a folder"
        if os.path.lexists(ground.top / folder / ".git"):
            return f"inside the nested repository {folder}"
    return None


def _unsent(change: Change, ground: Ground) -> str | None:
    if change.old is not None:
        return None
    if change.path in ground.ignored:
        return "ignored by git here, so never sent: nobody would see it change"
    if os.path.lexists(ground.top / change.path):
        return "here already, but left out of what was sent: the agent never saw it"
    return None


def _mode(change: Change) -> str | None:
    old, new = change.old, change.new
    if (old and old.mode == GITLINK) or (new and new.mode == GITLINK):
        return "a submodule"
    if new is None:
        return None
    if old is None:
        return None if new.mode in _NEW_MODES else f"a new entry of mode {new.mode}"
    if old.mode != new.mode and {old.mode, new.mode} != {FILE, EXECUTABLE}:
        return f"its mode changes from {old.mode} to {new.mode}, beyond the exec bit"
    return None


def _link_target(path: str, target: str) -> str | None:
    if not target or "\0" in target or any(ord(c) < 32 for c in target):
        return "a symbolic link with an empty or unprintable target"
    if target.startswith("/"):
        return "a symbolic link to an absolute path"
    parts = target.split("/")
    climbing = len(parts) - len(list(_lstrip(parts, "..")))
    if ".." in parts[climbing:]:
        return "a symbolic link whose target turns back ('..' after a name)"
    where = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    if where == ".." or where.startswith("../"):
        return "a symbolic link that points out of the checkout"
    if bad_name(where) == "inside .git" or where.split("/")[0].rstrip(" .").lower() in _GIT_NAMES:
        return "a symbolic link into .git"
    return None


def _lstrip(parts: list[str], value: str) -> Iterable[str]:
    iterator = iter(parts)
    for part in iterator:
        if part != value:
            yield part
            yield from iterator
            return

"""Applying the agent's patch to the person's checkout: all of it or nothing, never over an edit it
cannot merge. Checked first with `git apply --check`; where that fails because the person changed a
file meanwhile, a three-way merge is tried in a throwaway index, and only a clean result is written.
The person's index is never changed: the agent's files land in the working tree, as uncommitted
changes beside the person's own. The patch is kept under .git/oh-mcp/ so it can be undone."""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .git import git, nul_split, out
from .roots import LocalPathRefused


class ApplyRefused(Exception):
    """The patch was not applied, and nothing was written; the message says why."""


@dataclass
class Applied:
    files: list[tuple[str, str]]  # (path, added | modified | deleted | renamed from …)
    merged: list[str] = field(default_factory=list)  # merged three-way with the person's edits
    patch_file: str = ""
    undo: str = ""


async def apply_patch(top: Path, patch: bytes, name: str) -> Applied:
    """Apply `patch` (from `git diff --binary`) to the work tree at `top`. Raises ApplyRefused."""
    if not patch.strip():
        raise ApplyRefused("The agent changed nothing, so there is nothing to apply.")
    with tempfile.TemporaryDirectory(prefix="oh-mcp-") as scratch:
        patch_path = Path(scratch) / "agent.patch"
        patch_path.write_bytes(patch)
        files = await _files(top, patch_path)
        code, _, why = await git(top, "apply", "--check", "--binary", str(patch_path), check=False)
        merged: list[str] = []
        if code == 0:
            await git(top, "apply", "--binary", str(patch_path))
        elif (await git(top, "apply", "--check", "--reverse", "--binary", str(patch_path), check=False))[0] == 0:
            raise ApplyRefused("The agent's changes are already in this checkout; nothing was written.")
        else:
            merged = await _three_way(top, patch_path, [p for p, _ in files], why, Path(scratch))
        kept = await _keep(top, patch_path, name)
    undo = f"git -C {_sh(str(top))} apply -R --binary {_sh(kept)}"
    return Applied(files=files, merged=merged, patch_file=kept, undo=undo)


async def _files(top: Path, patch: Path) -> list[tuple[str, str]]:
    """The paths the patch touches, with what happens to each, read from git's own summary."""
    numstat = nul_split((await git(top, "apply", "--numstat", "-z", str(patch)))[1])
    summary = (await git(top, "apply", "--summary", str(patch)))[1].decode("utf-8", "surrogateescape")
    created = {line.split(" ", 4)[-1] for line in summary.splitlines() if line.startswith(" create mode ")}
    deleted = {line.split(" ", 4)[-1] for line in summary.splitlines() if line.startswith(" delete mode ")}
    files: list[tuple[str, str]] = []
    items = iter(numstat)
    for item in items:
        path = item.split("\t", 2)[2] if item.count("\t") >= 2 else item
        if path == "":  # a rename in -z form: the old and new names follow
            old, new = next(items), next(items)
            files.append((new, f"renamed from {old}"))
            continue
        status = "added" if path in created else "deleted" if path in deleted else "modified"
        files.append((path, status))
    return files


async def _three_way(top: Path, patch: Path, paths: list[str], why: str, scratch: Path) -> list[str]:
    """Merge in a copy of the index holding the working tree's versions of `paths`; write only if clean."""
    index = scratch / "index"
    real = top / await out(top, "rev-parse", "--git-path", "index")
    if real.is_file():
        shutil.copyfile(real, index)
    env = {"GIT_INDEX_FILE": str(index)}
    existing = _existing(top, paths)
    if existing:
        listing = b"\0".join(p.encode("utf-8", "surrogateescape") for p in existing)
        await git(top, "add", "-A", "-f", "--pathspec-from-file=-", "--pathspec-file-nul", stdin=listing, env=env)
    code, _, merge_err = await git(top, "apply", "--3way", "--cached", "--binary", str(patch), env=env, check=False)
    listed = nul_split((await git(top, "ls-files", "-u", "-z", env=env))[1])
    unmerged = sorted({line.split("\t", 1)[1] for line in listed})
    if code != 0 or unmerged:
        conflicts = ", ".join(unmerged) or _first_error(merge_err) or _first_error(why)
        raise ApplyRefused(
            f"The agent's changes conflict with local edits ({conflicts}); nothing was written. Commit or put "
            "aside your edits to those files and apply again, or read the patch with get_changes(format='patch')."
        )
    staged = set(nul_split((await git(top, "ls-files", "-z", "--", *paths, env=env))[1])) if paths else set()
    present = [p for p in paths if p in staged]
    if present:
        await git(top, "checkout-index", "-f", "-z", "--stdin", env=env, stdin=b"\0".join(p.encode() for p in present))
    _remove(top, [p for p in paths if p not in staged])
    return present


def _existing(top: Path, paths: list[str]) -> list[str]:
    return [p for p in paths if os.path.lexists(top / p)]


def _remove(top: Path, paths: list[str]) -> None:
    for path in _existing(top, paths):
        os.unlink(top / path)


def _first_error(text: str) -> str:
    lines = [line.removeprefix("error: ") for line in text.splitlines() if line.startswith("error:")]
    return lines[0] if lines else ""


async def _keep(top: Path, patch: Path, name: str) -> str:
    folder = top / await out(top, "rev-parse", "--git-path", "oh-mcp")
    folder.mkdir(parents=True, exist_ok=True)
    kept = folder / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.patch"
    shutil.copyfile(patch, kept)
    return str(kept.resolve())


def _sh(text: str) -> str:
    return shlex.quote(text)


__all__ = ["Applied", "ApplyRefused", "LocalPathRefused", "apply_patch"]

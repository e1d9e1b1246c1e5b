"""What of a local repository goes to a sandbox, packed as git objects.

What git would call the work: the files at HEAD, the uncommitted changes (staged or not, deletions
included) and the untracked files that are not ignored. Never ignored files, never the history,
the config, hooks or refs of `.git`. Two commits carry it, written with a throwaway index (the
person's index and working tree are never touched; their object store gains a few unreferenced
objects, as with `git stash create`, which lets a later three-way apply find the sent texts):

* base: HEAD's tree exactly, with no parent (the history stays home);
* sent: the working tree as sent, whose parent is base.

One pack holds both. In the sandbox HEAD is base and the working tree is sent, so the person's
changes show as uncommitted, and `sent` stays as a ref to tell the agent's changes from theirs.
Left out, and listed: untracked binary files, untracked files over LARGE_FILE, nested repositories
and submodules' contents (the submodule entry itself stays in the base tree).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from .git import IDENTITY, GitError, git, nul_split, out
from .roots import LocalPathRefused

LARGE_FILE = 5_000_000  # an untracked file this big is left out: more likely a build artefact than work
SNIFF = 8000  # git's own rule: a NUL in the first 8000 bytes makes a file binary
GITLINK = "160000"
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


@dataclass
class Snapshot:
    top: Path
    name: str
    branch: str | None
    head: str | None
    base: str = ""
    sent: str = ""
    files: int = 0
    size: int = 0
    pack: bytes = b""
    left_out: list[str] = field(default_factory=list)
    changed: int = 0  # files that differ from HEAD (the person's uncommitted work)

    secret_like: list[str] = field(default_factory=list)  # sent files whose names say they hold secrets

    def summary(self) -> str:
        left = f"; left out: {', '.join(self.left_out[:10])}" if self.left_out else ""
        more = f" (+{len(self.left_out) - 10} more)" if len(self.left_out) > 10 else ""
        warn = ""
        if self.secret_like:
            warn = (
                f"; WARNING: sent files that look like secrets, because git does not ignore them: "
                f"{', '.join(self.secret_like[:10])}"
            )
        return (
            f"sending {self.files} files, {self.size:,} bytes ({len(self.pack):,} packed) of {self.top}, "
            f"{self.changed} of them uncommitted changes{left}{more}{warn}"
        )


async def take(top: Path, max_bytes: int) -> Snapshot:
    """Select and pack the work in the repository at `top`. Raises LocalPathRefused for a repository
    too big or mid-merge; nothing is sent by this function."""
    head = await _optional(top, "rev-parse", "-q", "--verify", "HEAD^{commit}")
    branch = await _optional(top, "symbolic-ref", "-q", "--short", "HEAD")
    snap = Snapshot(top=top, name=top.name, branch=branch, head=head)
    tracked = await _tracked(top)
    listed = nul_split((await git(top, "ls-files", "-z", "-o", "--exclude-standard"))[1])
    untracked, snap.left_out = await anyio.to_thread.run_sync(_untracked, top, listed)
    snap.left_out += [f"{p} (submodule: its files are not sent)" for p, mode in tracked.items() if mode == GITLINK]
    paths = [p for p, mode in tracked.items() if mode != GITLINK] + untracked
    await anyio.to_thread.run_sync(_check_size, top, paths, max_bytes)
    snap.secret_like = [p for p in paths if looks_secret(p)]
    with tempfile.TemporaryDirectory(prefix="oh-mcp-") as scratch:
        index = Path(scratch) / "index"
        real_index = top / await out(top, "rev-parse", "--git-path", "index")
        if real_index.is_file():
            shutil.copyfile(real_index, index)  # its stat cache spares hashing every unchanged file
        env = {"GIT_INDEX_FILE": str(index)} | IDENTITY
        if paths:
            listing = b"\0".join(p.encode("utf-8", "surrogateescape") for p in paths)
            await git(top, "add", "-A", "--pathspec-from-file=-", "--pathspec-file-nul", stdin=listing, env=env)
        sent_tree = await out(top, "write-tree", env=env)
        base_tree = await out(top, "rev-parse", f"{head}^{{tree}}") if head else await out(top, "mktree", stdin=b"")
        snap.base = await out(top, "commit-tree", base_tree, "-m", _message("base", head, top), env=env)
        sent_message = _message("sent", head, top)
        snap.sent = await out(top, "commit-tree", sent_tree, "-p", snap.base, "-m", sent_message, env=env)
    snap.files, snap.size = await _measure(top, snap.base, snap.sent)
    if snap.size > max_bytes:
        raise LocalPathRefused(_too_big(top, snap.size, max_bytes))
    snap.changed = len(nul_split((await git(top, "diff-tree", "-r", "-z", "--name-only", snap.base, snap.sent))[1]))
    snap.pack = (await git(top, "pack-objects", "--revs", "--stdout", "-q", stdin=f"{snap.sent}\n".encode()))[1]
    return snap


async def _optional(top: Path, *args: str) -> str | None:
    code, data, _ = await git(top, *args, check=False)
    return data.decode("utf-8", "surrogateescape").strip() or None if code == 0 else None


async def _tracked(top: Path) -> dict[str, str]:
    """Path → mode of every index entry; an unmerged one stops the send (its state is not one tree)."""
    entries: dict[str, str] = {}
    for line in nul_split((await git(top, "ls-files", "-z", "-s"))[1]):
        meta, _, path = line.partition("\t")
        mode, _blob, stage = meta.split(" ")
        if stage != "0":
            raise LocalPathRefused(f"{top} is in the middle of a merge ({path} is unmerged); finish or abort it first.")
        entries[path] = mode
    return entries


def _untracked(top: Path, listed: list[str]) -> tuple[list[str], list[str]]:
    """The untracked files worth sending, and those left out with the reason."""
    keep: list[str] = []
    left: list[str] = []
    for path in listed:
        reason = _leave_out(top, path)
        if reason:
            left.append(f"{path.rstrip('/')} ({reason})")
        else:
            keep.append(path)
    return keep, left


def _leave_out(top: Path, path: str) -> str | None:
    if path.endswith("/"):
        return "a nested git repository"
    full = top / path
    parent = Path(os.path.realpath(full.parent))
    if parent != top and top not in parent.parents:
        return "behind a symlink out of the repository"
    try:
        info = os.lstat(full)
    except OSError:
        return "unreadable"
    if stat.S_ISLNK(info.st_mode):
        return None  # sent as a link (its target's text), never followed
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_size > LARGE_FILE:
        return f"large: {info.st_size:,} bytes"
    try:
        fd = os.open(full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            head = handle.read(SNIFF)
    except OSError:
        return "unreadable"
    return "binary" if b"\0" in head else None


_SECRET_NAMES = frozenset(
    {".env", ".npmrc", ".pypirc", ".netrc", ".git-credentials", ".htpasswd", "credentials", "credentials.json"}
    | {f"id_{kind}" for kind in ("rsa", "dsa", "ecdsa", "ed25519")}
)
_SECRET_SUFFIXES = (".pem", ".key", ".p12", ".pfx", ".jks", ".keystore", ".kdbx")


def looks_secret(path: str) -> bool:
    """A name that usually holds a credential: worth a warning when it is about to leave the machine."""
    name = path.rsplit("/", 1)[-1].lower()
    templates = (".example", ".sample", ".template", ".dist")
    if name.endswith(templates):
        return False
    return name in _SECRET_NAMES or name.startswith(".env.") or name.endswith(_SECRET_SUFFIXES)


def _check_size(top: Path, paths: list[str], max_bytes: int) -> None:
    """Before git reads a byte: the files' sizes on disk must fit (links count as their target's name)."""
    total = 0
    for path in paths:
        try:
            total += os.lstat(top / path).st_size
        except OSError:
            continue  # deleted: costs nothing
        if total > max_bytes:
            raise LocalPathRefused(_too_big(top, total, max_bytes, at_least=True))


def _too_big(top: Path, size: int, max_bytes: int, at_least: bool = False) -> str:
    amount = f"{'at least ' if at_least else ''}{size:,}"
    return (
        f"{top} holds {amount} bytes of work, over the limit of {max_bytes:,} bytes (OH_MCP_LOCAL_MAX_BYTES). "
        "Nothing was sent. Ignore build output in .gitignore, or raise the limit."
    )


async def _measure(top: Path, base: str, sent: str) -> tuple[int, int]:
    """Files in the sent tree, and bytes of every distinct blob of both trees (what the pack holds, unpacked)."""
    sizes: dict[str, int] = {}
    files = 0
    for commit in (sent, base):
        for line in nul_split((await git(top, "ls-tree", "-r", "-l", "-z", commit))[1]):
            meta, _, _path = line.partition("\t")
            _mode, kind, blob, size = meta.split()
            if kind == "blob":
                sizes[blob] = int(size)
                files += commit == sent
    return files, sum(sizes.values())


def _message(which: str, head: str | None, top: Path) -> str:
    at = f"commit {head}" if head else "no commit yet"
    if which == "base":
        return f"oh-mcp: the tree of {top.name} at {at}\n\nThe same tree as the local HEAD, without its history."
    return f"oh-mcp: {top.name} as sent, uncommitted changes included (based on {at})"


__all__ = ["EMPTY_TREE", "LARGE_FILE", "GitError", "Snapshot", "take"]

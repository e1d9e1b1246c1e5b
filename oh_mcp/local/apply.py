"""Bringing the agent's patch into the person's checkout: against what was sent, never against the
disk at large; all of it or nothing; never over an edit it cannot merge; always undoable.

1. The patch is applied with `git apply --cached` in a throwaway index holding the commit the work
   was sent as (its objects are in the person's `.git`): a copy or rename can read only what was
   sent, and nothing touches the disk.
2. The result tree is compared with that commit (`git diff-tree -z`): these are the only paths that
   may change, each must be one the review listed, and each passes rules.py. Caps on files, bytes
   and time hold before anything is written.
3. Each path's file on disk is compared with what was sent: unchanged, it takes the agent's version;
   edited by the person meanwhile, the two are merged (`git merge-file`), and a conflict refuses the
   whole patch.
4. Only then are files written, each by a rename into place (never through a link, never running a
   filter driver), with the old contents kept in memory to roll back a failed write. An undo patch,
   made by git from the before and after trees, is kept under `.git/oh-mcp/` with the patch.
The person's index is never changed: the agent's files land as uncommitted changes.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..review.patch import COMMIT, shown_path
from .git import GitError, git, nul_split, out
from .rules import EXECUTABLE, FILE, LINK, Change, Entry, Ground, Violation, violations

_CONVERSATION_ID = re.compile(r"[0-9a-f]{32}")
_NULL = re.compile(r"0+")


class ApplyRefused(Exception):
    """The patch was not applied, and nothing was written; the message says why and what to do."""


class Unsafe(ApplyRefused):
    """The patch breaks a rule of where it may write: refused whatever the checkout's state."""

    def __init__(self, found: list[Violation]) -> None:
        listed = "; ".join(f"{shown_path(v.path)}: {v.rule}" for v in found[:20])
        more = f" (and {len(found) - 20} more)" if len(found) > 20 else ""
        super().__init__(
            f"Refused as unsafe: the agent's patch would change {listed}{more}. Nothing was written. "
            "Do not apply it again: it will be refused the same way. Read it with get_changes(format='patch'), "
            "and ask the agent to redo its work without these paths if they are not meant."
        )
        self.found = found


class Conflict(ApplyRefused):
    pass


class OverCap(ApplyRefused):
    pass


@dataclass(frozen=True)
class Caps:
    files: int
    bytes: int


@dataclass
class Applied:
    written: list[str]
    merged: list[str] = field(default_factory=list)  # merged with the person's own edits
    attributes: bool = False  # .gitattributes changed: applied as text, no filter ran
    patch_file: str = ""
    undo: str = ""


@dataclass(frozen=True)
class _Content:
    mode: str  # FILE, EXECUTABLE or LINK
    data: bytes  # a link's target for a link


@dataclass
class _Step:
    path: str
    before: _Content | None  # on disk now
    after: _Content | None  # what is written (None: removed)
    merged: bool = False


async def apply_patch(
    top: Path, patch: bytes, base: str, reviewed: set[str], conversation_id: str, caps: Caps
) -> Applied:
    """Apply `patch`, made against commit `base`, to the work tree at `top`. `reviewed` holds every
    name the review showed; a change to any other path is refused. Raises ApplyRefused."""
    if not _CONVERSATION_ID.fullmatch(conversation_id):
        raise ApplyRefused(f"The conversation id {conversation_id!r} is not a conversation id; nothing was written.")
    await _check_base(top, base)
    with tempfile.TemporaryDirectory(prefix="oh-mcp-") as scratch:
        env = await _scratch_env(top, Path(scratch))
        patch_path = Path(scratch) / "agent.patch"
        patch_path.write_bytes(patch)
        await git(top, "read-tree", base, env=env)
        apply = ("apply", "--cached", "--binary", "--whitespace=nowarn", str(patch_path))
        code, _, why = await git(top, *apply, env=env, check=False)
        if code != 0:  # an honest patch always applies to its own base: git refused it for a reason
            raise Unsafe(
                [Violation("the patch", f"git refuses it at the commit it was made against: {_first_error(why)}")]
            )
        result = await out(top, "write-tree", env=env)
        changes = await _changes(top, base, result, env)
        _check_reviewed(changes, reviewed)
        await _check_caps(top, changes, caps, env)
        blobs = await _read_blobs(top, [e.blob for c in changes for e in (c.old, c.new) if e is not None], env)
        found = violations(changes, await _ground(top, base, changes, blobs))
        if found:
            raise Unsafe(found)
        steps = [await _step(top, change, blobs) for change in changes]
        _check_already(steps)
        undo_patch = await _undo_patch(top, steps, env, Path(scratch))
        folder = top / await out(top, "rev-parse", "--git-path", "oh-mcp")
    _write(top, steps)  # no await from here on: a deadline cannot stop it half-way
    kept, undo = _keep(top, folder, patch, undo_patch, conversation_id)
    return Applied(
        written=[s.path for s in steps if s.before != s.after],
        merged=[s.path for s in steps if s.merged],
        attributes=any(s.path.rsplit("/", 1)[-1] == ".gitattributes" for s in steps),
        patch_file=kept,
        undo=undo,
    )


async def _scratch_env(top: Path, scratch: Path) -> dict[str, str]:
    """git reads the person's objects but writes its own into `scratch`: nothing the patch holds
    reaches the person's `.git` (a blob can be huge) before every check has passed, nor after."""
    objects = top / await out(top, "rev-parse", "--git-path", "objects")
    (scratch / "objects").mkdir()
    return {
        "GIT_INDEX_FILE": str(scratch / "index"),
        "GIT_OBJECT_DIRECTORY": str(scratch / "objects"),
        "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(objects.resolve()),
    }


async def _check_base(top: Path, base: str) -> None:
    if not COMMIT.fullmatch(base):
        raise ApplyRefused(
            f"The sandbox names {base[:80]!r} as the base of the agent's work, which is not a commit id; "
            "nothing was written."
        )
    code, _, _ = await git(top, "cat-file", "-e", f"{base}^{{commit}}", check=False)
    if code != 0:
        raise ApplyRefused(
            f"The agent's work is based on commit {base[:12]}, which this checkout does not have: it comes from "
            "another checkout. Nothing was written. Apply it in the checkout it was sent from."
        )


async def _changes(top: Path, base: str, result: str, env: dict[str, str]) -> list[Change]:
    command = ("diff-tree", "-r", "-z", "--no-renames", "--full-index", base, result)
    raw = (await git(top, *command, env=env))[1]
    fields = raw.split(b"\0")
    changes: list[Change] = []
    for meta, name in zip(fields[0:-1:2], fields[1::2], strict=False):
        old_mode, new_mode, old_blob, new_blob, _status = meta.decode().lstrip(":").split(" ")
        old = None if _NULL.fullmatch(old_mode) else Entry(old_mode, old_blob)
        new = None if _NULL.fullmatch(new_mode) else Entry(new_mode, new_blob)
        changes.append(Change(name.decode("utf-8", "surrogateescape"), old, new))
    return changes


def _check_reviewed(changes: list[Change], reviewed: set[str]) -> None:
    unlisted = [c.path for c in changes if c.path not in reviewed]
    if unlisted:
        raise Unsafe([Violation(p, "not among the files the review listed") for p in unlisted])


async def _check_caps(top: Path, changes: list[Change], caps: Caps, env: dict[str, str]) -> None:
    if len(changes) > caps.files:
        raise OverCap(
            f"The agent's patch changes {len(changes):,} files, over the cap of {caps.files:,} "
            "(OH_MCP_APPLY_MAX_FILES); nothing was written."
        )
    blobs = [c.new.blob for c in changes if c.new is not None]
    total = sum((await _sizes(top, blobs, env)).values())
    if total > caps.bytes:
        raise OverCap(
            f"The agent's patch would write {total:,} bytes, over the cap of {caps.bytes:,} "
            "(OH_MCP_APPLY_MAX_BYTES); nothing was written."
        )


async def _sizes(top: Path, blobs: list[str], env: dict[str, str]) -> dict[str, int]:
    if not blobs:
        return {}
    check = ("cat-file", "--batch-check=%(objectname) %(objectsize)")
    listing = (await git(top, *check, stdin=_lines(blobs), env=env))[1]
    return {name: int(size) for name, size in (line.split() for line in listing.decode().splitlines())}


def _lines(items: list[str]) -> bytes:
    return "".join(f"{item}\n" for item in items).encode()


async def _ground(top: Path, base: str, changes: list[Change], blobs: dict[str, bytes]) -> Ground:
    sent: dict[str, Entry] = {}
    for line in nul_split((await git(top, "ls-tree", "-r", "-t", "-z", "--full-tree", base))[1]):
        meta, _, path = line.partition("\t")
        mode, _kind, blob = meta.split(" ")
        sent[path] = Entry(mode, blob)
    new = [c.path for c in changes if c.old is None]
    ignored: set[str] = set()
    if new:
        # check-ignore takes no literal pathspecs; "./" keeps a leading ":" from reading as pathspec magic.
        listing = b"\0".join(f"./{p}".encode("utf-8", "surrogateescape") for p in new)
        command = ("check-ignore", "--no-index", "-z", "--stdin")
        literal = {"GIT_LITERAL_PATHSPECS": "0"}
        code, data, why = await git(top, *command, stdin=listing, env=literal, check=False)
        if code not in (0, 1):  # 1: none ignored
            raise GitError(command, code, why)
        ignored = {p.removeprefix("./") for p in nul_split(data)} if code == 0 else set()
    links = {c.path: _text(blobs[c.new.blob]) for c in changes if c.new and c.new.mode == LINK}
    return Ground(top=top, sent=sent, ignored=frozenset(ignored), links=links)


async def _read_blobs(top: Path, ids: list[str], env: dict[str, str]) -> dict[str, bytes]:
    """Every blob's bytes, read by one `git cat-file --batch` (one process per blob would cost a
    patch of thousands of files more than the time cap)."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    data = (await git(top, "cat-file", "--batch", stdin=_lines(wanted), env=env))[1]
    blobs: dict[str, bytes] = {}
    at = 0
    for _ in wanted:
        end = data.index(b"\n", at)
        name, _kind, size = data[at:end].decode().split(" ")
        blobs[name] = data[end + 1 : end + 1 + int(size)]
        at = end + 1 + int(size) + 1  # the content, then its newline
    return blobs


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _on_disk(top: Path, path: str) -> _Content | None:
    full = top / path
    try:
        info = os.lstat(full)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return _Content(LINK, os.fsencode(os.readlink(full)))
    if not stat.S_ISREG(info.st_mode):
        raise Conflict(f"{shown_path(path)} is a folder or special file here, where the agent's patch has a file.")
    with open(full, "rb") as handle:
        data = handle.read()
    return _Content(EXECUTABLE if info.st_mode & stat.S_IXUSR else FILE, data)


def _content(entry: Entry | None, blobs: dict[str, bytes]) -> _Content | None:
    return None if entry is None else _Content(entry.mode, blobs[entry.blob])


async def _step(top: Path, change: Change, blobs: dict[str, bytes]) -> _Step:
    """What to write at one path, from the file on disk, what was sent and the agent's version."""
    before = _on_disk(top, change.path)
    sent, agent = _content(change.old, blobs), _content(change.new, blobs)
    if before == sent or before == agent:
        return _Step(change.path, before, agent)
    merged = await _merge(change.path, before, sent, agent)
    return _Step(change.path, before, merged, merged=True)


async def _merge(path: str, mine: _Content | None, sent: _Content | None, agent: _Content | None) -> _Content:
    plain = (FILE, EXECUTABLE)
    if mine is None or sent is None or agent is None or not all(c.mode in plain for c in (mine, sent, agent)):
        raise _conflict([path])
    with tempfile.TemporaryDirectory(prefix="oh-mcp-") as scratch:
        names = []
        for label, content in (("mine", mine), ("sent", sent), ("agent", agent)):
            (Path(scratch) / label).write_bytes(content.data)
            names.append(label)
        code, data, _ = await git(Path(scratch), "merge-file", "-p", *names, check=False)
    if code != 0:
        raise _conflict([path])
    mode = agent.mode if agent.mode != sent.mode else mine.mode  # the agent's exec-bit change, else yours
    return _Content(mode, data)


def _conflict(paths: list[str]) -> Conflict:
    return Conflict(
        f"The agent's changes conflict with your edits to {', '.join(map(shown_path, paths))}; nothing was written. "
        "Commit or put aside your edits to those files and apply again, or read the patch with "
        "get_changes(format='patch') and merge by hand."
    )


def _check_already(steps: list[_Step]) -> None:
    if steps and all(s.before == s.after for s in steps):
        raise ApplyRefused("The agent's changes are already in this checkout; nothing was written.")


async def _undo_patch(top: Path, steps: list[_Step], env: dict[str, str], scratch: Path) -> bytes:
    """A patch from the state after the apply back to the state before, made by git from two trees."""
    trees = []
    for side in ("after", "before"):
        present = [(s.path, content) for s in steps if (content := getattr(s, side)) is not None]
        ids = await _hash_blobs(top, [content.data for _, content in present], env, scratch / side)
        entries = [(content.mode, blob, path) for (path, content), blob in zip(present, ids, strict=True)]
        trees.append(await _tree(top, entries, env))
    diff = ("diff-tree", "-p", "--binary", "--full-index", "--no-renames", trees[0], trees[1])
    return (await git(top, *diff, env=env))[1]


async def _hash_blobs(top: Path, contents: list[bytes], env: dict[str, str], folder: Path) -> list[str]:
    """Store every content as a blob with one `git hash-object` (through files: --stdin takes one)."""
    paths = _spill(contents, folder)
    if not paths:
        return []
    listing = await out(top, "hash-object", "-w", "--no-filters", "--stdin-paths", stdin=_lines(paths), env=env)
    return listing.splitlines()


def _spill(contents: list[bytes], folder: Path) -> list[str]:
    folder.mkdir()
    for number, data in enumerate(contents):
        (folder / str(number)).write_bytes(data)
    return [str(folder / str(number)) for number in range(len(contents))]


async def _tree(top: Path, entries: list[tuple[str, str, str]], scratch_env: dict[str, str]) -> str:
    with tempfile.TemporaryDirectory(prefix="oh-mcp-") as scratch:
        env = scratch_env | {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        info = b"".join(
            f"{mode} {blob}\t".encode() + path.encode("utf-8", "surrogateescape") + b"\0"
            for mode, blob, path in entries
        )
        await git(top, "update-index", "-z", "--add", "--index-info", stdin=info, env=env)
        return await out(top, "write-tree", env=env)


def _write(top: Path, steps: list[_Step]) -> None:
    """Write every step, or none: a failure puts back what was already written."""
    done: list[_Step] = []
    try:
        for s in steps:
            if s.before != s.after:
                _put(top, s.path, s.after)
                done.append(s)
    except OSError as exc:
        for s in reversed(done):
            _put(top, s.path, s.before)
        raise ApplyRefused(f"Writing {shown_path(s.path)} failed ({exc.strerror}); nothing was left changed.") from None


def _put(top: Path, path: str, content: _Content | None) -> None:
    full = top / path
    if content is None:
        if os.path.lexists(full):
            os.unlink(full)
            _prune(top, full.parent)
        return
    _make_folders(top, path)
    temporary = full.parent / f".oh-mcp-{os.getpid()}-{time.monotonic_ns()}"
    if content.mode == LINK:
        os.symlink(os.fsdecode(content.data), temporary)
    else:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o755 if content.mode == EXECUTABLE else 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content.data)
        os.chmod(temporary, 0o755 if content.mode == EXECUTABLE else 0o644)
    os.replace(temporary, full)


def _make_folders(top: Path, path: str) -> None:
    """The folders above `path`, made one by one; an existing link among them is never followed."""
    current = top
    for part in path.split("/")[:-1]:
        current = current / part
        try:
            os.mkdir(current)
        except FileExistsError:
            if os.path.islink(current) or not os.path.isdir(current):
                raise OSError(20, f"{current} is not a folder") from None


def _prune(top: Path, folder: Path) -> None:
    while folder != top:
        try:
            os.rmdir(folder)
        except OSError:
            return
        folder = folder.parent


def _keep(top: Path, folder: Path, patch: bytes, undo: bytes, conversation_id: str) -> tuple[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    kept = folder / f"{conversation_id}-{stamp}.patch"
    kept.write_bytes(patch)
    undo_file = folder / f"{conversation_id}-{stamp}.undo.patch"
    undo_file.write_bytes(undo)
    command = f"git -C {shlex.quote(str(top))} apply --binary {shlex.quote(str(undo_file.resolve()))}"
    return str(kept.resolve()), command


def _first_error(text: str) -> str:
    lines = [line.removeprefix("error: ") for line in text.splitlines() if line.startswith("error:")]
    return (lines[0] if lines else text.strip().splitlines()[0] if text.strip() else "no reason given")[:300]


__all__ = ["Applied", "ApplyRefused", "Caps", "Conflict", "OverCap", "Unsafe", "apply_patch"]
